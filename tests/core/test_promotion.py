"""core.promotion: every branch of the gate rule, boundaries, and the rule on real models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlops_assets.core.promotion import (
    DEFAULT_FLOOR,
    DEFAULT_TOLERANCE,
    FAILED,
    INSUFFICIENT_EVIDENCE,
    PENDING_APPROVAL,
    Evidence,
    EvidencePolicy,
    GateDecision,
    decide,
)
from mlops_assets.core.training import evaluate, time_split, train_candidate
from tests.synthetic import SYNTHETIC_FEATURES as F
from tests.synthetic import synthetic_training_set


def test_defaults_match_design():
    assert (DEFAULT_FLOOR, DEFAULT_TOLERANCE) == (0.72, 0.01)


def test_first_model_above_floor_passes():
    decision = decide(0.80, None)
    assert decision.passed
    assert decision.champion_auc_pr is None and decision.min_required == 0.72
    assert any("first model" in r for r in decision.reasons)
    assert any("meets the floor" in r for r in decision.reasons)


def test_first_model_below_floor_fails():
    decision = decide(0.70, None)
    assert not decision.passed
    assert any("below the floor 0.7200" in r and "short by 0.0200" in r for r in decision.reasons)


def test_exactly_on_the_floor_passes_and_just_below_fails():
    assert decide(0.72, None).passed
    assert not decide(0.7199999, None).passed
    assert decide(0.5, None, floor=0.5).passed


def test_better_than_champion_passes():
    decision = decide(0.85, 0.80)
    assert decision.passed
    assert any("matches or beats the champion" in r for r in decision.reasons)


def test_equal_to_champion_passes():
    assert decide(0.80, 0.80).passed


def test_worse_within_tolerance_passes():
    decision = decide(0.795, 0.80)
    assert decision.passed
    assert any("within the tolerance" in r for r in decision.reasons)


@pytest.mark.parametrize(
    ("champion", "tolerance"), [(0.80, 0.01), (0.75, 0.01), (0.93, 0.03), (0.8, 0.0)]
)
def test_exactly_at_champion_minus_tolerance_passes(champion, tolerance):
    # champion - tolerance is inexact in binary (0.80 - 0.01 != 0.79); the rule is inclusive.
    boundary = round(champion - tolerance, 10)
    assert decide(boundary, champion, tolerance=tolerance).passed
    assert not decide(boundary - 1e-6, champion, tolerance=tolerance).passed


def test_worse_beyond_tolerance_fails_even_above_floor():
    decision = decide(0.78, 0.80)
    assert not decision.passed
    assert decision.min_required == pytest.approx(0.79)
    assert any("beyond the tolerance" in r for r in decision.reasons)
    assert any("meets the floor" in r for r in decision.reasons)


def test_better_than_champion_but_below_floor_fails():
    # an old champion that no longer meets today's floor cannot wave a challenger through
    decision = decide(0.70, 0.65)
    assert not decision.passed
    assert any("below the floor" in r for r in decision.reasons)
    assert any("beats the champion" in r for r in decision.reasons)


def test_both_rules_failing_gives_two_reasons():
    decision = decide(0.60, 0.90)
    assert not decision.passed
    assert len(decision.reasons) == 2
    assert "below the floor" in decision.reasons[0]
    assert "beyond the tolerance" in decision.reasons[1]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((float("nan"), None), {}, "challenger_auc_pr"),
        ((1.2, None), {}, "challenger_auc_pr"),
        ((0.8, float("inf")), {}, "champion_auc_pr"),
        ((0.8, 0.8), {"tolerance": -0.01}, "tolerance"),
        ((0.8, 0.8), {"floor": 1.5}, "floor"),
    ],
)
def test_invalid_inputs_raise(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        decide(*args, **kwargs)


def test_markdown_and_metadata():
    passed, failed = decide(0.81, 0.80), decide(0.60, None)
    assert passed.to_markdown().startswith("**Promotion gate: PASSED**")
    assert "challenger AUC-PR 0.8100" in passed.to_markdown()
    assert "champion 0.8000" in passed.to_markdown()
    assert failed.to_markdown().startswith("**Promotion gate: FAILED**")
    assert "no champion" in failed.to_markdown()
    meta = json.loads(json.dumps(passed.as_metadata()))
    assert meta["passed"] is True and meta["champion_auc_pr"] == 0.80
    assert meta["min_required"] == pytest.approx(0.79)
    assert isinstance(passed, GateDecision)


def test_gate_on_real_models_fails_shuffled_labels_and_passes_a_real_model():
    data = synthetic_training_set(8_000, seed=11)
    train, test = time_split(data)
    real = train_candidate("xgboost", None, train, F)
    shuffled_train = train.assign(
        label=np.random.default_rng(0).permutation(train["label"].to_numpy())
    )
    noise = train_candidate("xgboost", None, shuffled_train, F)

    real_auc_pr = evaluate(real, test, F)["auc_pr"]
    noise_auc_pr = evaluate(noise, test, F)["auc_pr"]

    first = decide(real_auc_pr, None)
    assert first.passed, first.reasons
    assert not decide(noise_auc_pr, None).passed, "a model of shuffled labels must fail the floor"
    assert not decide(noise_auc_pr, real_auc_pr).passed
    # a retrain on the same data is no worse than the champion: it passes against itself
    assert decide(real_auc_pr, real_auc_pr).passed


# --- evidence, approval ---------------------------------------------------------------------

MINIMUM = EvidencePolicy(min_rows=1_000, min_positives=100, min_days=7)


def test_too_little_evidence_is_not_promoted_and_says_why() -> None:
    small = Evidence(rows=12_000, positives=1_500, days=4)
    decision = decide(0.88, None, evidence=small, min_evidence=MINIMUM)
    assert not decision.passed and decision.verdict == INSUFFICIENT_EVIDENCE
    assert "insufficient evidence" in decision.reasons[0]
    assert "4 days < 7" in decision.reasons[0] and "nothing is promoted" in decision.reasons[0]
    assert decision.to_markdown().startswith("**Promotion gate: INSUFFICIENT EVIDENCE**")
    few_positives = Evidence(rows=5_000, positives=40, days=9)
    assert (
        "40 positives < 100"
        in decide(0.9, 0.5, evidence=few_positives, min_evidence=MINIMUM).reasons[0]
    )
    enough = Evidence(rows=5_000, positives=400, days=7)
    assert decide(0.88, None, evidence=enough, min_evidence=MINIMUM).passed


def test_a_bootstrapped_first_model_waives_the_minimum_and_says_so() -> None:
    small = Evidence(rows=900, positives=90, days=4)
    decision = decide(0.88, None, evidence=small, min_evidence=MINIMUM, bootstrap=True)
    assert decision.passed and decision.bootstrap
    assert any(r.startswith("bootstrapped first model") for r in decision.reasons)
    assert not decide(0.5, None, evidence=small, min_evidence=MINIMUM, bootstrap=True).passed
    with pytest.raises(ValueError, match="first model only"):
        decide(0.88, 0.8, evidence=small, min_evidence=MINIMUM, bootstrap=True)


def test_beating_the_champion_below_the_floor_is_pending_approval() -> None:
    decision = decide(0.171, 0.133, approve_below_floor=True)
    assert decision.verdict == PENDING_APPROVAL and not decision.passed
    assert any("a person may approve it" in r for r in decision.reasons)
    # without the option, or when it does not beat the champion, it is a plain failure
    assert decide(0.171, 0.133).verdict == FAILED
    assert decide(0.130, 0.133, approve_below_floor=True).verdict == FAILED
    assert decide(0.6, None, approve_below_floor=True).verdict == FAILED  # no champion


def test_require_approval_holds_every_passing_challenger() -> None:
    decision = decide(0.85, 0.80, require_approval=True)
    assert decision.verdict == PENDING_APPROVAL and not decision.passed
    assert decide(0.60, 0.80, require_approval=True).verdict == FAILED


def test_verdict_and_passed_cannot_disagree() -> None:
    with pytest.raises(ValueError, match="contradicts"):
        GateDecision(passed=True, verdict=FAILED)
    assert GateDecision(passed=False).verdict == FAILED
