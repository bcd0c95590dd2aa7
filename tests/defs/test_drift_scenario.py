"""THE drift scenario, end to end, driven the way Dagster drives it.

90 simulated days with a covariate drift from day 60, on the real definitions, a temp data
home and a real persistent Dagster instance (no mocks):

1. days 0..59 are backfilled as single range runs, phase by phase like `runner.plan` (the
   churn_world dataset and the churn model), the first model trained on the labels known on
   day 59;
2. days 60.. land one folder at a time; after each, the sensors tick against the instance
   with the cursor kept between ticks, and every RunRequest is launched as a run of its job
   (run_key de-duplicated like the daemon does) — the dataset's daily runs (its landing
   sensor), then the churn model's scoring and delayed-label performance runs (its scoring
   sensor, which follows the data layer), and the retraining its drift sensor asks for;
3. once the retraining has run, the remaining days up to day 75 are processed as one range
   run of the data layer and one of the model's scoring, and the drift sensor ticks again,
   then once more after a "restart" that reloads its cursor from JSON.

Everything is observed in one module-scoped fixture; the tests below only read what it saw.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from mlops_assets.components.landing_dataset import DATASETS_DIR, load_dataset_spec
from mlops_assets.components.model_pipeline.common import TRIGGER_TAG
from mlops_assets.components.model_pipeline.spec import MODELS_DIR, load_spec
from mlops_assets.core import monitoring, registry
from mlops_assets.datasets.simulator import DriftSpec, SimulationConfig, simulate
from mlops_assets.settings import Settings

pytestmark = pytest.mark.slow

START = dt.date(2026, 1, 1)
CUSTOMERS = 2_000
SEED = 11
DRIFT_DAY = 60
SIM_DAYS = 90
LAST_PROGRESSIVE_DAY = 66  # landed one by one at most up to here
LAST_DAY = 75  # then the rest up to here as one range run

MODEL = "churn"
SPEC = load_spec(MODELS_DIR / MODEL / "defs.yaml")
DATASET = load_dataset_spec(DATASETS_DIR / SPEC.dataset / "defs.yaml")
LANDING = f"{DATASET.name}_landing_sensor"
SCORING = f"{MODEL}_scoring_sensor"
DRIFT_SENSOR = f"{MODEL}_retrain_on_drift_sensor"
NEW_DATA_SENSOR = f"{MODEL}_retrain_on_new_data_sensor"


def day(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def index(day_text: str) -> int:
    return (dt.date.fromisoformat(day_text) - START).days


class Daemon:
    """What the sensor daemon does for us: evaluate a sensor's tick against the instance,
    keep its cursor (persisted as JSON, like the daemon's instigator state), skip run keys
    that already ran, launch the rest as runs of their job on the same instance."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance, state_file: Path):
        self.defs, self.instance, self.state_file = defs, instance, state_file
        self.cursors: dict[str, str | None] = (
            json.loads(state_file.read_text()) if state_file.exists() else {}
        )

    def evaluate(self, name: str, cursor: str | None):
        sensor = self.defs.resolve_sensor_def(name)
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=cursor,
            definitions=self.defs,
            resources=self.defs.resources,
            sensor_name=name,
        )
        return sensor.evaluate_tick(context)

    def set_cursor(self, name: str, cursor: str | None) -> None:
        self.cursors[name] = cursor
        self.state_file.write_text(json.dumps(self.cursors))

    def tick(self, name: str):
        data = self.evaluate(name, self.cursors.get(name))
        if data.cursor is not None:
            self.set_cursor(name, data.cursor)
        return data

    def already_ran(self, name: str, run_key: str) -> bool:
        tags = {"dagster/sensor_name": name, "dagster/run_key": run_key}
        return bool(self.instance.get_run_records(dg.RunsFilter(tags=tags), limit=1))

    def launch(self, name: str, request: dg.RunRequest) -> dg.ExecuteInProcessResult | None:
        if self.already_ran(name, request.run_key):
            return None
        job_name = request.job_name or self.defs.resolve_sensor_def(name).job_name
        tags = {**request.tags, "dagster/run_key": request.run_key, "dagster/sensor_name": name}
        return self.defs.resolve_job_def(job_name).execute_in_process(
            partition_key=request.partition_key,
            run_config=request.run_config or None,
            tags=tags,
            instance=self.instance,
            raise_on_error=False,
        )


