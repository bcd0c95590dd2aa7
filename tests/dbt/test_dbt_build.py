"""`dbt build` on its own inside dbt_project/ (no Dagster), on raw tables ingested into a temp
DuckDB warehouse: every model and test passes, and the feature mart equals an independent
pandas implementation of the feature definitions, row for row and exactly (money is DECIMAL)."""

import datetime as dt
import decimal
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from mlops_assets.core import ingest
from mlops_assets.datasets.simulator import SOURCES, SimulationConfig, simulate
from tests.core.features_reference import compute_features, load_landing
from tests.feature_columns import FEATURE_COLUMNS

DBT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
START = dt.date(2026, 1, 1)
DAYS = 12
MONEY = ("total_amount_7d", "total_amount_30d", "monthly_fee")


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("dbt_home")
    landing = home / "landing"
    simulate(SimulationConfig(start_date=START, days=DAYS, customers=600, seed=11), landing)
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        for spec in SOURCES:
            for day in ingest.landed_days(landing):
                ingest.ingest_file(con, spec, day, ingest.day_file(landing, spec, day))
    (home / "features").mkdir()
    return home


def _dbt(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MLOPS_HOME": str(home), "DBT_PROFILES_DIR": str(DBT_DIR)}
    return subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), *args, "--target-path", str(home / "target")],
        cwd=DBT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )


def test_dbt_build_alone_then_incremental_day_matches_reference(home: Path) -> None:
    last = START + dt.timedelta(days=DAYS - 1)
    # history up to the day before, then the last day on its own: the incremental path
    first = _dbt(home, "build", "--vars", json.dumps({"max_date": str(last - dt.timedelta(1))}))
    assert first.returncode == 0, first.stdout[-3000:]
    window = {"min_date": str(last), "max_date": str(last)}
    second = _dbt(home, "build", "--vars", json.dumps(window))
    assert second.returncode == 0, second.stdout[-3000:]
    assert "PASS=" in second.stdout and "ERROR=0" in second.stdout

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        # fetchall, not .df(): pandas would turn DECIMAL into float
        cur = con.execute("select * from customer_activity_features")
        ours = pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])
    landed = load_landing(home / "landing")
    reference = compute_features(
        landed["customers"], landed["transactions"], landed["support_tickets"]
    )
    key = ["customer_id", "feature_date"]
    ours["feature_date"] = pd.to_datetime(ours["feature_date"]).dt.date
    reference["feature_date"] = pd.to_datetime(reference["feature_date"]).dt.date
    reference = reference[reference["feature_date"] <= last]
    merged = ours.merge(reference, on=key, suffixes=("", "_ref"), how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), merged["_merge"].value_counts()
    # The reference sums floats of cent amounts: rounded to cents they are exact. The mart
    # rounds the average once, half up, to 4 decimals, from the exact 30-day total.
    for col in MONEY:
        merged[f"{col}_ref"] = [decimal.Decimal(f"{x:.2f}") for x in merged[f"{col}_ref"]]
    merged["avg_transaction_amount_ref"] = [
        (total / int(n) if n else decimal.Decimal(0)).quantize(
            decimal.Decimal("0.0001"), rounding=decimal.ROUND_HALF_UP
        )
        for total, n in zip(
            merged["total_amount_30d_ref"], merged["nb_transactions_30d_ref"], strict=True
        )
    ]
    for col in FEATURE_COLUMNS:
        if col in (*MONEY, "avg_transaction_amount"):
            assert all(isinstance(v, decimal.Decimal) for v in merged[col]), col
        mismatch = merged[merged[col] != merged[f"{col}_ref"]]
        assert mismatch.empty, (col, mismatch[[*key, col, f"{col}_ref"]].head())
    # the export Feast reads: one parquet folder per day, same rows, numeric columns as double
    exported = pd.read_parquet(home / "features" / "customer_activity_features")
    assert len(exported) == len(ours)
    assert all(str(exported[c].dtype) == "float64" for c in FEATURE_COLUMNS)


def test_a_failing_dbt_test_fails_the_build(home: Path) -> None:
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute("insert into raw.transactions select * from raw.transactions limit 1")
    try:
        out = _dbt(home, "build", "--select", "stg_transactions+")
        assert out.returncode != 0
        assert "unique_stg_transactions_transaction_id" in out.stdout
    finally:
        with duckdb.connect(str(home / "warehouse.duckdb")) as con:
            con.execute(
                "delete from raw.transactions where rowid in (select max(rowid) from "
                "raw.transactions group by transaction_id having count(*) > 1)"
            )
