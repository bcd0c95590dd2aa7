"""CDNOW (real purchases of a CD store, replayed day by day): entity, source, view, service.

One file per dataset: everything Feast needs for the CDNOW repurchase model, declared next to
each other. The data comes from the dbt mart `cdnow_customer_features`, exported per day as
    $MLOPS_HOME/features/cdnow_customer_features/feature_date=YYYY-MM-DD/data0.parquet
with the same layout and types as the churn export (see data_sources.py): `customer_id`
string, `event_timestamp` / `created_timestamp` timestamp[us, UTC] (feature_date + 1 day), and
every feature as float64 (money is DECIMAL in the mart; the export casts to double).

Field tags: `window_days` is the look-back of a trailing-window feature (the model layer reads
drift warm-up periods from it); lifetime features (recency, tenure, *_lifetime, the average
basket) have no window and no tag. No feature is categorical.

The view is served online: the `cdnow` dataset's YAML lists it in `features.online_views`, so
its daily online load (`cdnow/online_features`) materializes it, and only it; another
dataset's online load never reads this source. Training and batch scoring read it point in
time, offline.
"""

import os
from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.data_format import ParquetFormat
from feast.types import Float64, String

CDNOW_FEATURES_PATH = "features/cdnow_customer_features/feature_date=*/*.parquet"

cdnow_customer = Entity(
    name="cdnow_customer",
    join_keys=["customer_id"],
    value_type=ValueType.STRING,
    description="A CDNOW customer, by the id of the source file (e.g. 00042).",
    owner="team:ml-platform",
    tags={"pii": "false", "dataset": "cdnow"},
)

cdnow_customer_features_source = FileSource(
    name="cdnow_customer_features",
    # absolute for the Feast CLI; core.feature_store.apply_repo re-points it at its own data
    # home through the `home_relative_path` tag (see data_sources.py)
    path=os.path.join(os.environ.get("MLOPS_HOME", "${MLOPS_HOME}"), CDNOW_FEATURES_PATH),
    file_format=ParquetFormat(),
    timestamp_field="event_timestamp",
    created_timestamp_column="created_timestamp",
    description="dbt mart cdnow_customer_features: one row per CDNOW customer per day.",
    owner="team:ml-platform",
    tags={"dbt_model": "cdnow_customer_features", "home_relative_path": CDNOW_FEATURES_PATH},
)


# One row per customer per day, known once the day has closed. TTL 3 days, as for churn: a
# training row may fall back to the previous days' values if one daily export is late.
cdnow_customer_activity = FeatureView(
    name="cdnow_customer_activity",
    entities=[cdnow_customer],
    ttl=timedelta(days=3),
    schema=[
        Field(name="customer_id", dtype=String),
        Field(name="recency_days", dtype=Float64, description="Days since the last purchase."),
        Field(name="tenure_days", dtype=Float64, description="Days since the first purchase."),
        Field(
            name="nb_purchases_30d",
            dtype=Float64,
            description="Purchases, last 30 days.",
            tags={"window_days": "30"},
        ),
        Field(
            name="nb_purchases_90d",
            dtype=Float64,
            description="Purchases, last 90 days.",
            tags={"window_days": "90"},
        ),
        Field(
            name="nb_purchases_365d",
            dtype=Float64,
            description="Purchases, last 365 days.",
            tags={"window_days": "365"},
        ),
        Field(name="nb_purchases_lifetime", dtype=Float64, description="Purchases, all time."),
        Field(
            name="purchase_days_lifetime",
            dtype=Float64,
            description="Distinct days with a purchase, all time.",
        ),
        Field(
            name="amount_90d",
            dtype=Float64,
            description="Dollars spent, last 90 days.",
            tags={"window_days": "90"},
        ),
        Field(name="amount_lifetime", dtype=Float64, description="Dollars spent, all time."),
        Field(
            name="avg_basket_amount",
            dtype=Float64,
            description="Dollars per purchase, all time.",
        ),
        Field(
            name="quantity_90d",
            dtype=Float64,
            description="CDs bought, last 90 days.",
            tags={"window_days": "90"},
        ),
        Field(name="quantity_lifetime", dtype=Float64, description="CDs bought, all time."),
    ],
    online=True,
    source=cdnow_customer_features_source,
    description="Daily CDNOW customer purchase features from the dbt mart cdnow_customer_features.",
    owner="team:ml-platform",
    tags={
        "dbt_model": "cdnow_customer_features",
        "team": "ml-platform",
        "grain": "customer-day",
        "dataset": "cdnow",
    },
)

# The model's inputs: every feature of the view but `tenure_days`. The cohort is closed (every
# customer first bought in Q1 1997), so tenure is the calendar in disguise: a model trained on
# the tenures of its training window would score later days on tenures it never saw, and the
# feature drifts every day by construction. The lifetime counts stay: they carry frequency.
cdnow_repurchase = FeatureService(
    name="cdnow_repurchase",
    features=[
        cdnow_customer_activity[
            [
                "recency_days",
                "nb_purchases_30d",
                "nb_purchases_90d",
                "nb_purchases_365d",
                "nb_purchases_lifetime",
                "purchase_days_lifetime",
                "amount_90d",
                "amount_lifetime",
                "avg_basket_amount",
                "quantity_90d",
                "quantity_lifetime",
            ]
        ]
    ],
    description="Inputs of the CDNOW repurchase classifier (buys again within 90 days).",
    owner="team:ml-platform",
    tags={"model": "cdnow_repurchase", "team": "ml-platform"},
)
