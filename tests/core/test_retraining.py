"""core.retraining: one clock (evidence days), calendar-day streaks, episodes that open once,
retry on new labelled days with doubling backoff and a cap, escalation after N failures."""

from __future__ import annotations

import datetime as dt

from mlops_assets.core.monitoring import DaySummary
from mlops_assets.core.retraining import (
    FAILED,
    PROMOTED,
    RetrainPolicy,
    RetrainState,
    decide,
)

START = dt.date(2026, 1, 1)
DELAY = 30
POLICY = RetrainPolicy(
    min_drifted_features=2,
    consecutive_days=2,
    performance_floor=0.65,
    cooldown_days=14,
    label_delay_days=DELAY,
    retry_label_days=7,
    backoff_factor=2.0,
    max_retry_wait_days=10,
    max_attempts=3,
    recovery_days=2,
)
TWO = ["a_7d", "b_7d"]


def day(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def world(last: int, *, bad_from: int | None = None, drift_from: int | None = None, version="1"):
    """Scored days 30..last; labels of day i known once day i + DELAY ≤ last."""
    out = []
    for i in range(30, last + 1):
        auc = None
        if i + DELAY <= last:
            auc = 0.2 if bad_from is not None and i >= bad_from else 0.8
        drifted = TWO if drift_from is not None and i >= drift_from else []
        out.append(DaySummary(day(i), version, drifted_features=drifted, auc_pr=auc))
    return out


def replay(last: int, outcome=FAILED, **world_kw):
    """A sensor ticking once per day from day 30 to `last`; every attempt's run ends with
    `outcome` on the tick after it was asked."""
    state, triggers, escalations, outcomes = RetrainState(), [], [], {}
    for today in range(30, last + 1):
        decision = decide(world(today, **world_kw), state, POLICY, outcomes)
        state = RetrainState.from_json(decision.state.to_json())  # the cursor round-trips
        triggers += decision.triggers
        escalations += decision.escalations
        outcomes.update({t.run_key: outcome for t in decision.triggers})
    return triggers, escalations, state


def test_performance_triggers_are_dated_by_the_label_arrival_day() -> None:
    triggers, _, state = replay(95, bad_from=60, outcome="pending")
    # two low labelled days in a row (scored 60, 61) open it, on the day the second arrived
    assert [(t.kind, t.day, t.onset) for t in triggers] == [("performance", day(91), day(60))]
    assert triggers[0].run_key == f"retrain:performance:{day(91)}"
    assert state.episode is not None and state.episode.opened == day(91)


def test_cooldown_compares_evidence_days_of_one_clock() -> None:
    # drift seen on scored day 61 asks first; the performance drop of scored days 50-51 is
    # only known on day 81: same episode, no second retraining 20 days later
    triggers, _, _ = replay(85, bad_from=50, drift_from=60, outcome="pending")
    assert [(t.kind, t.day) for t in triggers] == [("drift", day(61))]


def test_a_missing_day_ends_the_drift_streak() -> None:
    gap = [s for s in world(70, drift_from=60) if s.day != day(61)]
    decision = decide(gap, RetrainState(), POLICY)
    # 60 | gap | 62, 63: the streak of 2 calendar days is reached on 63, not on 62
    assert [t.day for t in decision.triggers] == [day(63)]
    assert decision.triggers[0].onset == day(62)


def test_one_episode_with_backoff_then_escalation() -> None:
    triggers, escalations, state = replay(140, bad_from=60)
    days = [t.day for t in triggers]
    # first on arrival of the second bad label (91); then 7 new labelled days (98); then
    # 14, capped at 10 (108); the third failed → escalation on the next evidence day, not
    # when a fourth attempt would have been due
    assert days == [day(91), day(98), day(108)], days
    assert [t.attempt for t in triggers] == [1, 2, 3]
    assert len(escalations) == 1
    esc = escalations[0]
    assert esc.day == day(109)
    assert esc.run_key == f"escalate:performance:{day(91)}"
    assert "below its floor" in esc.message and "could not fix it" in esc.message
    assert "approve_model" in esc.message and "rollback" in esc.message
    assert state.episode is not None and state.episode.escalated == esc.day
    assert [a.outcome for a in state.episode.attempts] == [FAILED] * 3


def test_the_retry_wait_doubles_up_to_its_cap() -> None:
    policy = RetrainPolicy(retry_label_days=7, backoff_factor=2, max_retry_wait_days=28)
    assert [policy.retry_wait(n) for n in (1, 2, 3, 4, 5)] == [7, 14, 28, 28, 28]


def test_a_promoting_attempt_is_not_retried_on_the_replaced_models_days() -> None:
    # every labelled day of version 1 stays bad for 30 days after the promotion, but they
    # say nothing about the new champion: nothing more is asked
    triggers, escalations, state = replay(125, bad_from=60, outcome=PROMOTED)
    assert [t.day for t in triggers] == [day(91)] and not escalations
    assert state.episode is not None and state.episode.attempts[0].outcome == PROMOTED


def test_a_pending_run_holds_the_next_attempt() -> None:
    triggers, escalations, _ = replay(140, bad_from=60, outcome="pending")
    assert [t.day for t in triggers] == [day(91)] and not escalations


def test_recovery_closes_the_episode_and_a_new_one_can_open() -> None:
    first = decide(world(100, bad_from=60), RetrainState(), POLICY)
    state = before = first.state
    assert state.episode is not None and first.opened == [state.episode]
    # scored days 71, 72 good again (their labels arrive on 101, 102)
    good = (day(71), day(72))
    recovered = [
        DaySummary(s.day, s.model_version, auc_pr=0.8 if s.day in good else s.auc_pr)
        for s in world(102, bad_from=60)
    ]
    state = decide(recovered, state, POLICY).state
    assert state.episode is None and state.closed_episodes[-1]["closed"] == day(102)
    assert [e["opened"] for e in decide(recovered, before, POLICY).closed] == [day(91)]
    # a later drop (scored 73, 74: known on 104) opens a new episode; its retraining waits
    # for the cooldown since the last one (91 + 14)
    again = [*recovered, *(DaySummary(day(i), "1", auc_pr=0.1) for i in range(73, 76))]
    decision = decide(again, state, POLICY)
    assert decision.state.episode is not None and decision.state.episode.opened == day(104)
    assert [t.day for t in decision.triggers] == [day(105)]


def test_drift_episode_closes_on_a_calm_day() -> None:
    summaries = [*world(62, drift_from=60), DaySummary(day(63), "1")]
    decision = decide(summaries, RetrainState(), POLICY)
    assert [t.day for t in decision.triggers] == [day(61)]
    assert decision.state.episode is None
    assert decision.state.closed_episodes[-1]["closed_because"].startswith("a day without drift")


def test_a_promoted_model_below_the_floor_too_counts_towards_the_escalation() -> None:
    """Attempt 1 promotes version 2 (scored from day 92 on); its own labelled days are bad
    too: attempts 2 and 3 fail, then the episode escalates — three attempts, not four."""
    state, triggers, escalations, outcomes = RetrainState(), [], [], {}
    for today in range(30, 170):
        summaries = []
        for i in range(30, today + 1):
            version = "2" if i >= 92 else "1"
            auc = (0.2 if i >= 60 else 0.8) if i + DELAY <= today else None
            summaries.append(DaySummary(day(i), version, auc_pr=auc))
        decision = decide(summaries, state, POLICY, outcomes)
        state = decision.state
        for t in decision.triggers:
            outcomes[t.run_key] = PROMOTED if t.attempt == 1 else FAILED
        triggers += decision.triggers
        escalations += decision.escalations
    # 91: promoted; v2's first labelled days arrive from 122: 7 of them → 128; then 7 → 135
    assert [t.day for t in triggers] == [day(91), day(128), day(135)]
    assert len(escalations) == 1 and escalations[0].day == day(136)
    assert "3 attempts" in escalations[0].message
