"""Training candidates, evaluation metrics and dataset fingerprints, without any framework.

The Dagster layer reads the point-in-time training set, calls `time_split`, `train_candidate`
and `evaluate`, and logs what comes back to MLflow; everything here is testable on a plain
DataFrame. Conventions:

* A training set has the entity key, ``event_timestamp`` (UTC), ``label`` (0/1) and the
  model's input columns (float, NaN allowed: both model kinds route missing values natively).
  Which columns are inputs is the model's feature service's business (`core.model_inputs`):
  every function here takes that list, none has one of its own.
* Models are fitted and scored on a float32 matrix in the inputs' order (`feature_matrix`).
  The ONNX export takes float32 input too, so native and ONNX scores see bit-identical inputs
  and parity is limited by arithmetic, never by input rounding.
* Heavy libraries (numpy, pandas, scikit-learn, xgboost) are imported inside functions:
  importing this module only costs the dataclasses, so Dagster can reach the defaults at load.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

ModelKind = Literal["sklearn", "xgboost"]
MODEL_KINDS: tuple[ModelKind, ...] = ("sklearn", "xgboost")

# Bump when training or evaluation logic changes in a way that changes a trained model
# (used as the Dagster code_version of the candidate assets and logged to MLflow).
CODE_VERSION = "1"

DEFAULT_SEED = 42
LABEL_COLUMN = "label"
TIME_COLUMN = "event_timestamp"
ECE_BINS = 10


@dataclass(frozen=True)
class SklearnParams:
    """scikit-learn candidate: a Pipeline ending in HistGradientBoostingClassifier.

    Gradient-boosted trees are the primary sklearn model because behavioural signals are
    non-linear (recency, ratios of windows) and the features carry meaningful NaN
    ("never transacted"); HGB learns a missing-value direction per split, so by default
    there is no imputer (``impute_strategy=None``). Early stopping is off: sklearn's early
    stopping holds out a *random* validation split (breaking the time-split discipline) and
    makes the tree count data-dependent. ``categorical_features`` is never set: skl2onnx
    converts categorical HGB splits silently with wrong probabilities (DESIGN §9); an
    ordinal category works as a numeric feature. ``n_threads`` caps HGB's OpenMP
    threads while fitting: on a busy 2-core machine two spinning OpenMP threads made a fit
    ~18x slower than one (12.8 s vs 0.7 s measured here).
    """

    learning_rate: float = 0.05
    max_iter: int = 300
    max_leaf_nodes: int = 31
    max_depth: int | None = 6
    min_samples_leaf: int = 20
    l2_regularization: float = 1.0
    impute_strategy: Literal["median", "mean"] | None = None
    n_threads: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class XGBoostParams:
    """XGBoost candidate (`xgboost.XGBClassifier`, histogram method, binary:logistic).

    ``n_jobs`` defaults to 1: runs are deterministic, and parallel Dagster steps on a small
    machine do not oversubscribe cores. Raise it for large training sets.
    """

    n_estimators: int = 300
    max_depth: int = 5
    learning_rate: float = 0.05
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    min_child_weight: float = 1.0
    reg_lambda: float = 1.0
    gamma: float = 0.0
    n_jobs: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


CandidateParams = SklearnParams | XGBoostParams


def default_params(kind: ModelKind) -> CandidateParams:
    """Default hyperparameters for a model kind."""
    if kind == "sklearn":
        return SklearnParams()
    if kind == "xgboost":
        return XGBoostParams()
    raise ValueError(f"unknown model kind {kind!r}; expected one of {MODEL_KINDS}")


# --------------------------------------------------------------------------------------------
# data preparation


def feature_matrix(
    data: pd.DataFrame | np.ndarray, features: Sequence[str] | None = None
) -> np.ndarray:
    """The float32, C-contiguous model input in ``features`` order (NaN for missing).

    Accepts a DataFrame (columns selected by name, pandas NA becomes NaN; ``features``
    required) or an array that already has ``len(features)`` columns (any width without
    ``features``). One conversion for training, native scoring and ONNX scoring keeps their
    inputs identical.
    """
    import numpy as np
    import pandas as pd

    if features is None:
        if isinstance(data, pd.DataFrame):
            raise ValueError("a frame needs the model's input columns (`features`)")
        matrix = np.asarray(data, dtype=np.float32)
        if matrix.ndim != 2:
            raise ValueError(f"expected a 2-D array of model inputs, got shape {matrix.shape}")
        return np.ascontiguousarray(matrix)
    n = len(features)
    if isinstance(data, pd.DataFrame):
        missing = [c for c in features if c not in data.columns]
        if missing:
            raise ValueError(f"feature columns missing from the frame: {missing}")
        try:
            matrix = data.loc[:, list(features)].to_numpy(dtype=np.float32, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"feature columns must be numeric: {exc}") from exc
    else:
        matrix = np.asarray(data, dtype=np.float32)
        if matrix.ndim == 1 and matrix.shape[0] == n:
            matrix = matrix.reshape(1, n)
        if matrix.ndim != 2 or matrix.shape[1] != n:
            raise ValueError(f"expected a 2-D array with {n} feature columns, got {matrix.shape}")
    return np.ascontiguousarray(matrix)


def _labels(df: pd.DataFrame, label_column: str) -> np.ndarray:
    import numpy as np

    if label_column not in df.columns:
        raise ValueError(f"label column {label_column!r} missing from the frame")
    labels = df[label_column]
    if labels.isna().any():
        raise ValueError(f"label column {label_column!r} has {int(labels.isna().sum())} nulls")
    y = labels.to_numpy()
    values = set(np.unique(y).tolist())
    if not values <= {0, 1}:
        raise ValueError(f"labels must be 0/1, found values {sorted(values)[:10]}")
    return y.astype(np.int64)


def time_split(
    df: pd.DataFrame,
    *,
    test_fraction: float = 0.25,
    time_column: str = TIME_COLUMN,
    label_column: str = LABEL_COLUMN,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split by time: the latest days (about ``test_fraction`` of the rows) are the test set.

    The cut is on a UTC day boundary, so a day is never on both sides and every train row is
    strictly earlier than every test row (no look-ahead). The number of test days is the one
    whose row count is closest to ``test_fraction`` of the rows, with at least one day per side.
    Naive timestamps are taken as UTC. Raises ValueError when there are fewer than two days,
    or when either side would be empty or hold a single class (metrics would be undefined).
    """
    import numpy as np
    import pandas as pd

    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if time_column not in df.columns:
        raise ValueError(f"time column {time_column!r} missing from the frame")
    if df.empty:
        raise ValueError("cannot split an empty training set")
    times = pd.to_datetime(df[time_column], utc=True)
    if times.isna().any():
        raise ValueError(f"time column {time_column!r} has {int(times.isna().sum())} nulls")
    days = times.dt.floor("D")
    counts = days.value_counts().sort_index()
    if len(counts) < 2:
        raise ValueError(
            f"a time split needs at least two distinct days in {time_column!r}, found {len(counts)}"
        )
    # test rows when the last k days are the test set, k = 1 .. n_days - 1
    test_rows = np.cumsum(counts.to_numpy()[::-1])[:-1]
    k = int(np.argmin(np.abs(test_rows - test_fraction * len(df)))) + 1
    cutoff = counts.index[-k]
    is_test = (days >= cutoff).to_numpy()
    train, test = df.loc[~is_test].copy(), df.loc[is_test].copy()
    for name, part in (("train", train), ("test", test)):
        if part.empty:
            raise ValueError(f"time split at {cutoff:%Y-%m-%d} leaves the {name} side empty")
        classes = np.unique(_labels(part, label_column))
        if len(classes) < 2:
            raise ValueError(
                f"time split at {cutoff:%Y-%m-%d}: the {name} side ({len(part)} rows) has a "
                f"single class ({int(classes[0])}); need both labels on both sides"
            )
    return train, test


