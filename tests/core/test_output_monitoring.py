"""Output and business monitoring: each judgement passes on data like its reference and
fails on data built to breach it."""

from __future__ import annotations

import numpy as np
import pytest

from mlops_assets.core import drift
from mlops_assets.core import output_monitoring as om

T = om.OutputThresholds(precision_floor=0.3, recall_floor=0.2)
RNG = np.random.default_rng(7)
REFERENCE = RNG.beta(2, 5, 20_000)


def _score_profile():
    p = next(iter(drift.fit_score_reference(REFERENCE).numeric.values()))
    return p.counts, p.edges


def test_kl_is_zero_on_equal_bins_and_grows_with_the_shift() -> None:
    assert om.kl_divergence([10, 20, 30], [1, 2, 3]) == pytest.approx(0.0, abs=1e-12)
    assert om.kl_divergence([10, 20, 30], [30, 20, 10]) > om.kl_divergence(
        [10, 20, 30], [12, 20, 28]
    )


def test_score_distribution_passes_on_the_reference_and_fails_when_scores_shift() -> None:
    counts, edges = _score_profile()
    same = RNG.beta(2, 5, 3_000)
    ok, kl = om.score_distribution(counts, edges, same, psi=0.01, t=T)
    assert ok.passed and kl < 0.02, ok.description
    shifted = RNG.beta(5, 2, 3_000)
    bad, kl = om.score_distribution(counts, edges, shifted, psi=0.01, t=T)
    assert not bad.passed and kl > T.kl_max, bad.description
    # a PSI over its limit fails on its own
    assert not om.score_distribution(counts, edges, same, psi=0.3, t=T)[0].passed


def test_bucket_shares_fail_when_a_bucket_moves_by_more_than_20_percent() -> None:
    ok, table = om.bucket_shares(REFERENCE, RNG.beta(2, 5, 5_000), T)
    assert ok.passed, ok.description
    assert set(table) == {"0-0.3", "0.3-0.7", "0.7-1"}
    # half as many again, all mid scores: the middle bucket's share grows by ~45 %
    scores = np.concatenate([RNG.beta(2, 5, 5_000), np.full(2_500, 0.5)])
    bad, table = om.bucket_shares(REFERENCE, scores, T)
    assert not bad.passed and bad.value > 0.2, bad.description


def test_a_bucket_rare_in_the_reference_is_not_judged() -> None:
    reference = np.r_[np.full(995, 0.1), np.full(5, 0.9)]  # high bucket: 0.5 %
    verdict, table = om.bucket_shares(reference, np.r_[np.full(990, 0.1), np.full(10, 0.9)], T)
    assert verdict.passed and table["0.7-1"]["deviation"] == 0.0


@pytest.mark.parametrize(
    ("rows", "before", "passed"),
    [(1000, 1000, True), (499, 1000, False), (500, 1000, True), (2001, 1000, False)],
)
def test_volume_against_the_same_weekday_last_week(rows: int, before: int, passed: bool) -> None:
    verdict = om.scoring_volume(rows, before, T)
    assert verdict.passed is passed and verdict.value == rows / before, verdict.description


def test_volume_without_a_week_before_is_not_judged_and_says_so() -> None:
    verdict = om.scoring_volume(1000, 0, T)
    assert (
        verdict.passed
        and verdict.value is None
        and "no scores a week earlier" in (verdict.description)
    )


def test_values_outside_the_training_range_plus_three_sigma_fail() -> None:
    train = {"amount": RNG.normal(100, 10, 5_000), "tickets": RNG.poisson(2, 5_000)}
    ranges = om.training_ranges(train, 3.0)
    lo, hi = ranges["amount"]
    assert lo < train["amount"].min() and hi > train["amount"].max()
    current = {"amount": RNG.normal(100, 10, 1_000), "tickets": RNG.poisson(2, 1_000)}
    ok, _ = om.out_of_range(ranges, current, T)
    assert ok.passed and ok.value == 0.0, ok.description
    current["amount"] = np.r_[current["amount"][:980], np.full(20, hi * 2)]  # 2 % far out
    bad, shares = om.out_of_range(ranges, current, T)
    assert not bad.passed and shares["amount"] == pytest.approx(0.02), bad.description
    assert "amount" in bad.description and shares["tickets"] == 0.0


def test_precision_and_recall_in_the_top_decile() -> None:
    scores = np.linspace(1, 0, 100)  # row i has the i-th highest score
    labels = np.zeros(100, dtype=int)
    labels[[0, 1, 2, 50, 60]] = 1
    precision, recall = om.top_fraction(labels, scores, 0.1)
    assert (precision, recall) == (0.3, 0.6)
    assert om.top_decile(labels, scores, T).passed
    labels = np.zeros(100, dtype=int)
    labels[[0, 50, 60, 70, 80]] = 1  # one positive in the top 10
    verdict = om.top_decile(labels, scores, T)
    assert not verdict.passed and verdict.value == pytest.approx(0.1), verdict.description


def test_thresholds_refuse_edges_outside_the_unit_interval() -> None:
    with pytest.raises(ValueError, match="bucket_edges"):
        om.OutputThresholds(bucket_edges=(0.5, 1.2))
