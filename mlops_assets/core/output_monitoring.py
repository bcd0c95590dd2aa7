"""Output and business monitoring of one scored day, without a framework.

Five judgements, each a pure function of arrays and thresholds (the model YAML's `outputs:`):
- the score distribution against the version's reference: KL(current ‖ reference) and PSI on
  the reference's score bins (its deciles);
- bucket shares: the share of low / medium / high scores (cut at `bucket_edges`) against the
  reference's share, as a relative deviation;
- volume: rows scored against the same weekday one week earlier;
- values outside the training range ± k σ (per numeric input, from the reference's sample);
- once labels land: precision and recall in the top decile of scores.
Each returns a `Verdict` (passed, the number it judged, and why) for the asset checks, and the
numbers go to the day's summary for the platform metrics.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

EPSILON = 1e-4  # empty bins are floored (as PSI does) so one empty bin stays finite


@dataclass(frozen=True)
class OutputThresholds:
    kl_max: float = 0.1
    psi_max: float = 0.2
    bucket_edges: tuple[float, ...] = (0.3, 0.7)
    bucket_deviation_max: float = 0.2
    min_bucket_share: float = 0.02  # buckets rarer than this in the reference are not judged
    volume_min_ratio: float = 0.5
    volume_max_ratio: float = 2.0
    range_sigmas: float = 3.0
    out_of_range_max_share: float = 0.01
    top_fraction: float = 0.1
    precision_floor: float = 0.0
    recall_floor: float = 0.0

    def __post_init__(self) -> None:
        edges = list(self.bucket_edges)
        if not edges or edges != sorted(set(edges)) or edges[0] <= 0 or edges[-1] >= 1:
            raise ValueError(f"bucket_edges must increase strictly within (0, 1), got {edges}")
        if not 0 < self.volume_min_ratio < 1 < self.volume_max_ratio:
            raise ValueError("need 0 < volume_min_ratio < 1 < volume_max_ratio")
        if not 0 < self.top_fraction <= 1:
            raise ValueError("top_fraction must be within (0, 1]")


@dataclass(frozen=True)
class Verdict:
    passed: bool
    value: float | None  # the number judged (None: nothing to judge yet)
    description: str


def _proportions(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        raise ValueError("no values to compare")
    return np.maximum(counts / total, EPSILON)


def kl_divergence(reference_counts: Sequence[float], current_counts: Sequence[float]) -> float:
    """KL(current ‖ reference) in nats over the same bins, both floored at `EPSILON`."""
    ref = _proportions(np.asarray(reference_counts))
    cur = _proportions(np.asarray(current_counts))
    ref, cur = ref / ref.sum(), cur / cur.sum()
    return float(np.sum(cur * np.log(cur / ref)))


def bin_counts(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Rows per right-closed bin `(e[i-1], e[i]]`, outer bins open (the drift module's bins)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    below = np.array([np.count_nonzero(values <= e) for e in edges], dtype=np.int64)
    return np.diff(below, prepend=0, append=len(values)).astype(np.int64)


def score_distribution(
    reference_counts: Sequence[float],
    edges: Sequence[float],
    scores: np.ndarray,
    psi: float,
    t: OutputThresholds,
) -> tuple[Verdict, float]:
    """(verdict, KL): KL above `kl_max` or the score PSI above `psi_max` fails."""
    kl = kl_divergence(reference_counts, bin_counts(scores, edges))
    passed = kl <= t.kl_max and psi <= t.psi_max
    return (
        Verdict(passed, kl, f"KL {kl:.4f} (max {t.kl_max}), PSI {psi:.4f} (max {t.psi_max})"),
        kl,
    )


def bucket_names(edges: Sequence[float]) -> list[str]:
    bounds = ["0", *(f"{e:g}" for e in edges), "1"]
    return [f"{lo}-{hi}" for lo, hi in itertools.pairwise(bounds)]


def bucket_shares(
    reference_scores: np.ndarray, scores: np.ndarray, t: OutputThresholds
) -> tuple[Verdict, dict[str, dict[str, float]]]:
    """Share of scores per bucket vs the reference's; a judged bucket whose share moved by more
    than `bucket_deviation_max` of the reference share fails."""
    names = bucket_names(t.bucket_edges)
    ref = bin_counts(reference_scores, t.bucket_edges)
    cur = bin_counts(scores, t.bucket_edges)
    if ref.sum() == 0 or cur.sum() == 0:
        raise ValueError("no scores to compare")
    ref_share, cur_share = ref / ref.sum(), cur / cur.sum()
    table: dict[str, dict[str, float]] = {}
    worst, worst_name = 0.0, names[0]
    for name, r, c in zip(names, ref_share, cur_share, strict=True):
        deviation = abs(c - r) / r if r >= t.min_bucket_share else 0.0
        table[name] = {"reference": float(r), "current": float(c), "deviation": float(deviation)}
        if deviation > worst:
            worst, worst_name = float(deviation), name
    passed = worst <= t.bucket_deviation_max
    text = (
        f"largest deviation {worst:.1%} in bucket {worst_name} "
        f"({table[worst_name]['reference']:.1%} → {table[worst_name]['current']:.1%}; "
        f"max {t.bucket_deviation_max:.0%})"
    )
    return Verdict(passed, worst, text), table


def scoring_volume(rows: int, rows_week_before: int | None, t: OutputThresholds) -> Verdict:
    """Rows scored vs the same weekday a week earlier: outside [min, max] × fails. Without a
    scored day a week earlier there is nothing to compare (passes, and says so)."""
    if not rows_week_before:
        return Verdict(True, None, f"{rows} rows; no scores a week earlier to compare with")
    ratio = rows / rows_week_before
    passed = t.volume_min_ratio <= ratio <= t.volume_max_ratio
    return Verdict(
        passed,
        ratio,
        f"{rows} rows vs {rows_week_before} a week earlier: {ratio:.0%} "
        f"(allowed {t.volume_min_ratio:.0%}–{t.volume_max_ratio:.0%})",
    )


def training_ranges(samples: Mapping[str, np.ndarray], sigmas: float) -> dict[str, tuple]:
    """Per input: (min − kσ, max + kσ) of its training values."""
    out = {}
    for name, values in samples.items():
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]
        if len(v) == 0:
            continue
        s = float(v.std())
        out[name] = (float(v.min()) - sigmas * s, float(v.max()) + sigmas * s)
    return out


def out_of_range(
    ranges: Mapping[str, tuple[float, float]],
    current: Mapping[str, np.ndarray],
    t: OutputThresholds,
) -> tuple[Verdict, dict[str, float]]:
    """Share of each input's (finite) values outside its training range ± kσ; any input above
    `out_of_range_max_share` fails."""
    shares: dict[str, float] = {}
    for name, (lo, hi) in ranges.items():
        if name not in current:
            continue
        v = np.asarray(current[name], dtype=np.float64)
        v = v[np.isfinite(v)]
        shares[name] = float(np.mean((v < lo) | (v > hi))) if len(v) else 0.0
    if not shares:
        return Verdict(True, None, "no numeric input to judge"), shares
    worst = max(shares, key=lambda k: shares[k])
    bad = sorted(k for k, s in shares.items() if s > t.out_of_range_max_share)
    return (
        Verdict(
            not bad,
            shares[worst],
            f"outside training range ± {t.range_sigmas:g}σ: {', '.join(bad) or 'none'} "
            f"(worst {worst} {shares[worst]:.2%}, max {t.out_of_range_max_share:.2%})",
        ),
        shares,
    )


def top_fraction(labels: np.ndarray, scores: np.ndarray, fraction: float) -> tuple[float, float]:
    """(precision, recall) among the top `fraction` of rows by score (at least one row);
    ties at the cut-off are broken by position (stable sort), so the size is exact."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    if len(labels) != len(scores) or len(labels) == 0:
        raise ValueError("labels and scores must be non-empty and of the same length")
    k = max(1, round(len(scores) * fraction))
    top = np.argsort(-scores, kind="stable")[:k]
    hits = int(labels[top].sum())
    positives = int(labels.sum())
    return hits / k, (hits / positives if positives else 0.0)


def top_decile(labels: np.ndarray, scores: np.ndarray, t: OutputThresholds) -> Verdict:
    precision, recall = top_fraction(labels, scores, t.top_fraction)
    passed = precision >= t.precision_floor and recall >= t.recall_floor
    return Verdict(
        passed,
        precision,
        f"top {t.top_fraction:.0%}: precision {precision:.3f} (floor {t.precision_floor}), "
        f"recall {recall:.3f} (floor {t.recall_floor})",
    )


def metadata_numbers(values: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers of `values` (for summaries and plots: None and NaN left out)."""
    out = {}
    for k, v in values.items():
        if isinstance(v, int | float) and not isinstance(v, bool) and v == v:
            out[k] = float(v)
    return out
