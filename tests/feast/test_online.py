"""Online store: our bulk writer equals Feast's materialize, never goes backwards, is idempotent."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_assets.core import feature_store as fs
from tests.feature_columns import FEATURE_COLUMNS

from .data import day_frame, day_ts, write_day
from .names import SERVICE, VIEW

D1, D2, D3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
IDS = [f"C{i:03d}" for i in range(40)]
TABLE = "mlops_assets_customer_activity"


def _rows(home: Path) -> list[tuple]:
    with sqlite3.connect(home / "feast" / "online.db") as con:
        return con.execute(
            "SELECT entity_key, feature_name, value, value_text, vector_value, event_ts, "
            f"created_ts, typeof(event_ts), typeof(created_ts) FROM {TABLE} ORDER BY 1, 2"
        ).fetchall()


def _online(store, ids=IDS) -> dict:
    return store.get_online_features(
        features=[f"customer_activity:{f}" for f in FEATURE_COLUMNS],
        entity_rows={"customer_id": list(ids)},
    ).to_dict(include_event_timestamps=True)


def _write_history(home: Path) -> None:
    """Three days with the awkward cases: ints, NaN, a second export file for one day."""
    for n, day in enumerate((D1, D2, D3)):
        frame = day_frame(day, IDS[: 30 + 5 * n], seed=n)
        frame.loc[3, "total_amount_7d"] = np.nan
        frame["plan_tier"] = np.arange(len(frame)) % 3  # int64 in the file, Float64 in Feast
        frame["created_timestamp"] = day_ts(day) + pd.Timedelta(seconds=90 * n + 7)
        write_day(home, day, frame)
    late = day_frame(D3, IDS[:5], 42.0, created=day_ts(D3) + pd.Timedelta(hours=3))
    write_day(home, D3, late, file="late.parquet")  # same event time, newer created: wins


def test_bulk_write_equals_feast_materialize(tmp_path: Path) -> None:
    stores = {}
    for method in ("feast", "bulk"):
        home = tmp_path / method
        _write_history(home)
        store = fs.open_store(home)
        fs.apply_repo(store)
        for day in (D1, D2, D3):
            assert (
                fs.materialize_day(store, day, method=method, feature_views=[VIEW])["method"]
                == method
            )
        stores[method] = (home, store)
    (feast_home, feast_store), (bulk_home, bulk_store) = stores["feast"], stores["bulk"]
    rows = _rows(bulk_home)
    assert rows == _rows(feast_home)  # byte for byte: keys, protos, text, timestamps
    assert len(rows) == len(IDS) * len(FEATURE_COLUMNS)
    ids = [*IDS, "nobody"]
    assert _online(bulk_store, ids) == _online(feast_store, ids)
    assert _online(bulk_store, ["C000"])["tenure_days"][0] is not None
    assert _online(bulk_store, ["C001"])["tenure_days"] == [42.0]  # the later export won
    intervals = bulk_store.get_feature_view("customer_activity").materialization_intervals
    assert (fs.day_window(D3)[0], fs.day_window(D3)[1]) in [(s, e) for s, e in intervals]


def test_older_day_never_overwrites_newer(home: Path, store) -> None:
    write_day(home, D1, day_frame(D1, IDS, 1.0))
    write_day(home, D2, day_frame(D2, IDS[:10], 2.0))
    fs.materialize_day(store, D2, feature_views=[VIEW])
    result = fs.materialize_day(store, D1, feature_views=[VIEW])["views"]["customer_activity"]
    assert result["kept_newer"] == 10 * len(FEATURE_COLUMNS)  # the 10 customers of D2
    online = fs.online_features(store, IDS, SERVICE)
    assert online["tenure_days"].tolist() == [2.0] * 10 + [1.0] * 30


def test_feast_materialize_overwrites_newer_on_sqlite(home: Path, store) -> None:
    """Why the guard exists (DESIGN §9). If this fails, Feast added a guard: simplify ours."""
    write_day(home, D1, day_frame(D1, IDS, 1.0))
    write_day(home, D2, day_frame(D2, IDS, 2.0))
    fs.materialize_day(store, D2, method="feast", feature_views=[VIEW])
    fs.materialize_day(store, D1, method="feast", feature_views=[VIEW])
    assert fs.online_features(store, IDS[:3], SERVICE)["tenure_days"].tolist() == [1.0] * 3


def test_rematerializing_a_day_is_idempotent_and_takes_corrections(home: Path, store) -> None:
    write_day(home, D1, day_frame(D1, IDS, 1.0))
    write_day(home, D2, day_frame(D2, IDS, 2.0))
    for day in (D1, D2):
        fs.materialize_day(store, day, feature_views=[VIEW])
    before = _rows(home)
    fs.materialize_day(store, D2, feature_views=[VIEW])
    assert _rows(home) == before
    fs.materialize_day(store, D1, feature_views=[VIEW])  # an old day again: nothing changes
    assert _rows(home) == before

    fixed = day_frame(D2, IDS, 2.5, created=day_ts(D2) + pd.Timedelta(hours=6))
    write_day(home, D2, fixed)  # the dbt export re-ran for D2 and replaced its file
    fs.materialize_day(store, D2, feature_views=[VIEW])
    assert set(fs.online_features(store, IDS, SERVICE)["tenure_days"]) == {2.5}


def test_materializing_a_day_without_export_touches_nothing(home: Path, store) -> None:
    write_day(home, D1, day_frame(D1, IDS, 1.0))
    fs.materialize_day(store, D1, feature_views=[VIEW])
    before = _rows(home)
    result = fs.materialize_day(store, D3, feature_views=[VIEW])
    assert result["views"]["customer_activity"]["rows"] == 0
    assert _rows(home) == before


def test_online_features_for_scoring(home: Path, store) -> None:
    write_day(home, D1, day_frame(D1, IDS, seed=1))
    fs.materialize_day(store, D1, feature_views=[VIEW])
    ids = ["C005", "nobody", "C001"]
    online = fs.online_features(store, ids, SERVICE)
    assert list(online.columns) == ["customer_id", *fs.service_features(store, SERVICE)]
    assert online["customer_id"].tolist() == ids
    assert online.loc[1, list(FEATURE_COLUMNS)].isna().all()
    unknown = fs.online_features(store, ["nobody"], SERVICE)  # still float columns, not object
    assert (unknown.drop(columns="customer_id").dtypes == "float64").all()
    # Scoring sees what training would see at the same moment (ODFVs included).
    labels = pd.DataFrame({"customer_id": ids, "event_timestamp": day_ts(D1)})
    offline = fs.training_set(store, labels, SERVICE).drop(columns="event_timestamp")
    pd.testing.assert_frame_equal(online, offline, check_dtype=False)


def test_consistency_sample_finds_drift_between_online_and_offline(home: Path, store) -> None:
    write_day(home, D1, day_frame(D1, IDS, seed=1))
    write_day(home, D2, day_frame(D2, IDS, seed=2))
    for day in (D1, D2):
        fs.materialize_day(store, day, feature_views=[VIEW])
    report = fs.consistency_sample(store, VIEW, n=25)
    assert report["n_compared"] == 25
    assert report["n_mismatched"] == report["n_missing_online"] == report["n_stale_online"] == 0
    assert report["max_abs_diff"] == 0.0

    changed = day_frame(D2, IDS, seed=3, created=day_ts(D2) + pd.Timedelta(hours=1))
    write_day(home, D2, changed)  # offline changed, online not re-materialized
    report = fs.consistency_sample(store, VIEW, n=len(IDS))
    assert report["n_mismatched"] == len(IDS)
    assert report["max_abs_diff"] > 0 and len(report["examples"]) == 5
    assert set(report["mismatch_by_feature"]) == set(FEATURE_COLUMNS)
    assert {"customer_id", "feature", "offline", "online"} <= set(report["examples"][0])

    fs.materialize_day(store, D2, feature_views=[VIEW])
    assert fs.consistency_sample(store, VIEW, n=len(IDS))["n_mismatched"] == 0


def test_materialize_day_rejects_bulk_on_other_stores(tmp_path: Path) -> None:
    store = fs.open_store(tmp_path, env="prod", redis_url="127.0.0.1:1")
    with pytest.raises(ValueError, match="SQLite"):
        fs.materialize_day(store, D1, method="bulk", feature_views=[VIEW])


def test_a_range_in_one_scan_equals_its_days_one_by_one(tmp_path: Path) -> None:
    """A backfill loads [D1, D3] with one read: same online rows as D1, D2, D3 in order."""
    rows = {}
    for mode in ("days", "range"):
        home = tmp_path / mode
        store = fs.open_store(home)
        fs.apply_repo(store)
        _write_history(home)
        if mode == "days":
            for day in (D1, D2, D3):
                fs.materialize_day(store, day, feature_views=[VIEW])
        else:
            fs.materialize_day(store, D1, last_day=D3, feature_views=[VIEW])
        rows[mode] = _rows(home)
    assert rows["range"] == rows["days"]
    assert rows["range"]  # something was written


def test_the_direct_sqlite_read_equals_feasts_online_read(home: Path, store) -> None:
    """The serving hot path reads the SQLite store itself (`sqlite_reader`): for the same ids it
    must return what `get_online_features` returns, on-demand views, missing values, ints
    stored as floats and unknown ids included; and judge staleness by each view's TTL."""
    from datetime import UTC, datetime, timedelta

    from feast.online_response import TIMESTAMP_POSTFIX

    from mlops_assets.core.feature_store.online import STALE_COLUMN, sqlite_reader

    _write_history(home)
    fs.materialize_day(store, D1, feature_views=[VIEW])
    fs.materialize_day(store, D3, feature_views=[VIEW])
    ids = [*IDS[::-1], "nobody", "C003"]
    reader = sqlite_reader(store, SERVICE)
    assert reader is not None
    direct = fs.online_features(store, ids, SERVICE)
    refs = fs.service_refs(store, SERVICE)
    feast = store.get_online_features(features=refs, entity_rows={"customer_id": ids}).to_dict(
        include_event_timestamps=True
    )
    expected = pd.DataFrame(
        {"customer_id": ids, **{r.split(":")[1]: feast[r.split(":")[1]] for r in refs}}
    )
    pd.testing.assert_frame_equal(direct, expected, check_dtype=False)
    assert direct.loc[len(IDS), list(FEATURE_COLUMNS)].isna().all()  # "nobody"

    # stale: a value older than the view's TTL (3 days) at the moment asked about
    stamps = np.asarray(feast["total_amount_7d" + TIMESTAMP_POSTFIX], dtype=float)
    ttl = store.get_feature_view(VIEW).ttl.total_seconds()
    stale_counts = []
    for hours in (0, 24 * 5):  # D3's values fresh, then older than the TTL
        fresh_at = (day_ts(D3) + timedelta(hours=hours)).to_pydatetime().astimezone(UTC)
        flags = fs.online_features(store, ids, SERVICE, fresh_at=fresh_at)[STALE_COLUMN]
        want = (stamps > 0) & (stamps < fresh_at.timestamp() - ttl)
        assert flags.tolist() == want.tolist()
        stale_counts.append(int(want.sum()))
    assert stale_counts == [0, len(IDS) + 1]  # C003 twice, "nobody" never
    assert datetime.now(UTC) > fresh_at  # the moments are in the past: judged as of them
