"""The human drift report: Evidently's DataDriftPreset rendered to HTML on bounded samples.

The numbers that gate come from `mlops_assets.core.drift`; this module only draws the picture
and exposes Evidently's own per-column scores so tests can cross-check ours. Evidently crashes
on empty frames and all-missing columns, silently skips missing or mistyped columns and infers
types from the current data (DESIGN.md section 9), so every input first goes through the same
validator as `drift.compare`, and Evidently gets an explicit `DataDefinition`.

Evidently is imported inside the functions: loading the code location must not import it.
"""

from __future__ import annotations

import html
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_assets.core.drift import (
    DriftInputError,
    DriftThresholds,
    category_key_series,
    validate_pair,
)

DEFAULT_MAX_ROWS = 5_000


@dataclass(frozen=True)
class _Prepared:
    reference: pd.DataFrame
    current: pd.DataFrame
    numeric: list[str]
    categorical: list[str]
    excluded: dict[str, str]  # column -> why it was left out of the Evidently run


def render_evidently_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    path: str | os.PathLike[str],
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    seed: int = 0,
    num_method: str | None = "psi",
    cat_method: str | None = "psi",
    threshold: float | None = DriftThresholds().psi_fail,
) -> Path:
    """Write Evidently's data-drift HTML for ``current`` vs ``reference`` to ``path``.

    Both frames are cut to at most ``max_rows`` rows by a seeded sample (rendering cost
    grows with rows; the gating numbers use all rows). By default Evidently is asked for PSI
    with our fail threshold so its flags speak the language of the gate; its PSI bins are
    equal-width Sturges bins over both samples, so its values differ from ours (see
    `mlops_assets.core.drift`). Features with no usable value in a sample are left out of
    Evidently's run and listed in a banner at the top of the page, never silently dropped.
    """
    prepared = _prepare(reference, current, numeric, categorical, max_rows=max_rows, seed=seed)
    snapshot = _run_evidently(prepared, num_method, cat_method, threshold)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(out))
    if prepared.excluded:
        _add_banner(out, prepared.excluded)
    return out


def evidently_drift_table(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str] = (),
    *,
    max_rows: int | None = DEFAULT_MAX_ROWS,
    seed: int = 0,
    num_method: str | None = None,
    cat_method: str | None = None,
    threshold: float | None = None,
) -> pd.DataFrame:
    """Evidently's per-column drift scores as a table: feature, kind, method, threshold,
    score, drifted, note. ``max_rows=None`` runs on all rows (slow on big frames).

    ``method=None`` lets Evidently choose (normed Wasserstein above 1,000 reference rows for
    numbers). For p-value methods (ks, chisquare) ``drifted`` means score < threshold, for
    distances (psi, wasserstein) score >= threshold, as Evidently's own test decides.
    """
    prepared = _prepare(reference, current, numeric, categorical, max_rows=max_rows, seed=seed)
    results = _run_evidently(prepared, num_method, cat_method, threshold).dict()
    failed = {
        t["metric_config"]["metric_id"]: t["status"] == "FAIL"
        for t in results["tests"]
        if t.get("id") == "drift"
    }
    rows: list[dict[str, Any]] = []
    for metric in results["metrics"]:
        config = metric["config"]
        if not config.get("type", "").endswith("ValueDrift"):
            continue
        column = config["column"]
        rows.append(
            {
                "feature": column,
                "kind": "numeric" if column in prepared.numeric else "categorical",
                "method": config.get("method"),
                "threshold": config.get("threshold"),
                "score": float(metric["value"]),
                "drifted": failed.get(metric["id"]),
                "note": "",
            }
        )
    for column, why in prepared.excluded.items():
        kind = "numeric" if column in numeric else "categorical"
        rows.append(
            {
                "feature": column,
                "kind": kind,
                "method": None,
                "threshold": None,
                "score": np.nan,
                "drifted": None,
                "note": why,
            }
        )
    order = {name: i for i, name in enumerate([*numeric, *categorical])}
    table = pd.DataFrame(
        rows, columns=["feature", "kind", "method", "threshold", "score", "drifted", "note"]
    )
    return table.sort_values("feature", key=lambda c: c.map(order)).reset_index(drop=True)


