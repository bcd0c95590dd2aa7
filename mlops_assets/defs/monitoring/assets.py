"""Daily scoring with the champion's ONNX model, drift reports, delayed-label performance and
the retraining history.

Scoring reads the `churn_model` feature service point-in-time (as of the end of the scored
day) so a backfilled day sees the values it would have seen live; it serves ONNX only and runs
with MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false.
"""

import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from mlops_assets.core import monitoring, registry, training
from mlops_assets.core.ingest import landed_days
from mlops_assets.core.schemas import CATEGORICAL_FEATURES, FEATURE_COLUMNS
from mlops_assets.defs.training.evaluation import onnx_path_for
from mlops_assets.partitions import daily_partitions
from mlops_assets.resources.feature_store import FeatureStoreResource
from mlops_assets.resources.model_registry import ModelRegistry
from mlops_assets.resources.warehouse import WAREHOUSE_POOL, Warehouse
from mlops_assets.settings import LABEL_DELAY_DAYS, Settings

GROUP = "monitoring"
OWNERS = ["team:ml-platform"]
SCORES = dg.AssetKey("daily_scores")
DRIFT = dg.AssetKey("drift_report")
PERFORMANCE = dg.AssetKey("model_performance")
PREDICTIONS_TABLE = "monitoring.predictions"
NUMERIC = [f for f in FEATURE_COLUMNS if f not in CATEGORICAL_FEATURES]


@contextlib.contextmanager
def no_pickle_models() -> Iterator[None]:
    """Scoring never needs a pickled model: make MLflow refuse one while it runs."""
    before = os.environ.get("MLFLOW_ALLOW_PICKLE_DESERIALIZATION")
    os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", None)
        else:
            os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = before


def _days(context) -> list[dt.date]:
    return [dt.date.fromisoformat(k) for k in context.partition_keys]


@dg.asset(
    key=SCORES,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"onnx", "duckdb"},
    deps=[dg.AssetKey("churn_onnx"), dg.AssetKey("online_features")],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
)
def daily_scores(
    context: dg.AssetExecutionContext,
    settings: Settings,
    warehouse: Warehouse,
    feast: FeatureStoreResource,
    mlflow: ModelRegistry,
) -> dg.MaterializeResult:
    """Churn scores of the day's active customers by the champion (ONNX), with the model
    version and the inputs: the prediction log monitoring reads (`monitoring.predictions`)."""
    import pandas as pd

    from mlops_assets.core import feature_store
    from mlops_assets.core.onnx_runtime import load_onnx_session

    version = mlflow.alias_version(registry.CHAMPION)
    if version is None:
        raise dg.Failure("no champion model: materialize the training and export assets first")
    store = feast.store()
    days = _days(context)
    with no_pickle_models():
        scorer = load_onnx_session(
            onnx_path_for(mlflow, version, settings), allowed_root=settings.home_path
        )
        with warehouse.connect() as con:
            # one point-in-time read and one batch for the whole range: a backfill of 90 days
            # costs one feature join, not 90
            active = con.execute(
                "SELECT customer_id, feature_date FROM main.customer_activity_features "
                f"WHERE feature_date BETWEEN ? AND ? AND {monitoring.ACTIVE_SQL} "
                "ORDER BY feature_date, customer_id",
                [days[0], days[-1]],
            ).df()
            missing = sorted(set(days) - set(pd.to_datetime(active["feature_date"]).dt.date))
            if missing:
                raise dg.Failure(f"no feature rows for {missing[:5]}: are these days ingested?")
            events = pd.DataFrame(
                {
                    "customer_id": active["customer_id"],
                    "event_timestamp": pd.to_datetime(active["feature_date"]).dt.tz_localize("UTC")
                    + pd.Timedelta(days=1),
                }
            )
            features = feature_store.training_set(store, events)
            scores = scorer.predict_proba(training.feature_matrix(features))
            frame = features[["customer_id", *FEATURE_COLUMNS]].assign(
                score_date=pd.to_datetime(active["feature_date"]).dt.date.to_numpy(),
                score=scores.astype("float64"),
                model_version=version,
            )
            _replace_days(con, frame, days[0], days[-1])
    per_day = frame.groupby("score_date")["score"].agg(["size", "mean"])
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            "model_version": version,
            "days": len(days),
            "mean_score": float(frame["score"].mean()),
            "per_day": dg.MetadataValue.md(
                "| day | customers | mean score |\n|---|---:|---:|\n"
                + "\n".join(
                    f"| {d} | {int(r['size'])} | {r['mean']:.4f} |"
                    for d, r in per_day.tail(31).iterrows()
                )
            ),
        }
    )


