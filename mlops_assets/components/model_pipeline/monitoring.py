"""The model's monitoring layer: daily scores (ONNX), drift report, delayed-label performance
and the retraining history.

Scoring reads the champion's feature service point-in-time (as of the end of the scored day),
so a backfilled day sees the values it would have seen live, and serves ONNX only: nothing on
this path can unpickle a model. The day summaries the sensors read go to the model's
`SummaryStore`: the drift report and the performance check each own their fields.
"""

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from mlops_assets.components.landing_dataset import DatasetSpec
from mlops_assets.components.model_pipeline import common
from mlops_assets.components.model_pipeline.spec import ModelSpec
from mlops_assets.components.model_pipeline.training import version_inputs
from mlops_assets.core import monitoring, registry, training
from mlops_assets.resources.feature_store import FeatureStoreResource
from mlops_assets.resources.model_registry import ModelRegistry
from mlops_assets.resources.warehouse import WAREHOUSE_POOL, Warehouse
from mlops_assets.serving.batch_scores import export_latest_scores
from mlops_assets.settings import Settings


def _days(context: dg.AssetExecutionContext) -> list[dt.date]:
    return [dt.date.fromisoformat(k) for k in context.partition_keys]


def summary_store(settings: Settings, spec: ModelSpec) -> monitoring.SummaryStore:
    return monitoring.SummaryStore(common.monitoring_dir(settings.home_path, spec) / "days")


def daily_partitions(spec: ModelSpec) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=spec.partitions.start_date.isoformat())


def population_features(con, store, spec: ModelSpec, inputs, days: list[dt.date]):
    """The scored population of `days` (the model's `population:` rule on its mart) with the
    inputs' features as of the end of each day, point-in-time: one feature read for the whole
    range, not one per day. Columns: the join key, `score_date` and the features. The batch
    scores and the serving replay read the same rows."""
    import pandas as pd

    from mlops_assets.core import feature_store

    q = common.quote
    join_key = spec.entity.join_key
    population = con.execute(
        f"SELECT {q(join_key)}, {q(spec.features.date_column)} AS score_date "
        f"FROM main.{q(spec.features.mart)} "
        f"WHERE {q(spec.features.date_column)} BETWEEN ? AND ? AND ({spec.population.sql}) "
        f"ORDER BY score_date, {q(join_key)}",
        [days[0], days[-1]],
    ).df()
    missing = sorted(set(days) - set(pd.to_datetime(population["score_date"]).dt.date))
    if missing:
        raise ValueError(f"no feature rows for {missing[:5]}: are these days ingested?")
    score_dates = pd.to_datetime(population["score_date"])
    events = pd.DataFrame(
        {
            join_key: population[join_key],
            "event_timestamp": score_dates.dt.tz_localize("UTC") + pd.Timedelta(days=1),
        }
    )
    frame = feature_store.training_set(store, events, inputs.feature_service)
    absent = [f for f in inputs.features if f not in frame.columns]
    if absent:
        raise ValueError(
            f"needs {absent}, which service {inputs.feature_service!r} no longer yields"
        )
    return frame.assign(score_date=score_dates.dt.date.to_numpy())


