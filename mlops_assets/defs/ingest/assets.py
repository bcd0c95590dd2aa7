"""Landing-zone sources and the raw ingest assets: one daily-partitioned asset per source.

Each run loads its days (one for the daily tick, a whole range for a single-run backfill),
replacing exactly those partitions, and reports its data-quality checks in the same step so a
failing blocking check stops dbt downstream.
"""

import datetime as dt
from collections import Counter

import dagster as dg

from mlops_assets.core import ingest, quality
from mlops_assets.core.schemas import CUSTOMERS, SOURCES, SourceSpec
from mlops_assets.partitions import daily_partitions
from mlops_assets.resources.warehouse import WAREHOUSE_POOL, Warehouse
from mlops_assets.settings import Settings

GROUP = "ingest"
OWNERS = ["team:data-platform"]
_SQL_TYPE_NAMES = {
    "string": "varchar",
    "int": "bigint",
    "float": "double",
    "decimal": "decimal(18,2)",  # ingest loads decimals at scale 2 (core.ingest._decimal_rules)
    "date": "date",
}


def landing_spec(spec: SourceSpec) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=f"landing_{spec.name}",
        description=f"Landing-zone files `landing/<day>/{spec.file_name}`: {spec.description}",
        group_name="landing",
        kinds={"csv", "file"},
        owners=OWNERS,
        partitions_def=daily_partitions,
    )


def _check_names(spec: SourceSpec) -> list[tuple[str, bool, str]]:
    """(check name, blocking, description) for a source."""
    checks = [
        ("quarantine_rate", True, "Share of rows quarantined stays under the limit."),
    ]
    if spec is not CUSTOMERS:
        checks.append(("known_customers", True, "Rows reference customers already landed."))
    if spec.event_time_in_partition:
        checks.append(("freshness", False, "The day's newest event is near the day's end."))
        checks.append(("row_count", False, "Row count within tolerance of the trailing mean."))
    return checks


def _column_schema(spec: SourceSpec) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(c.name, _SQL_TYPE_NAMES.get(c.type, "timestamp"), c.description)
            for c in spec.columns
        ]
    )


def build_ingest_asset(spec: SourceSpec) -> dg.AssetsDefinition:
    key = dg.AssetKey(f"raw_{spec.name}")
    checks = _check_names(spec)
    blocking = {name: is_blocking for name, is_blocking, _ in checks}
    deps: list[dg.AssetKey] = [dg.AssetKey(f"landing_{spec.name}")]
    if spec is not CUSTOMERS:
        deps.append(dg.AssetKey("raw_customers"))  # read by the known-customers check

    @dg.asset(
        key=key,
        description=(
            f"Validated {spec.name} rows in DuckDB `{spec.raw_table}`, one partition per landing "
            "day; rows that break the contract go to `raw.quarantine` with a reason."
        ),
        group_name=GROUP,
        kinds={"python", "duckdb"},
        owners=OWNERS,
        deps=deps,
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
        check_specs=[
            dg.AssetCheckSpec(name, asset=key, blocking=blocking, description=desc)
            for name, blocking, desc in checks
        ],
        metadata={
            "dagster/column_schema": _column_schema(spec),
            "dagster/table_name": spec.raw_table,
        },
    )
    def _ingest(
        context: dg.AssetExecutionContext, settings: Settings, warehouse: Warehouse
    ) -> dg.MaterializeResult:
        days = [dt.date.fromisoformat(k) for k in context.partition_keys]
        totals: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        per_day: list[dict[str, object]] = []
        outcomes: dict[str, list[tuple[dt.date, quality.Outcome]]] = {n: [] for n, *_ in checks}
        with warehouse.connect() as con:
            for i, day in enumerate(days, start=1):
                try:
                    limit = settings.max_landing_file_bytes
                    path = ingest.day_file(settings.landing_dir, spec, day, max_bytes=limit)
                    result = ingest.ingest_file(
                        con, spec, day, path, max_bytes=limit, landing_dir=settings.landing_dir
                    )
                except ingest.IngestError as err:
                    raise dg.Failure(
                        description=f"{spec.name} {day}: {err}",
                        metadata={"day": day.isoformat(), "landing_dir": str(settings.landing_dir)},
                        allow_retries=False,
                    ) from err
                for w in result.warnings:
                    context.log.warning(w)
                totals.update(rows_in=result.rows_in, valid=result.valid)
                totals.update(quarantined=result.quarantined)
                reasons.update(result.reasons)
                per_day.append(
                    {
                        "day": day.isoformat(),
                        "rows_in": result.rows_in,
                        "valid": result.valid,
                        "quarantined": result.quarantined,
                    }
                )
                for name, outcome in _evaluate(con, spec, day, result, settings, checks):
                    outcomes[name].append((day, outcome))
                if len(days) > 1 and (i % 10 == 0 or i == len(days)):
                    context.log.info(f"{spec.name}: {i}/{len(days)} days loaded (through {day})")
        assert totals["rows_in"] == totals["valid"] + totals["quarantined"]
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": totals["valid"],
                "rows_in": totals["rows_in"],
                "rows_valid": totals["valid"],
                "rows_quarantined": totals["quarantined"],
                "quarantine_reasons": dg.MetadataValue.json(dict(reasons.most_common(20))),
                "days": len(days),
                "files_read": dg.MetadataValue.md(_days_table(per_day)),
            },
            check_results=[
                _check_result(name, blocking[name], results) for name, results in outcomes.items()
            ],
        )

    return _ingest


