"""Feast: registry (feast apply), daily online materialization, and point-in-time training sets.

Lineage in the UI: dbt mart `customer_activity_features` → `feast_registry` →
`online_features` (daily) and → `training_set` (with the `churn_labels` mart).
"""

import datetime as dt

import dagster as dg

from mlops_assets.core import feature_store, training
from mlops_assets.core.schemas import FEATURE_COLUMNS
from mlops_assets.defs.training.assets import training_set_path
from mlops_assets.partitions import daily_partitions
from mlops_assets.resources.feature_store import FeatureStoreResource
from mlops_assets.resources.warehouse import WAREHOUSE_POOL, Warehouse
from mlops_assets.settings import Settings

GROUP = "features"
OWNERS = ["team:ml-platform"]
FEATURES_MART = dg.AssetKey("customer_activity_features")
LABELS_MART = dg.AssetKey("churn_labels")


@dg.asset(group_name=GROUP, owners=OWNERS, kinds={"feast", "sqlite"}, deps=[FEATURES_MART])
def feast_registry(
    context: dg.AssetExecutionContext, feast: FeatureStoreResource
) -> dg.MaterializeResult:
    """The Feast registry after `feast apply` of `feature_repo/`: entities, feature views,
    on-demand views and the `churn_model` feature service (same objects the CLI registers)."""
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


class TrainingSetConfig(dg.Config):
    """Which labelled observations make the training set."""

    window_days: int | None = None  # newest N observation days; None = every labelled day
    label_arrived_until: str | None = None  # YYYY-MM-DD: only labels known by then (replays)


TRAINING = dg.AssetKey("training_set")


@dg.asset(
    key=TRAINING,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"feast", "duckdb", "parquet"},
    deps=[feast_registry, LABELS_MART],
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            "training_set_null_rate",
            asset=TRAINING,
            blocking=True,
            description="Share of missing feature values stays under the limit.",
        )
    ],
)
def training_set(
    context: dg.AssetExecutionContext,
    config: TrainingSetConfig,
    settings: Settings,
    warehouse: Warehouse,
    feast: FeatureStoreResource,
) -> dg.MaterializeResult:
    """Point-in-time correct training rows: each label event (customer, observation time) with
    the `churn_model` feature service's values as they were then — never later. Written as
    parquet in the data home; the fingerprint identifies the exact rows."""
    where, params = "true", []
    if config.label_arrived_until:
        where, params = (
            "label_arrived_date <= ?",
            [dt.date.fromisoformat(config.label_arrived_until)],
        )
    with warehouse.connect(read_only=True) as con:
        labels = con.execute(
            "SELECT customer_id, event_timestamp, churned AS label FROM main.churn_labels "
            f"WHERE {where} ORDER BY event_timestamp, customer_id",
            params,
        ).df()
    if labels.empty:
        raise dg.Failure("no churn labels yet: labels arrive label_delay_days after a day lands")
    labels["event_timestamp"] = labels["event_timestamp"].dt.tz_convert("UTC")
    if config.window_days:
        newest = labels["event_timestamp"].max()
        labels = labels[labels["event_timestamp"] > newest - dt.timedelta(days=config.window_days)]
    frame = feature_store.training_set(feast.store(), labels, feature_store.DEFAULT_SERVICE)
    path = training_set_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    fingerprint = training.dataset_fingerprint(frame)
    null_rates = feature_store.null_rates(frame, list(FEATURE_COLUMNS))
    worst = max(null_rates.values()) if null_rates else 0.0
    ts = frame["event_timestamp"]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            "path": dg.MetadataValue.path(str(path)),
            "fingerprint": fingerprint,
            "window": f"{ts.min():%Y-%m-%d} … {ts.max():%Y-%m-%d}",
            "positive_rate": float(frame["label"].mean()),
            "null_rates": dg.MetadataValue.json(null_rates),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="training_set_null_rate",
                passed=worst <= settings.max_missing_rate,
                description=f"worst feature null rate {worst:.2%} "
                f"(limit {settings.max_missing_rate:.0%})",
                metadata={"worst_null_rate": worst},
            )
        ],
    )


feature_assets = [feast_registry, online_features, training_set]
