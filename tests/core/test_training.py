"""core.training: time split, determinism, metrics, fingerprints (no Dagster, no MLflow)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)

from mlops_assets.core import training
from mlops_assets.core.training import (
    SklearnParams,
    XGBoostParams,
    calibration_table,
    dataset_fingerprint,
    evaluate,
    expected_calibration_error,
    feature_matrix,
    metrics_from_predictions,
    predict_proba_positive,
    time_split,
    train_candidate,
)
from tests.synthetic import SYNTHETIC_FEATURES as F
from tests.synthetic import synthetic_training_set

SMALL = {"sklearn": SklearnParams(max_iter=40), "xgboost": XGBoostParams(n_estimators=40)}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return synthetic_training_set(6_000, n_days=30, seed=3)


@pytest.fixture(scope="module")
def split(data):
    return time_split(data)


# --------------------------------------------------------------------------------------------
# time split


def test_time_split_never_leaks(data, split):
    train, test = split
    assert len(train) + len(test) == len(data)
    assert train["event_timestamp"].max() < test["event_timestamp"].min()
    train_days = set(train["event_timestamp"].dt.floor("D"))
    test_days = set(test["event_timestamp"].dt.floor("D"))
    assert not train_days & test_days, "a day must never be on both sides"
    assert 0.2 <= len(test) / len(data) <= 0.3
    assert set(train.index).isdisjoint(test.index)


def test_time_split_ignores_row_order_and_accepts_naive_utc(data, split):
    shuffled = data.sample(frac=1.0, random_state=0)
    shuffled["event_timestamp"] = shuffled["event_timestamp"].dt.tz_localize(None)
    train, test = time_split(shuffled)
    assert set(train.index) == set(split[0].index)
    assert set(test.index) == set(split[1].index)


@pytest.mark.parametrize("fraction", [0.1, 0.5])
def test_time_split_respects_fraction(data, fraction):
    train, test = time_split(data, test_fraction=fraction)
    assert abs(len(test) / len(data) - fraction) < 1 / 30 + 0.02  # one day ~ 1/30 of rows
    assert train["event_timestamp"].max() < test["event_timestamp"].min()


def test_time_split_rejects_a_single_day(data):
    one_day = data.assign(event_timestamp=pd.Timestamp("2026-01-05 10:00", tz="UTC"))
    with pytest.raises(ValueError, match="at least two distinct days"):
        time_split(one_day)


def test_time_split_rejects_single_class_side(data):
    late = data["event_timestamp"] >= data["event_timestamp"].quantile(0.6)
    degenerate = data.assign(label=np.where(late, 0, data["label"]))
    with pytest.raises(ValueError, match=r"test side .* single class"):
        time_split(degenerate)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_time_split_rejects_bad_fraction(data, fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        time_split(data, test_fraction=fraction)


def test_time_split_rejects_null_times(data):
    broken = data.copy()
    broken.loc[broken.index[0], "event_timestamp"] = pd.NaT
    with pytest.raises(ValueError, match="nulls"):
        time_split(broken)


# --------------------------------------------------------------------------------------------
# training


@pytest.mark.parametrize("kind", ["sklearn", "xgboost"])
def test_training_is_deterministic(split, kind):
    train, test = split
    first = predict_proba_positive(train_candidate(kind, SMALL[kind], train, F, seed=7), test, F)
    second = predict_proba_positive(train_candidate(kind, SMALL[kind], train, F, seed=7), test, F)
    np.testing.assert_array_equal(first, second)


def test_xgboost_seed_matters(split):
    train, test = split
    a = predict_proba_positive(
        train_candidate("xgboost", SMALL["xgboost"], train, F, seed=1), test, F
    )
    b = predict_proba_positive(
        train_candidate("xgboost", SMALL["xgboost"], train, F, seed=2), test, F
    )
    assert not np.array_equal(a, b), "subsample/colsample must follow the seed"


def test_default_params_and_estimators():
    pipe = training.build_estimator("sklearn", None, seed=0)
    hgb = pipe.steps[-1][1]
    assert type(hgb).__name__ == "HistGradientBoostingClassifier"
    assert hgb.categorical_features is None and hgb.early_stopping is False
    xgb = training.build_estimator("xgboost", None, seed=0)
    assert xgb.get_params()["n_jobs"] == 1
    with_imputer = training.build_estimator(
        "sklearn", SklearnParams(impute_strategy="median"), seed=0
    )
    assert [name for name, _ in with_imputer.steps] == ["impute", "model"]
    assert SklearnParams().to_dict()["max_iter"] == 300


def test_params_must_match_kind(split):
    with pytest.raises(TypeError, match="XGBoostParams"):
        train_candidate("xgboost", SklearnParams(), split[0], F)
    with pytest.raises(ValueError, match="unknown model kind"):
        train_candidate("lightgbm", None, split[0], F)  # type: ignore[arg-type]


def test_training_rejects_bad_labels(split):
    train = split[0]
    with pytest.raises(ValueError, match="single class"):
        train_candidate("xgboost", SMALL["xgboost"], train.assign(label=0), F)
    with pytest.raises(ValueError, match="0/1"):
        train_candidate("xgboost", SMALL["xgboost"], train.assign(label=2), F)


def test_feature_matrix_contract(data):
    frame = data.copy()
    frame["tenure_days"] = frame["tenure_days"].astype("Float64")
    frame.loc[frame.index[0], "tenure_days"] = pd.NA
    matrix = feature_matrix(frame, F)
    assert matrix.dtype == np.float32 and matrix.flags.c_contiguous
    assert matrix.shape == (len(frame), len(F))
    assert math.isnan(matrix[0, F.index("tenure_days")])
    with pytest.raises(ValueError, match="missing from the frame"):
        feature_matrix(frame.drop(columns=["plan_tier"]), F)
    with pytest.raises(ValueError, match="11 feature columns"):
        feature_matrix(np.zeros((3, 4)), F)


# --------------------------------------------------------------------------------------------
# metrics


@pytest.fixture(scope="module")
def xgb_model(split):
    return train_candidate("xgboost", None, split[0], F)


def test_metrics_equal_sklearn_functions(split, xgb_model):
    test = split[1]
    metrics = evaluate(xgb_model, test, F)
    y = test["label"].to_numpy()
    p = xgb_model.predict_proba(feature_matrix(test, F))[:, 1].astype(np.float64)
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert metrics["auc_pr"] == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert metrics["log_loss"] == pytest.approx(log_loss(y, p), abs=1e-9)
    assert metrics["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-9)
    assert metrics["positive_rate"] == pytest.approx(y.mean())
    assert metrics["n_rows"] == len(test)
    assert all(type(v) is float for v in metrics.values())
    assert set(metrics) == {
        "roc_auc",
        "auc_pr",
        "log_loss",
        "brier",
        "ece",
        "positive_rate",
        "mean_predicted",
        "n_rows",
    }
    # a learnable dataset: well above chance, and reasonably calibrated
    assert metrics["roc_auc"] > 0.85 and metrics["auc_pr"] > 0.72 and metrics["ece"] < 0.08


def test_ece_and_calibration_table_by_hand():
    y = np.array([0, 0, 1, 1, 1, 0])
    p = np.array([0.05, 0.15, 0.15, 0.95, 1.0, 0.55])
    # bins: [0,.1): {.05 | 0}; [.1,.2): {.15,.15 | 0,1}; [.5,.6): {.55 | 0}; [.9,1]: {.95,1 | 1,1}
    expected = (1 * 0.05 + 2 * abs(0.15 - 0.5) + 1 * 0.55 + 2 * abs(0.975 - 1.0)) / 6
    assert expected_calibration_error(y, p) == pytest.approx(expected)
    table = calibration_table(y, p)
    assert [row["bin_lower"] for row in table] == pytest.approx([0.0, 0.1, 0.5, 0.9])
    assert [row["n_rows"] for row in table] == [1.0, 2.0, 1.0, 2.0]
    assert table[1]["mean_predicted"] == pytest.approx(0.15)
    assert table[1]["observed_rate"] == pytest.approx(0.5)
    weighted = sum(r["n_rows"] * abs(r["mean_predicted"] - r["observed_rate"]) for r in table)
    assert weighted / len(y) == pytest.approx(expected_calibration_error(y, p))


def test_perfectly_calibrated_constant_has_zero_ece():
    y = np.array([1, 0, 0, 0] * 25)
    assert expected_calibration_error(y, np.full(100, 0.25)) == pytest.approx(0.0)


def test_metrics_reject_degenerate_inputs():
    with pytest.raises(ValueError, match="single class"):
        metrics_from_predictions(np.zeros(10), np.full(10, 0.3))
    with pytest.raises(ValueError, match="within"):
        metrics_from_predictions(np.array([0, 1]), np.array([0.2, 1.3]))
    with pytest.raises(ValueError, match="labels but"):
        metrics_from_predictions(np.array([0, 1, 1]), np.array([0.2, 0.3]))


# --------------------------------------------------------------------------------------------
# fingerprint


def test_fingerprint_is_content_based(data):
    base = dataset_fingerprint(data)
    assert len(base) == 64 and base == dataset_fingerprint(data.copy())
    reordered = data.sample(frac=1.0, random_state=1)[list(reversed(data.columns))]
    assert dataset_fingerprint(reordered) == base, "row and column order must not matter"
    assert dataset_fingerprint(data.set_axis(range(7, 7 + len(data)))) == base, "index ignored"
    coarser = data.assign(event_timestamp=data["event_timestamp"].astype("datetime64[us, UTC]"))
    assert dataset_fingerprint(coarser) == base, "time unit is normalised"
    changed = data.copy()
    changed.loc[changed.index[10], "tenure_days"] = 1.0
    assert dataset_fingerprint(changed) != base
    assert dataset_fingerprint(data.iloc[:-1]) != base
    duplicated = pd.concat([data, data.iloc[:1]])
    assert dataset_fingerprint(duplicated) != base, "duplicates count"
    assert dataset_fingerprint(data.rename(columns={"label": "target"})) != base


def test_core_modules_import_cheaply():
    """Other code imports these modules at load time for constants: no heavy imports."""
    code = (
        "import sys\n"
        "import mlops_assets.core.training, mlops_assets.core.promotion\n"
        "import mlops_assets.core.onnx_export, mlops_assets.core.onnx_runtime\n"
        "heavy = ('numpy', 'pandas', 'sklearn', 'xgboost', 'onnx', 'onnxruntime', 'skl2onnx',\n"
        "         'onnxmltools', 'threadpoolctl', 'dagster', 'mlflow')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