def build_daily_scores(
    spec: ModelSpec, dataset: DatasetSpec, partitions: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    keys = spec.keys
    join_key, mart = spec.entity.join_key, spec.features.mart
    table = common.predictions_table(spec)
    population = spec.population.description or spec.population.sql

    @dg.asset(
        key=keys.daily_scores,
        group_name=keys.group("monitoring"),
        owners=spec.owners,
        kinds={"onnx", "duckdb"},
        tags=common.tags(spec, common.SCORING),
        deps=[keys.onnx, dataset.keys.online_features, dg.AssetKey(mart)],
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
        description=(
            f"`{spec.name}` scores of the day's population ({population}) by the champion "
            "(ONNX), with the model version and the inputs: the prediction log monitoring "
            f"reads (`{table}`)."
        ),
    )
    def daily_scores(
        context: dg.AssetExecutionContext,
        settings: Settings,
        warehouse: Warehouse,
        feast: FeatureStoreResource,
        mlflow: ModelRegistry,
    ) -> dg.MaterializeResult:
        from mlops_assets.core import evaluation
        from mlops_assets.core.onnx_runtime import load_onnx_session

        handle = mlflow.model(spec.name)
        version = handle.alias_version(registry.CHAMPION)
        if version is None:
            raise dg.Failure("no champion model: materialize the training and export assets first")
        inputs = version_inputs(handle.version_info(version))
        features = list(inputs.features)
        days = _days(context)
        scorer = load_onnx_session(
            evaluation.published_onnx_path(
                mlflow.tracking_uri, settings.home_path, spec.name, version
            ),
            allowed_root=settings.home_path,
        )
        store = feast.store()
        with warehouse.connect() as con:
            try:
                frame = population_features(con, store, spec, inputs, days)
            except ValueError as err:
                raise dg.Failure(f"v{version}: {err}") from err
            scores = scorer.predict_proba(training.feature_matrix(frame, features))
            frame = frame[[join_key, *features, "score_date"]].assign(
                score=scores.astype("float64"), model_version=version
            )
            _replace_days(con, table, frame, [join_key, *features], days[0], days[-1])
            export_latest_scores(con, table, join_key, settings.home_path, spec.name)
        per_day = frame.groupby("score_date")["score"].agg(["size", "mean"])
        for d, r in per_day.iterrows():
            context.add_asset_metadata(
                {"rows_scored": int(r["size"]), "mean_score": float(r["mean"])},
                partition_key=d.isoformat(),
            )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": len(frame),
                "model_version": version,
                "days": len(days),
                "table": table,
                "mean_score": float(frame["score"].mean()),
                "per_day": dg.MetadataValue.md(
                    "| day | scored | mean score |\n|---|---:|---:|\n"
                    + "\n".join(
                        f"| {d} | {int(r['size'])} | {r['mean']:.4f} |"
                        for d, r in per_day.tail(31).iterrows()
                    )
                ),
            }
        )

    return daily_scores


def _replace_days(con, table: str, frame, columns: list[str], first, last) -> None:
    """The range's rows replaced in one transaction (idempotent re-runs)."""
    schema = table.split(".")[0]
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")  # a fresh warehouse has none
    con.register("_scores", frame)
    cols = ", ".join(common.quote(c) for c in ["score_date", "score", "model_version", *columns])
    try:
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT {cols} FROM _scores LIMIT 0")
        con.execute("BEGIN TRANSACTION")
        con.execute(f"DELETE FROM {table} WHERE score_date BETWEEN ? AND ?", [first, last])
        con.execute(f"INSERT INTO {table} BY NAME SELECT {cols} FROM _scores")
        con.execute("COMMIT")
    finally:
        con.unregister("_scores")


@dataclass(frozen=True)
class DayDrift:
    """One scored day judged against its model version's reference."""

    day: dt.date
    model_version: str
    result: Any  # core.drift.DriftResult of the features
    score_psi: float
    drifted: list[str]  # judged features that drifted
    drift_share: float
    judged: list[str]  # features whose look-back window was complete on `day`
    warming_up: bool
    outputs: dict[str, Any]  # check name -> core.output_monitoring.Verdict
    numbers: dict[str, float]  # the day's output-monitoring numbers (summary, plots)

    def status_counts(self) -> tuple[int, int]:
        statuses = self.result.table.loc[self.result.table["feature"].isin(self.judged), "status"]
        return int((statuses == "fail").sum()), int((statuses == "warn").sum())

    def missing_rate_failures(self) -> list[str]:
        table = self.result.table
        return [
            f"{self.day}: {f}"
            for f, reason in zip(table["feature"], table["reason"].fillna(""), strict=True)
            if "missing" in reason and f in self.judged
        ]


