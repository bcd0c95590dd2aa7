"""A/B tests of two model versions on live traffic, judged once the delayed labels land.

Entities are split by a sticky hash (`core.deployment.variant_for`), so the two variants see
disjoint, comparable populations. Each variant's answers are joined with the labels of the day
they were made for, and the test compares the variants' AUC-PR (the gate's metric) with a
bootstrap of the difference: each variant is resampled on its own (the samples are independent)
with a fixed seed, so the same log always gives the same verdict.

The verdict is one of:
* `insufficient`: fewer labelled answers per variant, or fewer labelled days, than the policy
  asks (the practice notes: at least 1,000 samples and 7 days); the test keeps running;
* `challenger` / `champion`: that variant's AUC-PR is higher and the two-sided
  (1 - alpha) confidence interval of the difference excludes zero;
* `no winner`: enough evidence, and the interval contains zero.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any, Literal

import numpy as np

Verdict = Literal["insufficient", "challenger", "champion", "no winner"]
AB_TEST_TAG = "mlops.ab_test"
"""Registered-model tag that holds the model's current (or last) A/B test as JSON."""


@dataclasses.dataclass(frozen=True)
class ABPolicy:
    min_samples: int = 1_000  # labelled answers per variant
    min_days: int = 7  # distinct labelled days
    alpha: float = 0.05
    bootstrap: int = 1_000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.min_samples < 1 or self.min_days < 1:
            raise ValueError("min_samples and min_days must be at least 1")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must lie in (0, 1), got {self.alpha}")
        if self.bootstrap < 100:
            raise ValueError(f"bootstrap needs at least 100 resamples, got {self.bootstrap}")


@dataclasses.dataclass(frozen=True)
class VariantStats:
    version: str
    samples: int
    positives: int
    days: int
    auc_pr: float