# --------------------------------------------------------------------------------------------
# training and scoring


def build_estimator(kind: ModelKind, params: CandidateParams | None = None, *, seed: int):
    """An unfitted estimator for ``kind`` (Pipeline for sklearn, XGBClassifier for xgboost)."""
    params = default_params(kind) if params is None else params
    if kind == "sklearn":
        if not isinstance(params, SklearnParams):
            raise TypeError(f"kind 'sklearn' needs SklearnParams, got {type(params).__name__}")
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import Pipeline

        steps: list[tuple[str, Any]] = []
        if params.impute_strategy is not None:
            steps.append(
                ("impute", SimpleImputer(strategy=params.impute_strategy, keep_empty_features=True))
            )
        steps.append(
            (
                "model",
                HistGradientBoostingClassifier(
                    learning_rate=params.learning_rate,
                    max_iter=params.max_iter,
                    max_leaf_nodes=params.max_leaf_nodes,
                    max_depth=params.max_depth,
                    min_samples_leaf=params.min_samples_leaf,
                    l2_regularization=params.l2_regularization,
                    categorical_features=None,
                    early_stopping=False,
                    random_state=seed,
                ),
            )
        )
        return Pipeline(steps)
    if kind == "xgboost":
        if not isinstance(params, XGBoostParams):
            raise TypeError(f"kind 'xgboost' needs XGBoostParams, got {type(params).__name__}")
        from xgboost import XGBClassifier

        return XGBClassifier(
            n_estimators=params.n_estimators,
            max_depth=params.max_depth,
            learning_rate=params.learning_rate,
            subsample=params.subsample,
            colsample_bytree=params.colsample_bytree,
            min_child_weight=params.min_child_weight,
            reg_lambda=params.reg_lambda,
            gamma=params.gamma,
            n_jobs=params.n_jobs,
            objective="binary:logistic",
            eval_metric="logloss",
            tree_method="hist",
            random_state=seed,
        )
    raise ValueError(f"unknown model kind {kind!r}; expected one of {MODEL_KINDS}")


