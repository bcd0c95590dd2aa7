"""The Grafana provisioning files: three dashboards on the provisioned datasource, every
query valid PromQL (promtool parses it). Whether each returns series against a Prometheus that
scraped the project is tested with the running service in tests/serving/test_service.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.observability.dashboards import as_rules_file, dashboards, panel_queries
from tests.observability.servers import ROOT

PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"


def test_three_dashboards_on_the_provisioned_datasource() -> None:
    boards = dashboards()
    assert {d["title"] for d in boards.values()} == {
        "MLOps overview",
        "Business KPIs",
        "Model health",
    }
    assert len({d["uid"] for d in boards.values()}) == 3
    source = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    uid = source["datasources"][0]["uid"]
    assert source["datasources"][0]["url"] == "${PROMETHEUS_URL}"  # never an address in the repo
    for board in boards.values():
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), board["title"]
        for panel in board["panels"]:
            assert panel["targets"], panel["title"]
            assert panel["datasource"]["uid"] == uid
            assert all(t["datasource"]["uid"] == uid for t in panel["targets"])
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "mlops.yml").read_text())
    assert provider["providers"][0]["type"] == "file"


def test_the_overview_has_the_panels_the_notes_ask_for() -> None:
    exprs = " ".join(e for d, _, e in panel_queries() if d == "MLOps overview")
    for metric in (
        "ml_predictions_total",  # predictions by class
        "ml_processing_duration_seconds_bucket",  # p50/p95/p99
        "ml_prediction_errors_total",  # errors by type
        "process_cpu_seconds_total",  # CPU
        "app_memory_usage_bytes",  # memory
    ):
        assert metric in exprs, metric


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    rules = as_rules_file(tmp_path / "dashboards.rules.json")
    done = subprocess.run(
        ["promtool", "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(panel_queries())} rules found" in done.stdout
