"""Platform metrics read from the files the assets write, with the assets' own writers
(SummaryStore, ingest_status.write_status, a retraining-history parquet like the asset's)."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from mlops_assets.core import ingest_status, monitoring
from mlops_assets.core.platform_metrics import (
    METRIC_INFO,
    DataSource,
    ModelSource,
    PlatformReader,
)

NOW = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC).timestamp()


def _values(reader: PlatformReader) -> dict[tuple[str, tuple], float]:
    return {(s.name, s.labels): s.value for s in reader.read()}


def _store(home: Path, model: str = "churn") -> monitoring.SummaryStore:
    return monitoring.SummaryStore(home / "monitoring" / model / "days")


def _drift(store, day: str, psi: dict[str, float], *, warming_up: bool = False) -> None:
    drifted = [f for f, p in psi.items() if p > 0.2]
    store.write(
        day,
        monitoring.DRIFT_OWNER,
        model_version="2",
        drifted_features=drifted,
        drift_share=len(drifted) / len(psi),
        warming_up=warming_up,
        feature_psi=psi,
        score_psi=0.04,
    )


def _reader(home: Path, **kw) -> PlatformReader:
    return PlatformReader(
        home,
        [ModelSource("churn", 0.65)],
        [DataSource("churn_world", "transactions")],
        clock=lambda: NOW,
        **kw,
    )


def test_drift_of_the_newest_judged_day(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _drift(store, "2026-03-01", {"a": 0.5, "b": 0.1})
    _drift(store, "2026-03-02", {"a": 0.3, "b": 0.05})
    _drift(store, "2026-03-03", {"a": 0.9, "b": 0.9}, warming_up=True)  # shown, not judged
    v = _values(_reader(tmp_path))
    m = (("model", "churn"),)
    assert v[("model_drift_score", (*m, ("feature", "a")))] == 0.3
    assert v[("model_drift_score", (*m, ("feature", "b")))] == 0.05
    assert v[("model_drift_share", m)] == 0.5
    assert v[("model_score_psi", m)] == 0.04
    day = dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp()
    assert v[("model_drift_day_timestamp_seconds", m)] == day
    assert v[("model_accuracy_floor", m)] == 0.65


def test_performance_of_the_newest_labelled_day(tmp_path: Path) -> None:
    store = _store(tmp_path)
    for day, auc in (("2026-01-01", 0.9), ("2026-01-02", 0.61)):
        store.write(
            day,
            monitoring.PERFORMANCE_OWNER,
            model_version="2",
            auc_pr=auc,
            roc_auc=auc + 0.05,
            ece=0.02,
            warming_up=False,
        )
    v = _values(_reader(tmp_path))
    m = (("model", "churn"),)
    assert v[("model_accuracy", (*m, ("metric", "auc_pr")))] == 0.61
    assert v[("model_accuracy", (*m, ("metric", "roc_auc")))] == pytest.approx(0.66)
    assert v[("model_calibration_error", m)] == 0.02
    # a drift-only home has no performance series, not zeros
    assert not any(k[0] == "model_drift_share" for k in v)


def test_retraining_history_counts_and_champion(tmp_path: Path) -> None:
    since = dt.datetime(2026, 3, 9, 12, tzinfo=dt.UTC).isoformat(timespec="seconds")
    rows = [
        # version, trigger, gate_passed, promoted, is_champion, champion_since
        ("1", "manual", "true", True, False, "2026-01-01T00:00:00+00:00"),
        ("2", "drift", "false", False, False, ""),
        ("3", "drift", "true", True, True, since),
        ("4", "schedule", "not evaluated", False, False, ""),
    ]
    frame = pd.DataFrame(
        rows,
        columns=["version", "trigger", "gate_passed", "promoted", "is_champion", "champion_since"],
    ).assign(created=pd.Timestamp("2026-01-01", tz="UTC"))
    path = tmp_path / "monitoring" / "churn" / "retraining_history.parquet"
    path.parent.mkdir(parents=True)
    frame.to_parquet(path, index=False)
    v = _values(_reader(tmp_path))

    def runs(trigger: str, outcome: str) -> float:
        labels = (("model", "churn"), ("trigger", trigger), ("outcome", outcome))
        return v[("retraining_runs_total", labels)]

    assert runs("manual", "promoted") == 1
    assert runs("drift", "rejected") == 1
    assert runs("drift", "promoted") == 1
    assert runs("schedule", "pending") == 1
    m = (("model", "churn"),)
    assert v[("model_champion_version", m)] == 3
    assert v[("model_champion_age_seconds", m)] == 86400


def test_data_freshness_and_quarantine(tmp_path: Path) -> None:
    day1, day2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)
    ingest_status.write_status(tmp_path, "churn_world", "transactions", day2, 200, 190, 10)
    reader = _reader(tmp_path)
    labels = (("dataset", "churn_world"), ("source", "transactions"))
    v = _values(reader)
    assert v[("data_quarantine_rate", labels)] == 0.05
    assert v[("data_rows_ingested", labels)] == 200
    partition = dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp()
    assert v[("data_last_partition_timestamp_seconds", labels)] == partition
    first = v[("data_last_ingest_timestamp_seconds", labels)]
    assert abs(first - time.time()) < 60
    # a backfilled older day is fresh data too (the newest partition stays day 2)
    later = time.time() + 3600
    ingest_status.write_status(tmp_path, "churn_world", "transactions", day1, 100, 100, 0)
    folder = ingest_status.status_dir(tmp_path, "churn_world", "transactions")
    os.utime(folder, (later, later))
    v = _values(reader)
    assert v[("data_last_ingest_timestamp_seconds", labels)] == later
    assert v[("data_last_partition_timestamp_seconds", labels)] == partition


def test_status_writer_refuses_unbalanced_rows_and_path_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rows_in"):
        ingest_status.write_status(tmp_path, "d", "s", dt.date(2026, 1, 1), 10, 9, 0)
    with pytest.raises(ValueError, match="not a dataset/source name"):
        ingest_status.write_status(tmp_path, "..", "s", dt.date(2026, 1, 1), 1, 1, 0)


def test_an_unreadable_file_is_counted_and_the_rest_still_read(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _drift(store, "2026-03-01", {"a": 0.3})
    (store.folder / "2026-03-02.drift.json").write_text("{half a fi")
    v = _values(_reader(tmp_path))
    assert v[("mlops_metrics_unreadable_files", ())] == 1
    feature = (("model", "churn"), ("feature", "a"))
    assert v[("model_drift_score", feature)] == 0.3  # the day before


def test_a_rewritten_file_is_read_again(tmp_path: Path) -> None:
    store = _store(tmp_path)
    reader = _reader(tmp_path)
    _drift(store, "2026-03-01", {"a": 0.3})
    feature = ("model_drift_score", (("model", "churn"), ("feature", "a")))
    assert _values(reader)[feature] == 0.3
    _drift(store, "2026-03-01", {"a": 0.01})
    path = store.folder / "2026-03-01.drift.json"
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)  # a coarse clock cannot hide it
    assert _values(reader)[feature] == 0.01


def test_an_empty_home_exports_only_the_floor_and_the_error_count(tmp_path: Path) -> None:
    names = {s.name for s in _reader(tmp_path).read()}
    assert names == {"model_accuracy_floor", "mlops_metrics_unreadable_files"}
    assert names <= set(METRIC_INFO)
