"""Helpers shared by the API views."""

from __future__ import annotations

from typing import Any, NoReturn

from flask_smorest import abort


def fail(code: int, message: str, **kwargs: Any) -> NoReturn:
    """Answer with flask-smorest's JSON error shape (``abort``, typed as never returning)."""
    abort(code, message=message, **kwargs)
    raise AssertionError("unreachable: abort raises")  # pragma: no cover