def build_drift_report(
    spec: ModelSpec, dataset: DatasetSpec, partitions: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    keys = spec.keys
    key = keys.drift_report
    cfg = spec.drift
    table = common.predictions_table(spec)

    @dg.asset(
        key=key,
        group_name=keys.group("monitoring"),
        owners=spec.owners,
        kinds={"python", "evidently"},
        tags=common.tags(spec, common.SCORING),
        deps=[keys.daily_scores],
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
        description=(
            f"Drift of each day's scored `{spec.name}` population vs the champion's training "
            "window: PSI, KS, chi², missing rate and score drift per input (our numbers gate), "
            "plus an Evidently HTML report on a bounded sample (newest day of a range)."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                "feature_drift",
                asset=key,
                description=f"PSI per input vs the champion's training window: above "
                f"{cfg.psi_warn} warns, above {cfg.psi_fail} fails.",
            ),
            dg.AssetCheckSpec(
                "missing_rate_drift",
                asset=key,
                description=f"Missing rate per input stays under {cfg.missing_rate_ratio}× "
                "the training baseline.",
            ),
            *_output_check_specs(key, spec),
        ],
    )
    def drift_report(
        context: dg.AssetExecutionContext,
        settings: Settings,
        warehouse: Warehouse,
        mlflow: ModelRegistry,
    ) -> dg.MaterializeResult:
        from mlops_assets.core import drift, drift_reference, output_monitoring
        from mlops_assets.core.drift_report import render_evidently_report

        handle = mlflow.model(spec.name)
        thresholds = drift.DriftThresholds(
            psi_warn=cfg.psi_warn, psi_fail=cfg.psi_fail, missing_rate_ratio=cfg.missing_rate_ratio
        )
        days = _days(context)
        landed = dataset.landed_days(settings.landing_dir)
        first_day = landed[0] if landed else days[0]
        store = summary_store(settings, spec)
        limits = spec.outputs.thresholds()
        references: dict[str, tuple[Any, dict[str, int]]] = {}
        ranges: dict[str, dict[str, tuple[float, float]]] = {}
        judged_days: list[DayDrift] = []
        current = None
        with warehouse.connect(read_only=True) as con:
            for day in days:
                current = con.execute(f"SELECT * FROM {table} WHERE score_date = ?", [day]).df()
                if current.empty:
                    raise dg.Failure(f"no scores for {day}: materialize daily_scores first")
                version = str(current["model_version"].iloc[0])
                if version not in references:
                    windows = dict(version_inputs(handle.version_info(version)).windows)
                    ref = drift_reference.load_reference(
                        mlflow.tracking_uri, settings.home_path, spec.name, version
                    )
                    references[version] = (ref, windows)
                ref, windows = references[version]
                if version not in ranges:
                    ranges[version] = output_monitoring.training_ranges(
                        {f: p.ks_sample for f, p in ref.profile.numeric.items()},
                        limits.range_sigmas,
                    )
                result = drift.compare(ref.profile, current, thresholds)
                score = drift.compare_scores(ref.score_profile, current["score"], thresholds)
                drifted, share, judged = monitoring.judged_drift(
                    result.table, day, first_day, windows
                )
                warming = monitoring.warming_up(day, first_day, cfg.warm_up_days)
                score_psi = float(score.table["psi"].iloc[0])
                week_before = con.execute(
                    f"SELECT count(*) FROM {table} WHERE score_date = ?",
                    [day - dt.timedelta(days=7)],
                ).fetchone()[0]
                outputs, numbers = _judge_outputs(
                    ref,
                    {f: r for f, r in ranges[version].items() if f in judged},
                    current,
                    score_psi,
                    int(week_before),
                    limits,
                )
                store.write(
                    day,
                    monitoring.DRIFT_OWNER,
                    model_version=version,
                    drifted_features=drifted,
                    drift_share=share,
                    warming_up=warming,
                    feature_psi=_judged_psi(result.table, judged),
                    score_psi=score_psi,
                    **numbers,
                )
                context.add_asset_metadata(
                    {
                        "drift_share": share,
                        "n_drifted_features": len(drifted),
                        "score_psi": score_psi,
                        **numbers,
                    },
                    partition_key=day.isoformat(),
                )
                judged_days.append(
                    DayDrift(
                        day=day,
                        model_version=version,
                        result=result,
                        score_psi=score_psi,
                        drifted=drifted,
                        drift_share=share,
                        judged=judged,
                        warming_up=warming,
                        outputs=outputs,
                        numbers=numbers,
                    )
                )
        newest = judged_days[-1]
        ref, _ = references[newest.model_version]
        counted = [d for d in judged_days if not d.warming_up]
        report_dir = settings.home_path / "reports" / "drift" / spec.name
        report_dir.mkdir(parents=True, exist_ok=True)
        html = render_evidently_report(
            ref.sample,
            current,
            list(ref.profile.numeric_features),
            list(ref.profile.categorical_features),
            report_dir / f"{newest.day}.html",
        )
        features_table = newest.result.table
        worst = features_table.sort_values("psi", ascending=False).iloc[0]
        counts = [d.status_counts() for d in counted]
        n_fail = sum(f for f, _ in counts)
        n_warn = sum(w for _, w in counts)
        missing = [m for d in counted for m in d.missing_rate_failures()]
        failing = {d.day.isoformat(): d.drifted for d in counted if d.drifted}
        context.log.info(f"{newest.day}: drifted {newest.drifted or 'none'}")
        return dg.MaterializeResult(
            metadata={
                "day": newest.day.isoformat(),
                "days": len(judged_days),
                "model_version": newest.model_version,
                "drift_share": newest.drift_share,
                "n_drifted_features": len(newest.drifted),
                "drifted_features": dg.MetadataValue.json(newest.drifted),
                "warming_up_days": len(judged_days) - len(counted),
                "days_with_drift": dg.MetadataValue.json(failing),
                "score_psi": newest.score_psi,
                "excluded_features": dg.MetadataValue.json(ref.excluded),
                "features": dg.MetadataValue.md(_markdown(features_table)),
                "evidently_report": dg.MetadataValue.path(str(html)),
                "dagster/uri": dg.MetadataValue.url(Path(html).resolve().as_uri()),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name="feature_drift",
                    passed=n_fail == 0 and n_warn == 0,
                    severity=dg.AssetCheckSeverity.ERROR if n_fail else dg.AssetCheckSeverity.WARN,
                    description=f"{n_fail} failing and {n_warn} warning feature-days over "
                    f"{len(counted)} judged day(s); newest day's worst: {worst['feature']} "
                    f"psi {worst['psi']:.3f}",
                    metadata={"max_psi_newest_day": float(worst["psi"]), "days": len(judged_days)},
                ),
                dg.AssetCheckResult(
                    check_name="missing_rate_drift",
                    passed=not missing,
                    description="; ".join(missing[:10]) or "all within limits",
                ),
                *_output_check_results(key, counted, len(judged_days)),
            ],
        )

    return drift_report


