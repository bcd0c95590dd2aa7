"""A/B tests replayed on the simulator through a live server, decided by the delayed labels.

A churn world long enough for labels (30 days later) to exist for the replayed days is
materialized and its model trained. Then two A/B tests run through `mlops-assets serve`:
* a weak champion (trained on shuffled labels) against the trained model as challenger: the
  challenger is significantly better, passes the gate and is promoted;
* the champion against a copy of itself: no winner, the champion stays.
Each test: `churn_rollout_job action=ab`, `mlops-assets replay-serving` over the same days,
then `churn/prediction_log` for those days and `churn/ab_test`, whose check concludes it.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mlops_assets.core import registry
from mlops_assets.core.ab_test import AB_TEST_TAG, ABTest
from mlops_assets.core.deployment import DeploymentState
from mlops_assets.datasets.simulator import SimulationConfig
from tests.serving.live import BIN, last_day, materialized_home, running_server, wait_until

pytestmark = pytest.mark.slow

MODEL = "churn"
WORLD = SimulationConfig(days=64, customers=1200, seed=11, corrupt_rate=0.0)
FIRST_REPLAYED = WORLD.start_date + dt.timedelta(days=24)
LAST_REPLAYED = WORLD.start_date + dt.timedelta(days=31)  # labels land 30 days later: in the world


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> dict:
    first, last = WORLD.start_date.isoformat(), last_day(WORLD).isoformat()
    spans = {"data": (first, last), "feature registry": None, "models": None}
    return materialized_home(tmp_path_factory.mktemp("ab"), WORLD, MODEL, spans)


@pytest.fixture(scope="module")
def dagster(home: dict):
    import dagster as dg

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLOPS_HOME", str(home["home"]))
        from mlops_assets.definitions import defs as load

        yield load(), dg.DagsterInstance.ephemeral()


def _weak_version(home: dict) -> str:
    """A registered version that takes the champion's inputs but learned from shuffled
    labels (no skill), exported to ONNX and published as the pipeline publishes one."""
    from mlflow import MlflowClient
    from sklearn.ensemble import HistGradientBoostingClassifier

    from mlops_assets.components.model_pipeline.common import training_set_path
    from mlops_assets.components.model_pipeline.spec import MODELS_DIR, load_spec
    from mlops_assets.core import training
    from mlops_assets.core.model_inputs import MLFLOW_TAG, load_training_set
    from mlops_assets.core.onnx_export import export_onnx

    uri = home["tracking_uri"]
    client = MlflowClient(uri)
    champion = client.get_model_version_by_alias(MODEL, registry.CHAMPION)
    spec = load_spec(MODELS_DIR / MODEL / "defs.yaml")
    frame, inputs = load_training_set(training_set_path(home["home"], spec))
    X = training.feature_matrix(frame, list(inputs.features))
    y = np.random.default_rng(0).permutation(frame[training.LABEL_COLUMN].to_numpy().astype(int))
    model = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(X, y)
    exported = export_onnx(model, len(inputs.features))
    run = client.create_run(client.get_experiment_by_name(MODEL).experiment_id)
    folder = home["home"].parent / "weak"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(exported.model_bytes)
    client.log_artifact(run.info.run_id, str(folder / "model.onnx"), "onnx")
    client.set_terminated(run.info.run_id)
    tags = {MLFLOW_TAG: champion.tags[MLFLOW_TAG], "onnx_sha256": exported.sha256}
    created = client.create_model_version(
        MODEL, f"runs:/{run.info.run_id}/model", run.info.run_id, tags=tags
    )
    return str(created.version)


def _copy_of(home: dict, version: str) -> str:
    from mlflow import MlflowClient

    client = MlflowClient(home["tracking_uri"])
    source = client.get_model_version(MODEL, version)
    copy = client.create_model_version(MODEL, source.source, source.run_id, tags=source.tags)
    return str(copy.version)


def _start_ab(dagster, server, uri: str, champion: str, challenger: str) -> ABTest:
    defs, instance = dagster
    for alias, version in ((registry.CHAMPION, champion), (registry.CHALLENGER, challenger)):
        registry.move_alias(uri, MODEL, alias, version, reason="A/B test setup", actor="test")
    job = defs.get_job_def(f"{MODEL}_rollout_job")
    config = {"action": "ab", "percent": 50.0, "reason": "replay", "requested_by": "test"}
    result = job.execute_in_process(
        run_config={"ops": {f"{MODEL}_rollout": {"config": config}}}, instance=instance
    )
    assert result.success
    test = ABTest.from_json(registry.model_tag(uri, MODEL, AB_TEST_TAG))
    assert test is not None and (test.champion, test.challenger) == (champion, challenger)

    def serving_the_test() -> bool:
        (described,) = server.get("/v1/models").json()["models"]
        return (described["deployment"] or {}).get("test_id") == test.id and (
            described["champion"],
            described["challenger"],
        ) == (champion, challenger)

    wait_until(serving_the_test, 15, "the server to start the A/B split")
    return test


def _replay(home: dict, server) -> str:
    done = subprocess.run(
        [
            str(BIN / "mlops-assets"),
            "replay-serving",
            "--model",
            MODEL,
            "--start",
            FIRST_REPLAYED.isoformat(),
            "--end",
            LAST_REPLAYED.isoformat(),
            "--url",
            str(server.base_url),
        ],
        env=home["env"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _judge(dagster) -> dict:
    """Materialize the replayed days' prediction log, then the A/B test; its metadata."""
    from mlops_assets.runner import run_selection

    defs, instance = dagster
    days = (FIRST_REPLAYED.isoformat(), LAST_REPLAYED.isoformat())
    logged = run_selection(
        defs, f"key:{MODEL}/prediction_log", instance=instance, partition_range=days
    )
    assert logged.success
    judged = run_selection(defs, f"key:{MODEL}/ab_test", instance=instance)
    assert judged.success
    (materialization,) = judged.asset_materializations_for_node(f"{MODEL}__ab_test")
    return {k: v.value for k, v in materialization.metadata.items()}


