"""The model-pipeline component: one `defs.yaml` per model builds that model's whole layer.

    defs/models/<model>/defs.yaml   type: mlops_assets.components.ModelPipeline
                                    attributes: <ModelSpec>

From the YAML alone (no Feast registry, no MLflow at load) it builds, keys prefixed by the
model's name: training_set → candidate_<kind>… → challenger (+ blocking approval_gate) →
champion → onnx (+ blocking onnx_parity) → daily_scores → drift_report / model_performance,
and retraining_history; the serving side: prediction_log → ab_test; the model's jobs,
sensors and schedules (see `automation`). The data layer is referenced, never copied: the
model's `dataset:` names the dataset component (`defs/datasets/<dataset>/`) whose online
features it follows and whose days it counts, and the Feast registry is shared.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import BaseModel

from mlops_assets.components.landing_dataset import DatasetSpec, LandingDataset
from mlops_assets.components.model_pipeline import (
    ab_testing,
    automation,
    export,
    monitoring,
    rollout,
    training,
)
from mlops_assets.components.model_pipeline.spec import (
    ModelSpec,
    ModelSpecError,
    check_dataset,
    check_feature_service,
)

FEATURE_REPO = "feature_repo"  # at the project root, next to dbt_project/
DATASETS = "datasets"  # defs/datasets/<dataset>/defs.yaml: the LandingDataset components


class ModelPipeline(dg.Component, ModelSpec, dg.Resolvable):
    """A model pipeline declared in YAML: inputs (a Feast feature service), labels (a dbt
    model), scoring population, candidates, approval gate, drift and retraining policy."""

    @classmethod
    def get_model_cls(cls) -> type[BaseModel]:
        # The YAML is validated against the plain schema: no template strings, so an error
        # names the field and what is allowed without "or a string" alternatives.
        return cls

    @classmethod
    def load(cls, attributes: BaseModel | None, context: dg.ComponentLoadContext) -> ModelPipeline:
        source = str(Path(context.path) / "defs.yaml")
        if attributes is None:
            raise ValueError(f"{source}: a model pipeline needs `attributes:`")
        component = attributes if isinstance(attributes, cls) else cls(**attributes.model_dump())
        check_feature_service(component, Path(context.project_root) / FEATURE_REPO, source)
        check_dataset(component, Path(context.defs_module_path) / DATASETS, source)
        return component

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        dataset = context.load_component(f"{DATASETS}/{self.dataset}")
        if not isinstance(dataset, LandingDataset):
            raise ModelSpecError(
                f"{Path(context.path) / 'defs.yaml'}: attributes.dataset: "
                f"{DATASETS}/{self.dataset} is not a LandingDataset"
            )
        return build_model_defs(self, dataset)


def build_model_defs(spec: ModelSpec, dataset: DatasetSpec) -> dg.Definitions:
    """Every definition of one model's layer, from its spec and its dataset's spec only."""
    if dataset.name != spec.dataset:
        raise ModelSpecError(f"{spec.name} reads dataset {spec.dataset!r}, not {dataset.name!r}")
    if not dataset.features.online_views:
        raise ModelSpecError(
            f"{spec.name}: attributes.dataset: {dataset.name!r} serves no online views "
            "(features.online_views), so nothing marks its days ready for scoring"
        )
    partitions = monitoring.daily_partitions(spec)
    jobs = automation.build_jobs(spec)
    rollout_job = rollout.build_rollout_job(spec)
    return dg.Definitions(
        assets=[
            training.build_training_set(spec),
            *(training.build_candidate(spec, c) for c in spec.candidates),
            training.build_challenger(spec),
            training.build_champion(spec),
            export.build_onnx(spec, dataset),
            monitoring.build_daily_scores(spec, dataset, partitions),
            monitoring.build_drift_report(spec, dataset, partitions),
            monitoring.build_model_performance(spec, dataset, partitions),
            monitoring.build_retraining_history(spec),
            ab_testing.build_prediction_log(spec, partitions),
            ab_testing.build_ab_test(spec),
            dg.AssetsDefinition(specs=[automation.build_episodes_spec(spec)]),
        ],
        asset_checks=[training.build_approval_gate(spec), automation.build_episode_check(spec)],
        jobs=[
            *jobs.values(),
            training.build_rollback_job(spec),
            training.build_approve_job(spec, dataset),
            rollout_job,
        ],
        sensors=[
            automation.build_scoring_sensor(spec, dataset, jobs),
            automation.build_retrain_on_drift_sensor(spec, jobs),
            automation.build_retrain_on_new_data_sensor(spec, jobs),
            rollout.build_canary_sensor(spec, rollout_job),
        ],
        schedules=automation.build_schedules(spec, jobs),
    )