def _replace_days(con, frame, first: dt.date, last: dt.date) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS monitoring")  # a fresh warehouse has none
    con.register("_scores", frame)
    cols = "customer_id, score_date, score, model_version, " + ", ".join(FEATURE_COLUMNS)
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {PREDICTIONS_TABLE} AS SELECT {cols} FROM _scores LIMIT 0"
    )
    con.execute("BEGIN TRANSACTION")
    con.execute(f"DELETE FROM {PREDICTIONS_TABLE} WHERE score_date BETWEEN ? AND ?", [first, last])
    con.execute(f"INSERT INTO {PREDICTIONS_TABLE} SELECT {cols} FROM _scores")
    con.execute("COMMIT")
    con.unregister("_scores")


def _thresholds(settings: Settings):
    from mlops_assets.core import drift

    return drift.DriftThresholds(
        psi_warn=settings.psi_warn,
        psi_fail=settings.psi_fail,
        missing_rate_ratio=settings.missing_rate_ratio,
    )


@dg.asset(
    key=DRIFT,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "evidently"},
    deps=[SCORES],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            "feature_drift",
            asset=DRIFT,
            description="PSI per feature vs the champion's training window: above psi_warn "
            "warns, above psi_fail fails.",
        ),
        dg.AssetCheckSpec(
            "missing_rate_drift",
            asset=DRIFT,
            description="Missing rate per feature stays under ratio × the training baseline.",
        ),
    ],
)
def drift_report(
    context: dg.AssetExecutionContext,
    settings: Settings,
    warehouse: Warehouse,
    mlflow: ModelRegistry,
) -> dg.MaterializeResult:
    """Drift of each day's scored population vs the champion's training window: PSI, KS,
    chi², missing rate and score drift per feature (our numbers gate), plus an Evidently HTML
    report on a bounded sample for people (for the newest day of a backfill range)."""
    from mlops_assets.core import drift
    from mlops_assets.core.drift_report import render_evidently_report
    from mlops_assets.defs.export.reference import load_reference

    days = _days(context)
    landed = landed_days(settings.landing_dir)
    first_day = landed[0] if landed else days[0]
    thresholds = _thresholds(settings)
    references: dict[str, object] = {}
    per_day: list[tuple[dt.date, object, float]] = []
    with warehouse.connect(read_only=True) as con:
        for day in days:
            current = con.execute(
                f"SELECT * FROM {PREDICTIONS_TABLE} WHERE score_date = ?", [day]
            ).df()
            if current.empty:
                raise dg.Failure(f"no scores for {day}: materialize daily_scores first")
            version = str(current["model_version"].iloc[0])
            if version not in references:
                references[version] = load_reference(mlflow, version, settings)
            ref = references[version]
            result = drift.compare(ref.profile, current, thresholds)
            score = drift.compare_scores(ref.score_profile, current["score"], thresholds)
            score_psi = float(score.table["psi"].iloc[0])
            drifted, share, judged = monitoring.judged_drift(result.table, day, first_day)
            monitoring.write_summary(
                settings.monitoring_days_dir,
                monitoring.DaySummary(
                    day=day.isoformat(),
                    model_version=version,
                    drifted_features=drifted,
                    drift_share=share,
                    auc_pr=_existing_auc_pr(settings, day),
                    warming_up=monitoring.warming_up(day, first_day),
                ),
            )
            per_day.append((day, result, score_psi, drifted, share, judged))
    day, result, score_psi, drifted, share, _ = per_day[-1]
    judged_days = [p for p in per_day if not monitoring.warming_up(p[0], first_day)]
    report_dir = settings.home_path / "reports" / "drift"
    report_dir.mkdir(parents=True, exist_ok=True)
    html = render_evidently_report(
        ref.sample,
        current,
        list(ref.profile.numeric_features),
        list(ref.profile.categorical_features),
        report_dir / f"{day}.html",
    )
    table = result.table
    failing = {p[0].isoformat(): p[3] for p in judged_days if p[3]}
    worst = table.sort_values("psi", ascending=False).iloc[0]
    statuses = [
        r.table.loc[r.table["feature"].isin(judged), "status"]
        for _, r, _, _, _, judged in judged_days
    ]
    n_fail = sum(int((s == "fail").sum()) for s in statuses)
    n_warn = sum(int((s == "warn").sum()) for s in statuses)
    missing = [
        f"{d}: {f}"
        for d, r, _, _, _, judged in judged_days
        for f, reason in zip(r.table["feature"], r.table["reason"].fillna(""), strict=True)
        if "missing" in reason and f in judged
    ]
    context.log.info(f"{day}: drifted {drifted or 'none'}")
    return dg.MaterializeResult(
        metadata={
            "day": day.isoformat(),
            "days": len(per_day),
            "model_version": version,
            "drift_share": share,
            "n_drifted_features": len(drifted),
            "drifted_features": dg.MetadataValue.json(drifted),
            "warming_up_days": len(per_day) - len(judged_days),
            "days_with_drift": dg.MetadataValue.json(failing),
            "score_psi": score_psi,
            "excluded_features": dg.MetadataValue.json(ref.excluded),
            "features": dg.MetadataValue.md(_markdown(table)),
            "evidently_report": dg.MetadataValue.path(str(html)),
            "dagster/uri": dg.MetadataValue.url(Path(html).resolve().as_uri()),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="feature_drift",
                passed=n_fail == 0 and n_warn == 0,
                severity=dg.AssetCheckSeverity.ERROR if n_fail else dg.AssetCheckSeverity.WARN,
                description=f"{n_fail} failing and {n_warn} warning feature-days over "
                f"{len(judged_days)} judged day(s); newest day's worst: {worst['feature']} "
                f"psi {worst['psi']:.3f}",
                metadata={"max_psi_newest_day": float(worst["psi"]), "days": len(per_day)},
            ),
            dg.AssetCheckResult(
                check_name="missing_rate_drift",
                passed=not missing,
                description="; ".join(missing[:10]) or "all within limits",
            ),
        ],
    )


