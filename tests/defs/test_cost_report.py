"""`cost_report` on a real (ephemeral) Dagster instance: the day's runs are read from the
instance's step stats, serving from a real prediction log; over +50 % of the budget the check
fails, the exported `mlops_cost_budget_ratio` makes the rules' critical budget alert fire
(promtool), and within budget the check passes."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.components.model_pipeline.spec import MODELS_DIR, load_spec
from mlops_assets.core import cost
from mlops_assets.core.platform_metrics import PlatformReader
from mlops_assets.defs.cost.assets import build_cost_report
from mlops_assets.serving.prediction_log import PredictionLog, log_dir
from mlops_assets.settings import Settings

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules.yml"
SPEC = load_spec(MODELS_DIR / "churn" / "defs.yaml")


@dg.asset(key=["churn", "busy_step"])
def busy_step() -> None:
    """Some work charged to the churn model (its step key is `churn__busy_step`)."""
    import time

    end = time.process_time() + 0.2
    while time.process_time() < end:
        pass


def _report(home: Path, instance: dg.DagsterInstance, budget: float, day: dt.date):
    spec = SPEC.model_copy(update={"cost": SPEC.cost.model_copy(update={"monthly_budget": budget})})
    result = dg.materialize(
        [build_cost_report([spec])],
        instance=instance,
        partition_key=day.isoformat(),
        resources={"settings": Settings(home=str(home), cpu_hour_price=3.6)},
    )
    check = result.get_asset_check_evaluations()[0]
    return result, check


@pytest.fixture(scope="module")
def worked(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("cost_home")
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize([busy_step], instance=instance).success
    today = dt.datetime.now(dt.UTC).date()
    log = PredictionLog(log_dir(home))
    for i in range(4):  # four requests of 250 rows, 5 ms each
        rows = [
            {"id": str(k), "variant": "champion", "served": True, "latency_ms": 5.0 + i}
            for k in range(250)
        ]
        log.append("churn", rows, today)
    log.close()
    return home, instance, today


def test_an_overspent_model_fails_the_check_and_fires_the_budget_alert(worked, tmp_path) -> None:
    home, instance, today = worked
    result, check = _report(home, instance, budget=1e-6, day=today)
    assert result.success
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR, check.description
    assert "churn" in check.description and "fail" in check.description
    report = cost.read_day(cost.cost_dir(home) / f"{today}.json")
    churn = report.models["churn"]
    assert churn.batch_cpu_seconds >= 0.2  # the busy step, from the instance's step stats
    busy_runs = [r for r in report.runs.values() if r["steps"] == 1]
    assert busy_runs and all(r["wall_seconds"] >= 0.2 for r in busy_runs)
    assert churn.predictions == 1000
    assert churn.serving_cpu_seconds == pytest.approx((5 + 6 + 7 + 8) / 1000)
    assert churn.per_1k_predictions == pytest.approx(churn.serving_cpu_seconds * 0.001)
    # the Plots tab: one value per partition, with the partition's own numbers
    event = result.get_asset_materialization_events()[0].materialization
    assert event.partition == today.isoformat()
    assert event.metadata["cost_churn"].value == pytest.approx(churn.total)

    # what the exporter makes of it fires the critical budget rule (promtool, the repo's rules)
    ratio = next(
        s.value
        for s in PlatformReader(home, [], []).read()
        if s.name == "mlops_cost_budget_ratio" and s.labels == (("model", "churn"),)
    )
    assert ratio > 1.5
    test = tmp_path / "cost_test.yml"
    test.write_text(
        f"""rule_files: [{RULES}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'mlops_cost_budget_ratio{{model="churn",job="mlops-platform"}}'
        values: '{ratio}x5'
    alert_rule_test:
      - eval_time: 2m
        alertname: CostBudgetExceededCritical
        exp_alerts:
          - exp_labels: {{model: churn, job: mlops-platform, severity: critical, team: mlops}}
            exp_annotations:
              summary: "churn: month-to-date cost at {ratio * 100:.4g}% of budget"
              description: "Cost is more than 50 % over the configured monthly budget."
"""
    )
    done = subprocess.run(
        ["promtool", "test", "rules", str(test)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_within_budget_the_check_passes(worked) -> None:
    home, instance, today = worked
    _, check = _report(home, instance, budget=1e6, day=today)
    assert check.passed, check.description
