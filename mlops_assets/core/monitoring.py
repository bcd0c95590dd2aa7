"""Monitoring rules without a framework: who is scored, which features can be judged for
drift, and when drift or a performance drop should trigger a retraining.

The retraining decision is a pure function of per-day summaries and a small state, so the
sensor that calls it can be replayed, restarted and tested tick by tick.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

# A customer is scored (and used as drift reference) while active: a purchase in the last
# 30 days, or a signup in the last 30 days. Customers who churned fall out after 30 quiet
# days; keeping them would make every feature drift slowly as they pile up.
ACTIVE_SQL = "(nb_transactions_30d > 0 OR tenure_days < 30)"

# Look-back window of each windowed feature, in days (the dbt mart's definitions). A feature
# is only comparable on days whose window lies entirely inside the ingested history.
FEATURE_WINDOWS: Mapping[str, int] = {
    "nb_transactions_7d": 7,
    "total_amount_7d": 7,
    "nb_transactions_30d": 30,
    "total_amount_30d": 30,
    "avg_transaction_amount": 30,
    "support_tickets_30d": 30,
    "days_since_last_transaction": 90,
    "support_tickets_90d": 90,
}


WARM_UP_DAYS = 30  # days until every 30-day window is complete (90-day ones are excluded)


def warming_up(day: dt.date, first_day: dt.date) -> bool:
    """The first days of history: 30-day features count less than 30 days, so drift and
    performance are computed and shown but never trigger anything."""
    return (day - first_day).days < WARM_UP_DAYS - 1


def judged_drift(
    table: pd.DataFrame, day: dt.date, first_day: dt.date
) -> tuple[list[str], float, list[str]]:
    """(drifted features, drift share, features judged) for a day: features whose look-back
    window is not yet complete on `day` are left out of the verdict."""
    judged, _ = complete_window_features(list(table["feature"]), first_day, day)
    rows = table[table["feature"].isin(judged)]
    drifted = rows.loc[rows["drifted"], "feature"].tolist()
    return drifted, (len(drifted) / len(judged) if judged else 0.0), judged


def is_active(frame: pd.DataFrame) -> pd.Series:
    return (frame["nb_transactions_30d"] > 0) | (frame["tenure_days"] < 30)


def complete_window_features(
    features: Sequence[str], first_day: dt.date, reference_first_day: dt.date
) -> tuple[list[str], dict[str, str]]:
    """Features whose look-back window is fully covered by history on every reference day.

    Returns (usable features, {excluded feature: reason}). A 90-day feature computed on the
    tenth day of history counts ten days, not ninety: comparing it with a later day would
    report drift that is only the history filling up.
    """
    usable, excluded = [], {}
    for name in features:
        window = FEATURE_WINDOWS.get(name, 1)
        complete_from = first_day + dt.timedelta(days=window - 1)
        if reference_first_day >= complete_from:
            usable.append(name)
        else:
            excluded[name] = (
                f"{window}-day window incomplete before {complete_from} "
                f"(reference starts {reference_first_day})"
            )
    return usable, excluded


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


def write_summary(folder: Path, summary: DaySummary) -> Path:
    """Atomically (write + rename), so a sensor never reads half a file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{summary.day}.json"
    tmp = folder / f".{summary.day}.json.tmp"
    tmp.write_text(summary.to_json())
    tmp.replace(path)
    return path


def read_summaries(folder: Path) -> list[DaySummary]:
    if not folder.is_dir():
        return []
    return sorted(
        (DaySummary.from_json(p.read_text()) for p in folder.glob("[0-9]*.json")),
        key=lambda s: s.day,
    )


@dataclass(frozen=True)
class RetrainPolicy:
    min_drifted_features: int = 2  # k: a day counts as drifted with ≥ k drifted features
    consecutive_days: int = 2  # n: … for n days in a row
    performance_floor: float = 0.65  # AUC-PR of a labelled day below this triggers too
    cooldown_days: int = 14  # at most one retraining per cooldown, whatever triggers it


@dataclass
class RetrainState:
    """The sensor's cursor: what it has seen and what it has triggered."""

    last_day: str | None = None  # newest day already evaluated
    streak: int = 0  # consecutive drifted days ending at last_day
    in_episode: bool = False  # a drift episode already caused its retraining
    last_trigger_day: str | None = None
    performance_seen: list[str] = field(default_factory=list)  # labelled days judged

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> RetrainState:
        return cls(**json.loads(text)) if text else cls()


@dataclass(frozen=True)
class Trigger:
    kind: str  # "drift" | "performance"
    day: str
    reason: str

    @property
    def run_key(self) -> str:
        return f"retrain:{self.kind}:{self.day}"


def evaluate_retraining(
    summaries: Sequence[DaySummary], state: RetrainState, policy: RetrainPolicy
) -> tuple[list[Trigger], RetrainState]:
    """Walk the new day summaries in order; return at most one trigger per cooldown and the
    new state. One drift episode (consecutive drifted days) causes one retraining, not one a
    day; the episode ends on the first day without drift."""
    triggers: list[Trigger] = []
    new = RetrainState(**asdict(state))
    for s in summaries:
        if s.warming_up:
            continue
        if s.auc_pr is not None and s.day not in new.performance_seen:
            new.performance_seen = [*new.performance_seen, s.day][-400:]
            if s.auc_pr < policy.performance_floor:
                _maybe_fire(
                    triggers,
                    new,
                    policy,
                    Trigger(
                        "performance", s.day, f"AUC-PR {s.auc_pr:.3f} < {policy.performance_floor}"
                    ),
                )
        if new.last_day is not None and s.day <= new.last_day:
            continue
        drifted = len(s.drifted_features) >= policy.min_drifted_features
        new.streak = new.streak + 1 if drifted else 0
        new.last_day = s.day
        if not drifted:
            new.in_episode = False
        elif new.streak >= policy.consecutive_days and not new.in_episode:
            fired = _maybe_fire(
                triggers,
                new,
                policy,
                Trigger(
                    "drift",
                    s.day,
                    f"{len(s.drifted_features)} features drifted for {new.streak} days: "
                    f"{', '.join(s.drifted_features)}",
                ),
            )
            new.in_episode = fired or new.in_episode
    return triggers, new


def _maybe_fire(
    triggers: list[Trigger], state: RetrainState, policy: RetrainPolicy, trigger: Trigger
) -> bool:
    if state.last_trigger_day is not None:
        since = dt.date.fromisoformat(trigger.day) - dt.date.fromisoformat(state.last_trigger_day)
        if since.days < policy.cooldown_days:
            return False
    triggers.append(trigger)
    state.last_trigger_day = trigger.day
    return True


def as_metadata(summary: DaySummary) -> dict[str, Any]:
    return {k: v for k, v in asdict(summary).items() if v is not None}
