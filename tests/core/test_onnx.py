"""core.onnx_export + core.onnx_runtime: parity, contract, the safe loader, no unpickling."""

from __future__ import annotations

import os
import pickle
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mlops_assets.core import onnx_export, onnx_runtime
from mlops_assets.core.onnx_export import UnsupportedModelError, export_onnx, onnx_opsets
from mlops_assets.core.onnx_runtime import (
    OnnxLoadError,
    latency_profile,
    load_onnx_session,
    parity,
)
from mlops_assets.core.training import (
    SklearnParams,
    XGBoostParams,
    feature_matrix,
    predict_proba_positive,
    time_split,
    train_candidate,
)
from tests.synthetic import SYNTHETIC_FEATURES as F
from tests.synthetic import synthetic_training_set

N = len(F)
PARITY_ATOL = 1e-5


@pytest.fixture(scope="module")
def split():
    train, test = time_split(synthetic_training_set(8_000, seed=5))
    assert len(test) >= 1_000
    return train, test


@pytest.fixture(scope="module")
def models(split):
    train = split[0]
    return {kind: train_candidate(kind, None, train, F) for kind in ("sklearn", "xgboost")}


@pytest.fixture(scope="module")
def exports(models):
    return {kind: export_onnx(model, N) for kind, model in models.items()}


# --------------------------------------------------------------------------------------------
# export: parity and contract


