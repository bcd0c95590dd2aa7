"""The disaster-recovery drill, measured (DESIGN §6b, issue 12): a small world materialized
for real (ingest, dbt, Feast, MLflow, ONNX, scores) in a persistent Dagster instance, its
landing sensor's cursor stored in that instance, then `mlops-assets backup`, one more day of
work, the data home destroyed, `mlops-assets restore`, and the prediction service started on
the restored home.

It guards: the restored home serves the same champion version with the same ONNX bytes and
the same predictions for the same customers; the instance keeps its run history and the
sensor's cursor, so the sensor asks for exactly the day lost since the backup (nothing
re-run, nothing skipped) and that day materializes on the restored home. It measures the
RTO (restore + service ready) and the RPO (partitions done after the backup) and prints them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from mlops_assets.cli import main as cli
from mlops_assets.components.landing_dataset import dataset_specs
from mlops_assets.components.model_pipeline.spec import model_specs
from mlops_assets.core import registry
from mlops_assets.core.evaluation import served_onnx_path
from mlops_assets.datasets.simulator import SimulationConfig, simulate
from mlops_assets.settings import Settings
from tests.small_worlds import SMALL_WORLD_BOOTSTRAP

pytestmark = pytest.mark.slow

START = dt.date(2026, 1, 1)
DAYS = 40  # labels land 30 days late: 10 labelled days to train on
WORLD = {"start_date": START, "customers": 500, "seed": 3}
DATASET, MODEL = "churn_world", "churn"
SENSOR = f"{DATASET}_landing_sensor"
RTO_GOAL_SECONDS = 300.0


@dataclass
class Drill:
    home: Path
    snapshot: Path
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    lost_partitions: list[str] = field(default_factory=list)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cursor(instance: dg.DagsterInstance, name: str) -> str | None:
    from dagster._core.scheduler.instigation import InstigatorType

    states = instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
    found = [s.instigator_data.cursor for s in states if s.name == name]
    return found[0] if found else None


def _raw_partitions(instance: dg.DagsterInstance) -> set[str]:
    return set(instance.get_materialized_partitions(dg.AssetKey("raw_customers")))


def _serve(home: Path, ids: list[str]) -> tuple[dict, float]:
    """Start the prediction service on `home`, wait until ready; its answers for `ids` and
    the seconds it took to be ready."""
    from fastapi.testclient import TestClient

    from mlops_assets.core.registry import local_tracking_uri
    from mlops_assets.serving.app import ServiceConfig, create_app

    started = time.perf_counter()
    config = ServiceConfig(home=home, tracking_uri=local_tracking_uri(home), models=(MODEL,))
    with TestClient(create_app(config)) as client:
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, client.get("/readyz").json()
            time.sleep(0.1)
        ready = time.perf_counter() - started
        answer = client.post(f"/v1/models/{MODEL}/predict", json={"ids": ids})
        assert answer.status_code == 200, answer.text
    return answer.json(), ready


def _state(home: Path, instance: dg.DagsterInstance, ids: list[str]) -> dict:
    uri = registry.local_tracking_uri(home)
    champion = registry.alias_version(uri, MODEL, "champion")
    answers, ready = _serve(home, ids)
    return {
        "champion": champion,
        "onnx_sha256": _sha(served_onnx_path(home, MODEL, champion)),
        "predictions": {p["id"]: (p["probability"], p["version"]) for p in answers["predictions"]},
        "cursor": _cursor(instance, SENSOR),
        "runs": sorted(r.run_id for r in instance.get_runs()),
        "raw_partitions": _raw_partitions(instance),
        "ready_seconds": ready,
    }


def _set_cursor(cursor: str) -> None:
    """What the sensor daemon stores after a tick, written by Dagster's own CLI."""
    dagster = Path(sys.executable).parent / "dagster"
    subprocess.run(
        [str(dagster), "sensor", "cursor", "-m", "mlops_assets.definitions", SENSOR,
         "--set", cursor],
        check=True, capture_output=True, env=os.environ.copy(), timeout=120,
    )  # fmt: skip


def _evaluate_sensor(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None):
    sensor = defs.resolve_sensor_def(SENSOR)
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        definitions=defs,
        resources=defs.resources,
        sensor_name=SENSOR,
    )
    return sensor.evaluate_tick(context)


