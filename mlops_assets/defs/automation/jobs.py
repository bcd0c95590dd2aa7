"""The shared data layer's daily job. Each model's own jobs (`<model>_scoring_job`,
`<model>_retrain_job`, …) are built by the model-pipeline component from its YAML."""

import dagster as dg

DAILY_SELECTION = (
    "group:ingest or group:dbt_staging or group:dbt_intermediate or group:dbt_marts "
    "or key:online_features"
)

daily_job = dg.define_asset_job(
    "daily_job",
    selection=DAILY_SELECTION,
    description="One landed day through the shared data layer: ingest → dbt → online features. "
    "Each model's scoring sensor then scores that day.",
)
