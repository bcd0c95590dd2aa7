"""Cost per model, per run and per 1,000 predictions, and the budget levels (+10 / +25 / +50 %)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mlops_assets.core import cost
from mlops_assets.core.platform_metrics import ModelSource, PlatformReader

PRICES = cost.Prices(cpu_hour=3.6, gb_month=30.0)  # 0.001 per CPU-second; 1 per GB-day (30-d)
DAY = dt.date(2026, 4, 10)  # April: 30 days


def _steps() -> list[cost.StepUsage]:
    return [
        cost.StepUsage("run1", "churn__daily_scores", 100.0),
        cost.StepUsage("run1", "churn__drift_report", 50.0),
        cost.StepUsage("run2", "churn_world__raw_transactions", 20.0),
        cost.StepUsage("run2", "cdnow_repurchase__daily_scores", 10.0),
    ]


def test_steps_are_charged_to_their_model_runs_and_the_platform() -> None:
    report = cost.day_cost(DAY, ["churn", "cdnow_repurchase"], _steps(), {}, {}, PRICES)
    churn = report.models["churn"]
    assert churn.batch_cpu_seconds == 150.0 and churn.total == pytest.approx(0.15)
    assert report.models["cdnow_repurchase"].total == pytest.approx(0.01)
    # `churn_world__…` is not `churn__…`: the dataset's ingest is the platform's
    assert report.models[cost.PLATFORM].batch_cpu_seconds == 20.0
    assert report.runs["run1"]["cost"] == pytest.approx(0.15)
    assert report.runs["run2"]["steps"] == 2
    assert report.steps["churn__drift_report"]["cpu_seconds"] == 50.0


def test_serving_cpu_counts_each_request_once_and_gives_the_cost_per_1000() -> None:
    records = [
        # one request of 3 rows (same ts and latency), one of 1 row, a shadow answer, an error
        *({"ts": "t1", "latency_ms": 4.0, "served": True} for _ in range(3)),
        {"ts": "t2", "latency_ms": 2.0, "served": True},
        {"ts": "t2", "latency_ms": 2.0, "served": False},
        {"ts": "t3", "error": "prediction_failed"},
    ]
    usage = cost.serving_usage(records)
    assert usage == cost.ServingUsage(cpu_seconds=0.006, predictions=4)
    report = cost.day_cost(DAY, ["churn"], [], {"churn": usage}, {"churn": 2 * 10**9}, PRICES)
    churn = report.models["churn"]
    assert churn.per_1k_predictions == pytest.approx(0.006 * 0.001 / 4 * 1000)
    assert churn.storage_cost == pytest.approx(2.0)  # 2 GB, one day of a 30-day month


@pytest.mark.parametrize(
    ("month_so_far", "level"),
    [(10.0, "ok"), (11.0, "ok"), (11.5, "warn"), (13.0, "warn"), (15.0, "warn"), (15.1, "fail")],
)
def test_budget_levels_warn_over_10_and_25_percent_and_fail_over_50(
    month_so_far: float, level: str
) -> None:
    """A budget of 30 a month, on day 10 of 30: 10 is exactly on budget."""
    earlier = [
        cost.DayCost(
            (DAY - dt.timedelta(days=1)).isoformat(),
            {"churn": cost.ModelCost("churn", total=month_so_far - 1.0)},
            {},
        ),
        cost.DayCost(  # last month: not counted
            "2026-03-31", {"churn": cost.ModelCost("churn", total=1000.0)}, {}
        ),
    ]
    today = cost.DayCost(DAY.isoformat(), {"churn": cost.ModelCost("churn", total=1.0)}, {})
    cost.apply_budgets(today, earlier, {"churn": 30.0})
    c = today.models["churn"]
    assert c.month_to_date == pytest.approx(month_so_far)
    assert c.budget_ratio == pytest.approx(month_so_far / 10.0)
    assert cost.budget_level(c.budget_ratio) == level


def test_no_budget_no_ratio() -> None:
    today = cost.DayCost(DAY.isoformat(), {"churn": cost.ModelCost("churn", total=5.0)}, {})
    cost.apply_budgets(today, [], {"churn": None})
    assert today.models["churn"].budget_ratio is None
    assert cost.budget_level(None) == "ok"


def test_monthly_trend_and_the_exported_metrics(tmp_path: Path) -> None:
    for day, total in (("2026-03-30", 2.0), ("2026-04-01", 1.0), ("2026-04-02", 20.0)):
        report = cost.DayCost(day, {"churn": cost.ModelCost("churn", total=total)}, {})
        cost.apply_budgets(report, cost.read_days(tmp_path), {"churn": 30.0})
        cost.write_day(tmp_path, report)
    days = cost.read_days(tmp_path)
    assert cost.monthly_trend(days) == {"2026-03": {"churn": 2.0}, "2026-04": {"churn": 21.0}}
    samples = {(s.name, s.labels): s.value for s in PlatformReader(tmp_path, [], []).read()}
    m = (("model", "churn"),)
    # 21 spent by day 2 of a 30-day month whose budget is 30 (2 prorated): 10.5×
    assert samples[("mlops_cost_budget_ratio", m)] == pytest.approx(10.5)
    assert samples[("mlops_cost_month_to_date", m)] == pytest.approx(21.0)
    assert samples[("mlops_cost_daily", m)] == 20.0
    assert samples[("mlops_metrics_unreadable_files", ())] == 0
    (tmp_path / "cost" / "2026-04-03.json").write_text("{not json")
    samples = {(s.name, s.labels): s.value for s in PlatformReader(tmp_path, [], []).read()}
    assert samples[("mlops_metrics_unreadable_files", ())] == 1


def test_output_monitoring_numbers_are_exported(tmp_path: Path) -> None:
    from mlops_assets.core import monitoring

    store = monitoring.SummaryStore(tmp_path / "monitoring" / "churn" / "days")
    store.write(
        "2026-04-01",
        monitoring.DRIFT_OWNER,
        model_version="1",
        drift_share=0.0,
        score_kl=0.02,
        bucket_deviation=0.1,
        rows_scored=900,
        volume_ratio=0.9,
        out_of_range_share=0.001,
    )
    store.write(
        "2026-03-01",
        monitoring.PERFORMANCE_OWNER,
        model_version="1",
        auc_pr=0.7,
        precision_top=0.5,
        recall_top=0.3,
    )
    got = {
        (s.name, s.labels): s.value
        for s in PlatformReader(tmp_path, [ModelSource("churn")], []).read()
    }
    m = (("model", "churn"),)
    assert got[("model_score_kl", m)] == 0.02
    assert got[("model_score_bucket_deviation", m)] == 0.1
    assert got[("model_scoring_volume_rows", m)] == 900
    assert got[("model_scoring_volume_ratio", m)] == 0.9
    assert got[("model_out_of_range_share", m)] == 0.001
    assert got[("model_top_decile", (*m, ("metric", "precision")))] == 0.5
    assert got[("model_top_decile", (*m, ("metric", "recall")))] == 0.3
