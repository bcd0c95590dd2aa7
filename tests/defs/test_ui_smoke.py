"""The Dagster UI, as a person would open it: start it the way `make ui` does (`dg dev`:
webserver + daemon) on a free local port, read the asset graph through its GraphQL API, and
check that starting it printed no warning."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mlops_assets.runner import DAGSTER_YAML
from tests.net import free_port

QUERY = """
{ assetNodes {
    assetKey { path }
    groupName
    kinds
    dependencyKeys { path }
    assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
} }
"""


AUTOMATION = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    sensors { name }
    schedules { name }
} } } }
"""


def _graphql(port: int, query: str) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())["data"]


@pytest.fixture
def webserver(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "MLOPS_HOME": str(tmp_path / "home"), "DAGSTER_HOME": str(tmp_path)}
    env.pop("PYTHONWARNINGS", None)
    (tmp_path / "dagster.yaml").write_text(DAGSTER_YAML)  # as `make ui` (recover) leaves it
    log_path = tmp_path / "dg-dev.log"
    started = ""
    log = open(log_path, "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dg"),
            "dev",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # dg dev runs the webserver and daemon as children
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"dg dev exited: {log_path.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise TimeoutError("dg dev did not answer within 90 s")
        yield port
        # what starting and using the UI printed; stopping it is not judged (under load, the
        # proxy may notice its code server leave on SIGTERM first and warn about a restart)
        started = log_path.read_text()
    finally:
        # dg dev stops its webserver, daemon and code server on SIGTERM; a loaded machine can
        # take long over it, and this test is about the start: then the whole group goes
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # children that outlived dg dev
        log.close()
    printed = [line for line in started.splitlines() if "warning" in line.lower()]
    assert printed == [], f"starting the UI printed warnings: {printed}"


def test_ui_shows_each_datasets_lineage_to_its_model_with_checks(webserver: int) -> None:
    nodes = {}
    deadline = time.monotonic() + 60
    while not nodes and time.monotonic() < deadline:  # the code location loads in the background
        nodes = {
            "/".join(n["assetKey"]["path"]): n for n in _graphql(webserver, QUERY)["assetNodes"]
        }
        time.sleep(0.5 if not nodes else 0)
    deps = {k: {"/".join(d["path"]) for d in n["dependencyKeys"]} for k, n in nodes.items()}

    def checks(key: str) -> dict[str, bool]:
        return {c["name"]: c["blocking"] for c in nodes[key]["assetChecksOrError"]["checks"]}

    # churn_world: landing → raw → dbt (staging → intermediate → marts)
    assert "landing_transactions" in deps["raw_transactions"]
    assert "raw_transactions" in deps["stg_transactions"]
    assert "stg_transactions" in deps["int_customer_daily_activity"]
    assert "int_customer_daily_activity" in deps["customer_activity_features"]
    assert "raw_churn_labels" in deps["stg_churn_labels"]
    assert "stg_churn_labels" in deps["churn_labels"]
    assert checks("raw_transactions")["quarantine_rate"] is True
    assert checks("raw_transactions")["known_customers"] is True
    assert checks("customer_activity_features")["feature_completeness"] is True
    assert any(
        name.startswith("unique_combination") for name in checks("customer_activity_features")
    )
    assert nodes["customer_activity_features"]["groupName"] == "churn_world_marts"
    assert {"dbt", "duckdb"} <= set(nodes["customer_activity_features"]["kinds"])

    # cdnow beside it: landing → raw → dbt → the same Feast registry
    assert "landing_cdnow_purchases" in deps["raw_cdnow_purchases"]
    assert "raw_cdnow_purchases" in deps["stg_cdnow_purchases"]
    assert "stg_cdnow_purchases" in deps["int_cdnow_customer_daily"]
    assert "int_cdnow_customer_daily" in deps["cdnow_customer_features"]
    assert "int_cdnow_customer_daily" in deps["cdnow_repurchase_labels"]
    assert checks("raw_cdnow_purchases") == {"quarantine_rate": True, "column_shift": False}
    assert checks("cdnow_customer_features")["feature_completeness"] is True
    assert nodes["raw_cdnow_purchases"]["groupName"] == "cdnow_ingest"
    assert nodes["cdnow_customer_features"]["groupName"] == "cdnow_marts"

    # features: one registry downstream of every dataset's marts, online features per dataset
    assert {"customer_activity_features", "cdnow_customer_features"} <= deps["feast_registry"]
    assert {"feast_registry", "customer_activity_features"} <= deps["churn_world/online_features"]
    assert {"feast_registry", "cdnow_customer_features"} <= deps["cdnow/online_features"]
    assert "offline_online_consistency" in checks("churn_world/online_features")
    assert "offline_online_consistency" in checks("cdnow/online_features")

    # each model's layer (built from its YAML) → export → monitoring, gated
    for model, dataset, mart, labels in (
        ("churn", "churn_world", "customer_activity_features", "churn_labels"),
        ("cdnow_repurchase", "cdnow", "cdnow_customer_features", "cdnow_repurchase_labels"),
    ):
        assert {"feast_registry", mart, labels} <= deps[f"{model}/training_set"]
        assert f"{model}/training_set" in deps[f"{model}/candidate_sklearn"]
        assert f"{model}/training_set" in deps[f"{model}/candidate_xgboost"]
        assert {f"{model}/candidate_sklearn", f"{model}/candidate_xgboost"} <= deps[
            f"{model}/challenger"
        ]
        assert f"{model}/challenger" in deps[f"{model}/champion"]
        assert f"{model}/champion" in deps[f"{model}/onnx"]
        assert {f"{model}/onnx", f"{dataset}/online_features"} <= deps[f"{model}/daily_scores"]
        assert f"{model}/daily_scores" in deps[f"{model}/drift_report"]
        assert {f"{model}/daily_scores", labels} <= deps[f"{model}/model_performance"]
        # the history follows the candidates, so a failed gate does not block it
        assert f"{model}/candidate_sklearn" in deps[f"{model}/retraining_history"]
        assert checks(f"{model}/retraining_episodes")["retraining_episode"] is False
        assert checks(f"{model}/challenger")["approval_gate"] is True
        assert checks(f"{model}/onnx")["onnx_parity"] is True
        assert checks(f"{model}/training_set")["training_set_null_rate"] is True
        assert {"feature_drift", "missing_rate_drift"} <= set(checks(f"{model}/drift_report"))
        assert nodes[f"{model}/challenger"]["groupName"] == f"{model}_training"

    automation = _graphql(webserver, AUTOMATION)["repositoriesOrError"]["nodes"][0]
    assert {s["name"] for s in automation["sensors"]} >= {
        "churn_world_landing_sensor",
        "cdnow_landing_sensor",
        "churn_scoring_sensor",
        "churn_retrain_on_drift_sensor",
        "churn_retrain_on_new_data_sensor",
        "cdnow_repurchase_scoring_sensor",
        "cdnow_repurchase_retrain_on_drift_sensor",
    }
    assert {s["name"] for s in automation["schedules"]} >= {
        "churn_world_daily_job_schedule",
        "cdnow_daily_job_schedule",
        "churn_retrain_schedule",
        "churn_scoring_schedule",
        "cdnow_repurchase_retrain_schedule",
    }
