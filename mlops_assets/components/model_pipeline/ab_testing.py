"""The serving side in the lineage: the servers' prediction log, and the A/B test judged on it.

* `<model>/prediction_log` (daily partitions): ingests the servers' JSON-lines log of the day
  (`serving.prediction_log`) into `serving.<model>_prediction_log`. Servers never write the
  warehouse; this asset is the one writer. A line that is not a valid record goes to
  `raw.quarantine` with its number and why (and fails the `log_lines_valid` check), never lost.
* `<model>/ab_test`: the model's current A/B test (`mlops.ab_test` on the registered model,
  started by `<model>_rollout_job action=ab`), judged once labels have landed: each variant's
  answers joined with the labels of the day they were made for, AUC-PR per variant and a
  bootstrap interval of the difference (`core.ab_test`), with the minimum sample and duration
  from the model YAML's `serving:`. Its `ab_test_concluded` check concludes the test: a
  significantly better challenger is promoted only if it also passes the approval gate
  (`core.promotion.decide`, the gate every promotion passes); otherwise the champion stays.
  Either way the split ends (`single`) and the test records its verdict.
"""

import datetime as dt

import dagster as dg

from mlops_assets.components.model_pipeline import common
from mlops_assets.components.model_pipeline.rollout import end_ab_test
from mlops_assets.components.model_pipeline.spec import ModelSpec
from mlops_assets.core import promotion, registry
from mlops_assets.resources.model_registry import ModelRegistry
from mlops_assets.resources.warehouse import WAREHOUSE_POOL, Warehouse
from mlops_assets.settings import Settings

SCHEMA = "serving"


def prediction_log_table(spec: ModelSpec) -> str:
    return f"{SCHEMA}.{spec.name}_prediction_log"


def build_prediction_log(
    spec: ModelSpec, partitions: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    keys = spec.keys
    key = keys.prediction_log
    table = prediction_log_table(spec)
    source = f"prediction_log:{spec.name}"

    @dg.asset(
        key=key,
        group_name=keys.group("serving"),
        owners=spec.owners,
        kinds={"json", "duckdb"},
        tags=common.tags(spec, common.SERVING),
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
        description=(
            f"What the prediction servers answered for `{spec.name}`, per day the answers were "
            f"made for: their JSON-lines log ingested into `{table}` (variant, version, "
            "probability, latency, A/B test). Bad lines are quarantined in `raw.quarantine`."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                "log_lines_valid",
                asset=key,
                description="Every line of the day's log is a valid prediction record.",
            )
        ],
    )
    def prediction_log(
        context: dg.AssetExecutionContext, settings: Settings, warehouse: Warehouse
    ) -> dg.MaterializeResult:
        import pandas as pd

        from mlops_assets.core.ingest import QUARANTINE_TABLE, ensure_quarantine_table
        from mlops_assets.serving.prediction_log import COLUMNS, PredictionLog, log_dir, parse_day

        log = PredictionLog(log_dir(settings.home_path))
        today = dt.datetime.now(dt.UTC).date()
        days = [dt.date.fromisoformat(k) for k in context.partition_keys]
        records, bad, pending, files = [], [], 0, 0
        for day in days:
            path = log.path(spec.name, day)
            files += path.is_file()
            parsed = parse_day(path, spec.name, day, closed=day < today)
            records += parsed.records
            bad += [(day, str(path), *b) for b in parsed.bad]
            pending += parsed.pending
        frame = pd.DataFrame.from_records(records, columns=list(COLUMNS))
        cols = ", ".join(f"{common.quote(c)} {t}" for c, t in COLUMNS.items())
        with warehouse.connect() as con:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols})")
            con.execute("BEGIN")
            con.execute(f"DELETE FROM {table} WHERE as_of BETWEEN ? AND ?", [days[0], days[-1]])
            if len(frame):
                casts = ", ".join(
                    f"CAST(_log.{common.quote(c)} AS {t})" for c, t in COLUMNS.items()
                )
                con.register("_log", frame)
                con.execute(f"INSERT INTO {table} SELECT {casts} FROM _log")
                con.unregister("_log")
            ensure_quarantine_table(con)
            con.execute(
                f"DELETE FROM {QUARANTINE_TABLE} "
                "WHERE source = ? AND partition_date BETWEEN ? AND ?",
                [source, days[0], days[-1]],
            )
            if bad:
                now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
                con.executemany(
                    f"INSERT INTO {QUARANTINE_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(source, d, path, line, text, why, now) for d, path, line, text, why in bad],
                )
            con.execute("COMMIT")
        by_variant = frame.groupby("variant").size().to_dict() if len(frame) else {}
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": len(frame),
                "table": table,
                "days": len(days),
                "log_files": files,
                "answers_by_variant": dg.MetadataValue.json(by_variant),
                "errors": int(frame["error"].notna().sum()) if len(frame) else 0,
                "degraded": int(frame["degraded"].eq(True).sum()) if len(frame) else 0,
                "ab_tests": dg.MetadataValue.json(sorted(frame["test"].dropna().unique().tolist()))
                if len(frame)
                else dg.MetadataValue.json([]),
                "quarantined": len(bad),
                "pending_lines": pending,
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name="log_lines_valid",
                    passed=not bad,
                    severity=dg.AssetCheckSeverity.WARN,
                    description=f"{len(bad)} bad line(s) quarantined in {QUARANTINE_TABLE} "
                    f"(source {source!r})"
                    if bad
                    else f"{len(frame)} record(s), every line valid",
                    metadata={
                        "quarantined": len(bad),
                        "first": dg.MetadataValue.json(
                            [{"day": str(d), "line": n, "reason": w} for d, _, n, _, w in bad[:5]]
                        ),
                    },
                )
            ],
        )

    return prediction_log


