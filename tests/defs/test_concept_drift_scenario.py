"""The closed loop under concept drift, driven the way Dagster drives it (issue 14).

A simulated world whose meaning of churn changes on day 60 (concept drift: the inputs look
the same, the labels do not), on the real definitions, a temp data home and a real
persistent Dagster instance (no mocks):

1. days 0..59 are backfilled phase by phase; the first model is trained on the labels known
   on day 59 (it passes the gate on a full week of held-out days);
2. the data layer of days 60..134 runs as one range run (it does not depend on the model);
3. then, two weeks at a time for 75 days, the champion scores those days (scores + drift
   report), the labels that arrived in them are judged (performance), and the retraining sensor
   ticks against the instance with its cursor kept; every run it asks for (retrainings,
   episode checks) is launched like the daemon would, run keys de-duplicated.

What must hold: one episode opens, at most three retrainings are tried, none can fix the
champion, the episode escalates with an error-severity check and a run tag that says what a
person can do, the champion keeps serving, and the history shows every attempt.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from mlops_assets.components.landing_dataset import DATASETS_DIR, load_dataset_spec
from mlops_assets.components.model_pipeline import common
from mlops_assets.components.model_pipeline.spec import MODELS_DIR, load_spec
from mlops_assets.core import monitoring, registry
from mlops_assets.datasets.simulator import DriftSpec, SimulationConfig, simulate
from mlops_assets.settings import Settings
from tests.defs.test_drift_scenario import Daemon

pytestmark = pytest.mark.slow

START = dt.date(2026, 1, 1)
CUSTOMERS = 1_500
SEED = 5
ONSET = 60
HORIZON = 75  # days after the onset the loop runs
LAST_DAY = ONSET + HORIZON - 1
STEP = 14  # days the loop scores and judges between two sensor ticks

MODEL = "churn"
SPEC = load_spec(MODELS_DIR / MODEL / "defs.yaml")
DATASET = load_dataset_spec(DATASETS_DIR / SPEC.dataset / "defs.yaml")
SENSOR = f"{MODEL}_retrain_on_drift_sensor"
DELAY = SPEC.labels.delay_days


def day(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def index(text: str) -> int:
    return (dt.date.fromisoformat(text) - START).days


@dataclass
class Observed:
    settings: Settings
    defs: dg.Definitions
    instance: dg.DagsterInstance
    seconds: dict[str, float] = field(default_factory=dict)
    backfill_ok: dict[str, bool] = field(default_factory=dict)
    step_ok: list[bool] = field(default_factory=list)
    launched: list[tuple[int, dg.RunRequest, dg.ExecuteInProcessResult]] = field(
        default_factory=list
    )  # (tick day, request, result)
    skip_reasons: list[str] = field(default_factory=list)

    def runs(self, job_suffix: str) -> list[tuple[int, dg.RunRequest, dg.ExecuteInProcessResult]]:
        return [x for x in self.launched if x[2].dagster_run.job_name == f"{MODEL}_{job_suffix}"]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    root = tmp_path_factory.mktemp("concept_drift")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLOPS_HOME", str(root / "home"))
        mp.setenv("DAGSTER_HOME", str(root / "dagster"))
        mp.delenv("MLOPS_ENV", raising=False)
        from mlops_assets.runner import ensure_dagster_home

        settings = Settings.from_env()
        ensure_dagster_home(settings.home_path)
        started = time.perf_counter()
        with dg.DagsterInstance.get() as instance:
            from mlops_assets.definitions import defs as load

            observed = Observed(settings=settings, defs=load(), instance=instance)
            _drive(observed, root)
            observed.seconds["total"] = round(time.perf_counter() - started, 1)
            print(f"\nconcept drift scenario timings (s): {observed.seconds}")
            for tick, request, result in observed.launched:
                print(f"  tick day {tick}: {request.run_key} → success={result.success}")
            yield observed


def _drive(o: Observed, root: Path) -> None:
    from mlops_assets.runner import DAYS, LABELLED, TODAY, plan, run_selection

    phases = plan([DATASET], [SPEC])
    select = {p.kind: p.selection for p in phases}
    data = " or ".join(f"({p.selection})" for p in phases if p.kind in ("data", "online features"))
    landing = o.settings.landing_dir
    t0 = time.perf_counter()
    simulate(
        SimulationConfig(
            start_date=START,
            days=LAST_DAY + 1,
            customers=CUSTOMERS,
            seed=SEED,
            drifts=(DriftSpec("concept", ONSET),),
        ),
        landing,
    )
    o.seconds["simulate"] = round(time.perf_counter() - t0, 1)
    manual = {"mlops/trigger": "manual"}

    # 1. the first 60 days, as a backfill: only what was known on day 59
    today = dt.datetime.now(dt.UTC).date().isoformat()  # the cost phase: today's runs
    spans = {
        DAYS: (day(0), day(ONSET - 1)),
        LABELLED: (day(0), day(ONSET - 1 - DELAY)),
        TODAY: (today, today),
    }
    training_set_op = SPEC.keys.training_set.to_python_identifier()
    first_model = {"ops": {training_set_op: {"config": {"label_arrived_until": day(ONSET - 1)}}}}
    t0 = time.perf_counter()
    for phase in phases:
        result = run_selection(
            o.defs,
            phase.selection,
            instance=o.instance,
            partition_range=spans.get(phase.span),
            tags=manual,
            run_config=first_model if phase.kind == "models" else None,
            raise_on_error=False,
        )
        o.backfill_ok[phase.name] = result.success
    o.seconds["backfill"] = round(time.perf_counter() - t0, 1)

    # 2. the data layer of the next 75 days (independent of the model)
    t0 = time.perf_counter()
    o.backfill_ok["data after onset"] = run_selection(
        o.defs, data, instance=o.instance, partition_range=(day(ONSET), day(LAST_DAY)), tags=manual
    ).success
    o.seconds["data after onset"] = round(time.perf_counter() - t0, 1)

    # 3. step by step: score, judge the labels that arrived, tick the sensor, launch its runs
    daemon = Daemon(o.defs, o.instance, root / "sensor_cursors.json")
    daemon.tick(SENSOR)  # switched on after the backfill
    t0 = time.perf_counter()
    for first in range(ONSET, LAST_DAY + 1, STEP):
        last = min(first + STEP - 1, LAST_DAY)
        ok = run_selection(
            o.defs,
            select["scores and drift"],
            instance=o.instance,
            partition_range=(day(first), day(last)),
            tags=manual,
        ).success
        labelled = (max(first - DELAY, ONSET - DELAY), last - DELAY)
        ok &= run_selection(
            o.defs,
            select["performance"],
            instance=o.instance,
            partition_range=(day(labelled[0]), day(labelled[1])),
            tags=manual,
        ).success
        o.step_ok.append(ok)
        tick = daemon.tick(SENSOR)
        if tick.skip_message:
            o.skip_reasons.append(f"{day(last)}: {tick.skip_message}")
        for request in tick.run_requests or []:
            result = daemon.launch(SENSOR, request)
            if result is not None:
                o.launched.append((last, request, result))
    o.seconds["75 days, two weeks a tick"] = round(time.perf_counter() - t0, 1)


# --- the scenario ---------------------------------------------------------------------------


def summaries(o: Observed) -> dict[int, monitoring.DaySummary]:
    store = monitoring.SummaryStore(o.settings.home_path / "monitoring" / MODEL / "days")
    return {index(s.day): s for s in store.read()}


def test_the_world_ran(scenario: Observed) -> None:
    assert all(scenario.backfill_ok.values()), scenario.backfill_ok
    assert scenario.step_ok and all(scenario.step_ok)
    days = summaries(scenario)
    assert set(range(LAST_DAY + 1)) <= set(days)
    aucs = {i: s.auc_pr for i, s in days.items() if s.auc_pr is not None}
    assert max(aucs) == LAST_DAY - DELAY
    before = [a for i, a in aucs.items() if 29 <= i < ONSET - DELAY]
    after = [a for i, a in aucs.items() if i >= ONSET]
    print(
        f"\nmean AUC-PR before {sum(before) / len(before):.3f}, after {sum(after) / len(after):.3f}"
    )
    assert sum(after) / len(after) < SPEC.performance.auc_pr_floor


def test_one_episode_at_most_three_attempts_then_escalation(scenario: Observed) -> None:
    episodes = scenario.runs("retraining_episode_job")
    states = [r.tags["mlops/episode_state"] for _, r, _ in episodes]
    assert states.count("open") == 1, states
    assert "closed" not in states, states
    assert states.count("escalated") == 1, (states, scenario.skip_reasons)

    retrains = scenario.runs("retrain_job")
    assert 1 <= len(retrains) <= 3, [r.run_key for _, r, _ in retrains]
    episode = {r.tags[common.EPISODE_TAG] for _, r, _ in retrains}
    assert len(episode) == 1, episode
    assert [r.tags[common.ATTEMPT_TAG] for _, r, _ in retrains] == [
        str(i + 1) for i in range(len(retrains))
    ]
    # none could fix it: each failed, or promoted a model whose own labelled days fell below
    # the floor again (the next attempt, or the escalation, was asked on them)
    escalated_on = next(t for t, r, _ in episodes if r.tags["mlops/episode_state"] == "escalated")
    assert all(t <= escalated_on for t, _, _ in retrains)
    # each attempt is dated by the day its evidence arrived, within the 75 days
    trigger_days = [index(r.tags[common.TRIGGER_DAY_TAG]) for _, r, _ in retrains]
    assert all(ONSET <= d <= LAST_DAY for d in trigger_days), trigger_days
    onset = index(retrains[0][1].tags[common.ONSET_TAG])
    print(
        f"\nepisode opened on day {trigger_days[0]} (onset seen on scored day {onset}; "
        f"detection delay {trigger_days[0] - ONSET} days from the concept change); "
        f"attempts on days {trigger_days}"
    )


def test_the_escalation_is_an_error_check_and_a_run_tag(scenario: Observed) -> None:
    (tick, request, result), *_ = [
        x
        for x in scenario.runs("retraining_episode_job")
        if x[1].tags["mlops/episode_state"] == "escalated"
    ]
    message = request.tags[common.ESCALATION_TAG]
    assert "below its floor" in message and "could not fix it" in message
    assert "approve_model" in message and "rollback" in message  # what a person can do
    assert result.dagster_run.tags[common.ESCALATION_TAG] == message
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "retraining_episode"
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.description == message
    print(f"\nescalated on day {tick}: {message}")


def test_the_champion_keeps_serving(scenario: Observed) -> None:
    reg = scenario.defs.resources["mlflow"].model(MODEL)
    champion = reg.alias_version(registry.CHAMPION)
    promoted = [r for _, r, result in scenario.runs("retrain_job") if result.success]
    assert champion == ("1" if not promoted else champion)
    assert len(promoted) <= 1, [r.run_key for r in promoted]
    # after the escalation nothing replaced it: the last days are scored by it
    days = summaries(scenario)
    assert days[LAST_DAY].model_version == champion


def test_the_history_shows_every_attempt_with_its_window_and_verdict(scenario: Observed) -> None:
    path = scenario.settings.home_path / "monitoring" / MODEL / "retraining_history.parquet"
    history = pd.read_parquet(path).set_index("version")
    retrains = scenario.runs("retrain_job")
    for _, request, result in retrains:
        row = history[history["trigger_day"] == request.tags[common.TRIGGER_DAY_TAG]]
        assert len(row) == 1, (request.run_key, history)
        row = row.iloc[0]
        assert row["attempt"] == request.tags[common.ATTEMPT_TAG]
        assert row["episode"] == request.tags[common.EPISODE_TAG]
        assert row["trigger"] == "performance"
        assert row["training_window"] and row["test_window"]
        assert row["gate_verdict"] in {"failed", "insufficient_evidence", "pending_approval"} or (
            row["gate_verdict"] == "passed" and result.success and row["promoted"]
        )
        assert bool(row["promoted"]) == result.success
        # the history ran in the attempt's own run, though its gate failed
        ran = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
        assert f"{MODEL}/retraining_history" in ran
        assert (f"{MODEL}/champion" in ran) == result.success
    print("\n" + history.drop(columns=["gate_reasons"]).to_string())
    verdicts = history["gate_verdict"].tolist()
    if "insufficient_evidence" in verdicts:
        reasons = history.loc[history["gate_verdict"] == "insufficient_evidence", "gate_reasons"]
        assert all("insufficient evidence" in r and "days" in r for r in reasons)
