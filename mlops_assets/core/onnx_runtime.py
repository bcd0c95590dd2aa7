"""THE one way this project loads and runs an ONNX model — plus parity and latency tools.

Loading is defensive because a model file is untrusted input (DESIGN §7):

1. A path must exist, be a regular file with suffix ``.onnx``, contain no ``..`` component
   and — when ``allowed_root`` is given — resolve (symlinks followed) inside that root.
2. The bytes are parsed with ``onnx.load_model_from_string``; external data is never loaded.
3. ANY tensor that references external data (``data_location == EXTERNAL`` or an
   ``external_data`` entry) — in initializers, sparse initializers, node attributes, nested
   subgraphs or functions — is refused. onnxruntime 1.32 follows hardlinked external-data
   files (DESIGN §9); refusing the reference is the only robust fix.
4. ``onnx.checker.check_model(full_check=True)``; only the standard domains are accepted.
   A tree ensemble with subnormal split thresholds (see `onnx_export`'s tree rewrite) is
   refused when this thread runs in denormals-are-zero mode, where they would misroute.
5. The session is built from the validated, re-serialized BYTES (never from a path, so
   onnxruntime has no directory to resolve files against), on the CPU provider only, with
   explicit thread counts. Nothing here unpickles.

The scoring contract is the one `onnx_export` produces: one float input ``[None, n]`` and a
float ``probabilities`` output ``[None, 2]``; `OnnxScorer.predict_proba` returns column 1.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import onnx
    import pandas as pd

ALLOWED_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})
MAX_MODEL_BYTES = 512 * 1024 * 1024
PROBABILITIES_OUTPUT = "probabilities"


class OnnxLoadError(ValueError):
    """A model was refused (unsafe path, external data, invalid graph, wrong contract)."""


@dataclass
class OnnxScorer:
    """An onnxruntime session behind the project's scoring contract (see module docstring)."""

    session: Any
    input_name: str
    n_features: int
    output_name: str
    sha256: str
    opsets: dict[str, int]
    intra_op_threads: int
    metadata: dict[str, str] = field(default_factory=dict)

    def predict_proba(self, X: np.ndarray | pd.DataFrame) -> np.ndarray:
        """Positive-class probabilities (float32, one per row) for an ``[n, n_features]`` matrix.

        Inputs are converted to C-contiguous float32 (a no-op when they already are); a
        DataFrame must have exactly the model's columns in model order.
        """
        import numpy as np

        matrix = np.ascontiguousarray(X, dtype=np.float32)
        if matrix.ndim == 1 and matrix.shape[0] == self.n_features:
            matrix = matrix.reshape(1, -1)
        if matrix.ndim != 2 or matrix.shape[1] != self.n_features:
            raise ValueError(
                f"expected an array of shape [n, {self.n_features}], got {matrix.shape}"
            )
        return self.session.run([self.output_name], {self.input_name: matrix})[0][:, 1]

    def describe(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "opsets": dict(self.opsets),
            "n_features": self.n_features,
            "intra_op_threads": self.intra_op_threads,
            "providers": list(self.session.get_providers()),
        }


# --------------------------------------------------------------------------------------------
# loading


def validate_model_path(path: str | os.PathLike[str], allowed_root: Path | None = None) -> Path:
    """Resolve ``path`` and refuse anything but a regular ``.onnx`` file (inside the root)."""
    raw = Path(path)
    if ".." in raw.parts:
        raise OnnxLoadError(f"refusing path with '..' traversal: {raw}")
    if raw.suffix.lower() != ".onnx":
        raise OnnxLoadError(f"refusing {raw}: only '.onnx' files are loaded")
    try:
        resolved = raw.resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise OnnxLoadError(f"model file not found: {raw}") from exc
    except (OSError, RuntimeError) as exc:  # e.g. symlink loops
        raise OnnxLoadError(f"cannot resolve model path {raw}: {exc}") from exc
    if allowed_root is not None:
        root = Path(allowed_root).resolve()
        if not resolved.is_relative_to(root):
            raise OnnxLoadError(f"refusing {raw}: resolves to {resolved}, outside {root}")
    if resolved.suffix.lower() != ".onnx":
        raise OnnxLoadError(f"refusing {raw}: it links to {resolved}, not an '.onnx' file")
    if not stat.S_ISREG(resolved.stat().st_mode):
        raise OnnxLoadError(f"refusing {raw}: not a regular file")
    return resolved


