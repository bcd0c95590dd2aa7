"""Toy devices: entity, source, view and the `toy_failure` model's feature service.

The data is the dbt mart `toy_device_features`, exported per day as
    $MLOPS_HOME/features/toy_device_features/feature_date=YYYY-MM-DD/data0.parquet
(`event_timestamp` = feature_date + 1 day, every number as float64). `window_days` tags give
the drift warm-up its look-back windows.
"""

import os
from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.data_format import ParquetFormat
from feast.types import Float64, String

TOY_FEATURES_PATH = "features/toy_device_features/feature_date=*/*.parquet"

toy_device = Entity(
    name="toy_device",
    join_keys=["device_id"],
    value_type=ValueType.STRING,
    description="A device, by its id (D0001 …).",
    owner="team:ml-platform",
)

toy_device_features_source = FileSource(
    name="toy_device_features",
    # absolute for the Feast CLI; the platform re-points it at its data home through the tag
    path=os.path.join(os.environ.get("MLOPS_HOME", "${MLOPS_HOME}"), TOY_FEATURES_PATH),
    file_format=ParquetFormat(),
    timestamp_field="event_timestamp",
    created_timestamp_column="created_timestamp",
    owner="team:ml-platform",
    tags={"dbt_model": "toy_device_features", "home_relative_path": TOY_FEATURES_PATH},
)

toy_device_activity = FeatureView(
    name="toy_device_activity",
    entities=[toy_device],
    ttl=timedelta(days=3),
    schema=[
        Field(name="device_id", dtype=String),
        Field(name="readings_7d", dtype=Float64, tags={"window_days": "7"}),
        Field(name="temperature_avg_7d", dtype=Float64, tags={"window_days": "7"}),
        Field(name="temperature_max_7d", dtype=Float64, tags={"window_days": "7"}),
        Field(name="errors_7d", dtype=Float64, tags={"window_days": "7"}),
        Field(name="errors_28d", dtype=Float64, tags={"window_days": "28"}),
    ],
    online=True,
    source=toy_device_features_source,
    description="Daily device features from the dbt mart toy_device_features.",
    owner="team:ml-platform",
)

toy_failure = FeatureService(
    name="toy_failure",
    features=[
        toy_device_activity[["temperature_avg_7d", "temperature_max_7d", "errors_7d", "errors_28d"]]
    ],
    description="Inputs of the toy failure classifier.",
    owner="team:ml-platform",
)
