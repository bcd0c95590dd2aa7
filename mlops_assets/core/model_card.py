"""A model card in Markdown: what a reviewer needs to accept or reject a model version."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_METRICS = ("auc_pr", "roc_auc", "log_loss", "brier", "ece", "positive_rate", "n_rows")


@dataclass(frozen=True)
class Baseline:
    """A rule the model is compared with, scored on the same held-out rows."""

    name: str
    description: str
    score: str  # the rule: a SQL expression over the inputs
    metrics: Mapping[str, float]  # auc_pr, roc_auc


def render(
    *,
    model_name: str,
    version: str | None,
    kind: str,
    data: Mapping[str, Any],
    metrics: Mapping[str, float],
    features: Sequence[str],
    gate: str | None = None,
    onnx: Mapping[str, Any] | None = None,
    calibration: Sequence[Mapping[str, float]] = (),
    baseline: Baseline | None = None,
) -> str:
    title = f"# {model_name} v{version} ({kind})" if version else f"# {model_name} ({kind})"
    lines = [title, "", "## Data", ""]
    lines += [f"- **{k}**: {v}" for k, v in data.items()]
    lines += ["", "## Held-out metrics (time split)", "", "| metric | value |", "|---|---:|"]
    lines += [f"| {m} | {_fmt(metrics[m])} |" for m in _METRICS if m in metrics]
    if baseline is not None:
        lines += ["", "## Baseline (same held-out rows)", ""]
        about = f": {baseline.description}" if baseline.description else ""
        lines += [f"Rule **{baseline.name}**, score = `{baseline.score}`{about}", ""]
        lines += ["| metric | model | baseline | lift |", "|---|---:|---:|---:|"]
        lines += [
            f"| {m} | {_fmt(metrics[m])} | {_fmt(v)} | {metrics[m] - v:+.4f} |"
            for m, v in baseline.metrics.items()
            if m in metrics
        ]
    if calibration:
        lines += ["", "## Calibration", "", "| predicted | mean predicted | observed | rows |"]
        lines += ["|---|---:|---:|---:|"]
        lines += [
            f"| {b['bin_lower']:.1f}-{b['bin_upper']:.1f} | {b['mean_predicted']:.3f} "
            f"| {b['observed_rate']:.3f} | {int(b['n_rows'])} |"
            for b in calibration
        ]
    lines += ["", "## Features", "", ", ".join(f"`{f}`" for f in features)]
    lines += ["", "## Approval gate", "", gate or "not evaluated yet"]
    if onnx:
        lines += ["", "## ONNX export", ""]
        lines += [f"- **{k}**: {_fmt(v)}" for k, v in onnx.items()]
    return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