@dataclass
class Observed:
    settings: Settings
    defs: dg.Definitions
    instance: dg.DagsterInstance
    seconds: dict[str, float] = field(default_factory=dict)
    backfill_ok: dict[str, bool] = field(default_factory=dict)
    first_landing_tick: object = None  # the sensors' first ticks, right after the backfill
    first_drift_tick: object = None
    first_scoring_tick: object = None
    landing_keys_twice: tuple[list[str], list[str]] = ([], [])
    scoring_keys_twice: tuple[list[str], list[str]] = ([], [])
    launched: list[tuple[str, str, str, bool]] = field(default_factory=list)  # sensor, key, job, ok
    duplicates_skipped: list[str] = field(default_factory=list)
    retrain_requests: list[tuple[str, str, dict]] = field(default_factory=list)  # tick day, key
    new_data_requests: list[str] = field(default_factory=list)
    retrain_result: dg.ExecuteInProcessResult | None = None
    range_run_ok: bool = False
    after_range_tick: object = None
    after_restart_tick: object = None
    stale_cursor_keys: list[str] = field(default_factory=list)
    last_progressive_day: int = 0
    cursor_after: monitoring.RetrainState | None = None


@contextlib.contextmanager
def _timed(observed: Observed, label: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    observed.seconds[label] = round(time.perf_counter() - started, 1)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    root = tmp_path_factory.mktemp("drift_scenario")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLOPS_HOME", str(root / "home"))
        mp.setenv("DAGSTER_HOME", str(root / "dagster"))
        mp.delenv("MLOPS_ENV", raising=False)
        from mlops_assets.runner import ensure_dagster_home

        settings = Settings.from_env()
        ensure_dagster_home(settings.home_path)  # our dagster.yaml: SQLite, warehouse pool
        started = time.perf_counter()
        with dg.DagsterInstance.get() as instance:
            from mlops_assets.definitions import defs as load

            observed = Observed(settings=settings, defs=load(), instance=instance)
            _drive(observed, root)
            observed.seconds["total"] = round(time.perf_counter() - started, 1)
            print(f"\ndrift scenario timings (s): {observed.seconds}")
            print(f"days with ≥ k drifted features: {drifted_days(observed)}")
            print(f"retraining requests: {[k for _, k, _ in observed.retrain_requests]}")
            yield observed


def _drive(o: Observed, root: Path) -> None:
    from mlops_assets.runner import DAYS, LABELLED, TODAY, plan, run_selection

    phases = plan([DATASET], [SPEC])
    scoring_selection = next(p.selection for p in phases if p.kind == "scores and drift")
    daily_selection = " or ".join(
        f"({p.selection})" for p in phases if p.kind in ("data", "online features")
    )

    stage = root / "stage"  # the simulator writes here; days "land" by a folder rename
    landing = o.settings.landing_dir
    landing.mkdir(parents=True)

    def land(i: int) -> None:
        (stage / day(i)).rename(landing / day(i))

    with _timed(o, "simulate"):
        simulate(
            SimulationConfig(
                start_date=START,
                days=SIM_DAYS,
                customers=CUSTOMERS,
                seed=SEED,
                drifts=(DriftSpec("covariate", DRIFT_DAY),),
            ),
            stage,
        )
        for i in range(DRIFT_DAY):
            land(i)

    # 1. backfill days 0..59, one single run per phase, like `mlops-assets materialize`
    today = dt.datetime.now(dt.UTC).date().isoformat()  # the cost phase: today's runs
    spans = {
        DAYS: (day(0), day(DRIFT_DAY - 1)),
        LABELLED: (day(0), day(DRIFT_DAY - 31)),
        TODAY: (today, today),
    }
    models_config = {
        "ops": {f"{MODEL}__training_set": {"config": {"label_arrived_until": day(DRIFT_DAY - 1)}}}
    }
    for phase in phases:
        with _timed(o, f"backfill {phase.name}"):
            result = run_selection(
                o.defs,
                phase.selection,
                instance=o.instance,
                partition_range=spans.get(phase.span),
                tags={"mlops/trigger": "manual"},
                run_config=models_config if phase.kind == "models" else None,
            )
        o.backfill_ok[phase.name] = result.success

    # the sensors are switched on after the manual backfill: their first ticks
    daemon = Daemon(o.defs, o.instance, root / "sensor_cursors.json")
    o.first_landing_tick = daemon.tick(LANDING)  # the backfilled days are not new
    o.first_scoring_tick = daemon.tick(SCORING)  # nor for the model: they are scored
    o.first_drift_tick = daemon.tick(DRIFT_SENSOR)
    daemon.tick(NEW_DATA_SENSOR)  # sets its baseline

    def launch_all(name: str, data) -> None:
        for request in data.run_requests or []:
            result = daemon.launch(name, request)
            if result is None:
                o.duplicates_skipped.append(request.run_key)
                continue
            o.launched.append((name, request.run_key, result.dagster_run.job_name, result.success))
            if name == DRIFT_SENSOR and o.retrain_result is None:
                o.retrain_result = result

    # 2. days 60.. land one at a time; the daemon ticks every sensor after each
    trigger_day = None
    with _timed(o, "progressive days"):
        for i in range(DRIFT_DAY, LAST_PROGRESSIVE_DAY + 1):
            land(i)
            if i == DRIFT_DAY:  # same cursor, same answer
                first = daemon.evaluate(LANDING, daemon.cursors[LANDING])
                again = daemon.evaluate(LANDING, daemon.cursors[LANDING])
                o.landing_keys_twice = (
                    [r.run_key for r in first.run_requests],
                    [r.run_key for r in again.run_requests],
                )
            launch_all(LANDING, daemon.tick(LANDING))
            if i == DRIFT_DAY:  # the model follows the data layer: same cursor, same answer
                first = daemon.evaluate(SCORING, daemon.cursors[SCORING])
                again = daemon.evaluate(SCORING, daemon.cursors[SCORING])
                o.scoring_keys_twice = (
                    [r.run_key for r in first.run_requests],
                    [r.run_key for r in again.run_requests],
                )
            launch_all(SCORING, daemon.tick(SCORING))
            before = daemon.cursors.get(DRIFT_SENSOR)
            data = daemon.tick(DRIFT_SENSOR)
            for r in data.run_requests or []:
                o.retrain_requests.append((day(i), r.run_key, dict(r.tags)))
                trigger_day = trigger_day or i
            if data.run_requests:
                # a daemon that crashed before saving its cursor re-evaluates from the old
                # one: the same run keys come back and are not launched twice
                stale = daemon.evaluate(DRIFT_SENSOR, before)
                o.stale_cursor_keys = [r.run_key for r in stale.run_requests]
            launch_all(DRIFT_SENSOR, data)
            if data.run_requests:
                launch_all(DRIFT_SENSOR, stale)
            new_data = daemon.tick(NEW_DATA_SENSOR)
            o.new_data_requests += [r.run_key for r in new_data.run_requests or []]
            o.last_progressive_day = i
            if trigger_day is not None and i > trigger_day:
                break  # one day scored after the retraining is enough one by one

    # 3. the rest as one range run, then the drift sensor again, then after a restart
    rest = (day(o.last_progressive_day + 1), day(LAST_DAY))
    for i in range(o.last_progressive_day + 1, LAST_DAY + 1):
        land(i)
    with _timed(o, f"range run {rest[0]}..{rest[1]}"):
        o.range_run_ok = all(
            run_selection(
                o.defs,
                selection,
                instance=o.instance,
                partition_range=rest,
                tags={"mlops/trigger": "manual"},
            ).success
            for selection in (daily_selection, scoring_selection)
        )
    o.after_range_tick = daemon.tick(DRIFT_SENSOR)
    launch_all(DRIFT_SENSOR, o.after_range_tick)

    restarted = Daemon(o.defs, o.instance, root / "sensor_cursors.json")
    o.after_restart_tick = restarted.tick(DRIFT_SENSOR)
    o.cursor_after = monitoring.RetrainState.from_json(restarted.cursors[DRIFT_SENSOR])


# --- helpers on what the platform left behind -----------------------------------------------


def summaries(o: Observed) -> dict[int, monitoring.DaySummary]:
    store = monitoring.SummaryStore(o.settings.home_path / "monitoring" / MODEL / "days")
    return {index(s.day): s for s in store.read()}


def min_drifted(o: Observed) -> int:
    return SPEC.retraining.min_drifted_features


def drifted_days(o: Observed) -> list[int]:
    k = min_drifted(o)
    return sorted(
        i for i, s in summaries(o).items() if not s.warming_up and len(s.drifted_features) >= k
    )


def drift_table(o: Observed) -> str:
    return "\n".join(
        f"{s.day} v{s.model_version} {s.drifted_features}"
        for i, s in sorted(summaries(o).items())
        if i >= DRIFT_DAY - 2
    )


def drift_triggers(o: Observed) -> list[str]:
    return [key for _, key, _ in o.retrain_requests if key.startswith(f"{MODEL}:retrain:drift:")]


def mlflow(o: Observed):
    return o.defs.resources["mlflow"]


# --- the scenario ---------------------------------------------------------------------------


def test_backfill_of_the_first_60_days_succeeds(scenario: Observed) -> None:
    assert scenario.backfill_ok and all(scenario.backfill_ok.values()), scenario.backfill_ok
    days = summaries(scenario)
    assert set(range(DRIFT_DAY)) <= set(days)
    assert {s.model_version for i, s in days.items() if i < DRIFT_DAY} == {"1"}
    assert all(days[i].warming_up for i in range(29)) and not days[29].warming_up


def test_no_drift_before_the_drift_day(scenario: Observed) -> None:
    # judged days (30-day windows complete) before the drift: not one drifted feature; the
    # warm-up days are shown but never judged (the sensor's first tick below covers them)
    before = {i: s for i, s in summaries(scenario).items() if i < DRIFT_DAY}
    judged = {i: s for i, s in before.items() if not s.warming_up}
    assert set(judged) == set(range(29, DRIFT_DAY))
    assert all(not s.drifted_features for s in judged.values()), {
        s.day: s.drifted_features for s in judged.values() if s.drifted_features
    }
    tick = scenario.first_drift_tick
    assert not tick.run_requests, [r.run_key for r in tick.run_requests]
    state = monitoring.RetrainState.from_json(tick.cursor)
    assert state.last_day == day(DRIFT_DAY - 1) and state.streak == 0
    assert all(index(key.split(":")[-1]) >= DRIFT_DAY for _, key, _ in scenario.retrain_requests)


def test_drift_is_detected_within_five_days(scenario: Observed) -> None:
    drifted = drifted_days(scenario)
    assert drifted, f"no day with ≥ {min_drifted(scenario)} drifted features:\n" + drift_table(
        scenario
    )
    assert DRIFT_DAY <= drifted[0] <= DRIFT_DAY + 5, drift_table(scenario)


def test_exactly_one_retraining_for_the_drift_episode(scenario: Observed) -> None:
    triggers = drift_triggers(scenario)
    assert len(triggers) == 1, (triggers, drift_table(scenario))
    first = drifted_days(scenario)[0]
    policy_days = SPEC.retraining.consecutive_days
    assert triggers == [f"{MODEL}:retrain:drift:{day(first + policy_days - 1)}"]
    tick_day, _, tags = scenario.retrain_requests[0]
    assert tick_day == day(first + policy_days - 1)  # requested on the tick that saw it
    assert tags[TRIGGER_TAG] == "drift"
    # the episode goes on through day 75 (every day drifted), yet nothing more is asked
    assert set(range(first, LAST_DAY + 1)) <= set(drifted_days(scenario)), drift_table(scenario)
    assert not scenario.after_range_tick.run_requests
    assert scenario.cursor_after.in_episode
    assert scenario.cursor_after.last_day == day(LAST_DAY)
    assert [k for _, k, _, _ in scenario.launched if k.startswith(f"{MODEL}:retrain:")] == triggers


def test_a_restarted_sensor_does_not_ask_again(scenario: Observed) -> None:
    tick = scenario.after_restart_tick
    assert not tick.run_requests, [r.run_key for r in tick.run_requests]
    # a stale cursor (crash before it was saved) re-asks the same key; the run key dedups it
    retrain_keys = [k for k in scenario.stale_cursor_keys if k.startswith(f"{MODEL}:retrain:")]
    assert retrain_keys == drift_triggers(scenario)
    assert [
        k for k in scenario.duplicates_skipped if k.startswith(f"{MODEL}:retrain:")
    ] == drift_triggers(scenario)
    # the episode's own record (its check run) is de-duplicated by its run key the same way
    episode = [k for k in scenario.stale_cursor_keys if k.startswith(f"{MODEL}:episode:")]
    assert episode == [f"{MODEL}:episode:open:drift:{drift_triggers(scenario)[0].split(':')[-1]}"]
    assert [k for k in scenario.duplicates_skipped if k.startswith(f"{MODEL}:episode:")] == episode
    assert not scenario.new_data_requests  # too few new label days for that sensor


def test_landing_and_scoring_sensors_are_idempotent_and_drive_daily_and_performance_runs(
    scenario: Observed,
) -> None:
    first = scenario.first_landing_tick  # after the backfill: nothing new, cursor set
    assert not first.run_requests, [r.run_key for r in first.run_requests]
    assert first.cursor == day(DRIFT_DAY - 1)
    first = scenario.first_scoring_tick
    assert not first.run_requests, [r.run_key for r in first.run_requests]
    assert first.cursor == day(DRIFT_DAY - 1)
    once, twice = scenario.landing_keys_twice
    assert once == twice == [f"{DATASET.name}:landing:{day(DRIFT_DAY)}"]
    delay = SPEC.labels.delay_days
    once, twice = scenario.scoring_keys_twice
    assert (
        once
        == twice
        == [
            f"{MODEL}:scoring:{day(DRIFT_DAY)}",
            f"{MODEL}:performance:{day(DRIFT_DAY - delay)}",
        ]
    )
    runs = [(k, job, ok) for s, k, job, ok in scenario.launched if s in (LANDING, SCORING)]
    expected = []
    for i in range(DRIFT_DAY, scenario.last_progressive_day + 1):
        expected += [
            (f"{DATASET.name}:landing:{day(i)}", f"{DATASET.name}_daily_job"),
            (f"{MODEL}:scoring:{day(i)}", f"{MODEL}_scoring_job"),
            (f"{MODEL}:performance:{day(i - delay)}", f"{MODEL}_performance_job"),
        ]
    assert [(k, job) for k, job, _ in runs] == expected
    assert all(ok for *_, ok in runs), runs
    days = summaries(scenario)
    assert all(
        days[i - delay].auc_pr is not None
        for i in range(DRIFT_DAY, scenario.last_progressive_day + 1)
    )
    assert scenario.range_run_ok


def test_the_retraining_run_registers_gates_and_exports_a_new_version(scenario: Observed) -> None:
    result = scenario.retrain_result
    assert result is not None, "no retraining was launched"
    run = result.dagster_run
    assert run.job_name == f"{MODEL}_retrain_job"
    assert run.tags[TRIGGER_TAG] == "drift"
    assert run.tags["dagster/run_key"] == drift_triggers(scenario)[0]

    reg = mlflow(scenario).model(MODEL)
    versions = registry.versions(reg.tracking_uri, MODEL)
    assert [v["version"] for v in versions] == ["2", "1"]
    new = versions[0]
    assert new["tags"]["trigger"] == "drift"
    assert new["tags"]["dagster_run_id"] == run.run_id

    gate = [e for e in result.get_asset_check_evaluations() if e.check_name == "approval_gate"]
    assert len(gate) == 1, "the approval gate was not evaluated"
    passed = gate[0].passed
    assert new["tags"]["gate_passed"] == str(passed).lower()
    assert new["tags"]["gate_champion_version"] == "1"
    print(f"\napproval gate for v2: passed={passed}: {new['tags']['gate_reasons']}")

    exported = {
        m.asset_key.to_user_string(): m.metadata
        for m in (e.materialization for e in result.get_asset_materialization_events())
    }
    champion = reg.alias_version(registry.CHAMPION)
    if passed:
        assert result.success
        assert champion == "2"
        assert exported[f"{MODEL}/onnx"]["version"].value == "2"
        assert registry.has_onnx(reg.tracking_uri, new["run_id"])
        after = [
            s for i, s in summaries(scenario).items() if i > index(run.tags["mlops/trigger_day"])
        ]
        assert after and {s.model_version for s in after} == {"2"}  # scored by the new champion
    else:
        assert champion == "1"
        assert f"{MODEL}/onnx" not in exported


def test_retraining_history_lists_the_drift_version(scenario: Observed) -> None:
    path = scenario.settings.home_path / "monitoring" / MODEL / "retraining_history.parquet"
    history = pd.read_parquet(path).set_index("version")
    assert "2" in history.index, history
    row = history.loc["2"]
    assert row["trigger"] == "drift"
    assert row["gate_passed"] in {"true", "false"}
    assert bool(row["promoted"]) == (row["gate_passed"] == "true") == bool(row["is_champion"])
    assert history.loc["1", "trigger"] == "manual"


def test_runs_are_recorded_in_the_persistent_instance(scenario: Observed) -> None:
    runs = scenario.instance.get_run_records(dg.RunsFilter(tags={"dagster/sensor_name": LANDING}))
    assert len(runs) == scenario.last_progressive_day - DRIFT_DAY + 1
    scored = scenario.instance.get_run_records(dg.RunsFilter(tags={"dagster/sensor_name": SCORING}))
    assert len(scored) == 2 * (scenario.last_progressive_day - DRIFT_DAY + 1)
    storage = Path(scenario.instance.root_directory)
    assert (storage / "storage").is_dir() and storage.name == "dagster"