def _markdown(table) -> str:
    lines = [
        "| feature | psi | ks p | missing ref → cur | status | reason |",
        "|---|---:|---:|---|---|---|",
    ]
    for r in table.to_dict(orient="records"):
        ks = r.get("ks_pvalue")
        ks_text = "" if ks is None or ks != ks else f"{ks:.3g}"
        lines.append(
            f"| {r['feature']} | {r['psi']:.3f} | {ks_text} "
            f"| {r['missing_rate_reference']:.2%} → {r['missing_rate_current']:.2%} "
            f"| {r['status']} | {r.get('reason') or ''} |"
        )
    return "\n".join(lines)


def _existing_auc_pr(settings: Settings, day: dt.date) -> float | None:
    path = settings.monitoring_days_dir / f"{day}.json"
    return monitoring.DaySummary.from_json(path.read_text()).auc_pr if path.exists() else None


@dg.asset(
    key=PERFORMANCE,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "duckdb"},
    deps=[SCORES, dg.AssetKey("churn_labels")],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            "performance_floor",
            asset=PERFORMANCE,
            description="AUC-PR of the day's scores, once its labels arrived, stays ≥ floor.",
        )
    ],
)
def model_performance(
    context: dg.AssetExecutionContext, settings: Settings, warehouse: Warehouse
) -> dg.MaterializeResult:
    """How good each day's scores were, measured once its labels arrived (label delay days
    later): AUC-PR, ROC-AUC and calibration of the logged predictions."""
    floor = settings.performance_auc_pr_floor
    landed = landed_days(settings.landing_dir)
    results: list[tuple[dt.date, dict[str, float]]] = []
    with warehouse.connect(read_only=True) as con:
        for day in _days(context):
            joined = con.execute(
                f"""
                SELECT p.score, l.churned AS label, p.model_version
                FROM {PREDICTIONS_TABLE} AS p
                JOIN main.churn_labels AS l
                  ON l.customer_id = p.customer_id AND l.observation_date = p.score_date
                WHERE p.score_date = ?
                """,
                [day],
            ).df()
            if joined.empty:
                arrive = day + dt.timedelta(days=LABEL_DELAY_DAYS)
                raise dg.Failure(
                    f"labels for {day} have not arrived (they land {LABEL_DELAY_DAYS} days "
                    f"later, on {arrive}) or the day was not scored"
                )
            metrics = training.metrics_from_predictions(
                joined["label"].to_numpy(), joined["score"].to_numpy()
            )
            _record_auc_pr(settings, day, str(joined["model_version"].iloc[0]), metrics["auc_pr"])
            results.append((day, metrics))
    day, metrics = results[-1]
    below = {
        d.isoformat(): round(m["auc_pr"], 4)
        for d, m in results
        if m["auc_pr"] < floor and not (landed and monitoring.warming_up(d, landed[0]))
    }
    return dg.MaterializeResult(
        metadata={
            **{k: float(v) for k, v in metrics.items()},
            "day": day.isoformat(),
            "days": len(results),
            "auc_pr_by_day": dg.MetadataValue.json(
                {d.isoformat(): round(m["auc_pr"], 4) for d, m in results[-60:]}
            ),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="performance_floor",
                passed=not below,
                description=f"{len(below)} of {len(results)} day(s) below AUC-PR {floor} "
                "(warm-up days not judged); "
                f"newest {day}: {metrics['auc_pr']:.3f}",
                metadata={
                    "auc_pr": float(metrics["auc_pr"]),
                    "floor": floor,
                    "days_below": dg.MetadataValue.json(below),
                },
            )
        ],
    )


