"""The model-pipeline component type (`ModelPipeline`) and its YAML schema (`ModelSpec`)."""

from mlops_assets.components.model_pipeline.component import ModelPipeline, build_model_defs
from mlops_assets.components.model_pipeline.spec import ModelSpec, ModelSpecError

__all__ = ["ModelPipeline", "ModelSpec", "ModelSpecError", "build_model_defs"]
