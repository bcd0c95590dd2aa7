"""The model-pipeline component: one `defs.yaml` per model builds that model's whole layer.

    defs/models/<model>/defs.yaml   type: mlops_assets.components.ModelPipeline
                                    attributes: <ModelSpec>

From the YAML alone (no Feast registry, no MLflow at load) it builds, keys prefixed by the
model's name: training_set → candidate_<kind>… → challenger (+ blocking approval_gate) →
champion → onnx (+ blocking onnx_parity) → daily_scores → drift_report / model_performance,
and retraining_history; the model's jobs, sensors and schedules (see `automation`). The shared
data layer (ingest, dbt, Feast registry and online features) is referenced, never copied.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import BaseModel

from mlops_assets.components.model_pipeline import automation, export, monitoring, training
from mlops_assets.components.model_pipeline.spec import ModelSpec, check_feature_service

FEATURE_REPO = "feature_repo"  # at the project root, next to dbt_project/


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
        return component

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return build_model_defs(self)


def build_model_defs(spec: ModelSpec) -> dg.Definitions:
    """Every definition of one model's layer, from its spec only."""
    partitions = monitoring.daily_partitions(spec)
    jobs = automation.build_jobs(spec)
    return dg.Definitions(
        assets=[
            training.build_training_set(spec),
            *(training.build_candidate(spec, c) for c in spec.candidates),
            training.build_challenger(spec),
            training.build_champion(spec),
            export.build_onnx(spec),
            monitoring.build_daily_scores(spec, partitions),
            monitoring.build_drift_report(spec, partitions),
            monitoring.build_model_performance(spec, partitions),
            monitoring.build_retraining_history(spec),
        ],
        asset_checks=[training.build_approval_gate(spec)],
        jobs=[*jobs.values(), training.build_rollback_job(spec)],
        sensors=[
            automation.build_scoring_sensor(spec, jobs),
            automation.build_retrain_on_drift_sensor(spec, jobs),
            automation.build_retrain_on_new_data_sensor(spec, jobs),
        ],
        schedules=automation.build_schedules(spec, jobs),
    )
