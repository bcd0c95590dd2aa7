"""Fixtures for the Feast tests: a data home per test, an applied store, a real Redis server."""

from __future__ import annotations

import os
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


def _install_redis() -> str:
    """Install Debian's redis-server when we can; return why not otherwise ('' on success)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not root"
    if not shutil.which("apt-get"):
        return "no apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "redis-server"]
    error = ""
    for attempt in ([install], [["apt-get", "update", "-q"], install]):  # stale lists: update
        for cmd in attempt:
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
            if done.returncode != 0:
                error = f"{' '.join(cmd[:2])} failed: {done.stderr.strip()[-300:]}"
                break
        else:
            return ""
    return error


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway redis-server on a free local port (no persistence), as `host:port`."""
    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        why = _install_redis()
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip(f"redis-server is not installed and cannot be installed here: {why}")
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
