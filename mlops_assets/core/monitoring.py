"""Monitoring rules without a framework: who is scored, which features can be judged for
drift, the per-day summaries the sensors read, and when drift or a performance drop should
trigger a retraining.

Nothing here names a model or a feature: the scoring population is the model's SQL predicate
(its YAML), look-back windows come from the feature definitions (`core.model_inputs`). The
retraining decision is a pure function of per-day summaries and a small state, so the sensor
that calls it can be replayed, restarted and tested tick by tick.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_assets.core.retraining import (  # noqa: F401  (the sensor's decision, re-exported)
    RetrainPolicy,
    RetrainState,
    Trigger,
    evaluate_retraining,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

DEFAULT_WARM_UP_DAYS = 30


def warming_up(day: dt.date, first_day: dt.date, warm_up_days: int = DEFAULT_WARM_UP_DAYS) -> bool:
    """The first days of history: windowed features still fill up, so drift and performance
    are computed and shown but never trigger anything."""
    return (day - first_day).days < warm_up_days - 1


def population_mask(frame: pd.DataFrame, predicate: str) -> np.ndarray:
    """Which rows of `frame` belong to the scoring population: the model's SQL predicate
    (the same text scoring runs over the features mart), evaluated by DuckDB on the frame.
    A NULL verdict is "not in the population"."""
    import duckdb
    import numpy as np

    con = duckdb.connect()
    try:
        con.register("population_rows", frame)
        try:
            keep = con.execute(
                f"SELECT coalesce(({predicate}), false) FROM population_rows"
            ).fetchnumpy()
        except duckdb.Error as err:
            raise ValueError(f"population predicate {predicate!r} failed: {err}") from err
    finally:
        con.close()
    values = next(iter(keep.values()))
    return np.asarray(values, dtype=bool)


def complete_window_features(
    features: Sequence[str],
    first_day: dt.date,
    reference_first_day: dt.date,
    windows: Mapping[str, int],
) -> tuple[list[str], dict[str, str]]:
    """Features whose look-back window is fully covered by history on every reference day.

    Returns (usable features, {excluded feature: reason}). A 90-day feature computed on the
    tenth day of history counts ten days, not ninety: comparing it with a later day would
    report drift that is only the history filling up. A feature without a window is usable.
    """
    usable, excluded = [], {}
    for name in features:
        window = int(windows.get(name, 1))
        complete_from = first_day + dt.timedelta(days=window - 1)
        if reference_first_day >= complete_from:
            usable.append(name)
        else:
            excluded[name] = (
                f"{window}-day window incomplete before {complete_from} "
                f"(reference starts {reference_first_day})"
            )
    return usable, excluded


def judged_drift(
    table: pd.DataFrame,
    day: dt.date,
    first_day: dt.date,
    windows: Mapping[str, int],
) -> tuple[list[str], float, list[str]]:
    """(drifted features, drift share, features judged) for a day: features whose look-back
    window is not yet complete on `day` are left out of the verdict."""
    judged, _ = complete_window_features(list(table["feature"]), first_day, day, windows)
    rows = table[table["feature"].isin(judged)]
    drifted = rows.loc[rows["drifted"], "feature"].tolist()
    return drifted, (len(drifted) / len(judged) if judged else 0.0), judged


@dataclass(frozen=True)
class DaySummary:
    """What the drift and performance assets leave for the retraining sensor, one per day."""

    day: str
    model_version: str
    drifted_features: list[str] = field(default_factory=list)
    drift_share: float = 0.0
    auc_pr: float | None = None  # set when that day's labels have arrived
    warming_up: bool = False  # some windows still incomplete: shown, not judged

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DaySummary:
        return cls(**json.loads(text))


DRIFT_OWNER = "drift"  # writes model_version, drifted_features, drift_share, warming_up
PERFORMANCE_OWNER = "performance"  # writes model_version, auc_pr, warming_up
# read by the platform metrics only (not part of DaySummary): PSI per judged input and of the
# score; ROC-AUC and expected calibration error of a labelled day; the output monitoring's
# numbers (core.output_monitoring)
_METRICS_ONLY = {
    DRIFT_OWNER: {
        "feature_psi",
        "score_psi",
        "score_kl",
        "bucket_deviation",
        "rows_scored",
        "volume_ratio",
        "out_of_range_share",
    },
    PERFORMANCE_OWNER: {"roc_auc", "ece", "precision_top", "recall_top"},
}
_OWNED_FIELDS: Mapping[str, frozenset[str]] = {
    DRIFT_OWNER: frozenset(
        {"model_version", "drifted_features", "drift_share", "warming_up"}
        | _METRICS_ONLY[DRIFT_OWNER]
    ),
    PERFORMANCE_OWNER: frozenset(
        {"model_version", "auc_pr", "warming_up"} | _METRICS_ONLY[PERFORMANCE_OWNER]
    ),
}


class SummaryStore:
    """One model's day summaries: one small JSON file per (day, owner), written atomically.

    Two assets report on a day — the drift report and, once labels arrive, the performance
    check — and each owns its own file (`<day>.<owner>.json`), so neither ever reads, merges
    and rewrites the other's fields: there is no read-modify-write and no lost update, even
    when both run at once in different processes. A reader merges the files of a day into
    one `DaySummary`. Write = temp file + `os.replace`, so a reader never sees half a file.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def write(self, day: dt.date | str, owner: str, **values: Any) -> Path:
        allowed = _OWNED_FIELDS.get(owner)
        if allowed is None:
            raise ValueError(f"unknown summary owner {owner!r}; owners: {sorted(_OWNED_FIELDS)}")
        foreign = set(values) - allowed
        if foreign:
            raise ValueError(f"{owner} does not own summary field(s) {sorted(foreign)}")
        day = day.isoformat() if isinstance(day, dt.date) else str(day)
        dt.date.fromisoformat(day)  # a day, never a path
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{day}.{owner}.json"
        tmp = self.folder / f".{day}.{owner}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"day": day, **values}, sort_keys=True))
        os.replace(tmp, path)
        return path

    def read(self) -> list[DaySummary]:
        """Every day with at least one summary file, merged, in day order."""
        if not self.folder.is_dir():
            return []
        parts: dict[str, dict[str, dict[str, Any]]] = {}
        for path in self.folder.glob("[0-9]*.json"):
            day, owner, _ = path.name.split(".", 2)
            if owner in _OWNED_FIELDS:
                parts.setdefault(day, {})[owner] = json.loads(path.read_text())
        return [_merge(day, parts[day]) for day in sorted(parts)]

    def get(self, day: dt.date | str) -> DaySummary | None:
        day = day.isoformat() if isinstance(day, dt.date) else str(day)
        found = [s for s in self.read() if s.day == day]
        return found[0] if found else None


def _merge(day: str, owners: Mapping[str, Mapping[str, Any]]) -> DaySummary:
    drift = owners.get(DRIFT_OWNER, {})
    performance = owners.get(PERFORMANCE_OWNER, {})
    names = {f.name for f in fields(DaySummary)}
    merged = {k: v for k, v in performance.items() if k in names}
    merged.update({k: v for k, v in drift.items() if k in names})  # drift's version wins
    merged["day"] = day
    merged["auc_pr"] = performance.get("auc_pr")
    merged.setdefault("model_version", "")
    return DaySummary(**merged)


def as_metadata(summary: DaySummary) -> dict[str, Any]:
    return {k: v for k, v in asdict(summary).items() if v is not None}
