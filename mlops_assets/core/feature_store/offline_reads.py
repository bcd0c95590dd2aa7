"""DuckDB over the views' parquet sources: SQL quoting, a UTC connection, and the latest row per
entity in an event-time window (the rows Feast's materialization would pick)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    from feast import FeatureView

# Columns `latest_rows` adds next to the join keys and features: epoch microseconds (int64) of the
# row's event timestamp and of its created timestamp (null when the source has none).
EVENT_MICROS = "__ts"
CREATED_MICROS = "__cr"


def quote_ident(name: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


@contextmanager
def missing_files_are_clear() -> Iterator[None]:
    """DuckDB's "No files found" for a source glob, as a FileNotFoundError naming the cause."""
    import duckdb

    try:
        yield
    except duckdb.IOException as exc:
        if "No files found" not in str(exc):
            raise
        raise FileNotFoundError(f"no feature files yet (has the dbt export run?): {exc}") from exc


def duckdb_connect(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the session time zone UTC."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def latest_rows(view: FeatureView, start: datetime, end: datetime) -> pa.Table:
    """Latest row per entity with start <= event_timestamp <= end (Feast's pull_latest rule).

    Columns: the join keys, EVENT_MICROS, CREATED_MICROS, then one column per feature (Feast's
    feature name, whatever the source column is called).
    """
    q, lit = quote_ident, quote_literal
    source = view.batch_source
    mapping = {v: k for k, v in (source.field_mapping or {}).items()}
    keys = [c.name for c in view.entity_columns]
    ts, cr = source.timestamp_field, source.created_timestamp_column or None
    order = f"{q(ts)} DESC" + (f", {q(cr)} DESC NULLS LAST" if cr else "")
    feats = ", ".join(f"{q(mapping.get(f.name, f.name))} AS {q(f.name)}" for f in view.features)
    created = f"epoch_us({q(cr)})" if cr else "NULL::BIGINT"
    sql = (
        f"SELECT {', '.join(map(q, keys))}, epoch_us({q(ts)}) AS {q(EVENT_MICROS)}, "
        f"{created} AS {q(CREATED_MICROS)}, {feats} FROM read_parquet({lit(source.path)}) "
        f"WHERE {q(ts)} >= $start AND {q(ts)} <= $end "
        f"QUALIFY row_number() OVER (PARTITION BY {', '.join(map(q, keys))} ORDER BY {order}) = 1"
    )
    con = duckdb_connect()
    try:
        with missing_files_are_clear():
            return con.sql(sql, params={"start": start, "end": end}).to_arrow_table()
    finally:
        con.close()