# the output checks on the drift report: (name, severity of a failure, description)
OUTPUT_CHECKS = (
    ("score_distribution", dg.AssetCheckSeverity.ERROR, "Score distribution vs the reference"),
    ("bucket_shares", dg.AssetCheckSeverity.WARN, "Share of scores per bucket vs the reference"),
    ("scoring_volume", dg.AssetCheckSeverity.WARN, "Rows scored vs the same weekday last week"),
    ("value_range", dg.AssetCheckSeverity.ERROR, "Inputs outside the training range ± kσ"),
)


def _output_check_specs(key: dg.AssetKey, spec: ModelSpec) -> list[dg.AssetCheckSpec]:
    o = spec.outputs
    limits = {
        "score_distribution": f"KL ≤ {o.kl_max} and PSI ≤ {o.psi_max}",
        "bucket_shares": f"buckets cut at {o.bucket_edges}: each share within "
        f"±{o.bucket_deviation_max:.0%} of the reference's",
        "scoring_volume": f"within {o.volume_min_ratio:.0%}–{o.volume_max_ratio:.0%}",
        "value_range": f"± {o.range_sigmas:g}σ; at most {o.out_of_range_max_share:.1%} of a "
        "numeric input's values outside",
    }
    return [
        dg.AssetCheckSpec(name, asset=key, description=f"{text} (each judged day): {limits[name]}.")
        for name, _, text in OUTPUT_CHECKS
    ]


def _judge_outputs(ref, ranges, current, score_psi: float, week_before: int, limits):
    """The day's output verdicts (by check name) and numbers."""
    from mlops_assets.core import output_monitoring as om

    score_ref = next(iter(ref.score_profile.numeric.values()))
    scores = current["score"].to_numpy(dtype="float64")
    distribution, kl = om.score_distribution(
        score_ref.counts, score_ref.edges, scores, score_psi, limits
    )
    buckets, _ = om.bucket_shares(score_ref.ks_sample, scores, limits)
    volume = om.scoring_volume(len(current), week_before, limits)
    value_range, _ = om.out_of_range(
        ranges,
        {f: current[f].to_numpy(dtype="float64", na_value=float("nan")) for f in ranges},
        limits,
    )
    outputs = {
        "score_distribution": distribution,
        "bucket_shares": buckets,
        "scoring_volume": volume,
        "value_range": value_range,
    }
    numbers = om.metadata_numbers(
        {
            "score_kl": kl,
            "bucket_deviation": buckets.value,
            "rows_scored": len(current),
            "volume_ratio": volume.value,
            "out_of_range_share": value_range.value,
        }
    )
    return outputs, numbers


