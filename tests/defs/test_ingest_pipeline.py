"""Ingest + dbt materialized in-process on a temp data home: contents, idempotency, missing days,
and a failing blocking check stopping dbt in the same run."""

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from mlops_assets.settings import Settings
from tests.defs.conftest import day, materialize

# the churn_world dataset's ingest + dbt (runner phase `data:churn_world`)
DATA = "tag:mlops/dataset=churn_world and tag:mlops/stage=data"


def _rows(settings: Settings, sql: str) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def _snapshot(settings: Settings) -> dict[str, list[tuple]]:
    tables = ["raw.transactions", "raw.customers", "raw.quarantine", "customer_activity_features"]
    return {
        t: sorted(_rows(settings, f"select * exclude (%s) from {t}" % _volatile(t))) for t in tables
    }


def _volatile(table: str) -> str:
    return {"raw.quarantine": "ingested_at", "customer_activity_features": "created_timestamp"}.get(
        table, "_ingested_at"
    )


def test_range_run_builds_raw_tables_marts_checks_and_parquet(defs, data_home: Settings) -> None:
    result = materialize(defs, DATA, start=day(0), end=day(7))
    assert result.success
    # the run's own dbt target folder is cleaned up after a successful build
    target = Path(__file__).resolve().parents[2] / "dbt_project" / "target"
    assert not list(target.glob(f"churn_world_dbt_models-{result.run_id[:7]}-*"))
    # every customer known by a day gets one feature row for that day
    per_day = _rows(
        data_home,
        "select f.feature_date, count(*) = (select count(*) from stg_customers c "
        "where c.signup_date <= f.feature_date and c.known_since <= f.feature_date) "
        "from customer_activity_features f group by 1 order by 1",
    )
    assert len(per_day) == 8 and all(ok for _, ok in per_day)
    # the features mart is exported as one parquet folder per day, the same rows
    exported = pd.read_parquet(data_home.features_dir / "customer_activity_features")
    assert (
        len(exported) == _rows(data_home, "select count(*) from customer_activity_features")[0][0]
    )
    assert str(exported["event_timestamp"].dtype) == "datetime64[us, UTC]"
    # dbt tests and our checks ran and passed
    evaluations = result.get_asset_check_evaluations()
    names = {e.check_name for e in evaluations}
    assert {"quarantine_rate", "known_customers", "feature_completeness"} <= names
    assert any(n.startswith("unique_combination") for n in names)
    assert all(e.passed for e in evaluations), [e.check_name for e in evaluations if not e.passed]
    # metadata: rows in = valid + quarantined, shown per asset
    mats = {
        m.asset_key.to_user_string(): m.metadata
        for m in (e.materialization for e in result.get_asset_materialization_events())
    }
    md = mats["raw_transactions"]
    assert md["rows_in"].value == md["rows_valid"].value + md["rows_quarantined"].value


def test_rematerializing_a_partition_is_idempotent_and_touches_no_neighbour(
    defs, data_home: Settings
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    assert materialize(defs, DATA, start=day(0), end=day(5), instance=instance).success
    before = _snapshot(data_home)
    assert materialize(defs, DATA, start=day(3), instance=instance).success
    assert _snapshot(data_home) == before


def test_missing_day_fails_clearly(defs, data_home: Settings) -> None:
    shutil.rmtree(data_home.landing_dir / day(2))
    result = materialize(defs, "raw_customers", start=day(2), raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "missing day" in failure.step_failure_data.user_failure_data.description


def test_failing_blocking_check_stops_dbt_in_the_same_run(defs, data_home: Settings) -> None:
    path = data_home.landing_dir / day(0) / "transactions.csv"
    frame = pd.read_csv(path, dtype=str)
    frame.loc[frame.index[::10], "channel"] = "fax"  # 10% bad rows, limit is 2%
    frame.to_csv(path, index=False)
    result = materialize(defs, DATA, start=day(0), raise_on_error=False)
    check = next(
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "quarantine_rate" and e.asset_key == dg.AssetKey("raw_transactions")
    )
    assert not check.passed
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "raw_transactions" in materialized  # the rows are kept (valid + quarantined) …
    assert "customer_activity_features" not in materialized  # … but nothing flows downstream
    assert "stg_transactions" not in materialized
    assert (
        _rows(data_home, "select count(*) from raw.quarantine where reason like 'channel%'")[0][0]
        > 0
    )
