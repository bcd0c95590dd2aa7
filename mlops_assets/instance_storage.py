"""Dagster's SQLite event log, with its connections kept open between events.

The stock `SqliteEventLogStorage` builds a SQLAlchemy engine, opens a connection and disposes
of both for every event it stores, twice for an asset event (the run's shard and the index
shard), each commit synced to disk in full: about 6 ms per asset event on this platform's
machines. A 90-day backfill of one dataset writes some 2,000 of them (a materialization per
partition of every asset, planned and done): 12 s of a 40 s run spent opening files.

`PooledSqliteEventLogStorage` keeps one engine per shard for the index and the most recent
runs, and commits with `synchronous=NORMAL` (in the WAL mode Dagster already sets: a power
cut may lose the last events, never corrupt the file): about 1 ms per asset event. Tables,
migrations, file layout and every query are Dagster's own; the generated dagster.yaml of the
local profile selects it (`runner.DAGSTER_YAML`). Its files live where the default storage
keeps them (`<DAGSTER_HOME>/history/runs/`), so an existing instance keeps its history.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dagster import Field, StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
)
from dagster._serdes import ConfigurableClassData

RECENT_RUN_SHARDS = 4  # engines kept open besides the index shard's
BUSY_TIMEOUT_SECONDS = 15  # Dagster's own for SQLite


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` with an engine per shard kept open (see the module docstring).

    ``base_dir`` is optional: by default the storage lives in the instance's
    ``history/runs`` folder, found when the instance registers it (the generated dagster.yaml
    then names no path, and a data home can be moved or restored elsewhere)."""

    def __init__(
        self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None
    ) -> None:
        self._engines: OrderedDict[str, Any] = OrderedDict()
        self._pending_inst_data = inst_data
        if base_dir is not None:
            super().__init__(base_dir, inst_data)

    def register_instance(self, instance: Any) -> None:
        if not hasattr(self, "_base_dir"):
            base_dir = os.path.join(instance.root_directory, "history", "runs")
            super().__init__(base_dir, self._pending_inst_data)
        super().register_instance(instance)

    @classmethod
    def config_type(cls) -> Mapping[str, Any]:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Any:
        """The shard's engine (caller holds `_db_lock`), opened on first use."""
        import sqlalchemy as db

        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = db.create_engine(
            self.conn_string_for_shard(shard),
            # used under `_db_lock`, one thread at a time; Dagster's first-use schema check
            # opens a second connection while it holds one
            pool_size=2,
            max_overflow=2,
            connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )

        @db.event.listens_for(engine, "connect")
        def _sync_normal(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")

        self._engines[shard] = engine
        run_shards = [s for s in self._engines if s != INDEX_SHARD_NAME]
        for stale in run_shards[:-RECENT_RUN_SHARDS]:
            self._engines.pop(stale).dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Any]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _close(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:  # deletes the shard files
        self._close()
        super().wipe()

    def upgrade(self) -> None:
        self._close()
        super().upgrade()

    def dispose(self) -> None:
        self._close()
        super().dispose()