def _output_check_results(key: dg.AssetKey, counted: list[DayDrift], n_days: int):
    """One result per output check over the judged (not warming-up) days of the run."""
    results = []
    for name, severity, _ in OUTPUT_CHECKS:
        failing = [
            f"{d.day}: {d.outputs[name].description}" for d in counted if not d.outputs[name].passed
        ]
        newest = counted[-1].outputs[name].description if counted else "no judged day (warm-up)"
        results.append(
            dg.AssetCheckResult(
                asset_key=key,
                check_name=name,
                passed=not failing,
                severity=severity,
                description=(
                    f"{len(failing)} of {len(counted)} judged day(s) failed: "
                    + "; ".join(failing[:5])
                    if failing
                    else f"{len(counted)} judged day(s) of {n_days} within limits; newest: {newest}"
                ),
                metadata={"days_failed": len(failing), "days_judged": len(counted)},
            )
        )
    return results


def _judged_psi(table, judged: list[str]) -> dict[str, float]:
    """PSI of each judged input (NaN-free, for the platform metrics)."""
    rows = table[table["feature"].isin(judged)]
    return {str(f): float(p) for f, p in zip(rows["feature"], rows["psi"], strict=True) if p == p}


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


def build_model_performance(
    spec: ModelSpec, dataset: DatasetSpec, partitions: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    keys = spec.keys
    key = keys.model_performance
    labels = spec.labels
    floor = spec.performance.auc_pr_floor
    q = common.quote
    table = common.predictions_table(spec)

    @dg.asset(
        key=key,
        group_name=keys.group("monitoring"),
        owners=spec.owners,
        kinds={"python", "duckdb"},
        tags=common.tags(spec, common.PERFORMANCE),
        metadata={common.LABEL_DELAY_METADATA: labels.delay_days},
        deps=[keys.daily_scores, dg.AssetKey(labels.dbt_model)],
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
        description=(
            f"How good each day's `{spec.name}` scores were, measured once its labels arrived "
            f"({labels.delay_days} days later, `{labels.dbt_model}`): AUC-PR, ROC-AUC and "
            "calibration of the logged predictions."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                "performance_floor",
                asset=key,
                description=f"AUC-PR of the day's scores, once its labels arrived, stays ≥ "
                f"{floor}.",
            ),
            dg.AssetCheckSpec(
                "top_decile",
                asset=key,
                description=f"Precision ≥ {spec.outputs.precision_floor} and recall ≥ "
                f"{spec.outputs.recall_floor} in the top {spec.outputs.top_fraction:.0%} of "
                "each labelled day's scores (warm-up days not judged).",
            ),
        ],
    )
    def model_performance(
        context: dg.AssetExecutionContext, settings: Settings, warehouse: Warehouse
    ) -> dg.MaterializeResult:
        from mlops_assets.core import output_monitoring

        landed = dataset.landed_days(settings.landing_dir)
        store = summary_store(settings, spec)
        limits = spec.outputs.thresholds()
        results: list[tuple[dt.date, dict[str, float]]] = []
        top_failing: list[str] = []
        with warehouse.connect(read_only=True) as con:
            for day in _days(context):
                joined = con.execute(
                    f"""
                    SELECT p.score, l.{q(labels.column)} AS label, p.model_version
                    FROM {table} AS p
                    JOIN main.{q(labels.dbt_model)} AS l
                      ON l.{q(spec.entity.join_key)} = p.{q(spec.entity.join_key)}
                     AND l.{q(labels.date_column)} = p.score_date
                    WHERE p.score_date = ?
                    """,
                    [day],
                ).df()
                if joined.empty:
                    arrive = day + dt.timedelta(days=labels.delay_days)
                    raise dg.Failure(
                        f"labels for {day} have not arrived (they land {labels.delay_days} days "
                        f"later, on {arrive}) or the day was not scored"
                    )
                metrics = training.metrics_from_predictions(
                    joined["label"].to_numpy(), joined["score"].to_numpy()
                )
                precision, recall = output_monitoring.top_fraction(
                    joined["label"].to_numpy(), joined["score"].to_numpy(), limits.top_fraction
                )
                top = output_monitoring.top_decile(
                    joined["label"].to_numpy(), joined["score"].to_numpy(), limits
                )
                warming = bool(
                    landed and monitoring.warming_up(day, landed[0], spec.drift.warm_up_days)
                )
                if not top.passed and not warming:
                    top_failing.append(f"{day}: {top.description}")
                context.add_asset_metadata(
                    {
                        **{k: float(v) for k, v in metrics.items()},
                        "precision_top": precision,
                        "recall_top": recall,
                        "labelled_rows": len(joined),
                    },
                    partition_key=day.isoformat(),
                )
                store.write(
                    day,
                    monitoring.PERFORMANCE_OWNER,
                    model_version=str(joined["model_version"].iloc[0]),
                    auc_pr=metrics["auc_pr"],
                    roc_auc=metrics["roc_auc"],
                    ece=metrics["ece"],
                    precision_top=precision,
                    recall_top=recall,
                    warming_up=warming,
                )
                results.append((day, metrics))
        day, metrics = results[-1]
        below = {
            d.isoformat(): round(m["auc_pr"], 4)
            for d, m in results
            if m["auc_pr"] < floor
            and not (landed and monitoring.warming_up(d, landed[0], spec.drift.warm_up_days))
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
                    check_name="top_decile",
                    passed=not top_failing,
                    description=(
                        f"{len(top_failing)} of {len(results)} day(s) under the floors: "
                        + "; ".join(top_failing[:5])
                        if top_failing
                        else f"{len(results)} day(s) within the floors; newest {top.description}"
                    ),
                ),
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
                ),
            ],
        )

    return model_performance


