"""core.rollout: a canary step judged from prediction-log records."""

from __future__ import annotations

import numpy as np
import pytest

from mlops_assets.core.rollout import CanaryPolicy, judge_step, score_psi

POLICY = CanaryPolicy(min_answers=100, max_error_rate=0.01, max_p95_ms=50, max_score_psi=0.25)


def records(
    n_challenger: int,
    *,
    errors: int = 0,
    inference_ms: float = 1.0,
    shift: float = 0.0,
    seed: int = 0,
) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = [
        {"variant": "champion", "probability": float(p), "served": True, "inference_ms": 1.0}
        for p in rng.beta(2, 5, 2000)
    ]
    out += [
        {
            "variant": "challenger",
            "probability": float(min(p + shift, 1.0)),
            "served": True,
            "inference_ms": inference_ms,
        }
        for p in rng.beta(2, 5, n_challenger)
    ]
    out += [{"variant": "challenger", "error": "prediction_failed"}] * errors
    return out


def test_a_clean_step_advances_and_the_last_one_promotes() -> None:
    verdict = judge_step(records(300), 5, POLICY)
    assert verdict.action == "advance" and "advance to 25 %" in verdict.reason
    assert verdict.stats["challenger_answers"] == 300 and verdict.stats["error_rate"] == 0
    assert judge_step(records(300), 100, POLICY).action == "promote"


def test_too_few_answers_hold() -> None:
    verdict = judge_step(records(40), 5, POLICY)
    assert verdict.action == "hold" and "40 challenger answers of the 100" in verdict.reason


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"errors": 12}, "error rate"),
        ({"inference_ms": 120.0}, "p95 scoring latency 120.0 ms > 50 ms"),
        ({"shift": 0.4}, "score PSI vs champion"),
    ],
)
def test_a_breach_rolls_back_with_the_reason(kwargs: dict, reason: str) -> None:
    verdict = judge_step(records(600, **kwargs), 25, POLICY)
    assert verdict.action == "rollback" and reason in verdict.reason


def test_errors_roll_back_even_before_the_step_has_enough_answers() -> None:
    assert judge_step(records(10, errors=2), 5, POLICY).action == "rollback"


def test_shadow_answers_are_not_counted_as_served() -> None:
    shadow = [{**r, "served": False} for r in records(300) if r["variant"] == "challenger"]
    champion = records(0)
    assert judge_step(champion + shadow, 5, POLICY).action == "hold"


def test_score_psi_is_zero_for_one_distribution_and_needs_samples() -> None:
    rng = np.random.default_rng(1)
    same = rng.beta(2, 5, 5000)
    assert score_psi(same, same) == pytest.approx(0.0, abs=1e-12)
    assert score_psi(same[:499], same) is None  # too few to tell noise from a shift


def test_small_samples_of_one_distribution_do_not_read_as_a_shift() -> None:
    """50 challenger answers of the very same model: their PSI alone would often exceed the
    budget (noise ~9/n); it is not judged until both sides have PSI_MIN_SAMPLES."""
    rng = np.random.default_rng(2)
    noisy = [score_psi(rng.beta(2, 5, 2000), rng.beta(2, 5, 50)) for _ in range(20)]
    assert noisy == [None] * 20
    verdict = judge_step(records(60, seed=3), 5, CanaryPolicy(min_answers=50))
    assert verdict.action == "advance" and verdict.stats["score_psi"] is None


@pytest.mark.parametrize("steps", [(25.0, 5.0, 100.0), (5.0, 50.0), (0.0, 100.0), ()])
def test_bad_step_lists_are_refused(steps: tuple) -> None:
    with pytest.raises(ValueError, match=r"steps|last step"):
        CanaryPolicy(steps=steps)
