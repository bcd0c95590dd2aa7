"""Python data-quality checks on the dbt marts, beside the dbt tests Dagster already shows.

Partitioned like the mart, so each run checks exactly the days it built.
"""

import dagster as dg

from mlops_assets.core import quality
from mlops_assets.partitions import daily_partitions
from mlops_assets.resources.warehouse import WAREHOUSE_POOL, Warehouse
from mlops_assets.settings import Settings

FEATURES = dg.AssetKey("customer_activity_features")
TABLE = "customer_activity_features"
# Every other column of the mart is a feature: the mart's own schema is the list (no copy here).
NOT_FEATURES = ("customer_id", "feature_date", "event_timestamp", "created_timestamp")


@dg.asset_check(
    asset=FEATURES,
    name="feature_completeness",
    description="Missing rate of every feature column stays under the limit for the days built.",
    blocking=True,
    partitions_def=daily_partitions,
    pool=WAREHOUSE_POOL,
)
def feature_completeness(
    context: dg.AssetCheckExecutionContext, settings: Settings, warehouse: Warehouse
) -> dg.AssetCheckResult:
    window = context.partition_time_window
    with warehouse.connect(read_only=True) as con:
        columns = [
            name
            for (name,) in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
                [TABLE],
            ).fetchall()
            if name not in NOT_FEATURES
        ]
        outcome = quality.missing_rates(
            con,
            f"main.{TABLE}",
            columns,
            "feature_date >= ? AND feature_date < ?",
            [window.start.date(), window.end.date()],
            settings.max_missing_rate,
        )
    return dg.AssetCheckResult(
        passed=outcome.passed,
        description=outcome.summary,
        metadata={
            "rows": outcome.metadata.get("rows", 0),
            "missing_rates": dg.MetadataValue.json(outcome.metadata.get("missing_rates", {})),
            "limit": settings.max_missing_rate,
        },
    )


feature_checks = [feature_completeness]
