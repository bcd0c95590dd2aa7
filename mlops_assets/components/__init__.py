"""Dagster component types of the platform (generic: they never name a dataset, a model or a
feature).

Registered through `[tool.dg.project] registry_modules` so `dg list components` shows them;
an instance is a `defs.yaml` under `mlops_assets/defs/`: a dataset (`LandingDataset`, under
`defs/datasets/<dataset>/`) or a model (`ModelPipeline`, under `defs/models/<model>/`).
"""

from mlops_assets.components.landing_dataset import LandingDataset
from mlops_assets.components.model_pipeline import ModelPipeline

__all__ = ["LandingDataset", "ModelPipeline"]
