"""The code location: `dagster dev` / `dagster-webserver` load `defs` from here.

Two layers are merged: the shared data layer (ingest → dbt → Feast, wired in `defs/<area>/`)
and one model layer per `defs/models/<model>/defs.yaml`, built by the model-pipeline component
(`mlops_assets.components`) from the YAML alone.

Nothing heavy happens at import: no environment reads, no dbt parse, no mlflow/feast/sklearn
imports. The environment is read once, when Dagster calls `defs()` to load the location.
"""

from pathlib import Path

import dagster as dg

from mlops_assets.defs.automation.jobs import daily_job
from mlops_assets.defs.automation.schedules import schedules
from mlops_assets.defs.automation.sensors import sensors
from mlops_assets.defs.features.assets import feature_assets
from mlops_assets.defs.ingest.assets import landing_sources, raw_assets
from mlops_assets.defs.transform.assets import dbt_models
from mlops_assets.defs.transform.checks import feature_checks
from mlops_assets.resources.profiles import build_resources
from mlops_assets.settings import Settings

MODELS = "models"  # defs/models/<model>/defs.yaml: one model pipeline each


def model_defs() -> dg.Definitions:
    """Every model's layer, one component instance per `defs/models/<model>/defs.yaml`.

    The tree is built on our `defs` package directly (not `for_project`), so it carries no
    code-location name of its own: the one the workspace registers wins, with no mismatch.
    Only the `models` subtree is built (the shared layer is wired explicitly above)."""
    import mlops_assets.defs as defs_package

    tree = dg.ComponentTree.from_module(
        defs_module=defs_package, project_root=Path(__file__).resolve().parents[1]
    )
    return tree.build_defs(MODELS)


@dg.definitions
def defs() -> dg.Definitions:
    shared = dg.Definitions(
        assets=[*landing_sources, *raw_assets, dbt_models, *feature_assets],
        asset_checks=[*feature_checks],
        jobs=[daily_job],
        sensors=sensors,
        schedules=schedules,
        resources=build_resources(Settings.from_env()),
        # DuckDB allows one writer per file; in-process keeps the whole run in one process
        # (and skips a process start per step). The warehouse pool guards other executors.
        executor=dg.in_process_executor,
    )
    return dg.Definitions.merge(shared, model_defs())