def train_candidate(
    kind: ModelKind,
    params: CandidateParams | None,
    train: pd.DataFrame,
    features: Sequence[str],
    seed: int = DEFAULT_SEED,
    *,
    label_column: str = LABEL_COLUMN,
):
    """Fit one candidate on ``train``; same data + params + seed gives the same model.

    ``params=None`` uses the kind's defaults. The model is fitted on `feature_matrix`
    (float32, ``features`` order), so it carries no column names: the feature list travels
    with the model version (MLflow signature / params), not inside the estimator.
    """
    y = _labels(train, label_column)
    if len(set(y.tolist())) < 2:
        raise ValueError("the training set has a single class; cannot train a classifier")
    X = feature_matrix(train, features)
    model = build_estimator(kind, params, seed=seed)
    if kind == "sklearn":
        from threadpoolctl import threadpool_limits

        n_threads = (params or SklearnParams()).n_threads
        with threadpool_limits(limits=n_threads, user_api="openmp"):
            model.fit(X, y)
    else:
        model.fit(X, y)
    return model


def predict_proba_positive(
    model: Any, X: pd.DataFrame | np.ndarray, features: Sequence[str] | None = None
) -> np.ndarray:
    """Native probability of the positive class (label 1), as float64.

    The one place native models are scored (XGBoost through its sklearn ``predict_proba``),
    so evaluation, parity checks and benchmarks agree on what "native" means.
    """
    import numpy as np

    classes = getattr(model, "classes_", None)
    if classes is None or [int(c) for c in classes] != [0, 1]:
        raise ValueError(f"expected a fitted binary classifier with classes [0, 1], got {classes}")
    proba = model.predict_proba(feature_matrix(X, features))
    return np.asarray(proba[:, 1], dtype=np.float64)


# --------------------------------------------------------------------------------------------
# metrics


