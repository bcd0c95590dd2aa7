"""The CDNOW dbt models on real data: 100 replayed days ingested by `core.ingest`, built by
`dbt build --select cdnow` on its own (history up to the day before, then a window that
rebuilds five days and adds the last: the incremental path), then checked against an
independent pandas computation on the raw source file — row for row and exactly (money is
DECIMAL) — and read back through Feast."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from mlops_assets.core import ingest
from mlops_assets.datasets.cdnow import CDNOW_PURCHASES, SOURCE_FILE, ReplayConfig, replay

DBT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
START = dt.date(2026, 1, 1)
DAYS = 100  # 90 days of label delay + 10 days of labels
LAST = START + dt.timedelta(days=DAYS - 1)
CHECKED_DAYS = [START + dt.timedelta(days=i) for i in (0, 29, 30, 84, 89, 90, DAYS - 1)]
FEATURES = (
    "recency_days",
    "tenure_days",
    "nb_purchases_30d",
    "nb_purchases_90d",
    "nb_purchases_365d",
    "nb_purchases_lifetime",
    "purchase_days_lifetime",
    "amount_90d",
    "amount_lifetime",
    "avg_basket_amount",
    "quantity_90d",
    "quantity_lifetime",
)
MONEY = ("amount_90d", "amount_lifetime", "avg_basket_amount")
FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL")


def _dbt(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MLOPS_HOME": str(home), "DBT_PROFILES_DIR": str(DBT_DIR)}
    return subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), *args, "--target-path", str(home / "target")],
        cwd=DBT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )


# each table's partition column: a digest of the rows before a day covers exactly the days
# built before it
PARTITION_COLUMNS = {
    "int_cdnow_customer_daily": "activity_date",
    "cdnow_customer_features": "feature_date",
    "cdnow_repurchase_labels": "label_arrived_date",
}


def _digests(home: Path, before: dt.date) -> dict[str, list]:
    """Row count and an order-free digest of every column, per table, of the days < `before`."""
    return {
        table: _rows(
            home,
            f"select count(*), sum(hash(columns(*))) from {table} where {column} < ?",
            [before],
        )
        .iloc[0]
        .tolist()
        for table, column in PARTITION_COLUMNS.items()
    }


@dataclass(frozen=True)
class Built:
    home: Path
    history: dict[str, list]  # digests of the days before LAST - 5, after the history build


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Days up to LAST - 1 built as one range, then the window [LAST - 5, LAST]: five days
    rebuilt (idempotent) and the last one built incrementally."""
    home = tmp_path_factory.mktemp("cdnow_home")
    landing = home / "landing"
    replay(ReplayConfig(start_date=START, days=DAYS), landing)
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        for day in ingest.landed_days(landing):
            path = ingest.day_file(landing, CDNOW_PURCHASES, day)
            assert ingest.ingest_file(con, CDNOW_PURCHASES, day, path).quarantined == 0
    (home / "features").mkdir()
    history = {"max_date": str(LAST - dt.timedelta(days=1))}
    first = _dbt(home, "build", "--select", "cdnow", "--vars", json.dumps(history))
    assert first.returncode == 0, first.stdout[-3000:]
    digests = _digests(home, LAST)
    window = {"min_date": str(LAST - dt.timedelta(days=5)), "max_date": str(LAST)}
    second = _dbt(home, "build", "--select", "cdnow", "--vars", json.dumps(window))
    assert second.returncode == 0, second.stdout[-3000:]
    assert "ERROR=0" in second.stdout and "PASS=" in second.stdout
    return Built(home, digests)


@pytest.fixture(scope="module")
def home(built: Built) -> Path:
    return built.home