def test_a_better_challenger_is_promoted_and_a_copy_of_the_champion_wins_nothing(
    home: dict, dagster, tmp_path: Path
) -> None:
    uri = home["tracking_uri"]
    trained = registry.alias_version(uri, MODEL, registry.CHAMPION)
    weak = _weak_version(home)
    with running_server(home) as server:
        # 1. the weak model is champion; the trained one challenges it
        test = _start_ab(dagster, server, uri, champion=weak, challenger=trained)
        out = _replay(home, server)
        assert "replayed 8 day(s)" in out and "challenger" in out and "champion" in out
        logs = sorted(p.name for p in (home["home"] / "serving/predictions" / MODEL).iterdir())
        assert logs[0] == f"{FIRST_REPLAYED}.jsonl" and logs[-1] == f"{LAST_REPLAYED}.jsonl"
        meta = _judge(dagster)
        assert meta["test"] == test.id and meta["verdict"] == "challenger", meta["reason"]
        assert meta["challenger_labelled"] >= 1000 and meta["champion_labelled"] >= 1000
        assert meta["ci_low"] > 0 and meta["challenger_auc_pr"] > meta["champion_auc_pr"]
        assert "promoted to champion" in meta["outcome"], meta["outcome"]
        assert registry.alias_version(uri, MODEL, registry.CHAMPION) == trained
        ended = ABTest.from_json(registry.model_tag(uri, MODEL, AB_TEST_TAG))
        assert (ended.status, ended.verdict) == ("concluded", "challenger")
        state = DeploymentState.from_json(registry.serving_target(uri, MODEL).deployment)
        assert state.mode == "single" and test.id in state.reason

        # 2. the champion against a copy of itself: no winner, nothing moves
        copy = _copy_of(home, trained)
        test = _start_ab(dagster, server, uri, champion=trained, challenger=copy)
        _replay(home, server)
        meta = _judge(dagster)
        assert meta["test"] == test.id and meta["verdict"] == "no winner", meta["reason"]
        assert meta["ci_low"] <= 0 <= meta["ci_high"]
        assert registry.alias_version(uri, MODEL, registry.CHAMPION) == trained
        ended = ABTest.from_json(registry.model_tag(uri, MODEL, AB_TEST_TAG))
        assert (ended.status, ended.verdict) == ("concluded", "no winner")


def test_too_little_evidence_keeps_the_test_running(home: dict, dagster) -> None:
    """Right after it starts, a test has no labelled answer: no verdict, nothing moves."""
    uri = home["tracking_uri"]
    champion = registry.alias_version(uri, MODEL, registry.CHAMPION)
    copy = _copy_of(home, champion)
    with running_server(home) as server:
        test = _start_ab(dagster, server, uri, champion=champion, challenger=copy)
        meta = _judge(dagster)
    assert meta["test"] == test.id and meta["verdict"] == "insufficient"
    assert "labelled answers of the 1000" in meta["reason"]
    still = ABTest.from_json(registry.model_tag(uri, MODEL, AB_TEST_TAG))
    assert still.status == "running"
    assert DeploymentState.from_json(registry.serving_target(uri, MODEL).deployment).mode == "ab"
