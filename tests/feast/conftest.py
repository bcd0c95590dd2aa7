"""Fixtures for the Feast tests: a data home per test, an applied store, a real Redis server."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_assets.core import feature_store as fs
from tests.net import free_port


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "mlops"


@pytest.fixture
def store(home: Path):
    """A local (SQLite online) store with the repo applied; data is written by each test."""
    store = fs.open_store(home)
    fs.apply_repo(store)
    return store


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway redis-server on a free local port (no persistence), as `host:port`."""
    import redis

    binary = shutil.which("redis-server")
    assert binary, "redis-server is missing: `make test` installs it (scripts/)"
    workdir = tmp_path_factory.mktemp("redis")
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
            yield f"127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return
    pytest.fail("redis-server did not start on a free port in 3 attempts")
