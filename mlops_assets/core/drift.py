"""Drift statistics that gate: PSI, KS and missing-rate change per feature, vectorised.

The reference (training) window is profiled once (`fit_reference`) and the profile is reused
for every daily partition (`compare`), so a day's cost depends on the day's rows only, never
on how much history exists. The profile is plain JSON (no pickle) and can be stored next to
the model version it describes.

Conventions (the numbers that gate come from here; Evidently only renders the human report):

* **Missing** means not finite: NaN, None/NA and +-inf (Evidently drops +-inf the same way).
  Missing values are excluded from PSI, KS and chi-square and judged by the missing-rate rule.
* **PSI** (numeric): bins are the deciles of the reference, deduplicated, right-closed
  ``(e[i-1], e[i]]``, the two outer bins open-ended. Proportions are floored at
  `PSI_EPSILON` (1e-4) so an empty bin contributes a large but finite term;
  ``psi = sum((cur - ref) * ln(cur / ref))``. Categorical PSI uses the categories as bins.
* **KS** (numeric, informational): two-sided ``scipy.stats.ks_2samp(sample, cur)`` with
  ``method="auto"``, where ``sample`` is the reference's sorted subsample of at most
  ``ks_sample`` values (all of them when the reference is smaller). Up to `KS_GRID_MIN_ROWS`
  finite current values (or with ``ks_exact=True``) statistic and p-value equal scipy's. Above
  it the current window is not sorted but counted into a grid fitted on the sample
  (`core.ks_grid`): the statistic is then at most `KS_MAX_ERROR` below scipy's, never above
  (exact for integer columns), and the p-value is scipy's formula at that statistic (within a
  relative `ks_grid.KSTWO_RTOL`: scipy's exact Smirnov sum costs 0.1-0.3 s per column there).
  When the grid cannot guarantee the bound (a heavy atom in a float column), the exact path runs.
* **Chi-square** (categorical): test of homogeneity on the 2 x K table of reference and
  current counts, equal to ``scipy.stats.chi2_contingency(table, correction=False)`` over the
  categories seen in either sample; categories unseen in the reference go to `OTHER`.
* **Status**: "fail" on PSI > psi_fail, on a missing-rate jump, or when every current value is
  missing; "warn" on PSI > psi_warn or (categorical) chi-square p < chi2_pvalue. P-values
  never fail a feature on their own: with a million rows they flag effects too small to
  matter, while PSI measures the size of the shift. ``drifted`` is ``status == "fail"``.
"""

from __future__ import annotations

import base64
import json
import math
import os
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd
from scipy import stats

from mlops_assets.core.ks_grid import KsGrid, build_grid, is_integral, ks_on_grid, kstwo_sf

PSI_EPSILON = 1e-4
"""Floor applied to bin proportions before PSI, so an empty bin gives a finite term."""

OTHER = "__other__"
"""Bucket for categories unseen in the reference (and the reference's folded long tail)."""

KS_EXACT_MAX_N = 10_000
"""scipy's ``ks_2samp(method="auto")`` computes the exact p-value when both sizes are <= this."""

KS_GRID_MIN_ROWS = 100_000
"""More finite current values than this get the grid KS (below, a sort costs < ~7 ms)."""

KS_MAX_ERROR = 1e-3
"""Largest amount the grid KS statistic may lie below scipy's; above it, the exact KS runs.
(The KS sample of 100k reference values alone moves the statistic by ~4e-3.)"""

PROFILE_FORMAT = "mlops_assets.drift.ReferenceProfile"
PROFILE_VERSION = 1

Kind = Literal["numeric", "categorical"]
Status = Literal["ok", "warn", "fail"]
ValueKind = Literal["number", "string", "bool"]

TABLE_COLUMNS: tuple[str, ...] = (
    "feature",
    "kind",
    "status",
    "drifted",
    "reason",
    "psi",
    "ks_statistic",
    "ks_pvalue",
    "chi2_statistic",
    "chi2_pvalue",
    "missing_rate_reference",
    "missing_rate_current",
    "n_reference",
    "n_current",
)

_T = TypeVar("_T")
_R = TypeVar("_R")


class DriftInputError(ValueError):
    """Input that the drift statistics cannot judge; the message names the column and why."""