def build_retraining_history(spec: ModelSpec) -> dg.AssetsDefinition:
    keys = spec.keys

    @dg.asset(
        key=keys.retraining_history,
        group_name=keys.group("monitoring"),
        owners=spec.owners,
        kinds={"mlflow", "parquet"},
        tags=common.tags(spec, common.HISTORY),
        # after the candidates, not after the gate: a failed gate (a blocking check on the
        # challenger) must not keep the history from recording that very attempt. Lowest
        # priority: in a retraining run it runs last, after the promotion and the export.
        deps=[keys.candidate(c.kind) for c in spec.candidates],
        op_tags={"dagster/priority": "-10"},
        description=(
            f"Every `{spec.name}` version: what triggered it (episode, attempt, evidence day), "
            "on which data (training and held-out windows, window choice), the gate's verdict "
            "and whether it became champion — from the registry's version tags, as a table."
        ),
    )
    def retraining_history(settings: Settings, mlflow: ModelRegistry) -> dg.MaterializeResult:
        import pandas as pd

        champion = mlflow.model(spec.name).alias_version(registry.CHAMPION)
        rows = [
            {
                "version": v["version"],
                "created": pd.Timestamp(v["created"], unit="ms", tz="UTC"),
                "trigger": v["tags"].get("trigger", ""),
                "trigger_day": v["tags"].get("trigger_day", ""),
                "episode": v["tags"].get("episode", ""),
                "attempt": v["tags"].get("attempt", ""),
                "training_window": v["tags"].get("training_window", ""),
                "test_window": v["tags"].get("test_window", ""),
                "window_choice": v["tags"].get("training_window_choice", ""),
                "training_set_fingerprint": v["tags"].get("training_set_fingerprint", "")[:12],
                "model_kind": v["tags"].get("model_kind", ""),
                "gate_passed": v["tags"].get("gate_passed", "not evaluated"),
                "gate_verdict": v["tags"].get("gate_verdict", "not evaluated"),
                "gate_evidence": v["tags"].get("gate_evidence", ""),
                "approved_by": v["tags"].get("approved_by", ""),
                "gate_reasons": v["tags"].get("gate_reasons", ""),
                "promoted": "champion_since" in v["tags"],
                "champion_since": v["tags"].get("champion_since", ""),
                "is_champion": v["version"] == champion,
            }
            for v in registry.versions(mlflow.tracking_uri, spec.name)
        ]
        frame = pd.DataFrame(rows)
        path = common.monitoring_dir(settings.home_path, spec) / "retraining_history.parquet"
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

    return retraining_history
