"""The code location: `dagster dev` / `dagster-webserver` load `defs` from here.

Nothing heavy happens at import: no environment reads, no dbt parse, no mlflow/feast/sklearn
imports. The environment is read once, when Dagster calls `defs()` to load the location.
"""

from __future__ import annotations

import dagster as dg

from mlops_assets.defs.ingest.assets import landing_sources, raw_assets
from mlops_assets.defs.transform.assets import dbt_models
from mlops_assets.defs.transform.checks import feature_checks
from mlops_assets.resources.profiles import build_resources
from mlops_assets.settings import Settings


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[*landing_sources, *raw_assets, dbt_models],
        asset_checks=[*feature_checks],
        resources=build_resources(Settings.from_env()),
        # DuckDB allows one writer per file; in-process keeps the whole run in one process
        # (and skips a process start per step). The warehouse pool guards other executors.
        executor=dg.in_process_executor,
    )
