"""A throwaway redis-server on a free port of 127.0.0.1 (no persistence), for the tests that
need Redis: the Feast online store in the prod profile, and serving when that store stops."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.net import free_port


@contextmanager
def redis_server(workdir: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """Yields (`host:port`, the server process); stopped at the end even if the test fails."""
    import redis

    binary = shutil.which("redis-server")
    assert binary, "redis-server is missing: `make test` installs it (scripts/)"
    for _ in range(3):  # the port could be taken between picking and binding
        port = free_port()
        cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(workdir), "--daemonize", "no"]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=port)
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.02)
        else:
            proc.kill()
            proc.wait()
            continue
        try:
            yield f"127.0.0.1:{port}", proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        return
    raise AssertionError("redis-server did not start on a free port in 3 attempts")