def _calibration_bins(y_true: np.ndarray, y_prob: np.ndarray, n_bins: int):
    import numpy as np

    # Equal-width bins on [0, 1]; bin i holds i/n <= p < (i+1)/n, the last bin includes 1.0.
    idx = np.minimum((y_prob * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    sum_prob = np.bincount(idx, weights=y_prob, minlength=n_bins)
    sum_true = np.bincount(idx, weights=y_true, minlength=n_bins)
    return count, sum_prob, sum_true


def _check_predictions(y_true, y_prob) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    y = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_prob, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"{len(y)} labels but {len(p)} predictions")
    if len(y) == 0:
        raise ValueError("cannot evaluate on zero rows")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0/1")
    if not (np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()):
        raise ValueError("predicted probabilities must be finite and within [0, 1]")
    return y, p


def expected_calibration_error(y_true, y_prob, *, n_bins: int = ECE_BINS) -> float:
    """ECE: row-weighted mean |mean predicted - observed rate| over equal-width bins.

    ``sum_b (n_b / N) * |mean(p in b) - mean(y in b)|`` with ``n_bins`` equal-width bins on
    [0, 1] (bin i holds ``i/n <= p < (i+1)/n``, the last one includes 1.0); empty bins add 0.
    """
    y, p = _check_predictions(y_true, y_prob)
    _, sum_prob, sum_true = _calibration_bins(y, p, n_bins)
    return float(abs(sum_prob - sum_true).sum() / len(y))


def calibration_table(y_true, y_prob, *, n_bins: int = ECE_BINS) -> list[dict[str, float]]:
    """Reliability table for a model card: one dict per non-empty bin (same bins as the ECE).

    Keys: ``bin_lower``, ``bin_upper``, ``n_rows``, ``mean_predicted``, ``observed_rate``.
    """
    y, p = _check_predictions(y_true, y_prob)
    count, sum_prob, sum_true = _calibration_bins(y, p, n_bins)
    return [
        {
            "bin_lower": i / n_bins,
            "bin_upper": (i + 1) / n_bins,
            "n_rows": float(count[i]),
            "mean_predicted": float(sum_prob[i] / count[i]),
            "observed_rate": float(sum_true[i] / count[i]),
        }
        for i in range(n_bins)
        if count[i] > 0
    ]


def metrics_from_predictions(y_true, y_prob) -> dict[str, float]:
    """All evaluation metrics from labels and positive-class probabilities.

    ``roc_auc``, ``auc_pr`` (average precision), ``log_loss``, ``brier``, ``ece``
    (`expected_calibration_error`, 10 bins), ``positive_rate`` (observed share of label 1),
    ``mean_predicted`` and ``n_rows``, all floats. Works for native or ONNX scores alike.
    Raises ValueError on a single-class label set, where ROC-AUC and AUC-PR are undefined.
    """
    import numpy as np
    from sklearn.metrics import (
        average_precision_score,
        brier_score_loss,
        log_loss,
        roc_auc_score,
    )

    y, p = _check_predictions(y_true, y_prob)
    if len(np.unique(y)) < 2:
        raise ValueError("evaluation set has a single class: ROC-AUC and AUC-PR are undefined")
    metrics = {
        "roc_auc": float(roc_auc_score(y, p)),
        "auc_pr": float(average_precision_score(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p),
        "positive_rate": float(y.mean()),
        "mean_predicted": float(p.mean()),
        "n_rows": float(len(y)),
    }
    bad = [k for k, v in metrics.items() if not math.isfinite(v)]
    if bad:
        raise ValueError(f"non-finite metrics: {bad}")
    return metrics


def evaluate(
    model: Any,
    df: pd.DataFrame,
    features: Sequence[str],
    *,
    label_column: str = LABEL_COLUMN,
) -> dict[str, float]:
    """Score ``df`` natively and return `metrics_from_predictions` (all floats)."""
    y = _labels(df, label_column)
    return metrics_from_predictions(y, predict_proba_positive(model, df, features))


def baseline_scores(df: pd.DataFrame, expression: str) -> np.ndarray:
    """A rule's scores: the SQL expression (DuckDB, over the frame's columns; higher means more
    likely positive) evaluated per row, in row order. A row whose score is NULL or NaN ranks
    below every other row."""
    import duckdb
    import numpy as np

    con = duckdb.connect()
    try:
        con.register("_rows", df)
        scores = con.execute(f"SELECT CAST(({expression}) AS DOUBLE) FROM _rows").fetchnumpy()
    finally:
        con.close()
    values = np.asarray(next(iter(scores.values())), dtype=np.float64)
    values = np.where(np.isfinite(values), values, np.nan)
    if np.isnan(values).all():
        raise ValueError(f"the baseline {expression!r} scores no row")
    return np.where(np.isnan(values), np.nanmin(values) - 1.0, values)


def ranking_metrics(y_true, scores) -> dict[str, float]:
    """AUC-PR and ROC-AUC of any score where higher means more likely positive (a rule's
    scores need not be probabilities, so no calibration metric here)."""
    import numpy as np
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(y_true, dtype=np.float64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"{len(y)} labels but {len(s)} scores")
    if len(np.unique(y)) < 2:
        raise ValueError("evaluation set has a single class: ROC-AUC and AUC-PR are undefined")
    return {
        "auc_pr": float(average_precision_score(y, s)),
        "roc_auc": float(roc_auc_score(y, s)),
    }


def evaluate_baseline(
    df: pd.DataFrame, expression: str, *, label_column: str = LABEL_COLUMN
) -> dict[str, float]:
    """`ranking_metrics` of a rule (`baseline_scores`) on ``df``."""
    return ranking_metrics(_labels(df, label_column), baseline_scores(df, expression))


# --------------------------------------------------------------------------------------------
# provenance


def dataset_fingerprint(df: pd.DataFrame) -> str:
    """A sha256 hex digest of the frame's *content*, independent of row and column order.

    Each row is hashed with ``pandas.util.hash_pandas_object(index=False)`` over the columns
    sorted by name; the row hashes are sorted (so row order does not matter, duplicates still
    count) and hashed together with the schema (names + dtypes). Timestamps are normalised to
    nanoseconds (tz-aware ones to UTC), so a parquet round trip that changes the time unit
    keeps the fingerprint. The index is ignored. Identical data gives an identical fingerprint.
    """
    import numpy as np
    import pandas as pd

    columns = sorted(map(str, df.columns))
    if len(columns) != len(df.columns):
        raise ValueError("column names must be unique (as strings) to fingerprint a frame")
    frame = df.rename(columns=str)[columns].reset_index(drop=True)
    for col in columns:
        series = frame[col]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            frame[col] = series.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
        elif pd.api.types.is_datetime64_dtype(series.dtype):
            frame[col] = series.astype("datetime64[ns]")
    digest = hashlib.sha256()
    schema = ";".join(f"{c}:{frame[c].dtype}" for c in columns)
    digest.update(f"rows={len(frame)}|{schema}|".encode())
    if len(frame):
        row_hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
        digest.update(np.sort(row_hashes).astype("<u8").tobytes())
    return digest.hexdigest()