def _evaluate(con, spec, day, result, settings: Settings, checks):
    names = {n for n, *_ in checks}
    if "quarantine_rate" in names:
        yield (
            "quarantine_rate",
            quality.quarantine_rate(
                result.rows_in, result.quarantined, settings.max_quarantine_rate
            ),
        )
    if "known_customers" in names:
        yield "known_customers", quality.orphan_rate(con, spec, day, settings.max_orphan_rate)
    if "freshness" in names:
        yield "freshness", quality.event_freshness(con, spec, day, settings.max_event_lag_hours)
    if "row_count" in names:
        yield (
            "row_count",
            quality.row_count_anomaly(
                con, spec, day, settings.row_count_window_days, settings.row_count_tolerance
            ),
        )


def _check_result(
    name: str, blocking: bool, results: list[tuple[dt.date, quality.Outcome]]
) -> dg.AssetCheckResult:
    """One result per check per run: it passes only if every day in the run passes.
    Non-blocking checks fail as warnings."""
    failed = [(d, o) for d, o in results if not o.passed]
    severity = dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN
    if len(results) == 1:
        day, outcome = results[0]
        return dg.AssetCheckResult(
            check_name=name,
            passed=outcome.passed,
            severity=severity,
            description=f"{day}: {outcome.summary}",
            metadata={"day": day.isoformat(), **_scalar(outcome.metadata)},
        )
    summary = (
        f"{len(failed)} of {len(results)} days failed; "
        f"first: {failed[0][0]}: {failed[0][1].summary}"
        if failed
        else f"all {len(results)} days passed"
    )
    return dg.AssetCheckResult(
        check_name=name,
        passed=not failed,
        severity=severity,
        description=summary,
        metadata={
            "days_checked": len(results),
            "days_failed": len(failed),
            "failed_days": dg.MetadataValue.json(
                {d.isoformat(): o.summary for d, o in failed[:30]}
            ),
        },
    )


def _scalar(metadata: dict) -> dict:
    return {
        k: (v if isinstance(v, int | float | str) or v is None else dg.MetadataValue.json(v))
        for k, v in metadata.items()
        if v is not None
    }


def _days_table(rows: list[dict[str, object]]) -> str:
    lines = ["| day | rows in | valid | quarantined |", "|---|---:|---:|---:|"]
    shown = rows if len(rows) <= 31 else rows[:15] + rows[-15:]
    lines += [f"| {r['day']} | {r['rows_in']} | {r['valid']} | {r['quarantined']} |" for r in shown]
    if len(rows) > 31:
        lines.insert(2 + 15, f"| … {len(rows) - 30} more days | | | |")
    return "\n".join(lines)


landing_sources = [landing_spec(s) for s in SOURCES]
raw_assets = [build_ingest_asset(s) for s in SOURCES]