def build_ab_test(spec: ModelSpec) -> dg.AssetsDefinition:
    keys = spec.keys
    key = keys.ab_test
    labels = spec.labels
    policy = spec.serving.ab_policy()
    q = common.quote
    log_table = prediction_log_table(spec)

    @dg.asset(
        key=key,
        group_name=keys.group("serving"),
        owners=spec.owners,
        kinds={"python", "mlflow"},
        tags=common.tags(spec, common.SERVING),
        deps=[keys.prediction_log, dg.AssetKey(labels.dbt_model)],
        pool=WAREHOUSE_POOL,
        description=(
            f"`{spec.name}`'s current A/B test judged on labelled answers: AUC-PR per variant "
            f"and a bootstrap {1 - policy.alpha:.0%} interval of the difference, once each "
            f"variant has {policy.min_samples} labelled answers over {policy.min_days} days."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                "ab_test_concluded",
                asset=key,
                description="The A/B test has a verdict; a better challenger is promoted only "
                f"through the approval gate (AUC-PR floor {spec.gate.floor}).",
            )
        ],
    )
    def ab_test(
        context: dg.AssetExecutionContext,
        settings: Settings,
        warehouse: Warehouse,
        mlflow: ModelRegistry,
    ) -> dg.MaterializeResult:
        from mlops_assets.core.ab_test import AB_TEST_TAG, ABTest, compare

        uri = mlflow.tracking_uri
        test = ABTest.from_json(registry.model_tag(uri, spec.name, AB_TEST_TAG))
        if test is None:
            raise dg.Failure(
                f"{spec.name} has no A/B test: start one with {keys.name('rollout_job')} "
                "(action: ab)"
            )
        with warehouse.connect(read_only=True) as con:
            rows = con.execute(
                f"""
                SELECT p.variant, p.version, p.probability, p.as_of,
                       l.{q(labels.column)}::INTEGER AS label
                FROM {log_table} AS p
                LEFT JOIN main.{q(labels.dbt_model)} AS l
                  ON l.{q(spec.entity.join_key)} = p.id AND l.{q(labels.date_column)} = p.as_of
                WHERE p.test = ? AND p.served AND p.error IS NULL
                  AND p.variant IN ('champion', 'challenger')
                QUALIFY row_number() OVER (
                    PARTITION BY p.id, p.as_of, p.variant ORDER BY p.ts DESC) = 1
                """,
                [test.id],
            ).df()
        expected = {"champion": test.champion, "challenger": test.challenger}
        wrong = rows["version"] != rows["variant"].map(expected)
        labelled = rows[~wrong & rows["label"].notna()]
        sides = {}
        for variant in ("champion", "challenger"):
            part = labelled[labelled["variant"] == variant]
            sides[variant] = (
                expected[variant],
                part["label"].to_numpy(),
                part["probability"].to_numpy(),
                part["as_of"].nunique(),
            )
        result = compare(sides["champion"], sides["challenger"], policy)
        metadata = {
            "test": test.id,
            "status": test.status,
            "champion_version": test.champion,
            "challenger_version": test.challenger,
            "answers": len(rows),
            "answers_awaiting_labels": int(rows["label"].isna().sum()),
            "answers_of_other_versions": int(wrong.sum()),
            "verdict": result.verdict,
            "reason": result.reason,
            "champion_auc_pr": result.champion.auc_pr,
            "challenger_auc_pr": result.challenger.auc_pr,
            "champion_labelled": result.champion.samples,
            "challenger_labelled": result.challenger.samples,
            "difference": result.difference,
            "ci_low": result.ci_low,
            "ci_high": result.ci_high,
            "p_value": result.p_value,
        }
        check = _conclude(context, spec, uri, test, result)
        metadata["outcome"] = check.description or ""
        return dg.MaterializeResult(metadata=metadata, check_results=[check])

    return ab_test