@pytest.fixture(scope="module")
def purchases() -> pd.DataFrame:
    """The raw source file read with pandas (not through the adapter), days shifted; money as
    integer cents, so every sum below is exact."""
    path = importlib.metadata.distribution("lifetimes").locate_file(SOURCE_FILE)
    raw = pd.read_csv(str(path), sep=r"\s+", dtype=str)
    original = pd.to_datetime(raw["date"], format="%Y%m%d")
    shift = pd.Timestamp(START) - pd.Timestamp("1997-01-01")
    cents = [Decimal(v) * 100 for v in raw["dollar_value"]]
    assert all(c == int(c) for c in cents)
    return pd.DataFrame(
        {
            "customer_id": raw["customer_id"],
            "day": (original + shift).dt.date,
            "ordinal": [d.toordinal() for d in (original + shift).dt.date],
            "cds": raw["number_of_cds"].astype(int),
            "cents": [int(c) for c in cents],
        }
    )


def _rows(home: Path, sql: str, params: list | None = None) -> pd.DataFrame:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        cur = con.execute(sql, params or [])  # fetchall, not .df(): pandas would float DECIMALs
        return pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])


def _reference_features(p: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """The feature definitions, re-implemented: windows of N days include `day` itself."""
    seen = p[p["ordinal"] <= day.toordinal()].copy()
    seen["age"] = day.toordinal() - seen["ordinal"]
    for n in (30, 90, 365):
        seen[f"in_{n}"] = (seen["age"] < n).astype(int)
    seen["cents_90"] = seen["cents"] * seen["in_90"]
    seen["cds_90"] = seen["cds"] * seen["in_90"]
    ref = seen.groupby("customer_id").agg(
        recency_days=("age", "min"),
        tenure_days=("age", "max"),
        nb_purchases_30d=("in_30", "sum"),
        nb_purchases_90d=("in_90", "sum"),
        nb_purchases_365d=("in_365", "sum"),
        nb_purchases_lifetime=("age", "size"),
        purchase_days_lifetime=("ordinal", "nunique"),
        cents_90=("cents_90", "sum"),
        cents=("cents", "sum"),
        quantity_90d=("cds_90", "sum"),
        quantity_lifetime=("cds", "sum"),
    )
    cent = Decimal("0.01")
    ref["amount_90d"] = [Decimal(int(c)) * cent for c in ref["cents_90"]]
    ref["amount_lifetime"] = [Decimal(int(c)) * cent for c in ref["cents"]]
    ref["avg_basket_amount"] = [
        (Decimal(int(c)) * cent / int(n)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        for c, n in zip(ref["cents"], ref["nb_purchases_lifetime"], strict=True)
    ]
    return ref.reset_index()


@pytest.mark.parametrize("day", CHECKED_DAYS, ids=str)
def test_features_equal_an_independent_computation(
    home: Path, purchases: pd.DataFrame, day: dt.date
) -> None:
    ours = _rows(home, "select * from cdnow_customer_features where feature_date = ?", [day])
    reference = _reference_features(purchases, day)
    assert len(ours) == len(reference) > 0
    merged = ours.merge(reference, on="customer_id", suffixes=("", "_ref"), validate="1:1")
    assert len(merged) == len(reference)
    for col in FEATURES:
        if col in MONEY:
            assert all(isinstance(v, Decimal) for v in merged[col]), col
        mismatch = merged[merged[col] != merged[f"{col}_ref"]]
        assert mismatch.empty, (col, mismatch[["customer_id", col, f"{col}_ref"]].head())
    stamp = pd.Timestamp(day + dt.timedelta(days=1), tz="UTC")
    assert (pd.to_datetime(ours["event_timestamp"], utc=True) == stamp).all()


def test_every_known_customer_has_a_row_every_day(home: Path, purchases: pd.DataFrame) -> None:
    counts = _rows(
        home, "select feature_date, count(*) as n from cdnow_customer_features group by all"
    )
    first = purchases.groupby("customer_id")["day"].min()
    expected = {
        START + dt.timedelta(days=i): int((first <= START + dt.timedelta(days=i)).sum())
        for i in range(DAYS)
    }
    assert dict(zip(counts["feature_date"], counts["n"], strict=True)) == expected


def test_labels_equal_an_independent_computation(home: Path, purchases: pd.DataFrame) -> None:
    labels = _rows(home, "select * from cdnow_repurchase_labels")
    # arrivals START+90 .. LAST observe START .. LAST-90
    assert labels["observation_date"].min() == START
    assert labels["observation_date"].max() == LAST - dt.timedelta(days=90)
    assert (
        labels["label_arrived_date"] - labels["observation_date"] == dt.timedelta(days=90)
    ).all()
    for offset in (0, 4, DAYS - 91):
        obs = START + dt.timedelta(days=offset)
        known = purchases[purchases["day"] <= obs]["customer_id"].unique()
        after = purchases[
            (purchases["day"] > obs) & (purchases["day"] <= obs + dt.timedelta(days=90))
        ]
        bought_again = set(after["customer_id"])
        expected = {c: int(c in bought_again) for c in known}
        ours = labels[labels["observation_date"] == obs]
        assert dict(zip(ours["customer_id"], ours["repurchased_90d"], strict=True)) == expected
    assert 0.2 < labels["repurchased_90d"].mean() < 0.5


def test_no_float_column_and_the_export_matches(home: Path) -> None:
    types = _rows(
        home,
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_name in ('int_cdnow_customer_daily', 'cdnow_customer_features', "
        "'cdnow_repurchase_labels')",
    )
    assert set(types["table_name"]) == {
        "int_cdnow_customer_daily",
        "cdnow_customer_features",
        "cdnow_repurchase_labels",
    }
    assert not types["data_type"].str.upper().isin(FLOAT_TYPES).any(), types
    exported = pd.read_parquet(home / "features" / "cdnow_customer_features")
    mart_rows = _rows(home, "select count(*) as n from cdnow_customer_features")["n"][0]
    assert len(exported) == mart_rows
    assert all(str(exported[c].dtype) == "float64" for c in FEATURES)
    assert sorted({str(d) for d in exported["feature_date"]})[-1] == str(LAST)


def test_feast_serves_the_mart_point_in_time(home: Path) -> None:
    """`cdnow_repurchase` read through Feast's registry (both datasets' repo applied) gives
    the mart's values of the observation day for each label row."""
    from mlops_assets.core import feature_store as fs

    store = fs.open_store(home)
    summary = fs.apply_repo(store)
    assert "cdnow_repurchase" in summary["feature_services"]
    assert "churn_model" in summary["feature_services"]
    # the model's inputs: the view's features but tenure_days (a clock in a closed cohort, see
    # feature_repo/cdnow.py)
    inputs = [f for f in FEATURES if f != "tenure_days"]
    assert fs.service_features(store, "cdnow_repurchase") == inputs
    view = store.get_feature_view("cdnow_customer_activity")
    assert {f.name: f.tags.get("window_days") for f in view.features} == {
        "recency_days": None,
        "tenure_days": None,
        "nb_purchases_30d": "30",
        "nb_purchases_90d": "90",
        "nb_purchases_365d": "365",
        "nb_purchases_lifetime": None,
        "purchase_days_lifetime": None,
        "amount_90d": "90",
        "amount_lifetime": None,
        "avg_basket_amount": None,
        "quantity_90d": "90",
        "quantity_lifetime": None,
    }
    labels = _rows(
        home,
        "select customer_id, event_timestamp, observation_date, repurchased_90d "
        "from cdnow_repurchase_labels where observation_date = ? order by customer_id limit 500",
        [START + dt.timedelta(days=5)],
    )
    labels["event_timestamp"] = pd.to_datetime(labels["event_timestamp"], utc=True)
    served = fs.training_set(store, labels, "cdnow_repurchase")
    mart = _rows(
        home,
        "select * from cdnow_customer_features where feature_date = ?",
        [START + dt.timedelta(days=5)],
    ).set_index("customer_id")
    assert "tenure_days" not in served.columns
    for col in inputs:
        expected = [float(mart.loc[c, col]) for c in served["customer_id"]]
        assert served[col].tolist() == expected, col


def test_rebuilding_days_changes_nothing(built: Built) -> None:
    """Re-materializing a window is idempotent, bit for bit, and touches no other day: the days
    before LAST (five of them rebuilt by the second run) are exactly what the first run built."""
    assert _digests(built.home, LAST) == built.history
    assert all(n > 0 for n, *_ in built.history.values())
