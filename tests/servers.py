"""Real servers for the prod-profile tests, each on 127.0.0.1 and a free port, each a context
manager that stops its server and removes its files even when the test fails:

- PostgreSQL (Debian's `postgresql`: `initdb` + `pg_ctl` into a temp dir; `initdb` refuses
  root, so as root it runs as the `postgres` user the package creates), with a random
  password (scram-sha-256), never a default one;
- an S3 endpoint: moto's server mode, in-process.
(Redis: `tests/redis_server.py`.)
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.net import free_port

PG_USER = "postgres"  # the OS user Debian's postgresql package creates (and the DB superuser)


def pg_binary(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    assert found, f"{name} is missing: `make test` installs Debian's postgresql (scripts/)"
    return found


@dataclass(frozen=True)
class Postgres:
    port: int
    password: str

    def url(self, database: str, driver: str = "postgresql+psycopg2") -> str:
        return f"{driver}://{PG_USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg2

        con = psycopg2.connect(
            host="127.0.0.1", port=self.port, user=PG_USER, password=self.password,
            dbname="postgres",
        )  # fmt: skip
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        con.close()
        return self.url(name)


def _as_pg_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        raise AssertionError(
            f"running as root and no {PG_USER!r} user to run initdb as: install Debian's "
            "postgresql (`make test` does) or `useradd --system postgres`"
        ) from None
    return ["runuser", "-u", PG_USER, "--", *cmd]


@contextmanager
def postgres_server() -> Iterator[Postgres]:
    # Not under pytest's tmp dir: that one is private to root, and the server runs as postgres.
    workdir = Path(tempfile.mkdtemp(prefix="mlops-pg-"))
    password = secrets.token_hex(16)
    (workdir / "pw").write_text(password)
    if os.geteuid() == 0:
        shutil.chown(workdir, PG_USER)
        shutil.chown(workdir / "pw", PG_USER)
    data = workdir / "data"
    started = False
    try:
        subprocess.run(
            _as_pg_user([pg_binary("initdb"), "-D", str(data), "-U", PG_USER,
                         "-A", "scram-sha-256", f"--pwfile={workdir / 'pw'}", "--no-sync"]),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        (workdir / "pw").unlink()
        for _ in range(3):  # the port could be taken between picking and binding
            port = free_port()
            options = (f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
                       "-c full_page_writes=off -c max_connections=200")  # fmt: skip
            result = subprocess.run(
                _as_pg_user([pg_binary("pg_ctl"), "-D", str(data), "-l", str(workdir / "log"),
                             "-w", "-t", "60", "-o", options, "start"]),
                capture_output=True, text=True, timeout=90,
            )  # fmt: skip
            if result.returncode == 0:
                started = True
                break
        assert started, f"postgres did not start: {(workdir / 'log').read_text()[-2000:]}"
        yield Postgres(port=port, password=password)
    finally:
        if started:
            subprocess.run(
                _as_pg_user([pg_binary("pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                             "stop"]),
                capture_output=True, timeout=60,
            )  # fmt: skip
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass(frozen=True)
class S3:
    endpoint_url: str
    bucket: str


@contextmanager
def s3_server(bucket: str = "mlops-test") -> Iterator[S3]:
    """moto's S3 server on a free port with one bucket; credentials are throwaway values that
    the caller puts in the environment (boto3 needs some)."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="test", aws_secret_access_key="test",
        ).create_bucket(Bucket=bucket)  # fmt: skip
        yield S3(endpoint_url=endpoint, bucket=bucket)
    finally:
        server.stop()
