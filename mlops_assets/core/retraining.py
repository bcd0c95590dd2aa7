"""When to retrain: episodes of drift or low performance, one clock, backoff and escalation.

A pure function of the model's day summaries, a small state (the sensor's cursor) and the
outcomes of the retraining runs it asked for, so the sensor can be replayed, restarted and
tested tick by tick.

One clock. Every signal is dated by the day its evidence arrived: a drifted day by its scored
day, a labelled day's performance by the day its labels landed (scored day + label delay).
Signals are processed in that order; cooldowns and run keys use that date. The drift streak
counts calendar days: a day without a summary ends it.

Episodes, not a timer. The first signal (a drift streak of `consecutive_days`, or a labelled
day below `performance_floor`) opens an episode and asks for one retraining. The episode
stays open until the metric recovers (`recovery_days` labelled days in a row at or above the
floor; for an episode opened by drift alone, the first calm day). While it is open:

* a retraining whose run failed (gate failed, pending approval, too little evidence) is tried
  again only after `retry_label_days` NEW labelled days, doubling after each failure up to
  `max_retry_wait_days` — new evidence, not a timer;
* a retraining that promoted a new champion is not followed by another unless labelled days
  scored by that new champion are below the floor too (days of the replaced version are
  ignored);
* after `max_attempts` attempts that did not end it the episode escalates once: as soon as
  the last one is known to have failed, or once a model it promoted is below the floor too
  (`retry_label_days` of its own labelled days): the champion is below its floor and
  retraining could not fix it — a person must act.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_assets.core.monitoring import DaySummary

PENDING, PROMOTED, FAILED = "pending", "promoted", "failed"
OUTCOMES = (PENDING, PROMOTED, FAILED)
DRIFT, PERFORMANCE = "drift", "performance"


@dataclass(frozen=True)
class RetrainPolicy:
    min_drifted_features: int = 2  # k: a day counts as drifted with ≥ k drifted features
    consecutive_days: int = 2  # n: … for n calendar days in a row; also: n labelled days in
    # a row below the floor open a performance episode (one noisy day does not)
    performance_floor: float = 0.65  # AUC-PR of a labelled day below this is a bad day
    cooldown_days: int = 14  # evidence days between one episode's retraining and the next's
    label_delay_days: int = 0  # labels of scored day D arrive on D + delay (the evidence day)
    retry_label_days: int = 7  # new labelled days before a failed attempt is retried
    backoff_factor: float = 2.0  # … multiplied by this after each further failure
    max_retry_wait_days: int = 28  # … up to this cap
    max_attempts: int = 3  # attempts that did not end the episode before it escalates
    recovery_days: int = 2  # labelled days in a row at/above the floor close an episode

    def retry_wait(self, failed: int) -> int:
        """New labelled days needed before the attempt after `failed` failed ones (≥ 1)."""
        wait = self.retry_label_days * self.backoff_factor ** max(failed - 1, 0)
        return int(min(round(wait), self.max_retry_wait_days))


@dataclass
class Attempt:
    run_key: str
    day: str  # evidence day it was asked on
    champion_version: str  # the version serving when it was asked
    outcome: str = PENDING


@dataclass
class Episode:
    kind: str  # what opened it: "drift" | "performance"
    opened: str  # evidence day
    onset: str  # scored day of the first bad evidence (a drift day, a labelled day)
    reason: str
    attempts: list[Attempt] = field(default_factory=list)
    fresh_label_days: int = 0  # labelled days counted since the last attempt
    good_streak: int = 0  # labelled days in a row at/above the floor
    bad_label_days: int = 0  # labelled days below the floor seen in the episode
    escalated: str | None = None  # evidence day of the escalation

    @property
    def failed(self) -> int:
        return sum(a.outcome == FAILED for a in self.attempts)

    @property
    def last(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    def ignored_versions(self) -> set[str]:
        """Versions replaced by a promoting attempt: their labelled days say nothing new."""
        return {a.champion_version for a in self.attempts if a.outcome == PROMOTED}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Episode:
        data = dict(data)
        data["attempts"] = [Attempt(**a) for a in data.get("attempts", [])]
        return cls(**data)


@dataclass
class RetrainState:
    """The sensor's cursor: what it has seen and what it has asked for."""

    last_day: str | None = None  # newest scored day judged for drift
    streak: int = 0  # drifted calendar days in a row ending at last_day
    low_days: list[str] = field(default_factory=list)  # labelled days in a row below the floor
    in_episode: bool = False  # an episode is open
    last_trigger_day: str | None = None  # evidence day of the newest retraining asked for
    performance_seen: list[str] = field(default_factory=list)  # labelled days judged
    serving_version: str = ""  # model version of the newest scored day
    episode: Episode | None = None
    closed_episodes: list[dict[str, Any]] = field(default_factory=list)  # newest 20

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> RetrainState:
        if not text:
            return cls()
        data = json.loads(text)
        episode = data.pop("episode", None)
        return cls(**data, episode=Episode.from_dict(episode) if episode else None)

    def copy(self) -> RetrainState:
        return RetrainState.from_json(self.to_json())


