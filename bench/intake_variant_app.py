"""Lanterne's WSGI app with parts of intake switched off, for bench/intake_costs.py only.

``LANTERNE_BENCH_VARIANT`` lists what to leave out: ``limiter`` (Flask-Limiter) and/or
``push`` (the RQ push after the commit; the job stays in the outbox). Neither is a setting
of Lanterne: this module exists to measure what each part costs, never to serve.
"""

from __future__ import annotations

import os

from backend.app import create_app
from backend.config import config_from_env
from backend.services import outbox

LEFT_OUT = set(filter(None, os.environ.get("LANTERNE_BENCH_VARIANT", "").split(",")))
config = config_from_env()
if "limiter" in LEFT_OUT:
    config = type("BenchConfig", (config,), {"RATELIMIT_ENABLED": False})
app = create_app(config)
if "push" in LEFT_OUT:
    outbox.push = lambda message, **kwargs: True  # type: ignore[assignment]
