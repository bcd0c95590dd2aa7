"""Scoring a registered version on held-out rows through its ONNX export (never unpickling)."""

from pathlib import Path

from mlops_assets.core import registry, training
from mlops_assets.core.onnx_runtime import load_onnx_session
from mlops_assets.resources.model_registry import ModelRegistry
from mlops_assets.settings import Settings


def served_onnx_path(model_name: str, version: str, settings: Settings) -> Path:
    """Where the data home caches a version's PUBLISHED ONNX file (the one scoring serves)."""
    return settings.home_path / "models" / model_name / f"v{version}" / registry.ONNX_ARTIFACT


def onnx_path_for(mlflow: ModelRegistry, version: str, settings: Settings) -> Path:
    """The version's published ONNX file, downloaded once into the data home's model cache.

    Publication is checked every time, cached or not: a version whose export never passed
    parity has no `onnx/model.onnx` on its run, and is never served."""
    local = served_onnx_path(mlflow.model_name, version, settings)
    info = mlflow.version_info(version)
    if not registry.has_onnx(mlflow.tracking_uri, info["run_id"]):
        raise registry.RegistryError(f"v{version} has no ONNX export")
    if not local.exists():
        registry.download_onnx(mlflow.tracking_uri, info["run_id"], local.parents[1])
    return local


def champion_auc_pr_on(mlflow: ModelRegistry, version: str, test, settings: Settings) -> float:
    scorer = load_onnx_session(
        onnx_path_for(mlflow, version, settings), allowed_root=settings.home_path
    )
    probs = scorer.predict_proba(training.feature_matrix(test))
    return training.metrics_from_predictions(test[training.LABEL_COLUMN].to_numpy(), probs)[
        "auc_pr"
    ]
