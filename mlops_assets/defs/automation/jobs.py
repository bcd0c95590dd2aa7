"""Jobs the sensors and schedules launch. Selections are by group/key so new assets in an
area join the right job without touching this file."""

import dagster as dg


DAILY_SELECTION = (
    "group:ingest or group:dbt_staging or group:dbt_intermediate or group:dbt_marts "
    "or key:online_features or key:daily_scores or key:drift_report"
)
RETRAIN_SELECTION = "key:training_set or group:training or group:export or key:retraining_history"

daily_job = dg.define_asset_job(
    "daily_job",
    selection=DAILY_SELECTION,
    description="One landed day: ingest → dbt → online features → scores → drift report.",
)

performance_job = dg.define_asset_job(
    "performance_job",
    selection=dg.AssetSelection.assets("model_performance"),
    description="Model performance of a scored day, once its delayed labels have arrived.",
)

retrain_job = dg.define_asset_job(
    "retrain_job",
    selection=RETRAIN_SELECTION,
    description="Training set → candidates → approval gate → champion → ONNX → history.",
)
