"""A dataset's landing sources and raw ingest assets: one daily-partitioned asset per source.

Each run loads its days (one for the daily tick, a whole range for a single-run backfill),
replacing exactly those partitions, and reports its data-quality checks in the same step so a
failing blocking check stops dbt downstream. Which checks a source gets follows from its
contract alone: every source has `quarantine_rate`; a `references` entry adds
`known_<source>` (orphans); events with a timestamp in the partition add `freshness` and
`row_count`.
"""

import datetime as dt
from collections import Counter
from dataclasses import dataclass

import dagster as dg

from mlops_assets.components.landing_dataset.spec import DATA_STAGE, DatasetSpec
from mlops_assets.core import column_shift, ingest, ingest_status, quality
from mlops_assets.core.schemas import DatasetContract, SourceSpec
from mlops_assets.resources.warehouse import WAREHOUSE_POOL, Warehouse
from mlops_assets.settings import Settings


@dataclass(frozen=True)
class CheckSpec:
    name: str
    blocking: bool
    description: str
    reference: tuple[str, SourceSpec] | None = None  # (column, referenced source)


def check_specs(source: SourceSpec, contract: DatasetContract) -> list[CheckSpec]:
    """The data-quality checks of a source, from its contract."""
    checks = [
        CheckSpec("quarantine_rate", True, "Share of rows quarantined stays under the limit.")
    ]
    for column, target in source.references:
        checks.append(
            CheckSpec(
                f"known_{target}",
                True,
                f"Rows name `{target}` already landed (`{column}`): few orphans.",
                reference=(column, contract.source(target)),
            )
        )
    if source.timestamped_in_partition:
        checks.append(CheckSpec("freshness", False, "The day's newest event is near its end."))
        checks.append(
            CheckSpec("row_count", False, "Row count within tolerance of the trailing mean.")
        )
    if source.event_time_in_partition and column_shift.judged_columns(source):
        checks.append(
            CheckSpec(
                "column_shift",
                False,
                "Each raw numeric column's deciles and each categorical column's shares of the "
                "day vs the trailing weeks (PSI): a unit switch shows on its first day.",
            )
        )
    return checks


def landing_spec(spec: DatasetSpec, source: SourceSpec, partitions) -> dg.AssetSpec:
    keys = spec.keys
    return dg.AssetSpec(
        key=keys.landing(source.name),
        description=f"Landing-zone files `landing/<day>/{source.file_name}` of `{spec.name}`: "
        f"{source.description}",
        group_name=keys.group("landing"),
        kinds={"csv", "file"},
        owners=spec.owners,
        tags=keys.tags(),
        partitions_def=partitions,
    )


def _column_schema(source: SourceSpec) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(c.name, c.sql_type.lower(), c.description) for c in source.columns]
    )


def build_ingest_asset(
    spec: DatasetSpec, source: SourceSpec, partitions: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    keys = spec.keys
    key = keys.raw(source.name)
    contract = spec.contract
    checks = check_specs(source, contract)
    blocking = {c.name: c.blocking for c in checks}
    deps = [keys.landing(source.name)]
    deps += [keys.raw(c.reference[1].name) for c in checks if c.reference]  # orphan checks read

    @dg.asset(
        key=key,
        description=(
            f"Validated {source.name} rows in DuckDB `{source.raw_table}`, one partition per "
            "landing day; rows that break the contract go to `raw.quarantine` with a reason."
        ),
        group_name=keys.group("ingest"),
        kinds={"python", "duckdb"},
        owners=spec.owners,
        tags=keys.tags(DATA_STAGE),
        deps=deps,
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
        check_specs=[
            dg.AssetCheckSpec(c.name, asset=key, blocking=c.blocking, description=c.description)
            for c in checks
        ],
        metadata={
            "dagster/column_schema": _column_schema(source),
            "dagster/table_name": source.raw_table,
        },
    )
    def _ingest(
        context: dg.AssetExecutionContext, settings: Settings, warehouse: Warehouse
    ) -> dg.MaterializeResult:
        days = [dt.date.fromisoformat(k) for k in context.partition_keys]
        totals: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        per_day: list[dict[str, object]] = []
        outcomes: dict[str, list[tuple[dt.date, quality.Outcome]]] = {c.name: [] for c in checks}
        limit = settings.max_landing_file_bytes
        with warehouse.connect() as con:
            for i, day in enumerate(days, start=1):
                try:
                    path = ingest.day_file(settings.landing_dir, source, day, max_bytes=limit)
                    result = ingest.ingest_file(
                        con, source, day, path, max_bytes=limit, landing_dir=settings.landing_dir
                    )
                except ingest.IngestError as err:
                    raise dg.Failure(
                        description=f"{source.name} {day}: {err}",
                        metadata={"day": day.isoformat(), "landing_dir": str(settings.landing_dir)},
                        allow_retries=False,
                    ) from err
                for w in result.warnings:
                    context.log.warning(w)
                ingest_status.write_status(  # the platform metrics read this, not DuckDB
                    settings.home_path,
                    spec.name,
                    source.name,
                    day,
                    result.rows_in,
                    result.valid,
                    result.quarantined,
                )
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
                for check in checks:
                    outcomes[check.name].append(
                        (day, _evaluate(con, source, day, result, settings, check))
                    )
                if len(days) > 1 and (i % 10 == 0 or i == len(days)):
                    context.log.info(f"{source.name}: {i}/{len(days)} days loaded (through {day})")
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


def _evaluate(
    con, source: SourceSpec, day: dt.date, result, settings: Settings, check: CheckSpec
) -> quality.Outcome:
    if check.reference is not None:
        column, parent = check.reference
        return quality.orphan_rate(
            con, source, day, settings.max_orphan_rate, column=column, parent=parent
        )
    if check.name == "quarantine_rate":
        return quality.quarantine_rate(
            result.rows_in, result.quarantined, settings.max_quarantine_rate
        )
    if check.name == "freshness":
        return quality.event_freshness(con, source, day, settings.max_event_lag_hours)
    if check.name == "column_shift":
        return _column_shift(con, source, day, settings)
    if check.name == "row_count":
        return quality.row_count_anomaly(
            con, source, day, settings.row_count_window_days, settings.row_count_tolerance
        )
    raise AssertionError(f"unknown check {check.name}")


def _column_shift(con, source: SourceSpec, day: dt.date, settings: Settings) -> quality.Outcome:
    policy = column_shift.ShiftPolicy(
        window_days=settings.column_shift_window_days,
        psi_limit=settings.column_shift_psi_limit,
        min_rows_day=settings.column_shift_min_rows,
    )
    found = column_shift.shifts(con, source, day, policy)
    if found is None:
        return quality.Outcome(True, "not judged yet: too few trailing days", {})
    shifted = [s for s in found if s.shifted]
    return quality.Outcome(
        passed=not shifted,
        summary="; ".join(s.describe() for s in shifted) or f"{len(found)} column(s) within limits",
        metadata={
            "shifted_columns": [s.column for s in shifted],
            "shift": {
                s.column: {
                    "psi": round(s.psi, 4),
                    "limit": round(s.limit, 4),
                    "median_ratio": s.median_ratio,
                    "rows_day": s.rows_day,
                }
                for s in found
            },
        },
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
