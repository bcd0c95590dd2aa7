"""Ingest + dbt materialized in-process on a temp data home: contents, idempotency, checks."""

import duckdb

from mlops_assets.settings import Settings
from tests.defs.conftest import day, materialize


def _rows(settings: Settings, sql: str) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_ingest_and_dbt_build_a_range(defs, data_home: Settings) -> None:
    result = materialize(defs, "*", start=day(0), end=day(7))
    assert result.success
    n_days = _rows(data_home, "select count(distinct feature_date) from customer_activity_features")
    assert n_days == [(8,)]
    print(_rows(data_home, "select * from customer_activity_features limit 3"))
