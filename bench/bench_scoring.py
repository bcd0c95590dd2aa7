"""Scoring latency side by side: native scikit-learn / XGBoost vs onnxruntime, ONE thread each.

    .venv/bin/python bench/bench_scoring.py            # ~1-2 min
    .venv/bin/python bench/bench_scoring.py --quick    # ~30 s, fewer iterations

Same synthetic churn rows for every engine (held-out rows of `core.training`'s synthetic
set; the default candidates are trained on the rest). Threads are pinned: threadpoolctl
limits BLAS/OpenMP to 1 (HGB predicts with OpenMP), XGBoost runs with ``nthread=1``,
onnxruntime sessions come from `core.onnx_runtime.load_onnx_session` (intra/inter-op
threads 1, sequential, ORT_ENABLE_ALL) — identical options for every ONNX variant.

Measured per engine: single-row latency p50/p99 (wall µs, one ``[1, 11]`` float32 row per
call) and the time of a 10,000-row batch. Batch time is reported as thread CPU time
(``time.thread_time``) and wall time: with one thread everywhere the work happens on the
calling thread, and CPU time does not count the time other jobs on a shared machine hold the
core, so it is the stable number (the goals use it; wall is printed next to it). Engines are
measured in interleaved rounds; figures are medians over rounds.

"ort" is the shipped export (`onnx_export` tree rewrite on); "ort converter graph" is the
converter's output as is. The investigation section times other ways to run the same XGBoost
trees in ORT (ZipMap on, no graph optimisation, row chunks, ai.onnx.ml 5 ``TreeEnsemble``,
single-target regressor form, double input) to show what matters for the batch gap; a
batch-size sweep shows where native XGBoost starts to win.

Goals: single-row ORT >= 20x faster than native scikit-learn and p50 <= 30 µs; 10k-row ORT
batch at least as fast as native XGBoost. Results: bench/results/scoring.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from mlops_assets.core import onnx_export, onnx_runtime, training  # noqa: E402
from tests.synthetic import SYNTHETIC_FEATURES, synthetic_training_set  # noqa: E402

RESULTS = ROOT / "results" / "scoring.json"
GOALS = {"single_row_speedup_vs_sklearn": 20.0, "ort_single_row_p50_us": 30.0}
Fn = Callable[[np.ndarray], Any]


# --------------------------------------------------------------------------- setup


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import skl2onnx
    import sklearn
    import xgboost

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "xgboost": xgboost.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "skl2onnx": skl2onnx.__version__,
    }


def build(n_rows: int, seed: int) -> dict[str, Any]:
    """Train both default candidates; export each with and without the tree rewrite."""
    from threadpoolctl import threadpool_limits

    data = synthetic_training_set(n_rows, seed=seed)
    train, test = training.time_split(data)
    with threadpool_limits(1):
        models = {
            kind: training.train_candidate(kind, None, train, SYNTHETIC_FEATURES)
            for kind in ("sklearn", "xgboost")
        }
    X = training.feature_matrix(test, SYNTHETIC_FEATURES)
    built: dict[str, Any] = {"X": X, "models": models, "exports": {}, "scorers": {}}
    for kind, model in models.items():
        for variant, optimize in (("ort", True), ("ort converter graph", False)):
            exported = onnx_export.export_onnx(model, X.shape[1], optimize_trees=optimize)
            built["exports"][(kind, variant)] = exported
            built["scorers"][(kind, variant)] = onnx_runtime.load_onnx_session(
                exported.model_bytes, intra_op_threads=1, inter_op_threads=1
            )
    xgb = models["xgboost"]
    xgb.set_params(n_jobs=1)
    xgb.get_booster().set_param({"nthread": 1})
    return built


def engines(built: dict[str, Any]) -> dict[tuple[str, str], Fn]:
    pipe, xgb = built["models"]["sklearn"], built["models"]["xgboost"]
    scorers = built["scorers"]
    return {
        ("sklearn", "native predict_proba"): pipe.predict_proba,
        ("sklearn", "ort"): scorers[("sklearn", "ort")].predict_proba,
        ("sklearn", "ort converter graph"): scorers[
            ("sklearn", "ort converter graph")
        ].predict_proba,
        ("xgboost", "native predict_proba"): xgb.predict_proba,
        ("xgboost", "native inplace_predict"): xgb.get_booster().inplace_predict,
        ("xgboost", "ort"): scorers[("xgboost", "ort")].predict_proba,
        ("xgboost", "ort converter graph"): scorers[
            ("xgboost", "ort converter graph")
        ].predict_proba,
    }


# --------------------------------------------------------------------------- timing


def time_calls(fn: Fn, X: np.ndarray, repeats: int) -> tuple[list[float], list[float]]:
    """(thread CPU ms, wall ms) of ``repeats`` calls ``fn(X)``, after one warm-up call."""
    fn(X)
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.thread_time_ns(), time.perf_counter_ns()
        fn(X)
        wall.append((time.perf_counter_ns() - w0) / 1e6)
        cpu.append((time.thread_time_ns() - c0) / 1e6)
    return cpu, wall


def measure(
    fns: dict[Any, Fn], X: np.ndarray, *, single_iters: int, batch_rows: int, rounds: int
) -> dict[Any, dict[str, float]]:
    """Interleaved rounds: each round times every engine's single rows, then every batch."""
    batch = onnx_runtime.batch_of(X, batch_rows)
    per_round = max(1, single_iters // rounds)
    singles: dict[Any, list[np.ndarray]] = {key: [] for key in fns}
    cpu: dict[Any, list[float]] = {key: [] for key in fns}
    wall: dict[Any, list[float]] = {key: [] for key in fns}
    for r in range(rounds):
        rows = np.roll(X, -(r * per_round) % len(X), axis=0)
        if single_iters:
            for key, fn in fns.items():
                singles[key].append(onnx_runtime.time_single_rows(fn, rows, per_round))
        for key, fn in fns.items():
            c, w = time_calls(fn, batch, 1)
            cpu[key] += c
            wall[key] += w
    out = {}
    for key in fns:
        row = {
            "batch_rows": float(batch_rows),
            "batch_cpu_ms": float(np.median(cpu[key])),
            "batch_cpu_ms_min": float(np.min(cpu[key])),
            "batch_wall_ms": float(np.median(wall[key])),
            "batch_wall_ms_min": float(np.min(wall[key])),
        }
        if single_iters:
            single = np.concatenate(singles[key])
            row |= {
                "single_row_p50_us": float(np.percentile(single, 50)),
                "single_row_p99_us": float(np.percentile(single, 99)),
                "single_row_calls": float(len(single)),
            }
        out[key] = row
    return out


# --------------------------------------------------------------------------- investigation


def _tree_node(proto: Any) -> tuple[Any, dict[str, Any]]:
    from onnx import helper

    node = next(n for n in proto.graph.node if n.op_type == "TreeEnsembleClassifier")
    return node, {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _single_target(model_bytes: bytes, *, v5: bool) -> bytes:
    """The binary classifier rebuilt as one margin output + Sigmoid (investigation only).

    ``v5=False``: ai.onnx.ml 3 ``TreeEnsembleRegressor``; ``v5=True``: ai.onnx.ml 5
    ``TreeEnsemble`` (needs ai.onnx 21). Outputs keep the label/probabilities contract.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    proto = onnx.load_model_from_string(model_bytes)
    node, a = _tree_node(proto)
    base = float(a["base_values"][0])
    if not v5:
        tree = helper.make_node(
            "TreeEnsembleRegressor",
            [node.input[0]],
            ["margin0"],
            domain="ai.onnx.ml",
            n_targets=1,
            aggregate_function="SUM",
            post_transform="NONE",
            **{k: a[k] for k in a if k.startswith("nodes_")},
            target_ids=a["class_ids"],
            target_nodeids=a["class_nodeids"],
            target_treeids=a["class_treeids"],
            target_weights=a["class_weights"],
        )
    else:
        modes = {b"BRANCH_LEQ": 0, b"BRANCH_LT": 1, b"BRANCH_GTE": 2, b"BRANCH_GT": 3}
        keys = list(zip(a["nodes_treeids"], a["nodes_nodeids"], strict=True))
        position = {k: i for i, k in enumerate(keys)}
        is_leaf = [m == b"LEAF" for m in a["nodes_modes"]]
        inner_keys = [k for k, leaf in zip(keys, is_leaf, strict=True) if not leaf]
        leaf_keys = [k for k, leaf in zip(keys, is_leaf, strict=True) if leaf]
        inner = {k: j for j, k in enumerate(inner_keys)}
        leaves = {k: j for j, k in enumerate(leaf_keys)}
        leaf_ids = zip(a["class_treeids"], a["class_nodeids"], strict=True)
        weights = dict(zip(leaf_ids, a["class_weights"], strict=True))
        cols: dict[str, list] = {k: [] for k in ("feat", "split", "mode", "t", "tl", "f", "fl")}
        missing = []
        for key in inner:
            i = position[key]
            cols["feat"].append(a["nodes_featureids"][i])
            cols["split"].append(a["nodes_values"][i])
            cols["mode"].append(modes[a["nodes_modes"][i]])
            missing.append(a["nodes_missing_value_tracks_true"][i])
            for child, ids, flags in (
                (a["nodes_truenodeids"][i], "t", "tl"),
                (a["nodes_falsenodeids"][i], "f", "fl"),
            ):
                ck = (key[0], child)
                cols[ids].append(leaves[ck] if ck in leaves else inner[ck])
                cols[flags].append(int(ck in leaves))
        tree = helper.make_node(
            "TreeEnsemble",
            [node.input[0]],
            ["margin0"],
            domain="ai.onnx.ml",
            n_targets=1,
            aggregate_function=1,
            post_transform=0,
            tree_roots=[inner[(t, 0)] for t in dict.fromkeys(a["nodes_treeids"])],
            nodes_modes=numpy_helper.from_array(np.array(cols["mode"], np.uint8), "nodes_modes"),
            nodes_featureids=cols["feat"],
            nodes_splits=numpy_helper.from_array(np.array(cols["split"], np.float32), "splits"),
            nodes_truenodeids=cols["t"],
            nodes_trueleafs=cols["tl"],
            nodes_falsenodeids=cols["f"],
            nodes_falseleafs=cols["fl"],
            nodes_missing_value_tracks_true=missing,
            leaf_targetids=[0] * len(leaves),
            leaf_weights=numpy_helper.from_array(
                np.array([weights[k] for k in leaves], np.float32), "leaf_weights"
            ),
        )
    label, probabilities = node.output
    tail = [
        tree,
        helper.make_node("Add", ["margin0", "bench_base"], ["margin"]),
        helper.make_node("Sigmoid", ["margin"], ["bench_p"]),
        helper.make_node("Sub", ["bench_one", "bench_p"], ["bench_q"]),
        helper.make_node("Concat", ["bench_q", "bench_p"], [probabilities], axis=1),
        helper.make_node("ArgMax", [probabilities], [label], axis=1, keepdims=0),
    ]
    index = list(proto.graph.node).index(node)
    proto.graph.node.remove(node)
    for k, new in enumerate(tail):
        proto.graph.node.insert(index + k, new)
    proto.graph.initializer.extend(
        [
            helper.make_tensor("bench_one", TensorProto.FLOAT, [], [1.0]),
            helper.make_tensor("bench_base", TensorProto.FLOAT, [], [base]),
        ]
    )
    del proto.graph.value_info[:]
    if v5:
        for imp in proto.opset_import:
            imp.version = {"": 21, "ai.onnx.ml": 5}.get(imp.domain, imp.version)
    onnx.checker.check_model(proto, full_check=True)
    return proto.SerializeToString()


def _raw_session(model_bytes: bytes, *, graph_opt: bool = True) -> Any:
    """A plain ORT session (same threads/mode as the loader) for variants it would refuse."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if graph_opt
        else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    options.log_severity_level = 4
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def investigate(built: dict[str, Any], batch_rows: int, rounds: int) -> dict[str, Any]:
    """Time alternative ways of running the XGBoost trees in ORT on the 10k batch."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    xgb = built["models"]["xgboost"]
    X = built["X"]
    n = X.shape[1]
    shipped = built["exports"][("xgboost", "ort")].model_bytes
    plain = built["exports"][("xgboost", "ort converter graph")].model_bytes
    opset = dict(onnx_export.DEFAULT_TARGET_OPSET)
    notes: dict[str, str] = {}

    def run(session: Any) -> Fn:
        return lambda rows: session.run(None, {"features": rows})

    def chunked(session: Any, size: int) -> Fn:
        def fn(rows: np.ndarray) -> None:
            for i in range(0, len(rows), size):
                session.run(["probabilities"], {"features": rows[i : i + size]})

        return fn

    zipmap_on = convert_sklearn(
        xgb, initial_types=[("features", FloatTensorType([None, n]))], target_opset=opset
    ).SerializeToString()
    shipped_session = _raw_session(shipped)
    variants: dict[str, Fn] = {
        "native inplace_predict": xgb.get_booster().inplace_predict,
        "native predict_proba": xgb.predict_proba,
        "ort converter graph (TreeEnsembleClassifier, ml 3)": run(_raw_session(plain)),
        "ort converter graph + ZipMap on (converter default)": run(_raw_session(zipmap_on)),
        "ort converter graph as ml 5 TreeEnsemble (ai.onnx 21)": run(
            _raw_session(_single_target(plain, v5=True))
        ),
        "ort shipped (missing-value rewrite)": run(shipped_session),
        "ort shipped, graph optimisations off": run(_raw_session(shipped, graph_opt=False)),
        "ort shipped, called in 1,000-row chunks": chunked(shipped_session, 1_000),
        "ort shipped, called in 128-row chunks": chunked(shipped_session, 128),
        "ort shipped as ml 5 TreeEnsemble (ai.onnx 21)": run(
            _raw_session(_single_target(shipped, v5=True))
        ),
        "ort shipped as TreeEnsembleRegressor + Sigmoid": run(
            _raw_session(_single_target(shipped, v5=False))
        ),
    }
    try:
        double = convert_sklearn(
            xgb,
            initial_types=[("features", DoubleTensorType([None, n]))],
            target_opset=opset,
            options={id(xgb): {"zipmap": False}},
        ).SerializeToString()
        session = _raw_session(double)
        variants["ort converter graph, double input"] = lambda rows: session.run(
            None, {"features": rows.astype(np.float64)}
        )
    except Exception as exc:  # onnxmltools' XGBoost converter emits an invalid double graph
        notes["ort converter graph, double input"] = f"not runnable: {str(exc)[:200]}"
    reference = xgb.predict_proba(X)[:, 1]
    parity = {}
    for name, fn in variants.items():
        if name.startswith("ort") and "chunks" not in name:
            out = fn(X)[1]
            probs = np.array([[d[0], d[1]] for d in out]) if isinstance(out, list) else out
            parity[name] = float(np.max(np.abs(probs[:, 1] - reference)))
    timed = measure(variants, X, single_iters=0, batch_rows=batch_rows, rounds=rounds)
    base = timed["native inplace_predict"]["batch_cpu_ms"]
    print(f"\nXGBoost {batch_rows:,}-row batch, ways to run the same trees (thread CPU ms):")
    for name, r in timed.items():
        print(f"  {name:56} {r['batch_cpu_ms']:7.1f} ms  {r['batch_cpu_ms'] / base:5.2f}x native")
    for name, note in notes.items():
        print(f"  {name:56} {note[:60]}")
    return {
        "batch_rows": batch_rows,
        "results": {
            name: r | {"ratio_vs_native_inplace": r["batch_cpu_ms"] / base}
            for name, r in timed.items()
        },
        "parity_max_abs_diff": parity,
        "notes": notes,
    }


def sweep(built: dict[str, Any], sizes: list[int], rounds: int) -> dict[str, Any]:
    """CPU µs per call for native XGBoost vs shipped ORT across batch sizes."""
    xgb = built["models"]["xgboost"]
    fns = {
        "native inplace_predict": xgb.get_booster().inplace_predict,
        "native predict_proba": xgb.predict_proba,
        "ort": built["scorers"][("xgboost", "ort")].predict_proba,
    }
    out: dict[str, Any] = {}
    print("\nXGBoost batch-size sweep (thread CPU µs per call, median):")
    print(f"  {'rows':>7} " + " ".join(f"{k:>24}" for k in fns))
    for size in sizes:
        repeats = max(3, min(200, 20_000 // size))
        batch = onnx_runtime.batch_of(built["X"], size)
        cells = {}
        for _ in range(rounds):
            for name, fn in fns.items():
                cells.setdefault(name, []).extend(time_calls(fn, batch, repeats)[0])
        out[str(size)] = {name: float(np.median(v)) * 1e3 for name, v in cells.items()}
        print(f"  {size:7d} " + " ".join(f"{out[str(size)][k]:24.1f}" for k in fns))
    return out


# --------------------------------------------------------------------------- report


def report(results: dict[tuple[str, str], dict[str, float]]) -> dict[str, Any]:
    """Print the table and the goals; return the goal verdicts."""
    base = {
        "sklearn": results[("sklearn", "native predict_proba")],
        "xgboost": results[("xgboost", "native predict_proba")],
    }
    header = (
        f"{'model':8} {'engine':24} {'p50 µs':>8} {'p99 µs':>8} {'10k cpu ms':>10} "
        f"{'10k wall ms':>11} {'p50 speedup':>11} {'10k speedup':>11}"
    )
    print(header)
    print("-" * len(header))
    for (model, engine), r in results.items():
        ref = base[model]
        print(
            f"{model:8} {engine:24} {r['single_row_p50_us']:8.1f} {r['single_row_p99_us']:8.1f} "
            f"{r['batch_cpu_ms']:10.1f} {r['batch_wall_ms']:11.1f} "
            f"{ref['single_row_p50_us'] / r['single_row_p50_us']:10.1f}x "
            f"{ref['batch_cpu_ms'] / r['batch_cpu_ms']:10.2f}x"
        )
    print("(speedups vs the model's native predict_proba, batch on CPU time; >1 = faster)\n")

    sk_ort, xgb_ort = results[("sklearn", "ort")], results[("xgboost", "ort")]
    speedup = base["sklearn"]["single_row_p50_us"] / sk_ort["single_row_p50_us"]
    xgb_native = min(
        results[("xgboost", "native predict_proba")]["batch_cpu_ms"],
        results[("xgboost", "native inplace_predict")]["batch_cpu_ms"],
    )
    limit_us = GOALS["ort_single_row_p50_us"]
    goals = {
        "sklearn_single_row_ort_speedup": {
            "value": speedup,
            "goal": f">= {GOALS['single_row_speedup_vs_sklearn']}x",
            "met": speedup >= GOALS["single_row_speedup_vs_sklearn"],
        },
        "sklearn_ort_single_row_p50_us": {
            "value": sk_ort["single_row_p50_us"],
            "goal": f"<= {limit_us}",
            "met": sk_ort["single_row_p50_us"] <= limit_us,
        },
        "xgboost_ort_single_row_p50_us": {
            "value": xgb_ort["single_row_p50_us"],
            "goal": f"<= {limit_us}",
            "met": xgb_ort["single_row_p50_us"] <= limit_us,
        },
        "xgboost_10k_batch_ort_cpu_vs_fastest_native": {
            "value": xgb_ort["batch_cpu_ms"] / xgb_native,
            "goal": "<= 1.0 (ORT CPU ms / fastest native XGBoost CPU ms)",
            "met": xgb_ort["batch_cpu_ms"] <= xgb_native,
        },
    }
    for name, g in goals.items():
        print(f"{'MET    ' if g['met'] else 'NOT MET'} {name}: {g['value']:.2f} (goal {g['goal']})")
    return goals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="synthetic training-set rows")
    parser.add_argument("--single-iters", type=int, default=2_000)
    parser.add_argument("--batch-rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="600 single calls, 3 rounds")
    parser.add_argument("--no-investigate", action="store_true", help="skip the XGBoost study")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.single_iters, args.rounds = 600, 3

    from threadpoolctl import threadpool_limits

    load_before = os.getloadavg()
    t0 = time.perf_counter()
    built = build(args.rows, args.seed)
    X = built["X"]
    with threadpool_limits(1):
        parities = {
            f"{kind}/{variant}": onnx_runtime.parity(built["models"][kind], scorer, X)
            for (kind, variant), scorer in built["scorers"].items()
        }
        results = measure(
            engines(built),
            X,
            single_iters=args.single_iters,
            batch_rows=args.batch_rows,
            rounds=args.rounds,
        )
        print(f"\n{len(X)} held-out rows; 1 thread everywhere; load average {load_before}\n")
        goals = report(results)
        study = None if args.no_investigate else investigate(built, args.batch_rows, args.rounds)
        sizes = sweep(built, [1, 16, 128, 1_024, 10_000], rounds=min(args.rounds, 5))
    out = {
        "benchmark": "scoring",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "versions": _versions(),
        "config": {
            "rows": args.rows,
            "held_out_rows": len(X),
            "single_iters": args.single_iters,
            "batch_rows": args.batch_rows,
            "rounds": args.rounds,
            "threads": 1,
            "batch_clock": "thread CPU time (wall also recorded)",
            "sklearn_params": training.SklearnParams().to_dict(),
            "xgboost_params": training.XGBoostParams().to_dict(),
        },
        "exports": {
            f"{kind}/{variant}": exported.describe()
            for (kind, variant), exported in built["exports"].items()
        },
        "parity_max_abs_diff": parities,
        "results": {f"{model}/{engine}": r for (model, engine), r in results.items()},
        "goals": goals,
        "xgboost_batch_investigation": study,
        "xgboost_batch_size_sweep_cpu_us": sizes,
        "seconds": time.perf_counter() - t0,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote {args.out} ({out['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