@dataclass(frozen=True)
class DriftThresholds:
    """When a feature warns or fails, and when the whole dataset counts as drifted.

    ``missing_rate_floor`` keeps a baseline of 0 from making any missing value an infinite
    jump: the current missing rate fails above ``ratio * max(baseline, floor)``.
    ``ks_pvalue`` is reported for context only (see the module docstring).
    A dataset is drifted when ``drift_share >= drift_share_fail`` (Evidently's rule).
    """

    psi_warn: float = 0.1
    psi_fail: float = 0.2
    missing_rate_ratio: float = 2.0
    missing_rate_floor: float = 0.001
    ks_pvalue: float = 0.01
    chi2_pvalue: float = 0.01
    drift_share_fail: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.psi_warn <= self.psi_fail:
            raise ValueError(
                f"need 0 <= psi_warn <= psi_fail, got {self.psi_warn}, {self.psi_fail}"
            )
        if self.missing_rate_ratio < 1 or self.missing_rate_floor < 0:
            raise ValueError("missing_rate_ratio must be >= 1 and missing_rate_floor >= 0")
        for name in ("ks_pvalue", "chi2_pvalue", "drift_share_fail"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be within [0, 1]")


# --------------------------------------------------------------------------- profile


class _CountsProfile:
    """Shared arithmetic of the per-feature profiles (fields: n_rows, n_missing, counts)."""

    n_rows: int
    n_missing: int
    counts: np.ndarray

    @property
    def n_valid(self) -> int:
        return self.n_rows - self.n_missing

    @property
    def missing_rate(self) -> float:
        return self.n_missing / self.n_rows

    @property
    def proportions(self) -> np.ndarray:
        return self.counts / self.n_valid


@dataclass(frozen=True, eq=False)
class NumericProfile(_CountsProfile):
    """What one numeric feature of the reference needs for PSI, KS and the missing rule."""

    n_rows: int
    n_missing: int
    edges: np.ndarray  # interior bin edges, strictly increasing; len(edges) + 1 bins
    counts: np.ndarray  # reference rows per bin (int64), sums to n_valid
    ks_sample: np.ndarray  # sorted finite float64 values: all of them, or a subsample

    @cached_property
    def ks_grid(self) -> KsGrid | None:
        """The KS sample binned for `ks_on_grid`; built on first use, once per profile."""
        return build_grid(self.ks_sample)


@dataclass(frozen=True, eq=False)
class CategoricalProfile(_CountsProfile):
    """Category counts of one categorical feature; the last count is the `OTHER` bucket."""

    n_rows: int
    n_missing: int
    value_kind: ValueKind
    categories: tuple[str, ...]
    counts: np.ndarray  # len(categories) + 1, last = OTHER (long tail beyond max_categories)


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """The reference window reduced to what `compare` needs; fitted once, stored as JSON."""

    n_rows: int
    numeric: dict[str, NumericProfile]
    categorical: dict[str, CategoricalProfile]
    bins: int
    ks_sample: int
    seed: int
    max_categories: int

    @property
    def numeric_features(self) -> tuple[str, ...]:
        return tuple(self.numeric)

    @property
    def categorical_features(self) -> tuple[str, ...]:
        return tuple(self.categorical)

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric_features + self.categorical_features

    def to_json(self) -> str:
        """Exact, pickle-free JSON: floats as JSON numbers (repr round-trips), the KS sample as
        base64 of little-endian float64 (~1.1 MB per feature at 100k values)."""
        features: list[dict[str, Any]] = []
        for name, p in self.numeric.items():
            sample = np.ascontiguousarray(p.ks_sample, dtype="<f8")
            features.append(
                {
                    "name": name,
                    "kind": "numeric",
                    "n_rows": p.n_rows,
                    "n_missing": p.n_missing,
                    "edges": [float(e) for e in p.edges],
                    "counts": [int(c) for c in p.counts],
                    "ks_sample": {"dtype": "<f8", "b64": base64.b64encode(sample).decode()},
                }
            )
        for name, c in self.categorical.items():
            features.append(
                {
                    "name": name,
                    "kind": "categorical",
                    "n_rows": c.n_rows,
                    "n_missing": c.n_missing,
                    "value_kind": c.value_kind,
                    "categories": list(c.categories),
                    "counts": [int(x) for x in c.counts],
                }
            )
        doc = {
            "format": PROFILE_FORMAT,
            "version": PROFILE_VERSION,
            "n_rows": self.n_rows,
            "bins": self.bins,
            "ks_sample": self.ks_sample,
            "seed": self.seed,
            "max_categories": self.max_categories,
            "features": features,
        }
        return json.dumps(doc, allow_nan=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> ReferenceProfile:
        """Parse and check a profile written by `to_json`; anything else is a DriftInputError."""
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise DriftInputError(f"reference profile is not valid JSON: {exc}") from exc
        try:
            return _profile_from_doc(doc)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, DriftInputError):
                raise
            raise DriftInputError(f"invalid reference profile: {exc!r}") from exc

    def save(self, path: str | os.PathLike[str]) -> Path:
        out = Path(path)
        out.write_text(self.to_json(), encoding="utf-8")
        return out

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ReferenceProfile:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


def _profile_from_doc(doc: dict[str, Any]) -> ReferenceProfile:
    if doc.get("format") != PROFILE_FORMAT:
        raise DriftInputError(f"not a reference profile (format={doc.get('format')!r})")
    if doc.get("version") != PROFILE_VERSION:
        raise DriftInputError(
            f"reference profile version {doc.get('version')!r} is not supported "
            f"(expected {PROFILE_VERSION}); refit it with fit_reference"
        )
    numeric: dict[str, NumericProfile] = {}
    categorical: dict[str, CategoricalProfile] = {}
    for f in doc["features"]:
        name, n_rows, n_missing = str(f["name"]), int(f["n_rows"]), int(f["n_missing"])
        if name in numeric or name in categorical:
            raise DriftInputError(f"reference profile lists feature {name!r} twice")
        counts = np.asarray(f["counts"], dtype=np.int64)
        if counts.sum() != n_rows - n_missing or (counts < 0).any():
            raise DriftInputError(f"reference profile: counts of {name!r} do not add up")
        if f["kind"] == "numeric":
            edges = np.asarray(f["edges"], dtype=np.float64)
            raw = base64.b64decode(f["ks_sample"]["b64"], validate=True)
            if f["ks_sample"]["dtype"] != "<f8" or len(raw) % 8:
                raise DriftInputError(f"reference profile: bad KS sample for {name!r}")
            sample = np.frombuffer(raw, dtype="<f8").astype(np.float64)
            ok = (
                edges.ndim == 1
                and len(edges) >= 1
                and len(counts) == len(edges) + 1
                and bool(np.all(np.isfinite(edges)) and np.all(np.diff(edges) > 0))
                and len(sample) >= 1
                and bool(np.all(np.isfinite(sample)) and np.all(np.diff(sample) >= 0))
            )
            if not ok:
                raise DriftInputError(f"reference profile: malformed numeric feature {name!r}")
            numeric[name] = NumericProfile(n_rows, n_missing, edges, counts, sample)
        elif f["kind"] == "categorical":
            cats = tuple(str(c) for c in f["categories"])
            if len(counts) != len(cats) + 1 or len(set(cats)) != len(cats) or OTHER in cats:
                raise DriftInputError(f"reference profile: malformed categorical {name!r}")
            if f["value_kind"] not in ("number", "string", "bool"):
                raise DriftInputError(f"reference profile: bad value_kind for {name!r}")
            categorical[name] = CategoricalProfile(n_rows, n_missing, f["value_kind"], cats, counts)
        else:
            raise DriftInputError(f"reference profile: unknown kind {f['kind']!r} for {name!r}")
    return ReferenceProfile(
        n_rows=int(doc["n_rows"]),
        numeric=numeric,
        categorical=categorical,
        bins=int(doc["bins"]),
        ks_sample=int(doc["ks_sample"]),
        seed=int(doc["seed"]),
        max_categories=int(doc["max_categories"]),
    )


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class FrameCheck:
    """What `validate_frame` learnt: columns with no usable value, and categorical kinds."""

    all_missing: tuple[str, ...]
    categorical_kinds: dict[str, ValueKind | None]


def validate_frame(
    df: Any,
    numeric: Sequence[str],
    categorical: Sequence[str] = (),
    *,
    role: str = "current",
    allow_all_missing: bool = False,
) -> FrameCheck:
    """Reject what the statistics (or Evidently) would crash on or silently skip.

    Checks, in order: a DataFrame, sane feature lists, at least one row, unique column names,
    every feature present, numeric features of a numeric dtype, categorical features of one
    value kind (strings, numbers or booleans), and, unless ``allow_all_missing``, at least one
    non-missing value per feature. Every failure is a `DriftInputError` naming the column.
    """
    if isinstance(numeric, str) or isinstance(categorical, str):
        raise DriftInputError("pass feature names as a list of strings, not a single string")
    numeric, categorical = list(numeric), list(categorical)
    if not isinstance(df, pd.DataFrame):
        raise DriftInputError(f"{role} data must be a pandas DataFrame, got {type(df).__name__}")
    features = numeric + categorical
    if not features:
        raise DriftInputError("no features given: pass at least one numeric or categorical column")
    dupes = sorted({f for f in features if features.count(f) > 1})
    if dupes:
        raise DriftInputError(f"features listed more than once (or as both kinds): {dupes}")
    if len(df) == 0:
        raise DriftInputError(f"{role} data is empty (0 rows)")
    if df.columns.has_duplicates:
        dup_cols = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise DriftInputError(f"{role} data has duplicate column names: {dup_cols}")
    missing = [f for f in features if f not in df.columns]
    if missing:
        raise DriftInputError(f"{role} data is missing feature columns: {missing}")

    all_missing: list[str] = []
    for name in numeric:
        s = df[name]
        if not _is_numeric_dtype(s.dtype):
            if pd.api.types.is_object_dtype(s.dtype) and bool(s.isna().all()):
                all_missing.append(name)
                continue
            raise DriftInputError(
                f"{role} column {name!r} must be numeric but has dtype {s.dtype}"
                f"{_example(s)}; convert it (e.g. pd.to_numeric) or declare it categorical"
            )
        if not _has_finite(s):
            all_missing.append(name)
    kinds: dict[str, ValueKind | None] = {}
    for name in categorical:
        s = df[name]
        kinds[name] = _categorical_kind(s, name, role)
        if kinds[name] is None:
            all_missing.append(name)
    if all_missing and not allow_all_missing:
        raise DriftInputError(f"{role} data: all values missing in columns {all_missing}")
    return FrameCheck(all_missing=tuple(all_missing), categorical_kinds=kinds)


def validate_pair(
    reference: Any,
    current: Any,
    numeric: Sequence[str],
    categorical: Sequence[str] = (),
) -> tuple[FrameCheck, FrameCheck]:
    """Validate a reference/current pair as `fit_reference` + `compare` would: the reference
    must have a value in every feature, the current may have all-missing features, and each
    categorical feature must hold the same kind of value in both."""
    ref = validate_frame(reference, numeric, categorical, role="reference")
    cur = validate_frame(current, numeric, categorical, role="current", allow_all_missing=True)
    _require_kinds({n: k for n, k in ref.categorical_kinds.items() if k is not None}, cur, current)
    return ref, cur


def _require_kinds(
    expected: dict[str, ValueKind], check: FrameCheck, current: pd.DataFrame
) -> None:
    for name, want in expected.items():
        kind = check.categorical_kinds.get(name)
        if kind is not None and kind != want:
            raise DriftInputError(
                f"current column {name!r} holds {kind} values (dtype {current[name].dtype}) "
                f"but the reference held {want} values"
            )


def _is_numeric_dtype(dtype: Any) -> bool:
    return (
        pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_complex_dtype(dtype)
        and not isinstance(dtype, pd.CategoricalDtype)
    )


def _has_finite(s: pd.Series) -> bool:
    if isinstance(s.dtype, np.dtype) and s.dtype.kind in "iub":
        return True
    if isinstance(s.dtype, np.dtype) and s.dtype.kind == "f":
        return bool(np.isfinite(s.to_numpy()).any())
    return bool(np.isfinite(s.to_numpy(dtype=np.float64, na_value=np.nan)).any())


def _example(s: pd.Series) -> str:
    """The first value that makes a column non-numeric, for the error message (error path)."""
    for v in s.dropna().head(1000):
        if not isinstance(v, (int, float, np.number)) or isinstance(v, bool):
            return f" (e.g. value {v!r} of type {type(v).__name__})"
    return ""


def _categorical_kind(s: pd.Series, name: str, role: str) -> ValueKind | None:
    """One kind of value per categorical column, or None when every value is missing."""
    if not bool(s.notna().any()):
        return None
    dtype = s.dtype
    values: Any = s
    if isinstance(dtype, pd.CategoricalDtype):
        values, dtype = s.cat.categories, s.cat.categories.dtype
    if pd.api.types.is_bool_dtype(dtype):
        kind: str = "boolean"
    elif _is_numeric_dtype(dtype):
        kind = "floating"
    elif pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        kind = pd.api.types.infer_dtype(values, skipna=True)
    else:
        raise DriftInputError(
            f"{role} column {name!r} has dtype {dtype}, which cannot be a categorical feature"
        )
    if kind in ("string", "unicode"):
        return "string"
    if kind == "boolean":
        return "bool"
    if kind in ("integer", "floating", "mixed-integer-float", "decimal"):
        return "number"
    raise DriftInputError(
        f"{role} column {name!r} (dtype {s.dtype}) mixes value types ({kind}); "
        "a categorical feature must hold only strings, only numbers or only booleans"
    )


# --------------------------------------------------------------------------- fitting


def fit_reference(
    df: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str] = (),
    *,
    bins: int = 10,
    ks_sample: int = 100_000,
    seed: int = 0,
    max_categories: int = 100,
    workers: int | None = None,
) -> ReferenceProfile:
    """Profile the reference window once: PSI bins, KS sample and missing rate per feature.

    Numeric PSI edges are the reference's ``1/bins .. (bins-1)/bins`` quantiles (linear
    interpolation, `np.quantile`), deduplicated; a constant column gets the edges
    ``(nextafter(c, -inf), c)`` so values below, at and above ``c`` fall in distinct bins.
    The KS sample is a uniform subsample without replacement of ``ks_sample`` finite values,
    seeded by ``(seed, crc32(column name))`` so it does not depend on column order.
    Categoricals keep the ``max_categories`` most frequent values; the rest is `OTHER`.
    """
    if bins < 2:
        raise ValueError(f"bins must be >= 2, got {bins}")
    if ks_sample < 1 or max_categories < 1:
        raise ValueError("ks_sample and max_categories must be >= 1")
    check = validate_frame(df, numeric, categorical, role="reference", allow_all_missing=False)
    quantiles = np.arange(1, bins) / bins

    def fit_numeric(column: tuple[str, pd.Series]) -> NumericProfile:
        return _fit_numeric(column[0], column[1], quantiles, ks_sample, seed)

    # Series are taken from the frame here, on one thread; workers only touch numpy arrays.
    num_profiles = _map(fit_numeric, [(n, df[n]) for n in numeric], workers)
    cat_profiles: dict[str, CategoricalProfile] = {}
    for name in categorical:
        kind = check.categorical_kinds[name]
        assert kind is not None  # all-missing references were rejected above
        keys, counts, n_missing = _category_counts(df[name], kind)
        order = np.argsort(-counts, kind="stable")
        top, tail = order[:max_categories], order[max_categories:]
        top = top[np.argsort(keys[top], kind="stable")]  # stable, readable order: by key
        cat_counts = np.append(counts[top], counts[tail].sum()).astype(np.int64)
        cat_profiles[name] = CategoricalProfile(
            len(df), n_missing, kind, tuple(str(k) for k in keys[top]), cat_counts
        )
    return ReferenceProfile(
        n_rows=len(df),
        numeric=dict(zip(numeric, num_profiles, strict=True)),
        categorical=cat_profiles,
        bins=bins,
        ks_sample=ks_sample,
        seed=seed,
        max_categories=max_categories,
    )