def _read_model_file(path: Path, max_bytes: int) -> bytes:
    # Check type and size on the open descriptor, so the file we read is the file we checked.
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise OnnxLoadError(f"cannot open model file {path}: {exc}") from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OnnxLoadError(f"refusing {path}: not a regular file")
        if info.st_size > max_bytes:
            raise OnnxLoadError(f"refusing {path}: {info.st_size} bytes > limit {max_bytes}")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise OnnxLoadError(f"refusing {path}: grew beyond the limit {max_bytes} while read")
    return data


def _graph_tensors(graph: onnx.GraphProto) -> Iterator[tuple[str, onnx.TensorProto]]:
    yield from ((f"initializer {t.name!r}", t) for t in graph.initializer)
    for sparse in graph.sparse_initializer:
        yield f"sparse initializer {sparse.values.name!r}", sparse.values
        yield f"sparse initializer {sparse.values.name!r} (indices)", sparse.indices
    for node in graph.node:
        yield from _node_tensors(node)


def _node_tensors(node: onnx.NodeProto) -> Iterator[tuple[str, onnx.TensorProto]]:
    for attr in node.attribute:
        where = f"attribute {attr.name!r} of node {node.name or node.op_type!r}"
        if attr.HasField("t"):
            yield where, attr.t
        yield from ((where, t) for t in attr.tensors)
        if attr.HasField("sparse_tensor"):
            yield where, attr.sparse_tensor.values
            yield where, attr.sparse_tensor.indices
        for sparse in attr.sparse_tensors:
            yield where, sparse.values
            yield where, sparse.indices
        if attr.HasField("g"):
            yield from _graph_tensors(attr.g)
        for sub in attr.graphs:
            yield from _graph_tensors(sub)


def reject_external_data(proto: onnx.ModelProto) -> None:
    """Raise `OnnxLoadError` if any tensor anywhere in the model points at external data."""
    from onnx import TensorProto

    found = list(_graph_tensors(proto.graph))
    for info in proto.training_info:
        found.extend(_graph_tensors(info.initialization))
        found.extend(_graph_tensors(info.algorithm))
    for function in proto.functions:
        for node in function.node:
            found.extend(_node_tensors(node))
    for where, tensor in found:
        if tensor.data_location == TensorProto.EXTERNAL or len(tensor.external_data) > 0:
            files = sorted({e.value for e in tensor.external_data if e.key == "location"})
            raise OnnxLoadError(
                f"refusing model: {where} references external data {files or ''}; only "
                "self-contained ONNX models are loaded"
            )


