"""core.monitoring: the retraining decision tick by tick (thresholds, one trigger per drift
episode, cooldown, performance floor, warm-up, restart idempotency), the window rules that
decide which features are judged (windows as the feature definitions declare them), the
scoring population's predicate, and the per-model summary store the sensors read."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from mlops_assets.core import monitoring
from mlops_assets.core.monitoring import (
    DRIFT_OWNER,
    PERFORMANCE_OWNER,
    DaySummary,
    RetrainPolicy,
    RetrainState,
    SummaryStore,
    Trigger,
    complete_window_features,
    evaluate_retraining,
    judged_drift,
    population_mask,
    warming_up,
)

START = dt.date(2026, 1, 1)
POLICY = RetrainPolicy(
    min_drifted_features=2, consecutive_days=2, performance_floor=0.65, cooldown_days=14
)
TWO = ["total_amount_7d", "nb_transactions_7d"]
# look-back windows as a feature service's tags declare them (core.model_inputs)
WINDOWS = {"total_amount_7d": 7, "total_amount_30d": 30, "support_tickets_90d": 90}


def day(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def summary(i: int, drifted: list[str] | None = None, **kw) -> DaySummary:
    return DaySummary(day=day(i), model_version="1", drifted_features=drifted or [], **kw)


def days(first: int, last: int, drifted: list[str] | None = None) -> list[DaySummary]:
    return [summary(i, drifted) for i in range(first, last + 1)]


def run_ticks(
    per_tick: list[list[DaySummary]], policy: RetrainPolicy = POLICY, *, via_json: bool = False
) -> tuple[list[Trigger], RetrainState]:
    """Feed the summaries as a sensor sees them: each tick gets every summary written so far,
    with the state of the previous tick (optionally reloaded from its JSON cursor)."""
    state, seen, fired = RetrainState(), [], []
    for new in per_tick:
        seen = sorted({s.day: s for s in [*seen, *new]}.values(), key=lambda s: s.day)
        triggers, state = evaluate_retraining(seen, state, policy)
        fired += triggers
        if via_json:
            state = RetrainState.from_json(state.to_json())
    return fired, state


def one_day_per_tick(summaries: list[DaySummary], **kw) -> tuple[list[Trigger], RetrainState]:
    return run_ticks([[s] for s in summaries], **kw)


# --- drift thresholds -----------------------------------------------------------------------


def test_fewer_than_k_drifted_features_never_trigger() -> None:
    fired, state = one_day_per_tick(days(30, 60, ["total_amount_7d"]))
    assert fired == []
    assert state.streak == 0 and state.last_day == day(60)


def test_k_features_for_fewer_than_n_days_do_not_trigger() -> None:
    policy = replace(POLICY, consecutive_days=3)
    alternating = [summary(i, TWO if i % 3 else None) for i in range(30, 60)]  # runs of 2 days
    fired, _ = one_day_per_tick(alternating, policy=policy)
    assert fired == []


def test_n_consecutive_drifted_days_trigger_on_the_nth_day() -> None:
    fired, state = one_day_per_tick([*days(30, 59), *days(60, 61, TWO)])
    assert [(t.kind, t.day) for t in fired] == [("drift", day(61))]
    assert fired[0].run_key == f"retrain:drift:{day(61)}"
    assert "2 features drifted for 2 days" in fired[0].reason
    assert state.in_episode and state.last_trigger_day == day(61) and state.streak == 2


def test_a_long_episode_triggers_exactly_once() -> None:
    fired, state = one_day_per_tick([*days(30, 59), *days(60, 150, TWO)])
    assert [t.day for t in fired] == [day(61)]
    assert state.in_episode and state.streak == 91


def test_many_days_in_one_tick_trigger_once() -> None:
    fired, _ = run_ticks([[*days(30, 59), *days(60, 120, TWO)]])
    assert [t.day for t in fired] == [day(61)]


def test_new_episode_after_a_clean_day_waits_for_the_cooldown() -> None:
    # episode 1 fires on day 61; a clean day 63 ends it; episode 2 starts on day 64, inside
    # the 14-day cooldown (61 + 14 = 75): nothing until day 75, then exactly one trigger
    history = [*days(60, 62, TWO), summary(63), *days(64, 90, TWO)]
    fired, state = one_day_per_tick(history)
    assert [t.day for t in fired] == [day(61), day(75)]
    assert state.last_trigger_day == day(75) and state.in_episode


def test_new_episode_after_the_cooldown_fires_again() -> None:
    history = [*days(60, 62, TWO), *days(63, 80), *days(81, 90, TWO)]
    fired, _ = one_day_per_tick(history)
    assert [t.day for t in fired] == [day(61), day(82)]


def test_episode_ending_inside_the_cooldown_is_not_retrained() -> None:
    history = [*days(60, 62, TWO), summary(63), *days(64, 66, TWO), *days(67, 74)]
    fired, state = one_day_per_tick(history)
    assert [t.day for t in fired] == [day(61)]
    assert not state.in_episode and state.streak == 0


# --- performance ----------------------------------------------------------------------------


def test_performance_below_the_floor_triggers() -> None:
    # one low day is noise; two labelled days in a row (consecutive_days) open the episode
    low = [replace(summary(40), auc_pr=0.5), replace(summary(41), auc_pr=0.5)]
    fired, _ = one_day_per_tick([*days(30, 39), low[0]])
    assert fired == []
    fired, state = one_day_per_tick([*days(30, 39), *low])
    assert [(t.kind, t.day, t.onset) for t in fired] == [("performance", day(41), day(40))]
    assert fired[0].run_key == f"retrain:performance:{day(41)}"
    assert "AUC-PR 0.500 < 0.65" in fired[0].reason
    assert state.performance_seen == [day(40), day(41)]


def test_performance_at_or_above_the_floor_does_not_trigger() -> None:
    fired, state = one_day_per_tick([replace(summary(40), auc_pr=0.65), summary(41, auc_pr=0.9)])
    assert fired == []
    assert state.performance_seen == [day(40), day(41)]


def test_labels_arriving_for_an_already_evaluated_day_still_trigger() -> None:
    # day 40 was judged for drift long ago; its AUC-PR is written 30 days later
    first, state = one_day_per_tick(days(30, 70))
    assert first == []
    late = [*days(30, 39), summary(40, auc_pr=0.4), summary(41, auc_pr=0.4), *days(42, 70)]
    triggers, state = evaluate_retraining(late, state, POLICY)
    assert [(t.kind, t.day) for t in triggers] == [("performance", day(41))]
    assert state.last_day == day(70)


def test_performance_and_drift_share_the_cooldown() -> None:
    low = [summary(40, auc_pr=0.4), summary(41, auc_pr=0.4)]
    history = [*days(30, 39), *low, *days(42, 46, TWO)]
    fired, _ = one_day_per_tick(history)
    assert [t.kind for t in fired] == ["performance"]


# --- warm-up --------------------------------------------------------------------------------


def test_warm_up_days_never_trigger() -> None:
    warm = [
        summary(i, [*TWO, "total_amount_30d"], auc_pr=0.1, warming_up=True) for i in range(0, 29)
    ]
    fired, state = one_day_per_tick(warm)
    assert fired == []
    assert state == RetrainState()  # not even counted


def test_warm_up_streak_does_not_carry_into_judged_days() -> None:
    warm = [summary(i, TWO, warming_up=True) for i in range(0, 29)]
    fired, _ = one_day_per_tick([*warm, summary(29, TWO), summary(30)])
    assert fired == []


def test_warming_up_covers_the_first_29_days() -> None:
    assert warming_up(START, START)
    assert warming_up(START + dt.timedelta(days=27), START)
    assert warming_up(START + dt.timedelta(days=28), START)
    assert not warming_up(START + dt.timedelta(days=29), START)  # first full 30-day window
    assert monitoring.DEFAULT_WARM_UP_DAYS == 30
    assert warming_up(START + dt.timedelta(days=12), START, warm_up_days=14)  # from the YAML
    assert not warming_up(START + dt.timedelta(days=13), START, warm_up_days=14)


# --- restart and replay ---------------------------------------------------------------------


def test_reevaluating_the_same_summaries_with_the_returned_state_is_a_no_op() -> None:
    low = [summary(45, auc_pr=0.3), summary(46, auc_pr=0.3)]
    history = [*days(30, 59), *low, *days(60, 70, TWO)]
    history = sorted({s.day: s for s in history}.values(), key=lambda s: s.day)
    triggers, state = evaluate_retraining(history, RetrainState(), POLICY)
    # one episode: opened by the low days 45-46, the drift from day 60 falls inside it
    assert [(t.kind, t.day) for t in triggers] == [("performance", day(46))]
    assert state.episode is not None and state.episode.onset == day(45)
    again, state_again = evaluate_retraining(history, state, POLICY)
    assert again == [] and state_again == state


def test_restart_from_the_json_cursor_causes_no_duplicate_trigger() -> None:
    history = [*days(30, 59), *days(60, 75, TWO)]
    in_memory, _ = one_day_per_tick(history)
    restarted, _ = one_day_per_tick(history, via_json=True)
    assert restarted == in_memory and len(in_memory) == 1
    # a restart mid-episode, from the cursor only: the summaries are all re-read
    _, state = run_ticks([history[:33]])  # through day 62: fired on 61
    reloaded = RetrainState.from_json(state.to_json())
    triggers, _ = evaluate_retraining(history, reloaded, POLICY)
    assert triggers == []


def test_evaluate_does_not_mutate_the_given_state() -> None:
    state = RetrainState()
    evaluate_retraining(days(60, 65, TWO), state, POLICY)
    assert state == RetrainState()


# --- which features are judged --------------------------------------------------------------


def test_complete_window_features_by_window_length() -> None:
    features = ["total_amount_7d", "total_amount_30d", "support_tickets_90d", "tenure_days"]
    usable, excluded = complete_window_features(
        features, START, START + dt.timedelta(days=6), WINDOWS
    )
    assert usable == ["total_amount_7d", "tenure_days"]  # unknown features need one day
    assert set(excluded) == {"total_amount_30d", "support_tickets_90d"}
    assert "30-day window incomplete before 2026-01-30" in excluded["total_amount_30d"]

    usable, _ = complete_window_features(features, START, START + dt.timedelta(days=5), WINDOWS)
    assert usable == ["tenure_days"]
    usable, _ = complete_window_features(features, START, START + dt.timedelta(days=29), WINDOWS)
    assert usable == ["total_amount_7d", "total_amount_30d", "tenure_days"]
    usable, excluded = complete_window_features(
        features, START, START + dt.timedelta(days=89), WINDOWS
    )
    assert usable == features and excluded == {}
    # the windows are the caller's (the feature definitions'): no list of its own
    usable, _ = complete_window_features(features, START, START, {})
    assert usable == features


def test_judged_drift_leaves_out_incomplete_windows() -> None:
    table = pd.DataFrame(
        {
            "feature": ["total_amount_7d", "total_amount_30d", "support_tickets_90d", "plan_tier"],
            "drifted": [True, True, True, False],
        }
    )
    drifted, share, judged = judged_drift(table, START + dt.timedelta(days=10), START, WINDOWS)
    assert judged == ["total_amount_7d", "plan_tier"]
    assert drifted == ["total_amount_7d"] and share == pytest.approx(0.5)

    drifted, share, judged = judged_drift(table, START + dt.timedelta(days=40), START, WINDOWS)
    assert drifted == ["total_amount_7d", "total_amount_30d"]
    assert share == pytest.approx(2 / 3) and len(judged) == 3

    drifted, share, judged = judged_drift(
        table.iloc[1:3], START + dt.timedelta(days=3), START, WINDOWS
    )
    assert (drifted, share, judged) == ([], 0.0, [])


def test_population_mask_is_the_models_sql_predicate_on_a_frame() -> None:
    frame = pd.DataFrame(
        {"recent": [0, 3, 0, 0, None], "age_days": [100, 100, 29, 30, 5], "other": list("abcde")}
    )
    keep = population_mask(frame, "recent > 0 OR age_days < 30")
    assert keep.tolist() == [False, True, True, False, True]
    assert population_mask(frame, "recent > 0").tolist() == [False, True, False, False, False]
    with pytest.raises(ValueError, match="population predicate"):
        population_mask(frame, "no_such_column > 0")


# --- files ----------------------------------------------------------------------------------


def test_day_summary_json_round_trip() -> None:
    full = DaySummary(
        day=day(61),
        model_version="3",
        drifted_features=TWO,
        drift_share=0.4,
        auc_pr=0.81,
        warming_up=False,
    )
    assert DaySummary.from_json(full.to_json()) == full
    bare = DaySummary(day=day(1), model_version="1", warming_up=True)
    assert DaySummary.from_json(bare.to_json()) == bare
    assert monitoring.as_metadata(bare) == {
        "day": day(1),
        "model_version": "1",
        "drifted_features": [],
        "drift_share": 0.0,
        "warming_up": True,
    }


def test_retrain_state_json_round_trip() -> None:
    state = RetrainState(
        last_day=day(70),
        streak=5,
        in_episode=True,
        last_trigger_day=day(61),
        performance_seen=[day(40), day(41)],
    )
    assert RetrainState.from_json(state.to_json()) == state
    assert RetrainState.from_json(None) == RetrainState()
    assert RetrainState.from_json("") == RetrainState()


def test_the_summary_store_keeps_one_file_per_day_and_owner(tmp_path: Path) -> None:
    store = SummaryStore(tmp_path / "churn" / "days")
    for i in (62, 60, 61):
        store.write(day(i), DRIFT_OWNER, model_version="1", drifted_features=TWO, drift_share=0.4)
    store.write(day(61), PERFORMANCE_OWNER, model_version="1", auc_pr=0.7)
    names = sorted(p.name for p in store.folder.iterdir())
    assert names == [
        f"{day(60)}.drift.json",
        f"{day(61)}.drift.json",
        f"{day(61)}.performance.json",
        f"{day(62)}.drift.json",
    ]
    read = store.read()
    assert [s.day for s in read] == [day(60), day(61), day(62)]
    assert read[1] == DaySummary(
        day=day(61), model_version="1", drifted_features=TWO, drift_share=0.4, auc_pr=0.7
    )
    # a re-run of the drift report rewrites its own file only: the AUC-PR stays
    store.write(day(61), DRIFT_OWNER, model_version="2", drifted_features=[], drift_share=0.0)
    assert store.get(day(61)) == DaySummary(day=day(61), model_version="2", auc_pr=0.7)
    # a performance-only day (its drift report not run yet) is a summary too
    store.write(day(30), PERFORMANCE_OWNER, model_version="1", auc_pr=0.5, warming_up=False)
    assert store.get(day(30)).auc_pr == 0.5


def test_each_owner_writes_only_its_own_fields(tmp_path: Path) -> None:
    store = SummaryStore(tmp_path)
    with pytest.raises(ValueError, match="does not own"):
        store.write(day(1), DRIFT_OWNER, auc_pr=0.9)
    with pytest.raises(ValueError, match="does not own"):
        store.write(day(1), PERFORMANCE_OWNER, drifted_features=TWO)
    with pytest.raises(ValueError, match="unknown summary owner"):
        store.write(day(1), "someone", model_version="1")
    with pytest.raises(ValueError):
        store.write("../../etc", DRIFT_OWNER, model_version="1")  # a day, never a path


def test_concurrent_writers_of_one_day_lose_nothing(tmp_path: Path) -> None:
    """The drift report and the performance check of the same day in two processes at once:
    each owns its file, so neither overwrites the other's field (no read-modify-write)."""
    import multiprocessing

    folder = tmp_path / "days"
    ctx = multiprocessing.get_context("spawn")
    writers = [
        ctx.Process(target=_write_many, args=(folder, owner))
        for owner in (DRIFT_OWNER, PERFORMANCE_OWNER)
    ]
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
        assert w.exitcode == 0
    read = {s.day: s for s in SummaryStore(folder).read()}
    assert len(read) == 20
    assert all(s.auc_pr == 0.5 and s.drifted_features == TWO for s in read.values())


def _write_many(folder: Path, owner: str) -> None:
    store = SummaryStore(folder)
    for _ in range(5):
        for i in range(20):
            if owner == DRIFT_OWNER:
                store.write(day(i), owner, model_version="1", drifted_features=TWO)
            else:
                store.write(day(i), owner, model_version="1", auc_pr=0.5)


def test_the_store_ignores_temp_files_and_a_missing_folder(tmp_path: Path) -> None:
    assert SummaryStore(tmp_path / "nowhere").read() == []
    store = SummaryStore(tmp_path)
    store.write(day(60), DRIFT_OWNER, model_version="1")
    (tmp_path / f".{day(61)}.drift.123.tmp").write_text('{"half": ')  # a writer mid-flight
    assert [s.day for s in store.read()] == [day(60)]
