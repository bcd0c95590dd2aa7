"""Fixtures for the Feast tests: a data home per test, an applied store, a real Redis server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_assets.core import feature_store as fs
from tests.redis_server import redis_server


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
    with redis_server(tmp_path_factory.mktemp("redis")) as (url, _):
        yield url
