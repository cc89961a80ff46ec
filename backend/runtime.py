"""``lanterne run``: the Procfile's processes under supervisord, in the foreground.

supervisord (decision 0007) restarts a process that dies, with its backoff, says so
("exited: worker (terminated by SIGKILL; not expected)"), and stops everything on Ctrl-C or
SIGTERM. On the embedded default it also runs the instance's ``redis-server``, started first
and stopped last, and restarted like the others. The processes and their command lines are
the Procfile's (``release`` excepted): the Procfile is the one place a flag is added.

This module is also the small program that prints the processes' output in one terminal,
each line after its process's name (``python -m backend.runtime``, a supervisord event
listener), and the step that waits for Redis before a process that needs it starts.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Mapping
from pathlib import Path

PROCFILE = Path(__file__).resolve().parent.parent / "Procfile"
# Started first, stopped last (supervisord's priorities: lower first).
REDIS_PRIORITY, PROCESS_PRIORITY = 10, 100
# Processes that cannot work without Redis wait for it before they start, so a Redis being
# (re)started does not count against their start retries.
NEEDS_REDIS = ("worker", "scheduler")
# A process that dies within a second of its start is retried after 1 s, 2 s, 3 s...; this
# many times before supervisord gives up on it (about an hour of retries in all).
START_RETRIES = 80


def procfile_processes(path: Path = PROCFILE) -> dict[str, str]:
    """The Procfile's processes (name to command line), ``release`` excepted."""
    from honcho.environ import parse_procfile

    processes = parse_procfile(path.read_text()).processes
    return {name: command for name, command in processes.items() if name != "release"}


def supervisord_config(
    *,
    instance: Path,
    processes: Mapping[str, str],
    redis_command: list[str] | None,
    python: str = sys.executable,
) -> str:
    """supervisord's configuration for ``lanterne run`` (written to instance/supervisord.conf).

    The processes run through ``sh`` as a Procfile runner runs them (``${PORT:-5000}``...),
    with ``exec`` so that supervisord's signals reach the process itself; they inherit
    supervisord's environment. ``redis_command`` is the embedded Redis's, or None when
    ``REDIS_URL`` names another server.
    """
    instance = Path(instance).resolve()
    sections = [
        _section(
            "supervisord",
            nodaemon="true",
            # supervisord's own lines and the processes' go to the terminal through the same
            # kind of handle (/dev/stdout opened for appending): through its default handle
            # as well, its lines would overwrite the others' in a file (`lanterne run > log`).
            logfile="/dev/stdout",
            logfile_maxbytes="0",
            silent="true",
            pidfile=instance / "supervisord.pid",
            loglevel="info",
            # Every process it starts (the embedded Redis and its dump included) writes files
            # for its owner only: they hold raw reports and queued jobs.
            umask="077",
            # As root, supervisord warns unless told to stay root; it never changes user here.
            **({"user": "root"} if os.geteuid() == 0 else {}),
        ),
        _section(
            "eventlistener:output",
            command=_escape(shlex.join([python, "-m", "backend.runtime"])),
            events="PROCESS_LOG",
            buffer_size="10000",
            priority="1",
            autorestart="true",
            stdout_logfile="NONE",
            stderr_logfile="/dev/stdout",
            stderr_logfile_maxbytes="0",
        ),
    ]
    if redis_command is not None:
        sections.append(
            _program("redis", _escape(shlex.join(redis_command)), priority=REDIS_PRIORITY)
        )
    wait = shlex.join([python, "-m", "backend.runtime", "wait-redis"])
    for name, command in processes.items():
        command = f"{wait} && exec {command}" if name in NEEDS_REDIS else f"exec {command}"
        sections.append(
            _program(name, _escape(shlex.join(["/bin/sh", "-c", command])), PROCESS_PRIORITY)
        )
    return "\n".join(sections)


def _program(name: str, command: str, priority: int) -> str:
    return _section(
        f"program:{name}",
        command=command,
        priority=str(priority),
        autorestart="true",
        startsecs="1",
        startretries=str(START_RETRIES),
        stopsignal="TERM",
        stopwaitsecs="15",
        # The signal goes to the process's group too: gunicorn's and RQ's children stop with
        # their parent, and none is left behind by a SIGKILL.
        stopasgroup="true",
        killasgroup="true",
        redirect_stderr="true",
        stdout_logfile="NONE",
        stdout_events_enabled="true",
    )


def _section(title: str, **options: object) -> str:
    lines = [f"[{title}]", *(f"{key}={value}" for key, value in options.items())]
    return "\n".join(lines) + "\n"


def _escape(command: str) -> str:
    # supervisord expands %(name)s in its values: a literal % is written %%.
    return command.replace("%", "%%")


def print_process_output() -> None:
    """The event listener: print each line the processes write, after the process's name."""
    from supervisor import childutils

    while True:
        _headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        head, _, data = payload.partition("\n")
        fields = dict(field.split(":", 1) for field in head.split() if ":" in field)
        name = fields.get("processname", "?")
        for line in data.splitlines():
            # The listener's stdout talks to supervisord; stderr goes to the terminal.
            sys.stderr.write(f"{name:<9}| {line}\n")
        sys.stderr.flush()
        childutils.listener.ok(sys.stdout)


def wait_for_redis(url: str) -> None:
    """Return once Redis answers at ``url`` (saying once that it waits)."""
    from backend.redis_conn import answers

    said = False
    while not answers(url):
        if not said:
            print(f"waiting for Redis at {url}", file=sys.stderr, flush=True)
            said = True
        time.sleep(0.2)


if __name__ == "__main__":
    if sys.argv[1:] == ["wait-redis"]:
        wait_for_redis(os.environ["REDIS_URL"])
    else:
        print_process_output()
