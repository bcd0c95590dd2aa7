"""The Dagster UI, as a person would open it: start dagster-webserver on a free local port
against the code location and read the asset graph through its GraphQL API."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    port = _free_port()
    env = {**os.environ, "MLOPS_HOME": str(tmp_path / "home"), "DAGSTER_HOME": str(tmp_path)}
    webserver_bin = Path(sys.executable).parent / "dagster-webserver"
    proc = subprocess.Popen(
        [str(webserver_bin), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"webserver exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise TimeoutError("dagster-webserver did not answer within 90 s")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_ui_shows_landing_to_raw_to_dbt_lineage_with_checks(webserver: int) -> None:
    nodes = {}
    deadline = time.monotonic() + 60
    while not nodes and time.monotonic() < deadline:  # the code location loads in the background
        nodes = {
            "/".join(n["assetKey"]["path"]): n for n in _graphql(webserver, QUERY)["assetNodes"]
        }
        time.sleep(0.5 if not nodes else 0)
    deps = {k: {"/".join(d["path"]) for d in n["dependencyKeys"]} for k, n in nodes.items()}

    assert "landing_transactions" in deps["raw_transactions"]
    assert "raw_transactions" in deps["stg_transactions"]
    assert "stg_transactions" in deps["int_customer_daily_activity"]
    assert "int_customer_daily_activity" in deps["customer_activity_features"]
    assert "raw_churn_labels" in deps["stg_churn_labels"]
    assert "stg_churn_labels" in deps["churn_labels"]

    def checks(key: str) -> dict[str, bool]:
        return {c["name"]: c["blocking"] for c in nodes[key]["assetChecksOrError"]["checks"]}

    assert checks("raw_transactions")["quarantine_rate"] is True
    assert checks("customer_activity_features")["feature_completeness"] is True
    assert any(
        name.startswith("unique_combination") for name in checks("customer_activity_features")
    )
    assert nodes["customer_activity_features"]["groupName"] == "dbt_marts"
    assert {"dbt", "duckdb"} <= set(nodes["customer_activity_features"]["kinds"])

    # features → the churn model's layer (built from its YAML) → export → monitoring, gated
    assert "customer_activity_features" in deps["feast_registry"]
    assert {"feast_registry", "customer_activity_features"} <= deps["online_features"]
    assert {"feast_registry", "churn_labels"} <= deps["churn/training_set"]
    assert "churn/training_set" in deps["churn/candidate_sklearn"]
    assert "churn/training_set" in deps["churn/candidate_xgboost"]
    assert {"churn/candidate_sklearn", "churn/candidate_xgboost"} <= deps["churn/challenger"]
    assert "churn/challenger" in deps["churn/champion"]
    assert "churn/champion" in deps["churn/onnx"]
    assert {"churn/onnx", "online_features"} <= deps["churn/daily_scores"]
    assert "churn/daily_scores" in deps["churn/drift_report"]
    assert {"churn/daily_scores", "churn_labels"} <= deps["churn/model_performance"]
    assert "churn/onnx" in deps["churn/retraining_history"]
    assert checks("churn/challenger")["approval_gate"] is True
    assert checks("churn/onnx")["onnx_parity"] is True
    assert checks("churn/training_set")["training_set_null_rate"] is True
    assert "offline_online_consistency" in checks("online_features")
    assert {"feature_drift", "missing_rate_drift"} <= set(checks("churn/drift_report"))
    assert nodes["churn/challenger"]["groupName"] == "churn_training"

    automation = _graphql(webserver, AUTOMATION)["repositoriesOrError"]["nodes"][0]
    assert {s["name"] for s in automation["sensors"]} >= {
        "landing_zone_sensor",
        "churn_scoring_sensor",
        "churn_retrain_on_drift_sensor",
        "churn_retrain_on_new_data_sensor",
    }
    assert {s["name"] for s in automation["schedules"]} >= {
        "daily_job_schedule",
        "churn_retrain_schedule",
        "churn_scoring_schedule",
    }
