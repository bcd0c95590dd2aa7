"""A data home holding what the assets write for the platform metrics, written with the
assets' own writers (SummaryStore, ingest_status, the retraining-history table's columns)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from mlops_assets.core import check_status, cost, ingest_status, monitoring

MODEL = "churn"


def write_drift(home: Path, day: str, psi: dict[str, float], model: str = MODEL) -> None:
    drifted = [f for f, p in psi.items() if p > 0.2]
    monitoring.SummaryStore(home / "monitoring" / model / "days").write(
        day,
        monitoring.DRIFT_OWNER,
        model_version="1",
        drifted_features=drifted,
        drift_share=len(drifted) / len(psi),
        warming_up=False,
        feature_psi=psi,
        score_psi=0.01,
        # the output checks' numbers (drift_report writes them beside the drift)
        score_kl=0.02,
        bucket_deviation=0.05,
        rows_scored=5000,
        volume_ratio=1.0,
        out_of_range_share=0.0,
    )


def write_performance(home: Path, day: str, auc_pr: float, model: str = MODEL) -> None:
    monitoring.SummaryStore(home / "monitoring" / model / "days").write(
        day,
        monitoring.PERFORMANCE_OWNER,
        model_version="1",
        auc_pr=auc_pr,
        roc_auc=0.85,
        ece=0.03,
        precision_top=0.4,
        recall_top=0.3,
        warming_up=False,
    )


def write_cost(home: Path, day: dt.date, budget: float, model: str = MODEL) -> None:
    """A cost_report day: one scoring step, a served day, storage; the month-to-date ratio."""
    report = cost.day_cost(
        day,
        [model],
        [cost.StepUsage("run0", f"{model}__daily_scores", 120.0)],
        {model: cost.ServingUsage(cpu_seconds=3.0, predictions=1000)},
        {model: 10**9, cost.PLATFORM: 10**9},
        cost.Prices(cpu_hour=0.05, gb_month=0.023),
    )
    cost.apply_budgets(report, [], {model: budget})
    cost.write_day(home, report)


def write_history(home: Path, champion: int, model: str = MODEL) -> None:
    """The retraining_history asset's table: versions 1..champion, all drift-triggered and
    promoted, the newest the champion (written by rename, as a reader must never see half)."""
    versions = range(1, champion + 1)
    now = pd.Timestamp.now(tz="UTC")
    frame = pd.DataFrame(
        {
            "version": [str(v) for v in versions],
            "created": now,
            "trigger": "drift",
            "gate_passed": "true",
            "promoted": True,
            "champion_since": now.isoformat(),
            "is_champion": [v == champion for v in versions],
        }
    )
    path = home / "monitoring" / model / "retraining_history.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)


def healthy_home(home: Path) -> None:
    write_drift(home, "2026-03-01", {"total_amount_30d": 0.05, "support_tickets_90d": 0.02})
    write_performance(home, "2026-01-01", 0.8)
    write_history(home, champion=1)
    write_cost(home, dt.date.today(), budget=100.0)
    ingest_status.write_status(home, "churn_world", "transactions", dt.date.today(), 1000, 999, 1)
    check_status.write_check_status(
        home,
        check_status.CheckStatus(
            f"{MODEL}/drift_report", "feature_drift", True, "error", "run0", 0.0
        ),
    )