def _fit_numeric(
    name: str, s: pd.Series, quantiles: np.ndarray, ks_sample: int, seed: int
) -> NumericProfile:
    """One numeric column's profile without sorting it (a full sort costs ~3x a quantile
    selection here): selection for the edges, comparisons for the counts, a sorted subsample."""
    values, n_missing = _finite_values(s)
    edges = np.unique(np.quantile(values, quantiles))
    if len(edges) == 1:
        edges = np.array([np.nextafter(edges[0], -np.inf), edges[0]])
    counts = _bin_counts(values, edges)
    if len(values) > ks_sample:
        rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
        sample = np.sort(values[np.sort(rng.choice(len(values), size=ks_sample, replace=False))])
    else:
        sample = np.sort(values)
    profile = NumericProfile(len(values) + n_missing, n_missing, edges, counts, sample)
    _ = profile.ks_grid  # built here, on the fitting threads, rather than by the first compare
    return profile


def _finite_values(s: pd.Series) -> tuple[np.ndarray, int]:
    """The finite values of a numeric column as a contiguous float64 array (a view of the
    frame when it already is one), and how many values were missing."""
    dtype = s.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return np.ascontiguousarray(s.to_numpy(), dtype=np.float64), 0
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        values = np.ascontiguousarray(s.to_numpy(), dtype=np.float64)
    else:  # nullable extension dtypes and all-None object columns: NA -> NaN
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(values)
    n_valid = int(np.count_nonzero(finite))
    if n_valid < len(values):
        values = values[finite]
    return values, len(s) - n_valid


