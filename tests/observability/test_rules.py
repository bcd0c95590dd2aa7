"""The alert rules (deploy/prometheus/rules.yml) through Debian's own promtool: they load, their
unit tests pass, every rule has a firing and a non-firing case, and the tests can fail."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from mlops_assets.settings import Settings

RULES_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULES = RULES_DIR / "rules.yml"
RULES_TEST = RULES_DIR / "rules_test.yml"
TIERS = {"critical", "warning", "info"}


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *args], capture_output=True, text=True, timeout=120, check=False
    )


def _rules() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_check_rules_passes() -> None:
    done = _promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in done.stdout


def test_promtool_test_rules_passes() -> None:
    done = _promtool("test", "rules", str(RULES_TEST))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr


def test_every_rule_has_a_tier_and_a_firing_and_a_silent_case() -> None:
    rules = _rules()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names)), "alert names must be unique"
    assert {r["labels"]["severity"] for r in rules} == TIERS
    cases = [
        case
        for test in yaml.safe_load(RULES_TEST.read_text())["tests"]
        for case in test["alert_rule_test"]
    ]
    firing = {c["alertname"] for c in cases if c["exp_alerts"]}
    silent = {c["alertname"] for c in cases if not c["exp_alerts"]}
    assert not set(names) - firing, f"rules without a firing case: {set(names) - firing}"
    assert not set(names) - silent, f"rules without a non-firing case: {set(names) - silent}"
    assert not (firing | silent) - set(names), "cases name rules that do not exist"


def test_issue_thresholds_are_covered() -> None:
    """The rules the issue asks for at least (by what they watch), and the quarantine rule
    uses the same default as the ingest check."""
    exprs = {r["alert"]: r["expr"] for r in _rules()}
    watched = " ".join(exprs.values())
    for metric in (
        "ml_prediction_errors_total",  # serving error rate
        "ml_processing_duration_seconds_bucket",  # latency
        "ml_model_loaded",  # model not loaded
        "model_drift_score",
        "model_accuracy",
        "data_last_ingest_timestamp_seconds",
        "data_quarantine_rate",
        "retraining_runs_total",
        "model_champion_version",
        "mlops_cost_budget_ratio",
    ):
        assert metric in watched, metric
    quarantine = Settings.model_fields["max_quarantine_rate"].default
    assert exprs["DataQuarantineHigh"].strip() == f"data_quarantine_rate > {quarantine}"
    budget = sorted(
        float(e.split(">")[1]) for e in exprs.values() if e.startswith("mlops_cost_budget_ratio")
    )
    assert budget == [1.1, 1.25, 1.5]


def test_a_changed_threshold_fails_the_rule_tests(tmp_path: Path) -> None:
    """The cases pin behaviour: a rule loosened from 5 % to 50 % no longer fires where its
    case says it must, and promtool says so."""
    suite = yaml.safe_load(RULES_TEST.read_text())
    suite["tests"] = [t for t in suite["tests"] if t["name"] == "serving errors, fault"]
    (tmp_path / "rules_test.yml").write_text(yaml.safe_dump(suite))
    text = RULES.read_text()
    assert text.count("> 0.05\n") == 1
    (tmp_path / "rules.yml").write_text(text.replace("> 0.05\n", "> 0.5\n"))
    done = _promtool("test", "rules", str(tmp_path / "rules_test.yml"))
    assert done.returncode != 0
    assert "MLServingErrorRateCritical" in done.stdout + done.stderr


def test_the_example_prometheus_config_loads_the_rules() -> None:
    done = _promtool("check", "config", str(RULES_DIR / "prometheus.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in done.stdout