@dataclass(frozen=True)
class Trigger:
    kind: str  # "drift" | "performance"
    day: str  # evidence day
    reason: str
    attempt: int = 1  # 1-based attempt number within its episode
    onset: str = ""  # the episode's onset (scored day)
    episode: str = ""  # "<kind>:<opened>" of its episode

    @property
    def run_key(self) -> str:
        return f"retrain:{self.kind}:{self.day}"


@dataclass(frozen=True)
class Escalation:
    day: str  # evidence day
    episode: Episode
    message: str

    @property
    def run_key(self) -> str:
        return f"escalate:{self.episode.kind}:{self.episode.opened}"


@dataclass(frozen=True)
class Decision:
    triggers: list[Trigger]
    escalations: list[Escalation]
    state: RetrainState
    opened: list[Episode] = field(default_factory=list)  # open at the end of this evaluation
    closed: list[dict[str, Any]] = field(default_factory=list)  # closed during it


def _shift(day: str, days: int) -> str:
    return (dt.date.fromisoformat(day) + dt.timedelta(days=days)).isoformat()


def _events(summaries: Sequence[DaySummary], state: RetrainState, policy: RetrainPolicy):
    """New (evidence day, kind, summary) events in evidence-day order."""
    seen = set(state.performance_seen)
    events = []
    for s in summaries:
        if s.warming_up:
            continue
        if s.auc_pr is not None and s.day not in seen:
            events.append((_shift(s.day, policy.label_delay_days), 0, PERFORMANCE, s))
        if state.last_day is None or s.day > state.last_day:
            events.append((s.day, 1, DRIFT, s))
    events.sort(key=lambda e: (e[0], e[1], e[3].day))
    return [(day, kind, s) for day, _, kind, s in events]


def decide(
    summaries: Sequence[DaySummary],
    state: RetrainState,
    policy: RetrainPolicy,
    outcomes: Mapping[str, str] | None = None,
) -> Decision:
    """Walk the new evidence in arrival order; return the retrainings to ask for, the
    escalations to raise and the new state. `outcomes` maps the run keys of earlier attempts
    to `pending` / `promoted` / `failed` (what their runs did); an unknown key is pending."""
    new = state.copy()
    outcomes = outcomes or {}
    ep = new.episode
    if ep is not None:
        for a in ep.attempts:
            if a.outcome == PENDING:
                a.outcome = outcomes.get(a.run_key, PENDING)
    triggers: list[Trigger] = []
    escalations: list[Escalation] = []
    for day, kind, s in _events(summaries, new, policy):
        if kind == PERFORMANCE:
            new.performance_seen = [*new.performance_seen, s.day][-400:]
            _on_labelled_day(new, policy, day, s, triggers)
        else:
            _on_scored_day(new, policy, day, s, triggers)
        _maybe_retry_or_escalate(new, policy, day, triggers, escalations)
    new.in_episode = new.episode is not None
    before = {(e["kind"], e["opened"]) for e in state.closed_episodes}
    closed = [e for e in new.closed_episodes if (e["kind"], e["opened"]) not in before]
    was = state.episode.opened if state.episode else None
    opened = [new.episode] if new.episode and new.episode.opened != was else []
    return Decision(triggers, escalations, new, opened, closed)


def _on_labelled_day(
    state: RetrainState, policy: RetrainPolicy, day: str, s: DaySummary, triggers: list[Trigger]
) -> None:
    assert s.auc_pr is not None
    bad = s.auc_pr < policy.performance_floor
    ep = state.episode
    if ep is None:
        follows = state.low_days and _shift(state.low_days[-1], 1) == s.day
        state.low_days = ([*state.low_days, s.day] if follows else [s.day]) if bad else []
        if len(state.low_days) >= policy.consecutive_days:
            reason = (
                f"AUC-PR {s.auc_pr:.3f} < {policy.performance_floor} on {s.day}, "
                f"{len(state.low_days)} labelled days in a row (labels arrived {day})"
            )
            _open(state, policy, PERFORMANCE, day, state.low_days[0], reason, triggers)
            state.low_days = []
        return
    if s.model_version in ep.ignored_versions():
        return  # scored by a replaced champion: says nothing about the new one
    ep.fresh_label_days += 1
    ep.bad_label_days += bad
    ep.good_streak = 0 if bad else ep.good_streak + 1
    if ep.good_streak >= policy.recovery_days and state.streak < policy.consecutive_days:
        why = f"AUC-PR at or above {policy.performance_floor} for {ep.good_streak} labelled days"
        _close(state, day, why)