def _bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Rows per right-closed bin ``(e[i-1], e[i]]`` of unsorted values; outer bins open."""
    if len(edges) <= 16:  # a few vectorised comparisons beat a per-value binary search
        below = np.array([np.count_nonzero(values <= e) for e in edges], dtype=np.int64)
    else:
        bins = np.searchsorted(edges, values, side="left")
        below = np.cumsum(np.bincount(bins, minlength=len(edges) + 1))[:-1]
    return np.diff(below, prepend=0, append=len(values)).astype(np.int64)


def category_keys(values: Any, kind: ValueKind) -> np.ndarray:
    """Normalised string keys for distinct category values (an object array of str).

    Keys are strings so they survive JSON: numbers print as integers when integral (1.0 and 1
    are the same category), booleans as "True"/"False", strings stay as they are.
    """
    raw = np.asarray(values)
    if kind == "number":
        f = raw.astype(np.float64)
        integral = np.isfinite(f) & (f == np.round(f)) & (np.abs(f) < 2**53)
        ints = np.where(integral, f, 0).astype(np.int64).astype(str)
        return np.where(integral, ints, f.astype(str)).astype(object)
    return raw.astype(str).astype(object)


def category_key_series(s: pd.Series, kind: ValueKind) -> pd.Series:
    """A categorical column as normalised keys (None where missing), e.g. to hand the same
    categories to Evidently. Hashing happens in pandas; Python only sees distinct values."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    keys = category_keys(np.asarray(uniques), kind) if len(uniques) else np.array([], dtype=object)
    out = np.full(len(s), None, dtype=object)
    present = codes >= 0
    out[present] = keys[codes[present]]
    return pd.Series(out, index=s.index, name=s.name, dtype=object)


