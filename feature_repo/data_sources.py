"""Batch sources: dbt feature marts exported as parquet under the data home.

Layout (the dbt export's contract): one file per day in hive-style folders,
    $MLOPS_HOME/features/customer_activity_features/feature_date=YYYY-MM-DD/data.parquet
so re-exporting a day replaces exactly that file. Every file has the same schema: `customer_id`
string, `event_timestamp` and `created_timestamp` as timestamp[us, UTC], the 11 features as
float64. DuckDB takes the schema of the FIRST file matched, so a day written with a different
type for a column would be cast silently (2.5 -> 2): the export casts features to DOUBLE.
"""

import os

from feast import FileSource
from feast.data_format import ParquetFormat

# Below the data home. Files being written (`data.parquet.tmp`) don't match the glob.
CUSTOMER_ACTIVITY_PATH = "features/customer_activity_features/feature_date=*/*.parquet"

customer_activity_source = FileSource(
    name="customer_activity_features",
    # Feast expands ${VAR} in feature_store.yaml but never in a source path, so the CLI needs the
    # absolute path here. Python callers don't depend on this: core.feature_store.apply_repo
    # re-points the source at its own data home using the `home_relative_path` tag.
    path=os.path.join(os.environ.get("MLOPS_HOME", "${MLOPS_HOME}"), CUSTOMER_ACTIVITY_PATH),
    file_format=ParquetFormat(),
    timestamp_field="event_timestamp",
    created_timestamp_column="created_timestamp",
    description="dbt mart customer_activity_features: one row per customer per day.",
    owner="team:ml-platform",
    tags={"dbt_model": "customer_activity_features", "home_relative_path": CUSTOMER_ACTIVITY_PATH},
)