def load_onnx_session(
    source: Path | str | bytes,
    *,
    allowed_root: Path | None = None,
    intra_op_threads: int = 1,
    inter_op_threads: int = 1,
    max_bytes: int = MAX_MODEL_BYTES,
    expected_sha256: str | None = None,
) -> OnnxScorer:
    """Validate and load an ONNX model from a path or from bytes (see module docstring).

    ``expected_sha256`` (e.g. recorded with the model version at export) turns silent
    corruption or substitution into an error; the ONNX checker cannot see a flipped
    threshold. ``intra_op_threads=1`` is the default because single-row latency is best on
    one thread and batch scoring parallelises across partitions instead.
    Raises `OnnxLoadError` for anything refused.
    """
    import onnx
    import onnxruntime as ort
    from google.protobuf.message import DecodeError

    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if len(data) > max_bytes:
            raise OnnxLoadError(f"refusing model: {len(data)} bytes > limit {max_bytes}")
        origin = "<bytes>"
    elif isinstance(source, str | os.PathLike):
        path = validate_model_path(source, allowed_root)
        data = _read_model_file(path, max_bytes)
        origin = str(path)
    else:
        raise TypeError(f"source must be a path or bytes, got {type(source).__name__}")
    if not data:
        raise OnnxLoadError(f"refusing {origin}: empty file")
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise OnnxLoadError(
            f"refusing {origin}: sha256 {digest} does not match the expected {expected_sha256}"
        )
    try:
        proto = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise OnnxLoadError(f"{origin} is not a valid ONNX model (parse error: {exc})") from exc
    if not proto.graph.node:
        raise OnnxLoadError(f"{origin} is not a valid ONNX model (empty graph)")
    reject_external_data(proto)
    domains = {imp.domain for imp in proto.opset_import}
    if not domains <= ALLOWED_DOMAINS:
        raise OnnxLoadError(
            f"refusing {origin}: custom operator domains {domains - ALLOWED_DOMAINS}"
        )
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:  # ValidationError, InferenceError, UnicodeDecodeError on junk
        raise OnnxLoadError(f"{origin} failed the ONNX checker: {exc}") from exc

    if denormals_are_zero() and count_subnormal_thresholds(proto):
        raise OnnxLoadError(
            f"refusing {origin}: it has subnormal split thresholds and this process runs in "
            "denormals-are-zero mode (a library built with -ffast-math?), which would "
            "misroute values at those splits"
        )
    input_name, n_features, output_name = _scoring_contract(proto, origin)
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = inter_op_threads
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 4  # errors are raised as OnnxLoadError, not logged twice
    validated = proto.SerializeToString()
    try:
        session = ort.InferenceSession(validated, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise OnnxLoadError(f"onnxruntime refused {origin}: {exc}") from exc
    return OnnxScorer(
        session=session,
        input_name=input_name,
        n_features=n_features,
        output_name=output_name,
        sha256=digest,
        opsets={(imp.domain or "ai.onnx"): int(imp.version) for imp in proto.opset_import},
        intra_op_threads=intra_op_threads,
        metadata={p.key: p.value for p in proto.metadata_props},
    )


def denormals_are_zero() -> bool:
    """True when the calling thread treats subnormal floats as zero (DAZ/FTZ set)."""
    import numpy as np

    smallest = np.array([1], dtype=np.uint32).view(np.float32)  # 1.4e-45, built from bits
    return not bool(smallest[0] > np.float32(0.0))


def count_subnormal_thresholds(proto: onnx.ModelProto) -> int:
    """Number of tree-ensemble split thresholds that are subnormal floats."""
    import numpy as np

    tiny = np.finfo(np.float32).tiny
    total = 0
    for node in proto.graph.node:
        if node.domain != "ai.onnx.ml" or not node.op_type.startswith("TreeEnsemble"):
            continue
        for attr in node.attribute:
            if attr.name == "nodes_values":
                values = np.abs(np.asarray(attr.floats, dtype=np.float32))
                total += int(((values > 0) & (values < tiny)).sum())
    return total


def _scoring_contract(proto: onnx.ModelProto, origin: str) -> tuple[str, int, str]:
    from onnx import TensorProto

    initializers = {t.name for t in proto.graph.initializer}
    inputs = [i for i in proto.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise OnnxLoadError(f"{origin}: expected exactly one input, got {len(inputs)}")
    tensor = inputs[0].type.tensor_type
    dims = tensor.shape.dim
    if tensor.elem_type != TensorProto.FLOAT or len(dims) != 2 or not dims[1].dim_value:
        raise OnnxLoadError(f"{origin}: the input must be float32 of shape [N, n_features]")
    outputs = {o.name: o for o in proto.graph.output}
    proba = outputs.get(PROBABILITIES_OUTPUT)
    if proba is None or proba.type.tensor_type.elem_type != TensorProto.FLOAT:
        raise OnnxLoadError(
            f"{origin}: needs a float tensor output {PROBABILITIES_OUTPUT!r} (ZipMap off); "
            f"outputs are {sorted(outputs)}"
        )
    return inputs[0].name, int(dims[1].dim_value), PROBABILITIES_OUTPUT


# --------------------------------------------------------------------------------------------
# parity and latency


def parity(
    native_model: Any,
    scorer: OnnxScorer,
    X: np.ndarray | pd.DataFrame,
    features: Sequence[str] | None = None,
) -> float:
    """Max |p_onnx - p_native| over the rows of ``X`` (positive class), as a float.

    Both sides get the same float32 matrix (`training.feature_matrix`), so the difference
    is the converter's arithmetic only. ``features`` (the model's inputs) selects the columns
    of a frame; an array is taken as is.
    """
    import numpy as np

    from mlops_assets.core.training import feature_matrix, predict_proba_positive

    matrix = feature_matrix(X, features)
    if len(matrix) == 0:
        raise ValueError("parity needs at least one row")
    native = predict_proba_positive(native_model, matrix)
    onnx_scores = scorer.predict_proba(matrix).astype(np.float64)
    return float(np.max(np.abs(onnx_scores - native)))


def time_single_rows(fn: Callable[[Any], Any], X: np.ndarray, iters: int) -> np.ndarray:
    """Wall time (µs) of ``fn(row)`` for ``iters`` one-row calls cycling through ``X``.

    Rows are pre-sliced ``[1, n]`` views so the timing holds only the call; the first few
    calls are a discarded warm-up.
    """
    import numpy as np

    rows = [X[i : i + 1] for i in range(min(len(X), iters))]
    for row in rows[: min(len(rows), 50)]:
        fn(row)
    out = np.empty(iters, dtype=np.float64)
    clock = time.perf_counter_ns
    for k in range(iters):
        row = rows[k % len(rows)]
        t0 = clock()
        fn(row)
        out[k] = clock() - t0
    return out / 1e3


def time_batch(fn: Callable[[Any], Any], X: np.ndarray, repeats: int) -> np.ndarray:
    """Wall time (ms) of ``repeats`` calls ``fn(X)`` after one warm-up call."""
    import numpy as np

    fn(X)
    out = np.empty(repeats, dtype=np.float64)
    for k in range(repeats):
        t0 = time.perf_counter_ns()
        fn(X)
        out[k] = time.perf_counter_ns() - t0
    return out / 1e6


def batch_of(X: np.ndarray, n_rows: int) -> np.ndarray:
    """Exactly ``n_rows`` rows from ``X`` (repeated cyclically if needed), C-contiguous."""
    import numpy as np

    if len(X) == 0:
        raise ValueError("need at least one row")
    reps = -(-n_rows // len(X))
    return np.ascontiguousarray(np.tile(X, (reps, 1))[:n_rows])


def latency_profile(
    scorer: OnnxScorer,
    X: np.ndarray | pd.DataFrame,
    *,
    single_row_iters: int = 2000,
    batch_rows: int = 10_000,
    batch_repeats: int = 5,
    features: Sequence[str] | None = None,
) -> dict[str, float]:
    """Single-row p50/p99 (µs) and ``batch_rows``-row batch latency (ms) and throughput.

    Meant as asset metadata: timings on a shared machine are indicative, so the batch figure
    is the median of ``batch_repeats`` runs and throughput is derived from it.
    """
    import numpy as np

    from mlops_assets.core.training import feature_matrix

    matrix = feature_matrix(X, features)
    single = time_single_rows(scorer.predict_proba, matrix, single_row_iters)
    batch = batch_of(matrix, batch_rows)
    batch_ms = time_batch(scorer.predict_proba, batch, batch_repeats)
    median_ms = float(np.median(batch_ms))
    return {
        "single_row_p50_us": float(np.percentile(single, 50)),
        "single_row_p99_us": float(np.percentile(single, 99)),
        "single_row_iters": float(single_row_iters),
        "batch_rows": float(batch_rows),
        "batch_latency_ms": median_ms,
        "batch_latency_min_ms": float(batch_ms.min()),
        "batch_rows_per_s": batch_rows / (median_ms / 1e3),
        "intra_op_threads": float(scorer.intra_op_threads),
    }
