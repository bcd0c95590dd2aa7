"""The fallback model exported with each champion, for degraded answers.

When the online features of an entity are stale and it has no batch score, the server answers
with this model instead of the champion: a logistic regression on the champion's inputs
(median-imputed, standardized), small and monotone, so old feature values move its answer
smoothly instead of through the champion's tree splits. It is trained on the champion's
training rows, exported to ONNX next to the champion (`FALLBACK_ARTIFACT`) with its sha256 and
held-out AUC-PR in the version's tags, and loaded only through the safe ONNX loader.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

FALLBACK_ARTIFACT = "onnx/fallback.onnx"
SHA_TAG = "fallback_onnx_sha256"
AUC_PR_TAG = "fallback_auc_pr"


@dataclasses.dataclass(frozen=True)
class FallbackExport:
    model_bytes: bytes
    sha256: str
    auc_pr: float
    parity_max_abs_diff: float


def build_fallback(
    frame: pd.DataFrame, features: Sequence[str], *, test_fraction: float, seed: int = 0
) -> FallbackExport:
    """Train on the older rows of `frame` (the champion's training set), judge on the newest
    `test_fraction` (as the gate splits), export to ONNX and check parity with scikit-learn."""
    import numpy as np
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mlops_assets.core import training
    from mlops_assets.core.onnx_export import export_onnx
    from mlops_assets.core.onnx_runtime import load_onnx_session

    train, test = training.time_split(frame, test_fraction=test_fraction)
    X = training.feature_matrix(train, list(features))
    y = train[training.LABEL_COLUMN].to_numpy().astype(int)
    # a feature with no value in the training rows would be dropped by the imputer and change
    # the model's width: keep it, imputed with 0
    model = make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(max_iter=500, random_state=seed),
    ).fit(X, y)
    exported = export_onnx(model, len(features))
    scorer = load_onnx_session(exported.model_bytes)
    X_test = training.feature_matrix(test, list(features))
    onnx_p = scorer.predict_proba(X_test)
    native_p = model.predict_proba(X_test)[:, 1]
    diff = float(np.max(np.abs(onnx_p - native_p))) if len(X_test) else 0.0
    labels = test[training.LABEL_COLUMN].to_numpy()
    auc_pr = training.metrics_from_predictions(labels, onnx_p)["auc_pr"]
    return FallbackExport(exported.model_bytes, exported.sha256, float(auc_pr), diff)