@pytest.mark.parametrize("kind", ["sklearn", "xgboost"])
def test_export_shows_users_no_warning(models, kind):
    """Exports run in every model run, whose output users read: nothing may be printed."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        export_onnx(models[kind], N)
    assert [f"{w.category.__name__}: {w.message}" for w in caught] == []


@pytest.mark.parametrize("kind", ["sklearn", "xgboost"])
def test_parity_on_held_out_rows(split, models, exports, kind):
    test = split[1]
    scorer = load_onnx_session(exports[kind].model_bytes)
    diff = parity(models[kind], scorer, test, F)
    assert diff <= PARITY_ATOL, f"{kind}: max |p_onnx - p_native| = {diff:.3g} on {len(test)} rows"
    assert exports[kind].tree_rewrite.startswith("applied"), exports[kind].tree_rewrite


@pytest.mark.parametrize("kind", ["sklearn", "xgboost"])
def test_zipmap_off_and_io_contract(split, exports, kind):
    proto = onnx.load_model_from_string(exports[kind].model_bytes)
    (inp,) = proto.graph.input
    assert inp.name == "features"
    assert inp.type.tensor_type.elem_type == TensorProto.FLOAT
    dims = inp.type.tensor_type.shape.dim
    assert len(dims) == 2 and not dims[0].dim_value and dims[1].dim_value == N
    assert [o.name for o in proto.graph.output] == ["label", "probabilities"]
    assert "ZipMap" not in {n.op_type for n in proto.graph.node}
    assert not proto.graph.initializer or all(
        t.data_location != TensorProto.EXTERNAL for t in proto.graph.initializer
    )
    scorer = load_onnx_session(exports[kind].model_bytes)
    rows = feature_matrix(split[1].iloc[:5], F)
    label, proba = scorer.session.run(None, {"features": rows})
    assert isinstance(proba, np.ndarray) and proba.shape == (5, 2) and proba.dtype == np.float32
    assert label.shape == (5,) and label.dtype == np.int64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("kind", ["sklearn", "xgboost"])
def test_opsets_are_recorded(exports, kind):
    exported = exports[kind]
    assert exported.opsets == onnx_opsets(exported.model_bytes)
    assert exported.opsets["ai.onnx"] == 18
    assert exported.opsets["ai.onnx.ml"] <= 3
    described = exported.describe()
    assert described["sha256"] == exported.sha256 and described["opsets"] == exported.opsets
    props = {
        p.key: p.value for p in onnx.load_model_from_string(exported.model_bytes).metadata_props
    }
    assert props["mlops_assets.n_features"] == str(N)


def test_target_opset_override(models):
    exported = export_onnx(models["xgboost"], N, target_opset={"ai.onnx": 17})
    assert exported.opsets["ai.onnx"] == 17


@pytest.mark.parametrize("kind", ["sklearn", "xgboost"])
def test_tree_rewrite_is_exact_on_adversarial_rows(models, exports, kind):
    """Thresholds, their float neighbours, NaN, +-0 and +-inf: rewritten == converter graph."""
    plain = export_onnx(models[kind], N, optimize_trees=False)
    assert plain.tree_rewrite == "off"
    proto = onnx.load_model_from_string(exports[kind].model_bytes)
    (trees,) = [n for n in proto.graph.node if n.op_type.startswith("TreeEnsemble")]
    tracks = next(a for a in trees.attribute if a.name == "nodes_missing_value_tracks_true")
    assert not any(tracks.ints), "no split may need ORT's NaN test after the rewrite"

    rows = onnx_export._probe_rows(onnx.load_model_from_string(plain.model_bytes), N, 3000)
    rows[::7, 3] = np.inf
    rows[::11, 5] = -np.inf
    fast = load_onnx_session(exports[kind].model_bytes).session.run(None, {"features": rows})
    slow = load_onnx_session(plain.model_bytes).session.run(None, {"features": rows})
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)
    finite = ~np.isinf(rows).any(axis=1)  # native models reject +-inf
    native = predict_proba_positive(models[kind], rows[finite])
    assert np.max(np.abs(fast[1][finite, 1] - native)) <= PARITY_ATOL


def test_pipeline_with_imputer_and_pipeline_ending_in_xgboost(split):
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from xgboost import XGBClassifier

    train, test = split
    X, y = feature_matrix(train, F), train["label"].to_numpy()
    imputed = train_candidate(
        "sklearn", SklearnParams(max_iter=60, impute_strategy="median"), train, F
    )
    xgb_pipe = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("model", XGBClassifier(n_estimators=60, max_depth=4, n_jobs=1, random_state=0)),
        ]
    ).fit(X, y)
    for model in (imputed, xgb_pipe):
        exported = export_onnx(model, N)
        assert parity(model, load_onnx_session(exported.model_bytes), test, F) <= PARITY_ATOL


def test_xgboost_trained_on_named_columns_exports(split):
    from xgboost import XGBClassifier

    train, test = split
    frame = train[list(F)].astype(np.float32)
    model = XGBClassifier(n_estimators=30, max_depth=3, n_jobs=1).fit(frame, train["label"])
    assert model.get_booster().feature_names is not None
    exported = export_onnx(model, N)
    assert model.get_booster().feature_names is not None, "the caller's model is not modified"
    scorer = load_onnx_session(exported.model_bytes)
    native = model.predict_proba(test[list(F)].astype(np.float32))[:, 1]
    assert np.max(np.abs(scorer.predict_proba(feature_matrix(test, F)) - native)) <= PARITY_ATOL


def test_hist_gradient_boosting_with_categorical_features_is_refused(split):
    from sklearn.ensemble import HistGradientBoostingClassifier

    train = split[0]
    X = feature_matrix(train, F)
    X[:, -1] = np.nan_to_num(X[:, -1])  # plan_tier as a category code 0/1/2
    model = HistGradientBoostingClassifier(
        max_iter=10, categorical_features=[N - 1], random_state=0
    ).fit(X, train["label"])
    with pytest.raises(UnsupportedModelError, match="categorical_features"):
        export_onnx(model, N)


def test_unfitted_or_non_binary_models_are_refused(split):
    from sklearn.ensemble import HistGradientBoostingClassifier

    with pytest.raises(UnsupportedModelError, match="not a fitted"):
        export_onnx(HistGradientBoostingClassifier(), N)
    train = split[0]
    three = train.assign(label=train["label"].to_numpy() + (train.index % 5 == 0))
    model = HistGradientBoostingClassifier(max_iter=5).fit(feature_matrix(three, F), three["label"])
    with pytest.raises(UnsupportedModelError, match="binary"):
        export_onnx(model, N)
    with pytest.raises(ValueError, match="fitted on 11 features"):
        export_onnx(train_candidate("xgboost", XGBoostParams(n_estimators=5), train, F), 12)


# --------------------------------------------------------------------------------------------
# runtime helpers


def test_latency_profile_and_predict_proba(split, exports):
    scorer = load_onnx_session(exports["xgboost"].model_bytes)
    profile = latency_profile(scorer, split[1], single_row_iters=200, batch_rows=2_000, features=F)
    assert set(profile) >= {
        "single_row_p50_us",
        "single_row_p99_us",
        "batch_latency_ms",
        "batch_rows_per_s",
    }
    assert 0 < profile["single_row_p50_us"] <= profile["single_row_p99_us"]
    assert profile["batch_rows"] == 2_000 and profile["batch_rows_per_s"] > 0
    one = scorer.predict_proba(feature_matrix(split[1], F)[0])
    assert one.shape == (1,)
    with pytest.raises(ValueError, match="shape"):
        scorer.predict_proba(np.zeros((2, N + 1), dtype=np.float32))


# --------------------------------------------------------------------------------------------
# the safe loader


def _linear_model(n_features: int = N, *, constant_weights: bool = False) -> onnx.ModelProto:
    """A tiny scoring-contract model whose weights are tensors (so they can be externalised)."""
    column = np.linspace(-1, 1, n_features, dtype=np.float32).reshape(-1, 1)
    weights = numpy_helper.from_array(column, "w")  # raw_data: eligible for external storage
    nodes = [
        helper.make_node("MatMul", ["features", "w"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["p"]),
        helper.make_node("Sub", ["one", "p"], ["q"]),
        helper.make_node("Concat", ["q", "p"], ["probabilities"], axis=1),
    ]
    initializers = [helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])]
    if constant_weights:
        nodes.insert(0, helper.make_node("Constant", [], ["w"], value=weights))
    else:
        initializers.append(weights)
    graph = helper.make_graph(
        nodes,
        "linear",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    onnx.checker.check_model(model)
    return model


def test_loads_a_valid_model_from_a_path_inside_the_root(tmp_path, exports):
    path = tmp_path / "models" / "churn.onnx"
    path.parent.mkdir()
    path.write_bytes(exports["sklearn"].model_bytes)
    scorer = load_onnx_session(path, allowed_root=tmp_path / "models")
    assert scorer.sha256 == exports["sklearn"].sha256
    assert scorer.describe()["providers"] == ["CPUExecutionProvider"]
    assert scorer.n_features == N and scorer.intra_op_threads == 1
    assert load_onnx_session(str(path)).n_features == N
    expected = exports["sklearn"].sha256
    assert load_onnx_session(path, expected_sha256=expected.upper()).sha256 == expected
    with pytest.raises(OnnxLoadError, match="does not match the expected"):
        load_onnx_session(path, expected_sha256=exports["xgboost"].sha256)


def test_expected_sha256_catches_corruption_the_checker_cannot_see(exports):
    data = bytearray(exports["xgboost"].model_bytes)
    proto = onnx.load_model_from_string(bytes(data))
    trees = next(n for n in proto.graph.node if n.op_type.startswith("TreeEnsemble"))
    values = next(a for a in trees.attribute if a.name == "nodes_values")
    values.floats[0] += 1.0  # a changed threshold is still a perfectly valid model
    tampered = proto.SerializeToString()
    assert load_onnx_session(tampered).n_features == N
    with pytest.raises(OnnxLoadError, match="sha256"):
        load_onnx_session(tampered, expected_sha256=exports["xgboost"].sha256)


def test_linear_model_fixture_loads(tmp_path):
    path = tmp_path / "linear.onnx"
    onnx.save_model(_linear_model(), path)
    scorer = load_onnx_session(path)
    assert scorer.predict_proba(np.zeros((3, N), dtype=np.float32)) == pytest.approx([0.5] * 3)


@pytest.mark.parametrize("constant_weights", [False, True])
def test_external_data_is_refused(tmp_path, constant_weights):
    path = tmp_path / "external.onnx"
    onnx.save_model(
        _linear_model(constant_weights=constant_weights),
        path,
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        convert_attribute=True,
        location="weights.bin",
        size_threshold=0,
    )
    assert (tmp_path / "weights.bin").exists()
    with pytest.raises(OnnxLoadError, match="external data"):
        load_onnx_session(path)
    with pytest.raises(OnnxLoadError, match="external data"):
        load_onnx_session(path.read_bytes())


def test_external_data_hardlinked_to_another_file_is_refused(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    path = models / "model.onnx"
    onnx.save_model(
        _linear_model(),
        path,
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        convert_attribute=True,
        location="weights.bin",
        size_threshold=0,
    )
    secret = tmp_path / "secret.txt"
    secret.write_bytes(os.urandom((models / "weights.bin").stat().st_size))
    (models / "weights.bin").unlink()
    os.link(secret, models / "weights.bin")
    assert (models / "weights.bin").stat().st_nlink == 2
    with pytest.raises(OnnxLoadError, match=r"external data \['weights.bin'\]"):
        load_onnx_session(path, allowed_root=models)


def test_paths_outside_the_root_or_with_traversal_are_refused(tmp_path, exports):
    root, outside = tmp_path / "models", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    (outside / "model.onnx").write_bytes(exports["xgboost"].model_bytes)
    (root / "model.onnx").write_bytes(exports["xgboost"].model_bytes)
    with pytest.raises(OnnxLoadError, match=r"'\.\.' traversal"):
        load_onnx_session(root / ".." / "elsewhere" / "model.onnx", allowed_root=root)
    with pytest.raises(OnnxLoadError, match=r"'\.\.' traversal"):
        load_onnx_session(root / "sub" / ".." / "model.onnx")
    with pytest.raises(OnnxLoadError, match="outside"):
        load_onnx_session(outside / "model.onnx", allowed_root=root)
    (root / "link.onnx").symlink_to(outside / "model.onnx")
    with pytest.raises(OnnxLoadError, match="outside"):
        load_onnx_session(root / "link.onnx", allowed_root=root)
    assert load_onnx_session(root / "model.onnx", allowed_root=root).n_features == N


def test_wrong_suffix_missing_file_and_directories_are_refused(tmp_path, exports):
    other = tmp_path / "model.pkl"
    other.write_bytes(exports["xgboost"].model_bytes)
    with pytest.raises(OnnxLoadError, match=r"only '\.onnx' files"):
        load_onnx_session(other)
    (tmp_path / "alias.onnx").symlink_to(other)
    with pytest.raises(OnnxLoadError, match=r"not an '\.onnx' file"):
        load_onnx_session(tmp_path / "alias.onnx")
    with pytest.raises(OnnxLoadError, match="not found"):
        load_onnx_session(tmp_path / "missing.onnx")
    (tmp_path / "dir.onnx").mkdir()
    with pytest.raises(OnnxLoadError, match="not a regular file"):
        load_onnx_session(tmp_path / "dir.onnx")
    with pytest.raises(TypeError):
        load_onnx_session(123)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda data: b"",
        lambda data: b"\x00\xff" * 64 + b"not an onnx model",
        lambda data: data[: len(data) // 2],
        lambda data: data[:100] + bytes(b ^ 0xFF for b in data[100:400]) + data[400:],
    ],
    ids=["empty", "garbage", "truncated", "bit-flipped"],
)
def test_corrupted_files_give_a_clear_error(tmp_path, exports, corrupt):
    path = tmp_path / "bad.onnx"
    path.write_bytes(corrupt(exports["xgboost"].model_bytes))
    with pytest.raises(OnnxLoadError, match=r"empty file|not a valid ONNX model|checker|refus"):
        load_onnx_session(path)


def test_invalid_graphs_and_custom_domains_are_refused():
    broken = _linear_model()
    broken.graph.node[0].input[1] = "does_not_exist"
    with pytest.raises(OnnxLoadError, match="checker"):
        load_onnx_session(broken.SerializeToString())
    custom = _linear_model()
    custom.opset_import.append(helper.make_opsetid("com.example", 1))
    with pytest.raises(OnnxLoadError, match="custom operator domains"):
        load_onnx_session(custom.SerializeToString())
    no_proba = _linear_model()
    no_proba.graph.output[0].name = "scores"
    no_proba.graph.node[-1].output[0] = "scores"
    with pytest.raises(OnnxLoadError, match="'probabilities'"):
        load_onnx_session(no_proba.SerializeToString())


def test_float_environment_is_ieee_and_subnormal_thresholds_are_counted(exports):
    # the tree rewrite turns a split at 0 into a subnormal threshold; the loader refuses such
    # models when the process flushes denormals to zero (it does not here)
    assert not onnx_runtime.denormals_are_zero()
    proto = onnx.load_model_from_string(exports["xgboost"].model_bytes)
    before = onnx_runtime.count_subnormal_thresholds(proto)
    trees = next(n for n in proto.graph.node if n.op_type.startswith("TreeEnsemble"))
    values = next(a for a in trees.attribute if a.name == "nodes_values")
    values.floats[0] = float(np.nextafter(np.float32(0), np.float32(1)))
    assert onnx_runtime.count_subnormal_thresholds(proto) == before + 1


# --------------------------------------------------------------------------------------------
# scoring never unpickles

_UNPICKLE_EVENTS: list[str] = []
_ARMED: list[bool] = []


def _audit(event: str, args: tuple) -> None:
    if _ARMED and event == "pickle.find_class":
        _UNPICKLE_EVENTS.append(f"{args[0]}.{args[1]}")


sys.addaudithook(_audit)  # audit hooks cannot be removed; this one only records when armed


def test_loading_and_scoring_never_unpickle(tmp_path, monkeypatch, split, exports):
    path = tmp_path / "model.onnx"
    path.write_bytes(exports["xgboost"].model_bytes)
    rows = feature_matrix(split[1], F)

    def refuse(*args, **kwargs):
        raise AssertionError("unpickling during ONNX loading or scoring")

    class RefusingUnpickler(pickle.Unpickler):
        def __init__(self, *args, **kwargs):
            refuse()

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", RefusingUnpickler)
    _UNPICKLE_EVENTS.clear()
    _ARMED.append(True)
    try:
        scorer = load_onnx_session(path)
        scores = scorer.predict_proba(rows)
        latency_profile(
            scorer, rows, single_row_iters=50, batch_rows=500, batch_repeats=1, features=F
        )
    finally:
        _ARMED.clear()
    assert scores.shape == (len(rows),)
    assert not _UNPICKLE_EVENTS, f"pickle resolved globals: {_UNPICKLE_EVENTS}"
    # the audit hook really observes unpickling (guards against a vacuous test)
    _ARMED.append(True)
    try:
        pickle._loads(pickle.dumps(np.float64))  # pure-Python loader, not the patched one
    finally:
        _ARMED.clear()
    assert _UNPICKLE_EVENTS