def _prepare(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    *,
    max_rows: int | None,
    seed: int,
) -> _Prepared:
    """Validate, sample, and clean what Evidently will see."""
    numeric, categorical = list(numeric), list(categorical)
    if max_rows is not None and max_rows < 1:
        raise ValueError(f"max_rows must be >= 1, got {max_rows}")
    ref_check, cur_check = validate_pair(reference, current, numeric, categorical)
    ref = _sample(reference, numeric + categorical, max_rows, seed)
    cur = _sample(current, numeric + categorical, max_rows, seed + 1)
    excluded = {name: "all values missing in the current data" for name in cur_check.all_missing}
    for name in numeric:
        for frame, role in ((ref, "reference"), (cur, "current")):
            values = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
            values[~np.isfinite(values)] = np.nan  # +-inf is missing, as in drift.py
            frame[name] = values
            if np.isnan(values).all() and name not in excluded:
                excluded[name] = f"all values missing in the {len(frame):,} sampled {role} rows"
    for name in categorical:
        kind = ref_check.categorical_kinds[name]
        assert kind is not None  # validate_pair rejects all-missing reference columns
        for frame, role in ((ref, "reference"), (cur, "current")):
            frame[name] = category_key_series(frame[name], kind)
            if frame[name].isna().all() and name not in excluded:
                excluded[name] = f"all values missing in the {len(frame):,} sampled {role} rows"
    kept_num = [n for n in numeric if n not in excluded]
    kept_cat = [n for n in categorical if n not in excluded]
    if not kept_num and not kept_cat:
        raise DriftInputError(f"no feature left for the Evidently report: {excluded}")
    return _Prepared(ref, cur, kept_num, kept_cat, excluded)


def _sample(df: pd.DataFrame, columns: list[str], max_rows: int | None, seed: int) -> pd.DataFrame:
    """A seeded sample of rows, kept in their original order; only the feature columns."""
    if max_rows is not None and len(df) > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(len(df), size=max_rows, replace=False))
        df = df.iloc[rows]
    return df.loc[:, columns].reset_index(drop=True).copy()


def _run_evidently(
    prepared: _Prepared,
    num_method: str | None,
    cat_method: str | None,
    threshold: float | None,
) -> Any:
    with warnings.catch_warnings():
        # Evidently 0.7 imports `numpy.core` (renamed in numpy 2) and litestar's deprecated
        # `Dependency`; neither is ours to fix, and users would read them on every run.
        warnings.filterwarnings("ignore", message=r"numpy\.core is deprecated")
        warnings.filterwarnings("ignore", message=r".*deprecated.*litestar", category=Warning)
        warnings.filterwarnings("ignore", message=r"Use of deprecated class 'DependencyKwarg'")
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=prepared.numeric, categorical_columns=prepared.categorical
    )
    columns = prepared.numeric + prepared.categorical
    preset = DataDriftPreset(
        columns=columns,
        num_method=num_method,
        cat_method=cat_method,
        num_threshold=threshold if num_method is not None else None,
        cat_threshold=threshold if cat_method is not None else None,
    )
    report = Report([preset], include_tests=True)
    with warnings.catch_warnings():
        # scipy's divide-by-zero warnings from Evidently's chi-square on unseen categories
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.filterwarnings("ignore", message=r"numpy\.core is deprecated")
        return report.run(
            Dataset.from_pandas(prepared.current[columns], data_definition=definition),
            Dataset.from_pandas(prepared.reference[columns], data_definition=definition),
        )


def _add_banner(path: Path, excluded: dict[str, str]) -> None:
    items = "".join(
        f"<li><b>{html.escape(name)}</b>: {html.escape(why)}</li>" for name, why in excluded.items()
    )
    banner = (
        '<div id="mlops-excluded" style="background:#fff3cd;border:1px solid #e0b400;'
        'padding:8px 16px;margin:8px;font-family:sans-serif">'
        f"<p><b>Not in this report</b> (no value to compare):</p><ul>{items}</ul></div>"
    )
    text = path.read_text(encoding="utf-8")
    text = text.replace("<body>", "<body>" + banner, 1) if "<body>" in text else banner + text
    path.write_text(text, encoding="utf-8")
