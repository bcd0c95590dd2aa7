"""The code location: `dg dev` / `dagster-webserver` load `defs` from here.

Three parts are merged: one data layer per `defs/datasets/<dataset>/defs.yaml` (built by the
landing-dataset component: ingest → dbt → online features, with its job, sensor and
schedule), one model layer per `defs/models/<model>/defs.yaml` (built by the model-pipeline
component), and what they share, wired in `defs/features/`: the Feast registry.

Nothing heavy happens at import: no environment reads, no dbt parse, no mlflow/feast/sklearn
imports. The environment is read once, when Dagster calls `defs()` to load the location.
"""

from pathlib import Path

import dagster as dg

from mlops_assets.components.landing_dataset import LandingDataset
from mlops_assets.components.model_pipeline.component import ModelPipeline
from mlops_assets.defs.cost.assets import build_cost_report
from mlops_assets.defs.features.assets import build_feast_registry
from mlops_assets.defs.notifications.sensors import build_notification_sensors
from mlops_assets.defs.operations.backup import build_backup_defs
from mlops_assets.resources.notifier import notifier_from_env
from mlops_assets.resources.profiles import build_resources
from mlops_assets.settings import Settings

DATASETS = "datasets"  # defs/datasets/<dataset>/defs.yaml: one data layer each
MODELS = "models"  # defs/models/<model>/defs.yaml: one model pipeline each


def component_tree() -> dg.ComponentTree:
    """The component instances under `mlops_assets/defs/`.

    The tree is built on our `defs` package directly (not `for_project`), so it carries no
    code-location name of its own: the one the workspace registers wins, with no mismatch.
    Only the `datasets` and `models` subtrees are built (the shared part is wired explicitly)."""
    import mlops_assets.defs as defs_package

    return dg.ComponentTree.from_module(
        defs_module=defs_package, project_root=Path(__file__).resolve().parents[1]
    )


@dg.definitions
def defs() -> dg.Definitions:
    tree = component_tree()
    datasets = tree.build_defs(DATASETS)
    marts = [
        dg.AssetKey(mart.dbt_model)
        for dataset in tree.get_all_components(LandingDataset)
        for mart in dataset.features.marts
    ]
    shared = dg.Definitions(
        assets=[build_feast_registry(marts)],
        resources={**build_resources(Settings.from_env()), "notifier": notifier_from_env()},
        sensors=build_notification_sensors(),  # run failures, failed checks, promotions
        # DuckDB allows one writer per file; in-process keeps the whole run in one process
        # (and skips a process start per step). The warehouse pool guards other executors.
        executor=dg.in_process_executor,
    )
    models = tree.build_defs(MODELS)
    specs = tree.get_all_components(ModelPipeline)
    cost = dg.Definitions(assets=[build_cost_report(specs)] if specs else [])
    return dg.Definitions.merge(shared, datasets, models, cost, build_backup_defs())
