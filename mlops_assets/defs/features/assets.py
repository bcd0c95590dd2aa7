"""Feast, shared by every model: the registry (feast apply) and daily online materialization.

Lineage in the UI: dbt marts → `feast_registry` → `online_features` (daily), and each model's
`<model>/training_set` (point in time, built by the model-pipeline component).
"""

import datetime as dt

import dagster as dg

from mlops_assets.core import feature_store
from mlops_assets.partitions import daily_partitions
from mlops_assets.resources.feature_store import FeatureStoreResource

GROUP = "features"
OWNERS = ["team:ml-platform"]
FEATURES_MART = dg.AssetKey("customer_activity_features")


@dg.asset(group_name=GROUP, owners=OWNERS, kinds={"feast", "sqlite"}, deps=[FEATURES_MART])
def feast_registry(
    context: dg.AssetExecutionContext, feast: FeatureStoreResource
) -> dg.MaterializeResult:
    """The Feast registry after `feast apply` of `feature_repo/`: entities, feature views,
    on-demand views and feature services (same objects the CLI registers)."""
    store = feast.store()
    summary = feature_store.apply_repo(store)
    context.log.info(f"feast apply: {summary}")
    return dg.MaterializeResult(
        metadata={
            "feature_views": dg.MetadataValue.json(summary.get("feature_views", [])),
            "on_demand_feature_views": dg.MetadataValue.json(
                summary.get("on_demand_feature_views", [])
            ),
            "feature_services": dg.MetadataValue.json(summary.get("feature_services", [])),
            "features": len(summary.get("features", [])),
            "summary": dg.MetadataValue.json(summary),
        }
    )


ONLINE = dg.AssetKey("online_features")


@dg.asset(
    key=ONLINE,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"feast", "sqlite"},
    deps=[feast_registry, FEATURES_MART],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=[
        dg.AssetCheckSpec(
            "offline_online_consistency",
            asset=ONLINE,
            description="Online values equal the latest offline values for a sample of customers.",
        ),
        dg.AssetCheckSpec(
            "online_freshness",
            asset=ONLINE,
            description="The online store holds the newest materialized day.",
        ),
    ],
)
def online_features(
    context: dg.AssetExecutionContext, feast: FeatureStoreResource
) -> dg.MaterializeResult:
    """The online store (SQLite) loaded with exactly the partition's day(s) of features:
    incremental, idempotent, and never overwriting a newer value with an older day."""
    store = feast.store()
    days = [dt.date.fromisoformat(k) for k in context.partition_keys]
    result = feature_store.materialize_day(store, days[0], last_day=days[-1])
    written = sum(int(v.get("rows", 0)) for v in result.get("views", {}).values())
    context.log.info(f"online store: {days[0]} … {days[-1]} materialized ({written:,} rows)")
    as_of = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(), dt.UTC)
    consistency = feature_store.consistency_sample(store, n=200, as_of=as_of)
    consistent = consistency.get("n_mismatched", 1) == 0 and consistency.get("n_compared", 0) > 0
    view = store.get_feature_view("customer_activity")
    newest = view.most_recent_end_time
    fresh = newest is not None and newest >= as_of
    return dg.MaterializeResult(
        metadata={
            "days": len(days),
            "rows_written": written,
            "method": str(result.get("method", "")),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="offline_online_consistency",
                passed=consistent,
                description=f"{consistency.get('n_mismatched')} of "
                f"{consistency.get('n_compared')} sampled customers differ",
                metadata={k: _plain(v) for k, v in consistency.items()},
            ),
            dg.AssetCheckResult(
                check_name="online_freshness",
                passed=fresh,
                description=f"online store materialized through {newest}; "
                f"expected at least {as_of:%Y-%m-%d %H:%M} UTC",
            ),
        ],
    )


def _plain(value):
    return value if isinstance(value, int | float | str) else dg.MetadataValue.json(value)


feature_assets = [feast_registry, online_features]