def _conclude(context, spec: ModelSpec, uri: str, test, result) -> dg.AssetCheckResult:
    """End the running test on a verdict: promote a better challenger through the gate, or keep
    the champion; the split goes back to `single` either way."""
    from mlops_assets.core.deployment import DeploymentState

    facts = {"test": test.id, "verdict": result.verdict, "p_value": result.p_value}
    if test.status != "running":
        return dg.AssetCheckResult(
            check_name="ab_test_concluded",
            passed=test.status == "concluded",
            description=f"test {test.id} {test.status} on {test.ended_at}: {test.verdict} "
            f"({test.ended_reason})",
            metadata=facts,
        )
    if result.verdict == "insufficient":
        return dg.AssetCheckResult(
            check_name="ab_test_concluded",
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"test {test.id} still running: {result.reason}",
            metadata=facts,
        )
    actor = f"asset {spec.keys.ab_test.to_user_string()} (run {context.run.run_id[:8]})"
    outcome = f"champion v{test.champion} stays"
    if result.verdict == "challenger":
        gate = promotion.decide(
            result.challenger.auc_pr,
            result.champion.auc_pr,
            floor=spec.gate.floor,
            tolerance=spec.gate.tolerance,
            metric_label="A/B AUC-PR",
            require_approval=spec.gate.require_approval,
        )
        facts["gate"] = dg.MetadataValue.md(gate.to_markdown())
        info = registry.version_info(uri, spec.name, test.challenger)
        if gate.verdict == promotion.PENDING_APPROVAL:  # a person promotes it: approve_model
            registry.set_tags(uri, spec.name, test.challenger, {"gate_verdict": gate.verdict})
            outcome += (
                f" (v{test.challenger} won; pending approval: run {spec.name}_approve_model_job)"
            )
        elif gate.passed and registry.has_onnx(uri, info["run_id"]):
            registry.move_alias(
                uri,
                spec.name,
                registry.CHAMPION,
                test.challenger,
                reason=f"A/B test {test.id}: {result.reason}",
                actor=actor,
            )
            outcome = f"challenger v{test.challenger} promoted to champion"
        elif gate.passed:
            outcome += f" (v{test.challenger} won but has no ONNX export)"
        else:
            outcome += f" (v{test.challenger} won but failed the gate: {'; '.join(gate.reasons)})"
    state = DeploymentState().changed(by=actor, reason=f"A/B test {test.id}: {result.verdict}")
    registry.set_deployment(uri, spec.name, state.to_json())
    end_ab_test(uri, spec.name, "concluded", result.verdict, f"{result.reason}; {outcome}")
    context.log.info(f"{spec.name}: A/B test {test.id} concluded: {result.reason}; {outcome}")
    return dg.AssetCheckResult(
        check_name="ab_test_concluded",
        passed=True,
        description=f"test {test.id} concluded: {result.verdict}; {outcome}",
        metadata=facts,
    )
