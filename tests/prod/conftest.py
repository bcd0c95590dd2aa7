"""Real servers for the prod profile, started once per module and stopped (temp dirs removed)
even when a test fails: Postgres and moto's S3 server (`tests/servers.py`), Redis
(`tests/redis_server.py`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.redis_server import redis_server
from tests.servers import S3, Postgres, postgres_server, s3_server


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="module")
def s3() -> Iterator[S3]:
    with s3_server() as server:
        yield server


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as (url, _):
        yield url