def _on_scored_day(
    state: RetrainState, policy: RetrainPolicy, day: str, s: DaySummary, triggers: list[Trigger]
) -> None:
    if state.last_day is not None and _shift(state.last_day, 1) != s.day:
        state.streak = 0  # a missing day ends the streak
    drifted = len(s.drifted_features) >= policy.min_drifted_features
    state.streak = state.streak + 1 if drifted else 0
    state.last_day = s.day
    state.serving_version = s.model_version or state.serving_version
    ep = state.episode
    if ep is None:
        if state.streak >= policy.consecutive_days:
            onset = _shift(s.day, 1 - state.streak)
            reason = (
                f"{len(s.drifted_features)} features drifted for {state.streak} days: "
                f"{', '.join(s.drifted_features)}"
            )
            _open(state, policy, DRIFT, day, onset, reason, triggers)
    elif ep.kind == DRIFT and not drifted and not ep.bad_label_days:
        _close(state, day, "a day without drift (and no labelled day below the floor)")


def _open(
    state: RetrainState,
    policy: RetrainPolicy,
    kind: str,
    day: str,
    onset: str,
    reason: str,
    triggers: list[Trigger],
) -> None:
    state.episode = Episode(kind=kind, opened=day, onset=onset, reason=reason)
    _attempt(state, policy, day, reason, triggers)


def _close(state: RetrainState, day: str, why: str) -> None:
    ep = state.episode
    assert ep is not None
    record = {**asdict(ep), "closed": day, "closed_because": why}
    state.closed_episodes = [*state.closed_episodes, record][-20:]
    state.episode = None


def _attempt(
    state: RetrainState, policy: RetrainPolicy, day: str, reason: str, triggers: list[Trigger]
) -> bool:
    """Ask for a retraining now; an episode's first attempt waits for the cooldown since the
    last retraining (later attempts wait for new labelled days instead)."""
    ep = state.episode
    assert ep is not None
    if not ep.attempts and state.last_trigger_day is not None:
        since = dt.date.fromisoformat(day) - dt.date.fromisoformat(state.last_trigger_day)
        if since.days < policy.cooldown_days:
            return False
    trigger = Trigger(
        ep.kind,
        day,
        reason,
        attempt=len(ep.attempts) + 1,
        onset=ep.onset,
        episode=f"{ep.kind}:{ep.opened}",
    )
    ep.attempts.append(Attempt(trigger.run_key, day, state.serving_version))
    ep.fresh_label_days = 0
    triggers.append(trigger)
    state.last_trigger_day = day
    return True


def _maybe_retry_or_escalate(
    state: RetrainState,
    policy: RetrainPolicy,
    day: str,
    triggers: list[Trigger],
    escalations: list[Escalation],
) -> None:
    ep = state.episode
    if ep is None or ep.escalated:
        return
    last = ep.last
    if last is None:  # opened inside a cooldown: ask as soon as it allows
        _attempt(state, policy, day, ep.reason, triggers)
        return
    if last.outcome == PENDING:
        return
    if last.outcome == PROMOTED:  # only labelled days of the new champion, below the floor
        if ep.fresh_label_days < policy.retry_label_days or ep.good_streak:
            return
        reason = f"{ep.reason}; the promoted model is below the floor too"
    else:
        reason = (
            f"{ep.reason}; attempt {len(ep.attempts) + 1} after {ep.fresh_label_days} new "
            f"labelled days ({ep.failed} failed so far)"
        )
        # the last allowed attempt failed: escalate now, not when another would be due
        if len(ep.attempts) < policy.max_attempts and ep.fresh_label_days < policy.retry_wait(
            ep.failed
        ):
            return
    if len(ep.attempts) >= policy.max_attempts:  # none of them ended the episode
        ep.escalated = day
        escalations.append(Escalation(day, ep, escalation_message(ep, policy)))
        return
    _attempt(state, policy, day, reason, triggers)


def escalation_message(ep: Episode, policy: RetrainPolicy) -> str:
    tried = ", ".join(f"{a.day} ({a.outcome})" for a in ep.attempts)
    return (
        f"The champion is below its floor (AUC-PR {policy.performance_floor}) since "
        f"{ep.onset} ({ep.kind} episode opened {ep.opened}: {ep.reason}), and retraining "
        f"could not fix it: {len(ep.attempts)} attempts ({tried}). No further retraining is "
        "asked for in this episode. A person can: look at the labelled days and the drift "
        "report for a change in the data or in what the label means; approve a challenger "
        "that beats the champion below the floor (approve_model job); roll back to an "
        "earlier version (rollback job); or change the model's features or floor in its YAML."
    )


def evaluate_retraining(
    summaries: Sequence[DaySummary],
    state: RetrainState,
    policy: RetrainPolicy,
    outcomes: Mapping[str, str] | None = None,
) -> tuple[list[Trigger], RetrainState]:
    """`decide` without the escalations (the triggers and the new state)."""
    decision = decide(summaries, state, policy, outcomes)
    return decision.triggers, decision.state