def _category_counts(s: pd.Series, kind: ValueKind) -> tuple[np.ndarray, np.ndarray, int]:
    """Counts per normalised category key, and how many values were missing."""
    vc = s.value_counts(dropna=True, sort=False)
    vc = vc[vc > 0]  # categorical dtypes report unused categories with count 0
    n_missing = len(s) - int(vc.sum())
    keys = category_keys(vc.index.to_numpy(), kind)
    uniq, inverse = np.unique(keys, return_inverse=True)
    counts = np.bincount(inverse, weights=vc.to_numpy(dtype=np.float64), minlength=len(uniq))
    return uniq.astype(object), counts.astype(np.int64), n_missing


# --------------------------------------------------------------------------- statistics


def psi(reference_proportions: np.ndarray, current_proportions: np.ndarray) -> float:
    """Population stability index with both proportion vectors floored at `PSI_EPSILON`."""
    ref = np.maximum(np.asarray(reference_proportions, dtype=np.float64), PSI_EPSILON)
    cur = np.maximum(np.asarray(current_proportions, dtype=np.float64), PSI_EPSILON)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def ks_2samp_sorted(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sided two-sample KS of two sorted finite samples; equals ``ks_2samp(a, b)``.

    Small samples (both <= `KS_EXACT_MAX_N`) go to scipy itself, which uses the exact
    distribution there. Otherwise the statistic is computed without merging the samples.
    scipy evaluates ``#a<=x / n1 - #b<=x / n2`` at every point x of both samples. Between two
    distinct values of ``a`` the first term is flat and the second only grows, so the
    extremes are reached at a distinct value u of ``a`` (counts ``#a<=u, #b<=u``) or at the
    largest ``b`` below u (counts ``#a<u, #b<u``; when no ``b`` lies there, this pair
    repeats the previous one or is 0). Searching the distinct values of ``a`` (at most the
    KS sample) in ``b`` gives exactly these integer pairs, so the floats are scipy's too.
    The p-value is scipy's asymptotic one, `ks_asymptotic_pvalue`.
    """
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        raise DriftInputError("KS needs two non-empty samples")
    if max(n1, n2) <= KS_EXACT_MAX_N:
        res = stats.ks_2samp(a, b, method="auto")
        return float(res.statistic), float(res.pvalue)
    last = np.empty(n1, dtype=bool)
    np.not_equal(a[1:], a[:-1], out=last[:-1])
    last[-1] = True
    distinct = a[last]
    cdf_a = (np.flatnonzero(last) + 1) / n1  # share of a <= each distinct value
    cdf_a_before = np.concatenate(([0.0], cdf_a[:-1]))  # share of a below it
    b_upto = np.searchsorted(b, distinct, side="right")  # #b <= u
    b_below = b_upto.copy()  # #b < u: differs only where u also occurs in b
    tied = b_upto > 0
    tied[tied] = b[b_upto[tied] - 1] == distinct[tied]
    if tied.any():
        b_below[tied] = np.searchsorted(b, distinct[tied], side="left")
    at = np.abs(cdf_a - b_upto / n2)
    before = np.abs(cdf_a_before - b_below / n2)
    d = float(max(at.max(), before.max()))
    return d, ks_asymptotic_pvalue(d, n1, n2)


def ks_asymptotic_pvalue(d: float, n1: int, n2: int) -> float:
    """scipy's ``ks_2samp(method="asymp")`` p-value: ``kstwo.sf(d, round(n1*n2/(n1+n2)))``."""
    return float(np.clip(stats.kstwo.sf(d, _ks_effective_n(n1, n2)), 0, 1))


def _ks_effective_n(n1: int, n2: int) -> int:
    m, n = sorted([float(n1), float(n2)], reverse=True)
    return int(np.round(m * n / (m + n)))


def ks_numeric(
    profile: NumericProfile, values: np.ndarray, integral: bool, *, exact: bool = False
) -> tuple[float, float]:
    """KS of the profile's sample vs finite current ``values`` (any order): the grid statistic
    within `KS_MAX_ERROR` when there are more than `KS_GRID_MIN_ROWS` values, else (or with
    ``exact``) scipy's exactly. ``integral``: the values are known to be integers (int dtype)."""
    grid = None if exact or len(values) <= KS_GRID_MIN_ROWS else profile.ks_grid
    if grid is not None:
        integral = integral or (grid.integral and is_integral(values))
        d, bound = ks_on_grid(grid, values, integral)
        if bound <= KS_MAX_ERROR:
            return d, kstwo_sf(d, _ks_effective_n(grid.n_reference, len(values)))
    return ks_2samp_sorted(profile.ks_sample, np.sort(values))


def chi2_homogeneity(
    reference_counts: np.ndarray, current_counts: np.ndarray
) -> tuple[float, float]:
    """Pearson chi-square test of homogeneity of two count vectors over the same categories.

    Equals ``chi2_contingency(np.vstack([ref, cur])[:, seen], correction=False)`` where
    ``seen`` drops categories absent from both; a single seen category gives ``(0.0, 1.0)``.
    """
    table = np.vstack([reference_counts, current_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    dof = table.shape[1] - 1
    if dof <= 0:
        return 0.0, 1.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    return statistic, float(stats.chi2.sf(statistic, dof))


# --------------------------------------------------------------------------- comparing


@dataclass(frozen=True, eq=False)
class DriftResult:
    """Per-feature drift table plus the dataset-level verdict.

    ``status`` summarises for a Dagster check: "fail" when the dataset drifted, "warn" when
    any feature warns or fails, else "ok".
    """

    table: pd.DataFrame
    drift_share: float
    dataset_drifted: bool
    n_rows_reference: int
    n_rows_current: int
    thresholds: DriftThresholds

    @property
    def status(self) -> Status:
        if self.dataset_drifted:
            return "fail"
        return "warn" if bool((self.table["status"] != "ok").any()) else "ok"

    @property
    def drifted_features(self) -> list[str]:
        return self.table.loc[self.table["drifted"], "feature"].tolist()

    def to_records(self) -> list[dict[str, Any]]:
        """JSON-ready rows: Python scalars, NaN as None."""
        return [{k: _py(v) for k, v in row.items()} for row in self.table.to_dict(orient="records")]

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "drift_share": self.drift_share,
            "dataset_drifted": self.dataset_drifted,
            "n_rows_reference": self.n_rows_reference,
            "n_rows_current": self.n_rows_current,
            "drifted_features": self.drifted_features,
            "thresholds": asdict(self.thresholds),
            "features": self.to_records(),
        }


def _py(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def compare(
    profile: ReferenceProfile,
    current: pd.DataFrame,
    thresholds: DriftThresholds = DriftThresholds(),
    *,
    workers: int | None = None,
    ks_exact: bool = False,
) -> DriftResult:
    """Judge one current window (e.g. a daily partition) against a fitted reference profile.

    No column is sorted unless ``ks_exact`` asks for scipy's KS on every column (see the
    module docstring). Columns beyond the profile's features are ignored. A feature whose
    current values are all missing is reported as "fail" ("all values missing"), not raised,
    so one broken column cannot hide the others; every other bad input is a `DriftInputError`.
    """
    check = validate_frame(
        current,
        profile.numeric_features,
        profile.categorical_features,
        role="current",
        allow_all_missing=True,
    )
    _require_kinds({n: p.value_kind for n, p in profile.categorical.items()}, check, current)

    def numeric_row(column: tuple[str, pd.Series]) -> dict[str, Any]:
        name, series = column
        values, n_missing = _finite_values(series)
        integral = isinstance(series.dtype, np.dtype) and series.dtype.kind in "iub"
        prof = profile.numeric[name]
        row = _numeric_row(name, prof, values, n_missing, thresholds)
        if len(values):
            ks = ks_numeric(prof, values, integral, exact=ks_exact)
            row["ks_statistic"], row["ks_pvalue"] = ks
        return row

    rows = _map(numeric_row, [(n, current[n]) for n in profile.numeric], workers)
    for name, prof in profile.categorical.items():
        rows.append(_categorical_row(name, prof, current[name], check, thresholds))
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    drift_share = float(table["drifted"].mean())
    return DriftResult(
        table=table,
        drift_share=drift_share,
        dataset_drifted=drift_share >= thresholds.drift_share_fail,
        n_rows_reference=profile.n_rows,
        n_rows_current=len(current),
        thresholds=thresholds,
    )


def _numeric_row(
    name: str, prof: NumericProfile, values: np.ndarray, n_missing: int, t: DriftThresholds
) -> dict[str, Any]:
    row = _base_row(name, "numeric", prof.missing_rate, n_missing, len(values) + n_missing)
    row["n_reference"] = prof.n_valid
    if len(values) == 0:
        return _judge(row, None, None, t)
    row["psi"] = psi(prof.proportions, _bin_counts(values, prof.edges) / len(values))
    return _judge(row, row["psi"], None, t)


def _categorical_row(
    name: str, prof: CategoricalProfile, s: pd.Series, check: FrameCheck, t: DriftThresholds
) -> dict[str, Any]:
    kind = check.categorical_kinds[name]
    if kind is None:
        row = _base_row(name, "categorical", prof.missing_rate, len(s), len(s))
        row["n_reference"] = prof.n_valid
        return _judge(row, None, None, t)
    keys, counts, n_missing = _category_counts(s, kind)
    row = _base_row(name, "categorical", prof.missing_rate, n_missing, len(s))
    row["n_reference"] = prof.n_valid
    position = {c: i for i, c in enumerate(prof.categories)}  # distinct keys only
    idx = np.array([position.get(k, len(prof.categories)) for k in keys], dtype=np.int64)
    cur = np.bincount(idx, weights=counts, minlength=len(prof.counts)).astype(np.int64)
    row["psi"] = psi(prof.proportions, cur / cur.sum())
    row["chi2_statistic"], row["chi2_pvalue"] = chi2_homogeneity(prof.counts, cur)
    return _judge(row, row["psi"], row["chi2_pvalue"], t)


def _base_row(
    name: str, kind: Kind, missing_ref: float, n_missing: int, n_rows: int
) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(TABLE_COLUMNS, math.nan)
    row.update(
        feature=name,
        kind=kind,
        missing_rate_reference=missing_ref,
        missing_rate_current=n_missing / n_rows,
        n_current=n_rows - n_missing,
    )
    return row


def _judge(
    row: dict[str, Any], psi_value: float | None, chi2_p: float | None, t: DriftThresholds
) -> dict[str, Any]:
    """Set status, drifted and a reason a person can read in the Dagster UI."""
    fails: list[str] = []
    warns: list[str] = []
    if row["n_current"] == 0:
        fails.append("all values missing")
    else:
        base, rate = row["missing_rate_reference"], row["missing_rate_current"]
        if rate > t.missing_rate_ratio * max(base, t.missing_rate_floor):
            fails.append(
                f"missing rate {rate:.3g} > {t.missing_rate_ratio:g} x baseline {base:.3g}"
            )
        assert psi_value is not None
        if psi_value > t.psi_fail:
            fails.append(f"psi {psi_value:.3g} > {t.psi_fail:g}")
        elif psi_value > t.psi_warn:
            warns.append(f"psi {psi_value:.3g} > {t.psi_warn:g}")
        if chi2_p is not None and chi2_p < t.chi2_pvalue:
            warns.append(f"chi2 p-value {chi2_p:.3g} < {t.chi2_pvalue:g}")
    status: Status = "fail" if fails else "warn" if warns else "ok"
    reasons = fails + warns
    if not reasons:
        reasons = [f"psi {psi_value:.3g} <= {t.psi_warn:g}"]
    row.update(status=status, drifted=status == "fail", reason="; ".join(reasons))
    return row


# --------------------------------------------------------------------------- scores

SCORE_COLUMN = "score"


def _score_frame(scores: Any, name: str) -> pd.DataFrame:
    if isinstance(scores, pd.DataFrame):
        if name not in scores.columns:
            raise DriftInputError(f"score frame has no column {name!r}")
        return scores
    values = scores.to_numpy() if isinstance(scores, pd.Series) else np.asarray(scores)
    if values.ndim != 1:
        raise DriftInputError(f"scores must be one-dimensional, got shape {values.shape}")
    return pd.DataFrame({name: values})


def fit_score_reference(
    scores: Any,
    *,
    name: str = SCORE_COLUMN,
    bins: int = 10,
    ks_sample: int = 100_000,
    seed: int = 0,
) -> ReferenceProfile:
    """Profile reference prediction scores (array, Series or frame column) as one numeric
    feature, e.g. the scores of the training window next to the model version."""
    return fit_reference(
        _score_frame(scores, name), [name], bins=bins, ks_sample=ks_sample, seed=seed
    )


def compare_scores(
    profile: ReferenceProfile,
    scores: Any,
    thresholds: DriftThresholds = DriftThresholds(),
) -> DriftResult:
    """Prediction-score drift: `compare` on the profile's single numeric feature."""
    if len(profile.features) != 1 or not profile.numeric:
        raise DriftInputError("compare_scores needs a profile from fit_score_reference")
    return compare(profile, _score_frame(scores, profile.numeric_features[0]), thresholds)


# --------------------------------------------------------------------------- helpers


def _map(fn: Callable[[_T], _R], items: list[_T], workers: int | None) -> list[_R]:
    """Column-at-a-time work on a few threads: numpy's sort and search release the GIL, and
    only ``workers`` columns are materialised at once, which bounds the extra memory."""
    n = _default_workers() if workers is None else max(1, workers)
    if n == 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(n, len(items))) as pool:
        return list(pool.map(fn, items))


def _default_workers() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))
