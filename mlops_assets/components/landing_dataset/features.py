"""A dataset's online features: its Feast views loaded into the online store, day by day.

`<dataset>/online_features` materializes exactly the views its YAML names
(`features.online_views`) for the partition's day(s): incremental, idempotent, and never
overwriting a newer value with an older day. Another dataset's views are not touched, so a
data home holding one dataset's exports only never trips over another's missing files. It is
the dataset's last daily asset: each model's scoring sensor follows it.
"""

import datetime as dt

import dagster as dg

from mlops_assets.components.landing_dataset.spec import ONLINE_STAGE, DatasetSpec
from mlops_assets.resources.feature_store import FeatureStoreResource

FEAST_REGISTRY = dg.AssetKey("feast_registry")  # shared by every dataset and model


def build_online_features(
    spec: DatasetSpec, partitions: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    keys = spec.keys
    key = keys.online_features
    views = list(spec.features.online_views)
    marts = [dg.AssetKey(m.dbt_model) for m in spec.features.marts]

    @dg.asset(
        key=key,
        group_name=keys.group("features"),
        owners=spec.owners,
        kinds={"feast", "sqlite"},
        tags=keys.tags(ONLINE_STAGE),
        deps=[FEAST_REGISTRY, *marts],
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        description=(
            f"The online store loaded with the partition's day(s) of `{spec.name}`'s Feast "
            f"views ({', '.join(views)}): incremental, idempotent, and never overwriting a "
            "newer value with an older day."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                "offline_online_consistency",
                asset=key,
                description="Online values equal the latest offline values for a sample of "
                "entities.",
            ),
            dg.AssetCheckSpec(
                "online_freshness",
                asset=key,
                description="The online store holds the newest materialized day.",
            ),
        ],
    )
    def online_features(
        context: dg.AssetExecutionContext, feast: FeatureStoreResource
    ) -> dg.MaterializeResult:
        from mlops_assets.core import feature_store

        store = feast.store()
        days = [dt.date.fromisoformat(k) for k in context.partition_keys]
        result = feature_store.materialize_day(
            store, days[0], last_day=days[-1], feature_views=views
        )
        written = sum(int(v.get("rows", 0)) for v in result.get("views", {}).values())
        context.log.info(f"online store: {days[0]} … {days[-1]} materialized ({written:,} rows)")
        as_of = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(), dt.UTC)
        reports = {v: feature_store.consistency_sample(store, v, n=200, as_of=as_of) for v in views}
        mismatched = sum(r["n_mismatched"] for r in reports.values())
        compared = sum(r["n_compared"] for r in reports.values())
        consistent = bool(reports) and all(
            r["n_mismatched"] == 0 and r["n_compared"] > 0 for r in reports.values()
        )
        ends = [store.get_feature_view(v).most_recent_end_time for v in views]
        newest = None if not ends or None in ends else min(ends)
        fresh = newest is not None and newest >= as_of
        return dg.MaterializeResult(
            metadata={
                "days": len(days),
                "rows_written": written,
                "views": dg.MetadataValue.json(views),
                "method": str(result.get("method", "")),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name="offline_online_consistency",
                    passed=consistent,
                    description=f"{mismatched} of {compared} sampled entities differ "
                    f"({', '.join(views) or 'no online view'})",
                    metadata={
                        "n_mismatched": mismatched,
                        "n_compared": compared,
                        **{v: dg.MetadataValue.json(_jsonable(r)) for v, r in reports.items()},
                    },
                ),
                dg.AssetCheckResult(
                    check_name="online_freshness",
                    passed=fresh,
                    description=f"online store materialized through {newest}; "
                    f"expected at least {as_of:%Y-%m-%d %H:%M} UTC",
                ),
            ],
        )

    return online_features


def _jsonable(value):
    """A consistency report as plain JSON (sampled keys may be numpy scalars)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value.item() if hasattr(value, "item") else value
