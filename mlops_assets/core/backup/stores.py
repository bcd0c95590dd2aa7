"""Consistent copies of one file each, by the store's own mechanism.

- SQLite (MLflow's backend, Feast's registry and online store, the Dagster instance): the
  online backup API, which copies a consistent state while other connections keep writing.
- DuckDB (the warehouse): `COPY FROM DATABASE` from a read-only attach into a fresh file. DuckDB
  lets one process write a file at a time, so the copy waits for the writer (a run holding the
  file) up to a time limit and then fails naming the file.
- Anything else: a plain copy (artifacts, parquet exports and landed files are written once).
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

SQLITE_MAGIC = b"SQLite format 3\x00"
DUCKDB_MAGIC = b"DUCK"  # at offset 8 of a DuckDB file
# Side files of a database that the database's own copy already contains.
SIDE_SUFFIXES = ("-wal", "-shm", "-journal", ".wal", ".tmp")


class StoreLocked(RuntimeError):
    """The DuckDB file stayed locked by a writer past the time limit."""


def kind_of(path: Path) -> str:
    """`sqlite`, `duckdb` or `file`, by the file's header (not its name)."""
    with path.open("rb") as fh:
        head = fh.read(16)
    if head == SQLITE_MAGIC:
        return "sqlite"
    if len(head) >= 12 and head[8:12] == DUCKDB_MAGIC:
        return "duckdb"
    return "file"


def copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent state even while another process writes."""
    src = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True, timeout=60)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def copy_duckdb(source: Path, target: Path, *, lock_timeout: float = 300.0) -> None:
    """A fresh DuckDB file with every schema, table, view and macro of `source`.

    `source` is attached under its own catalog name (the file's stem), so views that name
    their catalog still resolve when the copy is restored under the same file name."""
    import duckdb

    deadline = time.monotonic() + lock_timeout
    while True:
        con = duckdb.connect()
        try:
            con.execute(f"ATTACH {_quote(source)} AS {_ident(source.stem)} (READ_ONLY)")
        except duckdb.IOException as exc:
            con.close()
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() >= deadline:
                raise StoreLocked(
                    f"{source}: still locked by a writer after {lock_timeout:.0f} s (a run is "
                    "writing the warehouse); retry when it ends, or raise the lock timeout"
                ) from None
            time.sleep(0.5)
            continue
        try:
            con.execute(f"ATTACH {_quote(target)} AS __mlops_backup_copy")
            con.execute(f"COPY FROM DATABASE {_ident(source.stem)} TO __mlops_backup_copy")
            con.execute("DETACH __mlops_backup_copy")
        finally:
            con.close()
        return


def copy_file(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