def _materialize_day(defs: dg.Definitions, instance: dg.DagsterInstance, day: str) -> None:
    from mlops_assets.runner import run_selection

    run_selection(
        defs,
        f"tag:mlops/dataset={DATASET} and tag:mlops/stage=data",
        instance=instance,
        partition_range=(day, day),
    )


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    from mlops_assets.runner import ensure_dagster_home, materialize_everything

    root = tmp_path_factory.mktemp("drill")
    home = root / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLOPS_HOME", str(home))
        mp.setenv("DAGSTER_HOME", str(home / "dagster"))
        mp.setenv("MLOPS_ENV", "local")
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        settings = Settings.from_env()
        simulate(SimulationConfig(days=DAYS, **WORLD), settings.landing_dir)
        ensure_dagster_home(home)
        from mlops_assets.definitions import defs as load

        defs = load()
        with dg.DagsterInstance.get() as instance:
            materialize_everything(
                defs,
                settings.landing_dir,
                instance=instance,
                progress=lambda _line: None,
                datasets=[d for d in dataset_specs() if d.name == DATASET],
                models=[m for m in model_specs() if m.name == MODEL],
                bootstrap_reason=SMALL_WORLD_BOOTSTRAP,
            )
            tick = _evaluate_sensor(defs, instance, None)  # first tick: all days ingested
            assert not tick.run_requests
            _set_cursor(tick.cursor)
            ids = list(pd.read_parquet(home / "serving" / "batch_scores" / f"{MODEL}.parquet")
                       ["id"][:25])  # fmt: skip
            drill = Drill(home=home, snapshot=root / "backups" / "s1")
            drill.before = _state(home, instance, ids)

        started = time.perf_counter()
        assert cli(["backup", "--to", str(drill.snapshot)]) == 0
        drill.seconds["backup"] = time.perf_counter() - started

        # work done after the backup: one more day lands and is ingested — then the disaster
        simulate(SimulationConfig(days=DAYS + 1, **WORLD), settings.landing_dir)
        last_day = (START + dt.timedelta(days=DAYS)).isoformat()
        with dg.DagsterInstance.get() as instance:
            _materialize_day(defs, instance, last_day)
            done_before_disaster = _raw_partitions(instance)
        shutil.rmtree(home)

        started = time.perf_counter()
        assert cli(["restore", "--from", str(drill.snapshot)]) == 0
        drill.seconds["restore"] = time.perf_counter() - started
        with dg.DagsterInstance.get() as instance:
            drill.after = _state(home, instance, ids)
            drill.lost_partitions = sorted(done_before_disaster - _raw_partitions(instance))
            # the landing zone of a real deployment lives on: the lost day lands again
            simulate(SimulationConfig(days=DAYS + 1, **WORLD), settings.landing_dir)
            drill.after["tick"] = _evaluate_sensor(defs, instance, drill.after["cursor"])
            for request in drill.after["tick"].run_requests:
                _materialize_day(defs, instance, request.partition_key)
            drill.after["raw_partitions_after_catch_up"] = _raw_partitions(instance)
        drill.seconds["rto"] = drill.seconds["restore"] + drill.after["ready_seconds"]
        print(
            f"\nDR drill: backup {drill.seconds['backup']:.1f} s, restore "
            f"{drill.seconds['restore']:.1f} s, service ready {drill.after['ready_seconds']:.1f} s"
            f" → RTO {drill.seconds['rto']:.1f} s; RPO {len(drill.lost_partitions)} daily "
            f"partition(s) ({', '.join(drill.lost_partitions)})"
        )
        yield drill


def test_the_restored_home_serves_the_same_champion_bytes_and_predictions(drill: Drill) -> None:
    before, after = drill.before, drill.after
    assert after["champion"] == before["champion"] is not None
    assert after["onnx_sha256"] == before["onnx_sha256"]
    assert len(before["predictions"]) == 25
    assert after["predictions"] == before["predictions"]


def test_the_instance_keeps_its_run_history_and_the_sensor_cursor(drill: Drill) -> None:
    assert drill.after["runs"] == drill.before["runs"]
    assert (
        drill.after["cursor"]
        == drill.before["cursor"]
        == (START + dt.timedelta(days=DAYS - 1)).isoformat()
    )
    assert drill.after["raw_partitions"] == drill.before["raw_partitions"]


def test_the_sensor_asks_for_exactly_the_lost_day_and_it_materializes(drill: Drill) -> None:
    lost = (START + dt.timedelta(days=DAYS)).isoformat()
    assert drill.lost_partitions == [lost]  # RPO: the work since the backup
    tick = drill.after["tick"]
    assert [r.partition_key for r in tick.run_requests] == [lost]
    assert [r.run_key for r in tick.run_requests] == [f"{DATASET}:landing:{lost}"]
    assert drill.after["raw_partitions_after_catch_up"] == drill.before["raw_partitions"] | {lost}


def test_the_rto_is_within_the_goal(drill: Drill) -> None:
    assert drill.seconds["rto"] < RTO_GOAL_SECONDS, drill.seconds
