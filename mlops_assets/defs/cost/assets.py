"""`cost_report`: what each day cost, per model, per run and per 1,000 predictions, with the
month-to-date against each model's budget (logic and what is measured: `core.cost`)."""

import datetime as dt
import json
from collections.abc import Sequence

import dagster as dg

from mlops_assets.components.model_pipeline.spec import ModelSpec
from mlops_assets.core import cost
from mlops_assets.settings import Settings

KEY = dg.AssetKey("cost_report")


def _steps(
    instance: dg.DagsterInstance, day: dt.date, skip_run: str
) -> tuple[list[cost.StepUsage], dict[str, float]]:
    """Every finished step of the runs created on `day` (UTC), from Dagster's step stats; and
    each finished run's wall time."""
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    records = instance.get_run_records(
        dg.RunsFilter(created_after=start, created_before=start + dt.timedelta(days=1))
    )
    out, walls = [], {}
    for record in records:
        run_id = record.dagster_run.run_id
        if run_id == skip_run:
            continue
        if record.start_time is not None and record.end_time is not None:
            walls[run_id] = max(record.end_time - record.start_time, 0.0)
        for s in instance.get_run_step_stats(run_id):
            if s.start_time is not None and s.end_time is not None:
                out.append(cost.StepUsage(run_id, s.step_key, max(s.end_time - s.start_time, 0.0)))
    return out, walls


def _serving(home, models: Sequence[str], day: dt.date) -> dict[str, cost.ServingUsage]:
    from mlops_assets.serving.prediction_log import PredictionLog, log_dir

    log = PredictionLog(log_dir(home))
    out = {}
    for model in models:
        path = log.path(model, day)
        if not path.is_file():
            continue
        records = []
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.endswith("\n"):
                    try:
                        records.append(json.loads(line))
                    except ValueError:
                        continue  # the prediction_log asset quarantines it; cost skips it
        out[model] = cost.serving_usage(records)
    return out


def _storage(home, models: Sequence[str]) -> dict[str, int]:
    """Bytes per model (its models/, monitoring/ and prediction-log folders) and the rest."""
    from mlops_assets.serving.prediction_log import log_dir

    home_total = cost.folder_bytes(home)
    per_model = {
        m: sum(
            cost.folder_bytes(p)
            for p in (home / "models" / m, home / "monitoring" / m, log_dir(home) / m)
        )
        for m in models
    }
    return {**per_model, cost.PLATFORM: max(home_total - sum(per_model.values()), 0)}


def build_cost_report(specs: Sequence[ModelSpec]) -> dg.AssetsDefinition:
    models = [s.name for s in specs]
    budgets = {s.name: s.cost.monthly_budget for s in specs}
    start = min(s.partitions.start_date for s in specs)

    @dg.asset(
        key=KEY,
        group_name="operations",
        owners=["team:ml-platform"],
        kinds={"python"},
        # end_offset=1: today so far is a partition too (intra-day budget alerts)
        partitions_def=dg.DailyPartitionsDefinition(start_date=start.isoformat(), end_offset=1),
        backfill_policy=dg.BackfillPolicy.single_run(),
        description=(
            "What each day cost per model (and the shared platform), per run and per 1,000 "
            "predictions: run steps' CPU time (Dagster step stats), serving CPU (prediction "
            "log latency), storage; month-to-date vs each model's budget. Files: cost/<day>.json."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                "cost_budget",
                asset=KEY,
                description="Month-to-date cost vs the budget prorated to the day: over +10 % "
                "or +25 % warns, over +50 % fails (models with `cost.monthly_budget`).",
            )
        ],
    )
    def cost_report(context: dg.AssetExecutionContext, settings: Settings):
        prices = cost.Prices(settings.cpu_hour_price, settings.gb_month_price)
        home = settings.home_path
        storage = _storage(home, models)
        reports = []
        for key in context.partition_keys:
            day = dt.date.fromisoformat(key)
            steps, walls = _steps(context.instance, day, context.run.run_id)
            report = cost.day_cost(day, models, steps, _serving(home, models, day), storage, prices)
            for run_id, run in report.runs.items():
                run["wall_seconds"] = walls.get(run_id, 0.0)
            cost.apply_budgets(report, cost.read_days(home), budgets)
            cost.write_day(home, report)
            reports.append(report)
            context.add_asset_metadata(
                {
                    "total_cost": sum(c.total for c in report.models.values()),
                    "runs": len(report.runs),
                    **{f"cost_{m}": c.total for m, c in report.models.items()},
                    **{
                        f"budget_ratio_{m}": c.budget_ratio
                        for m, c in report.models.items()
                        if c.budget_ratio is not None
                    },
                    **{
                        f"cost_per_1k_predictions_{m}": c.per_1k_predictions
                        for m, c in report.models.items()
                        if c.per_1k_predictions is not None
                    },
                },
                partition_key=key,
            )
        newest = reports[-1]
        levels = {m: cost.budget_level(c.budget_ratio) for m, c in newest.models.items()}
        over = {
            m: f"{newest.models[m].budget_ratio:.0%} of budget ({level})"
            for m, level in levels.items()
            if level != "ok"
        }
        failed = any(level == "fail" for level in levels.values())
        yield dg.MaterializeResult(
            metadata={
                "day": newest.day,
                "per_model": dg.MetadataValue.md(_model_table(newest)),
                "per_run": dg.MetadataValue.md(_run_table(newest)),
                "monthly_trend": dg.MetadataValue.json(cost.monthly_trend(cost.read_days(home))),
                "prices": dg.MetadataValue.json(newest.prices),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name="cost_budget",
                    passed=not over,
                    severity=dg.AssetCheckSeverity.ERROR if failed else dg.AssetCheckSeverity.WARN,
                    description="; ".join(f"{m}: {t}" for m, t in over.items())
                    or f"{newest.day}: every budgeted model within +10 %",
                    metadata={
                        f"budget_ratio_{m}": c.budget_ratio
                        for m, c in newest.models.items()
                        if c.budget_ratio is not None
                    },
                )
            ],
        )

    return cost_report


def _model_table(report: cost.DayCost) -> str:
    lines = [
        "| model | batch CPU s | serving CPU s | predictions | per 1k | storage GB | day | "
        "month to date | budget | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in report.models.values():
        per_1k = "" if c.per_1k_predictions is None else f"{c.per_1k_predictions:.6f}"
        ratio = "" if c.budget_ratio is None else f"{c.budget_ratio:.0%}"
        lines.append(
            f"| {c.model} | {c.batch_cpu_seconds:.1f} | {c.serving_cpu_seconds:.2f} | "
            f"{c.predictions} | {per_1k} | {c.storage_gb:.4f} | {c.total:.6f} | "
            f"{c.month_to_date:.6f} | {c.monthly_budget or ''} | {ratio} |"
        )
    return "\n".join(lines)


def _run_table(report: cost.DayCost) -> str:
    lines = ["| run | steps | wall s | CPU s | cost |", "|---|---:|---:|---:|---:|"]
    for run_id, r in sorted(report.runs.items(), key=lambda kv: -kv[1]["cpu_seconds"])[:30]:
        lines.append(
            f"| {run_id[:8]} | {int(r['steps'])} | {r.get('wall_seconds', 0.0):.1f} | "
            f"{r['cpu_seconds']:.1f} | {r['cost']:.6f} |"
        )
    return "\n".join(lines)