def _record_auc_pr(settings: Settings, day: dt.date, version: str, auc_pr: float) -> None:
    path = settings.monitoring_days_dir / f"{day}.json"
    if path.exists():
        previous = monitoring.DaySummary.from_json(path.read_text())
        summary = monitoring.DaySummary(**{**previous.__dict__, "auc_pr": auc_pr})
    else:
        summary = monitoring.DaySummary(day=day.isoformat(), model_version=version, auc_pr=auc_pr)
    monitoring.write_summary(settings.monitoring_days_dir, summary)


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"mlflow", "parquet"},
    deps=[dg.AssetKey("churn_onnx")],
)
def retraining_history(settings: Settings, mlflow: ModelRegistry) -> dg.MaterializeResult:
    """Every model version: what triggered it, on which data, the gate's verdict and whether
    it became champion — from the registry's version tags, as a table in the data home."""
    import pandas as pd

    champion = mlflow.alias_version(registry.CHAMPION)
    rows = [
        {
            "version": v["version"],
            "created": pd.Timestamp(v["created"], unit="ms", tz="UTC"),
            "trigger": v["tags"].get("trigger", ""),
            "training_window": v["tags"].get("training_window", ""),
            "training_set_fingerprint": v["tags"].get("training_set_fingerprint", "")[:12],
            "model_kind": v["tags"].get("model_kind", ""),
            "gate_passed": v["tags"].get("gate_passed", "not evaluated"),
            "gate_reasons": v["tags"].get("gate_reasons", ""),
            "promoted": "champion_since" in v["tags"],
            "is_champion": v["version"] == champion,
        }
        for v in registry.versions(mlflow.tracking_uri, mlflow.model_name)
    ]
    frame = pd.DataFrame(rows)
    path = settings.home_path / "monitoring" / "retraining_history.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            "path": dg.MetadataValue.path(str(path)),
            "history": dg.MetadataValue.md(
                frame.drop(columns=["gate_reasons"]).to_markdown(index=False)
                if not frame.empty
                else "no versions yet"
            ),
        }
    )


monitoring_assets = [daily_scores, drift_report, model_performance, retraining_history]
