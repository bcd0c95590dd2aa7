"""Canary rollouts: judge a step from the live prediction log, then advance, hold or roll back.

A canary sends `challenger_percent` % of the entities to the challenger (`core.deployment`).
Each step is judged on what the servers logged since the step began (`PredictionLog`
records): the challenger's error rate, the p95 of its own scoring time per request, and the
shift of its scores against the champion's (PSI over the champion's score deciles). Latency
is judged on the challenger's scoring time, not the whole request: the feature read and the
HTTP path are shared by both variants, and a request of many ids is slow for both; end-to-end
latency is watched by the service's `http_request_duration_seconds`. A breach of any budget rolls
back at once; a step with too few challenger answers yet holds; a clean step advances to the
next percentage, and a clean last step promotes the challenger (a blue-green switch of the
`champion` alias).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

Action = Literal["advance", "hold", "rollback", "promote"]

PSI_MIN_SAMPLES = 500
"""Scores each side needs before their PSI is judged: over ten bins, two samples of n scores
from ONE distribution still differ by about 9/n in PSI, so 50 answers alone would read as a
0.2 shift."""


@dataclasses.dataclass(frozen=True)
class CanaryPolicy:
    steps: tuple[float, ...] = (5.0, 25.0, 50.0, 100.0)
    min_answers: int = 200  # challenger answers a step needs before it is judged
    max_error_rate: float = 0.001  # the practice notes' budget: <= 0.1 %
    max_p95_ms: float = 50.0  # the challenger's own scoring time per request
    max_score_psi: float = 0.25

    def __post_init__(self) -> None:
        if not self.steps or list(self.steps) != sorted(set(self.steps)):
            raise ValueError(f"steps must increase strictly, got {list(self.steps)}")
        if not (self.steps[0] > 0 and self.steps[-1] <= 100):
            raise ValueError(f"steps must lie in (0, 100], got {list(self.steps)}")
        if self.steps[-1] != 100:
            raise ValueError("the last step must be 100 (then the challenger is promoted)")

    def next_step(self, percent: float) -> float | None:
        later = [s for s in self.steps if s > percent]
        return later[0] if later else None


@dataclasses.dataclass(frozen=True)
class StepVerdict:
    action: Action
    reason: str
    stats: Mapping[str, Any]


def judge_step(
    records: Iterable[Mapping[str, Any]], percent: float, policy: CanaryPolicy
) -> StepVerdict:
    """The verdict on one canary step at `percent` from its prediction-log records."""
    challenger_ok, challenger_errors, latencies = [], 0, []
    champion_scores = []
    for r in records:
        variant = r.get("variant")
        if r.get("error"):
            if variant == "challenger":
                challenger_errors += 1
            continue
        if not r.get("served", True):
            continue
        if variant == "challenger":
            challenger_ok.append(float(r["probability"]))
            if r.get("inference_ms") is not None:
                latencies.append(float(r["inference_ms"]))
        elif variant == "champion":
            champion_scores.append(float(r["probability"]))
    answered = len(challenger_ok) + challenger_errors
    stats: dict[str, Any] = {
        "challenger_percent": percent,
        "challenger_answers": answered,
        "challenger_errors": challenger_errors,
        "champion_answers": len(champion_scores),
    }
    error_rate = challenger_errors / answered if answered else 0.0
    p95 = float(np.percentile(latencies, 95)) if latencies else 0.0
    shift = score_psi(champion_scores, challenger_ok)
    stats.update(error_rate=error_rate, p95_ms=p95, score_psi=shift)
    breaches = []
    if answered and error_rate > policy.max_error_rate:
        breaches.append(f"error rate {error_rate:.2%} > {policy.max_error_rate:.2%}")
    if latencies and p95 > policy.max_p95_ms:
        breaches.append(f"p95 scoring latency {p95:.1f} ms > {policy.max_p95_ms:g} ms")
    if (
        shift is not None
        and len(challenger_ok) >= policy.min_answers
        and (shift > policy.max_score_psi)
    ):
        breaches.append(f"score PSI vs champion {shift:.3f} > {policy.max_score_psi:g}")
    if breaches:
        return StepVerdict("rollback", "; ".join(breaches), stats)
    if answered < policy.min_answers:
        return StepVerdict(
            "hold", f"{answered} challenger answers of the {policy.min_answers} needed", stats
        )
    following = policy.next_step(percent)
    if following is None:
        return StepVerdict("promote", f"step {percent:g} % clean: promote the challenger", stats)
    return StepVerdict("advance", f"step {percent:g} % clean: advance to {following:g} %", stats)


def score_psi(reference: Sequence[float], current: Sequence[float]) -> float | None:
    """PSI of `current` scores over the deciles of `reference`, as the drift report computes
    score drift (`core.drift.compare_scores`); None: fewer than `PSI_MIN_SAMPLES` of either."""
    if len(reference) < PSI_MIN_SAMPLES or len(current) < PSI_MIN_SAMPLES:
        return None
    from mlops_assets.core import drift

    profile = drift.fit_score_reference(np.asarray(reference, dtype=np.float64))
    result = drift.compare_scores(profile, np.asarray(current, dtype=np.float64))
    return float(result.table["psi"].iloc[0])
