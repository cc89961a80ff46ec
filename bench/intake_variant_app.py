"""Lanterne's WSGI app without Flask-Limiter, for bench/intake_costs.py only.

``LANTERNE_BENCH_VARIANT=limiter`` leaves Flask-Limiter out. It is not a setting of Lanterne:
this module exists to measure what the limiter costs, never to serve.
"""

from __future__ import annotations

import os

from backend.app import create_app
from backend.config import config_from_env

LEFT_OUT = set(filter(None, os.environ.get("LANTERNE_BENCH_VARIANT", "").split(",")))
config = config_from_env()
if "limiter" in LEFT_OUT:
    config = type("BenchConfig", (config,), {"RATELIMIT_ENABLED": False})
app = create_app(config)
