"""The embedded Redis of an instance: shared by its processes, stopped only by its starter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from backend.redis_conn import answers, embedded_redis_url, embedded_socket_path

JOIN = "from pathlib import Path; from backend.redis_conn import join_or_start_embedded as j; "


def _python(code: str, instance: Path, **kwargs: object) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", JOIN + code],
        env=env,
        text=True,
        **kwargs,  # type: ignore[call-overload]
    )


def test_a_joining_process_never_stops_the_server_its_starter_does(tmp_path: Path) -> None:
    url = embedded_redis_url(tmp_path)
    starter = _python(
        f"j(Path({str(tmp_path)!r})); print('up', flush=True); input()",
        tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert starter.stdout is not None and starter.stdout.readline().strip() == "up"
        for _ in range(3):  # operators' commands, one after the other
            joiner = _python(f"j(Path({str(tmp_path)!r}))", tmp_path)
            assert joiner.wait(timeout=60) == 0
            assert answers(url)
    finally:
        starter.communicate("\n", timeout=60)  # its command ends
    assert starter.returncode == 0
    assert not answers(url)
    assert (tmp_path / "redis.db").exists()  # saved on the way out


def test_a_long_instance_path_still_gets_a_socket(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 120)
    path = embedded_socket_path(deep)
    assert len(str(path)) < 108
    assert path == embedded_socket_path(deep)  # every process finds the same one
