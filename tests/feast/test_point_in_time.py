"""Training sets are point-in-time correct, and our DuckDB path equals Feast's row for row."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from mlops_assets.core import feature_store as fs
from tests.feature_columns import FEATURE_COLUMNS

from .data import day_frame, day_ts, random_history, random_labels, write_day
from .names import SERVICE, VIEW

D1, D2, D3 = date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 10)
OUTPUTS = [*FEATURE_COLUMNS, "amount_trend", "tickets_per_transaction"]


def _both(store, labels: pd.DataFrame, **kwargs) -> pd.DataFrame:
    ours = fs.training_set(store, labels, SERVICE, method="duckdb", **kwargs)
    feast = fs.training_set(store, labels, SERVICE, method="feast", **kwargs)
    pd.testing.assert_frame_equal(ours, feast)
    return ours


@pytest.fixture
def hand_built(home, store):
    """A: a value written after the label must not leak. B: two exports of one day (created tie).
    C: zero / missing ODFV inputs. D3 only has customer D, so A's last value ages past the TTL."""
    write_day(home, D1, day_frame(D1, ["A"], {"tenure_days": [1.0]}))
    write_day(home, D2, day_frame(D2, ["A"], {"tenure_days": [2.0]}))
    ts = day_ts(D1)
    first = day_frame(D1, ["B"], {"tenure_days": [10.0]}, created=ts + pd.Timedelta(hours=1))
    fixed = day_frame(D1, ["B"], {"tenure_days": [11.0]}, created=ts + pd.Timedelta(hours=5))
    write_day(home, D1, pd.concat([first, day_frame(D1, ["A"], {"tenure_days": [1.0]})]))
    write_day(home, D1, fixed, file="correction.parquet")
    odd = day_frame(
        D2,
        ["C1", "C2", "C3"],
        {
            "total_amount_7d": [0.0, np.nan, 70.0],
            "total_amount_30d": [0.0, 30.0, 300.0],
            "support_tickets_30d": [3.0, 2.0, 1.0],
            "nb_transactions_30d": [0.0, 4.0, np.nan],
        },
    )
    write_day(home, D2, pd.concat([day_frame(D2, ["A"], {"tenure_days": [2.0]}), odd]))
    write_day(home, D3, day_frame(D3, ["D"], {"tenure_days": [5.0]}))
    return store


def test_no_leak_ttl_and_created_tie_break(hand_built) -> None:
    t1, t2 = day_ts(D1), day_ts(D2)
    rows = [
        ("A", t1 + pd.Timedelta(hours=12)),  # D2's value exists but was written later: use D1
        ("A", t2),  # known exactly at the label time: use it
        ("A", t1 - pd.Timedelta(seconds=1)),  # before anything was known: null
        ("A", t2 + timedelta(days=3)),  # exactly the TTL old: still valid
        ("A", t2 + timedelta(days=3, seconds=1)),  # older than the TTL: null
        ("B", t1 + pd.Timedelta(hours=1)),  # two rows for D1: the later created wins
        ("C1", t2),
        ("C2", t2),
        ("C3", t2),
        ("ZZ", t2),  # unknown customer
    ]
    labels = pd.DataFrame(
        {"customer_id": [r[0] for r in rows], "event_timestamp": [r[1] for r in rows]},
        index=np.arange(100, 100 + len(rows)),
    )
    labels["label"] = np.arange(len(rows)) % 2
    out = _both(hand_built, labels)

    assert list(out.columns) == ["customer_id", "event_timestamp", "label", *OUTPUTS]
    pd.testing.assert_frame_equal(out[labels.columns], labels.reset_index(drop=True))
    tenure = out["tenure_days"]
    assert tenure[[0, 1, 3, 5]].tolist() == [1.0, 2.0, 2.0, 11.0]
    assert tenure[[2, 4, 9]].isna().all()
    assert out["amount_trend"].iloc[6] == 0.0  # no spend in 30 days
    assert pd.isna(out["amount_trend"].iloc[7])  # missing input -> missing output
    assert out["amount_trend"].iloc[8] == pytest.approx(70 / (300 * 7 / 30))
    assert out["tickets_per_transaction"].iloc[6] == 3.0  # purchases floored at 1
    assert out["tickets_per_transaction"].iloc[7] == 0.5
    assert pd.isna(out["tickets_per_transaction"].iloc[8])

    rates = fs.null_rates(out, OUTPUTS)
    assert rates["tenure_days"] == pytest.approx(3 / 10)  # before data, past TTL, unknown
    assert rates["amount_trend"] == pytest.approx(4 / 10)

    # One label at a time: the feature scan is then pruned to exactly that label's TTL window.
    for i in (0, 1, 3, 4, 5):
        single = _both(hand_built, labels.iloc[[i]])
        expected = out.iloc[[i]].reset_index(drop=True)
        ratios = {"amount_trend": float, "tickets_per_transaction": float}  # all-null: object
        pd.testing.assert_frame_equal(single.astype(ratios), expected)


def test_random_history_both_methods_identical(home, store) -> None:
    start = date(2026, 2, 1)
    random_history(home, start, n_days=12, n_customers=60, seed=3)
    labels = random_labels(start, 12, 60, 800)
    out = _both(store, labels)
    rates = fs.null_rates(out, OUTPUTS)
    assert 0 < rates["tenure_days"] < 1  # some TTL expiry / unknowns, mostly present
    assert len(out) == len(labels)


def test_full_feature_names_and_naive_timestamps(home, store) -> None:
    start = date(2026, 2, 1)
    random_history(home, start, n_days=4, n_customers=10, seed=5)
    labels = random_labels(start, 4, 10, 50)
    labels["event_timestamp"] = labels["event_timestamp"].dt.tz_localize(None)  # naive = UTC
    out = _both(store, labels, full_feature_names=True)
    assert "customer_activity__tenure_days" in out.columns
    assert "customer_activity_ratios__amount_trend" in out.columns


def test_empty_labels_and_missing_export(home, store) -> None:
    empty = pd.DataFrame({"customer_id": pd.Series([], dtype=object), "label": []})
    empty["event_timestamp"] = pd.Series([], dtype="datetime64[ns, UTC]")
    with pytest.raises(FileNotFoundError, match="dbt export"):
        fs.training_set(store, empty, SERVICE)
    with pytest.raises(FileNotFoundError, match="dbt export"):
        fs.materialize_day(store, D1, feature_views=[VIEW])
    write_day(home, D1, day_frame(D1, ["A"]))
    out = fs.training_set(store, empty, SERVICE)
    assert len(out) == 0 and list(out.columns) == [*empty.columns, *OUTPUTS]


def test_training_set_rejects_bad_input(store) -> None:
    with pytest.raises(KeyError, match="event_timestamp"):
        fs.training_set(store, pd.DataFrame({"customer_id": ["A"]}), SERVICE)
    clash = pd.DataFrame(
        {"customer_id": ["A"], "event_timestamp": [day_ts(D1)], "tenure_days": [1.0]}
    )
    with pytest.raises(ValueError, match="tenure_days"):
        fs.training_set(store, clash, SERVICE)
    with pytest.raises(ValueError, match="method"):
        fs.training_set(store, clash.drop(columns="tenure_days"), SERVICE, method="spark")  # type: ignore[arg-type]
