"""Scoring a registered version through its published ONNX export (never unpickling): where
the served file lives, how it is fetched, and a metric of a version on held-out rows."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_assets.core import registry, training

if TYPE_CHECKING:
    import pandas as pd


def served_onnx_path(
    home: Path, model_name: str, version: str, artifact: str = registry.ONNX_ARTIFACT
) -> Path:
    """Where the data home caches a version's PUBLISHED ONNX file (the one scoring serves)."""
    return Path(home) / "models" / model_name / f"v{version}" / artifact


def published_onnx_path(
    tracking_uri: str,
    home: Path,
    model_name: str,
    version: str,
    artifact: str = registry.ONNX_ARTIFACT,
) -> Path:
    """The version's published ONNX file (`artifact`: the model, or its fallback model),
    downloaded once into the data home's model cache.

    Publication is checked every time, cached or not: a version whose export never passed
    parity has no `onnx/model.onnx` on its run, and is never served."""
    local = served_onnx_path(home, model_name, version, artifact)
    info = registry.version_info(tracking_uri, model_name, version)
    if not registry.has_onnx(tracking_uri, info["run_id"], artifact):
        raise registry.RegistryError(f"v{version} has no ONNX export ({artifact})")
    if not local.exists():
        local.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=local.parent, prefix=".download-") as tmp:
            downloaded = registry.download_onnx(tracking_uri, info["run_id"], Path(tmp), artifact)
            os.replace(downloaded, local)  # atomic: a reader never sees half a file
    return local


def version_metric_on(
    tracking_uri: str,
    home: Path,
    model_name: str,
    version: str,
    rows: pd.DataFrame,
    features: Sequence[str],
    *,
    metric: str = "auc_pr",
    label_column: str = training.LABEL_COLUMN,
) -> float:
    """`metric` of `version` (scored through its published ONNX) on `rows`."""
    from mlops_assets.core.onnx_runtime import load_onnx_session

    scorer = load_onnx_session(
        published_onnx_path(tracking_uri, home, model_name, version), allowed_root=Path(home)
    )
    probs = scorer.predict_proba(training.feature_matrix(rows, features))
    metrics = training.metrics_from_predictions(rows[label_column].to_numpy(), probs)
    if metric not in metrics:
        raise ValueError(f"unknown metric {metric!r}; metrics: {sorted(metrics)}")
    return metrics[metric]
