"""The code location: `dagster dev` / `dagster-webserver` load `defs` from here.

Nothing heavy happens at import: no environment reads, no dbt parse, no mlflow/feast/sklearn
imports. The environment is read once, when Dagster calls `defs()` to load the location.
"""

import dagster as dg

from mlops_assets.defs.automation.jobs import daily_job, performance_job, retrain_job
from mlops_assets.defs.automation.schedules import schedules
from mlops_assets.defs.automation.sensors import sensors
from mlops_assets.defs.export.assets import export_assets
from mlops_assets.defs.features.assets import feature_assets
from mlops_assets.defs.ingest.assets import landing_sources, raw_assets
from mlops_assets.defs.monitoring.assets import monitoring_assets
from mlops_assets.defs.training.assets import training_assets, training_checks
from mlops_assets.defs.training.jobs import rollback_job
from mlops_assets.defs.transform.assets import dbt_models
from mlops_assets.defs.transform.checks import feature_checks
from mlops_assets.resources.profiles import build_resources
from mlops_assets.settings import Settings


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[
            *landing_sources,
            *raw_assets,
            dbt_models,
            *feature_assets,
            *training_assets,
            *export_assets,
            *monitoring_assets,
        ],
        asset_checks=[*feature_checks, *training_checks],
        jobs=[rollback_job, daily_job, performance_job, retrain_job],
        sensors=sensors,
        schedules=schedules,
        resources=build_resources(Settings.from_env()),
        # DuckDB allows one writer per file; in-process keeps the whole run in one process
        # (and skips a process start per step). The warehouse pool guards other executors.
        executor=dg.in_process_executor,
    )
