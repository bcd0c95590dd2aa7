"""Dagster component types of the platform (generic: they never name a model or a feature).

Registered through `[tool.dg.project] registry_modules` so `dg list components` shows them;
an instance is a `defs.yaml` under `mlops_assets/defs/`.
"""

from mlops_assets.components.model_pipeline import ModelPipeline

__all__ = ["ModelPipeline"]