@dataclasses.dataclass(frozen=True)
class ABResult:
    verdict: Verdict
    reason: str
    champion: VariantStats
    challenger: VariantStats
    difference: float  # challenger - champion AUC-PR
    ci_low: float
    ci_high: float
    p_value: float

    def as_metadata(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["champion"] = dataclasses.asdict(self.champion)
        out["challenger"] = dataclasses.asdict(self.challenger)
        return out


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """AUC-PR (average precision, tie-aware, as scikit-learn computes it)."""
    return float(_weighted_ap(*_sorted(labels, scores), np.ones((1, len(labels))))[0])


def _sorted(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels by descending score, and where each run of equal scores ends (a threshold)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    s = np.asarray(scores, dtype=np.float64)[order]
    ends = np.ones(len(s), dtype=bool)
    ends[:-1] = s[:-1] != s[1:]
    return np.asarray(labels, dtype=np.float64)[order], ends


def _weighted_ap(y: np.ndarray, ends: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AP of each row of `weights` (how often each sorted row is drawn): a bootstrap resample
    is the sorted sample with multiplicities, so no resample is ever sorted again."""
    tp = np.cumsum(weights * y, axis=1)[:, ends]
    ranked = np.cumsum(weights, axis=1)[:, ends]
    step = np.diff(tp, axis=1, prepend=0.0)
    precision = np.divide(tp, ranked, out=np.zeros_like(tp), where=ranked > 0)
    total = tp[:, -1]
    ap = (step * precision).sum(axis=1)
    return np.divide(ap, total, out=np.full_like(ap, np.nan), where=total > 0)


def _stats(version: str, labels: np.ndarray, scores: np.ndarray, days: int) -> VariantStats:
    ap = average_precision(labels, scores) if len(labels) else float("nan")
    return VariantStats(version, len(labels), int(labels.sum()), int(days), ap)


def _resampled_ap(labels: np.ndarray, scores: np.ndarray, k: int, rng) -> np.ndarray:
    n = len(labels)
    y, ends = _sorted(labels, scores)
    draws = rng.integers(0, n, size=(k, n)) + (np.arange(k) * n)[:, None]
    weights = np.bincount(draws.ravel(), minlength=k * n).reshape(k, n).astype(np.float64)
    return _weighted_ap(y, ends, weights)


def compare(
    champion: tuple[str, np.ndarray, np.ndarray, int],
    challenger: tuple[str, np.ndarray, np.ndarray, int],
    policy: ABPolicy = ABPolicy(),
) -> ABResult:
    """Judge an A/B test: each side is (version, 0/1 labels, scores, labelled days)."""
    sides = []
    for version, labels, scores, days in (champion, challenger):
        labels = np.asarray(labels, dtype=np.int8)
        scores = np.asarray(scores, dtype=np.float64)
        if labels.shape != scores.shape:
            raise ValueError(f"v{version}: {labels.shape} labels for {scores.shape} scores")
        sides.append((version, labels, scores, days))
    a, b = (_stats(v, y, s, d) for v, y, s, d in sides)
    nan = float("nan")
    short = [
        f"v{s.version} ({variant}) has {s.samples} labelled answers of the {policy.min_samples}"
        for variant, s in (("champion", a), ("challenger", b))
        if s.samples < policy.min_samples
    ]
    days = min(a.days, b.days)
    if days < policy.min_days:
        short.append(f"{days} labelled day(s) of the {policy.min_days} needed")
    if not short and (a.positives == 0 or b.positives == 0):
        short.append("a variant has no positive label yet")
    if short:
        return ABResult("insufficient", "; ".join(short), a, b, b.auc_pr - a.auc_pr, nan, nan, nan)
    rng = np.random.default_rng(policy.seed)
    diffs = np.empty(policy.bootstrap)
    chunk = max(1, 2_000_000 // max(a.samples, b.samples))  # bounded memory per resample batch
    for start in range(0, policy.bootstrap, chunk):
        k = min(chunk, policy.bootstrap - start)
        diffs[start : start + k] = _resampled_ap(sides[1][1], sides[1][2], k, rng) - (
            _resampled_ap(sides[0][1], sides[0][2], k, rng)
        )
    diffs = diffs[np.isfinite(diffs)]
    low, high = np.quantile(diffs, [policy.alpha / 2, 1 - policy.alpha / 2])
    p = min(1.0, 2 * min(np.mean(diffs <= 0), np.mean(diffs >= 0)))
    delta = b.auc_pr - a.auc_pr
    interval = f"{delta:+.4f} [{low:+.4f}, {high:+.4f}] at {1 - policy.alpha:.0%}, p={p:.3g}"
    if low > 0:
        verdict: Verdict = "challenger"
        reason = f"challenger v{b.version} is better: AUC-PR {b.auc_pr:.4f} vs {a.auc_pr:.4f}"
    elif high < 0:
        verdict = "champion"
        reason = f"champion v{a.version} is better: AUC-PR {a.auc_pr:.4f} vs {b.auc_pr:.4f}"
    else:
        verdict = "no winner"
        reason = f"no significant difference: AUC-PR {b.auc_pr:.4f} vs {a.auc_pr:.4f}"
    return ABResult(
        verdict, f"{reason}, difference {interval}", a, b, delta, float(low), float(high), float(p)
    )


@dataclasses.dataclass(frozen=True)
class ABTest:
    """One A/B test of a model, as the registry records it (`AB_TEST_TAG`): which versions,
    since when, who started it and why, and how it ended."""

    id: str
    champion: str
    challenger: str
    percent: float
    started_at: str
    started_by: str
    reason: str
    status: Literal["running", "concluded", "stopped"] = "running"
    verdict: str = ""
    ended_at: str = ""
    ended_reason: str = ""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> ABTest | None:
        if not text:
            return None
        doc = json.loads(text)
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(doc) - fields)
        if unknown:
            raise ValueError(f"{AB_TEST_TAG} has unknown fields {unknown}")
        return cls(**doc)

    def ended(self, status: Literal["concluded", "stopped"], verdict: str, reason: str) -> ABTest:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return dataclasses.replace(
            self, status=status, verdict=verdict, ended_at=now, ended_reason=reason
        )


def new_test_id(model: str, now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return f"{model}-ab-{now:%Y%m%dT%H%M%S}"
