"""The A/B test's statistics: AUC-PR as scikit-learn computes it, verdicts, minimum evidence."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from mlops_assets.core.ab_test import ABPolicy, ABTest, average_precision, compare
from mlops_assets.serving.prediction_log import PredictionLog, parse_day


@pytest.mark.parametrize("decimals", [1, 2, 6])
def test_average_precision_equals_scikit_learn_with_and_without_ties(decimals: int) -> None:
    rng = np.random.default_rng(decimals)
    for n in (2, 7, 100, 2000):
        labels = rng.integers(0, 2, n)
        labels[0] = 1
        scores = np.round(rng.random(n), decimals)
        assert average_precision(labels, scores) == pytest.approx(
            average_precision_score(labels, scores), abs=1e-12
        )


def _world(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.2).astype(int)
    return labels, labels + rng.normal(0, noise, n)


def test_a_clearly_better_challenger_wins_and_a_clearly_worse_one_loses() -> None:
    good, bad = _world(4000, 0.8, 1), _world(4000, 3.0, 2)
    result = compare(("1", *bad, 10), ("2", *good, 10))
    assert result.verdict == "challenger" and result.ci_low > 0 and result.p_value < 0.05
    assert result.challenger.auc_pr == pytest.approx(average_precision_score(*good))
    result = compare(("1", *good, 10), ("2", *bad, 10))
    assert result.verdict == "champion" and result.ci_high < 0


def test_the_same_model_on_two_halves_of_one_population_has_no_winner() -> None:
    labels, scores = _world(8000, 1.0, 3)
    result = compare(("1", labels[::2], scores[::2], 10), ("2", labels[1::2], scores[1::2], 10))
    assert result.verdict == "no winner"
    assert result.ci_low <= 0 <= result.ci_high and result.p_value > 0.05


def test_the_verdict_is_the_same_for_the_same_log() -> None:
    a, b = _world(3000, 1.0, 4), _world(3000, 1.1, 5)
    assert compare(("1", *a, 9), ("2", *b, 9)) == compare(("1", *a, 9), ("2", *b, 9))


@pytest.mark.parametrize(
    ("samples", "days", "why"),
    [(999, 7, "999 labelled answers of the 1000"), (1000, 6, "6 labelled day(s) of the 7")],
)
def test_too_little_evidence_gives_no_verdict(samples: int, days: int, why: str) -> None:
    good, bad = _world(5000, 0.5, 6), _world(samples, 5.0, 7)
    result = compare(("1", *bad, days), ("2", *good, 10), ABPolicy())
    assert result.verdict == "insufficient" and why in result.reason


def test_a_policy_refuses_settings_that_cannot_decide() -> None:
    with pytest.raises(ValueError, match="alpha"):
        ABPolicy(alpha=1.5)
    with pytest.raises(ValueError, match="bootstrap"):
        ABPolicy(bootstrap=10)


def test_a_test_record_round_trips_and_refuses_unknown_fields() -> None:
    test = ABTest("t1", "1", "2", 50.0, "2026-01-01T00:00:00+00:00", "me", "why")
    ended = test.ended("concluded", "no winner", "equal")
    assert ABTest.from_json(ended.to_json()) == ended and ended.status == "concluded"
    with pytest.raises(ValueError, match="unknown fields"):
        ABTest.from_json(json.dumps({**json.loads(test.to_json()), "extra": 1}))


def test_the_log_of_a_day_keeps_bad_lines_with_a_reason(tmp_path) -> None:
    day = dt.date(2026, 2, 1)
    log = PredictionLog(tmp_path)
    log.append(
        "churn", [{"id": "C1", "variant": "champion", "version": "1", "probability": 0.2}], day
    )
    path = log.path("churn", day)
    with open(path, "a", encoding="utf-8") as f:
        f.write("{not json\n")
        base = {"ts": "2026-02-01T00:00:00+00:00", "model": "churn", "variant": "champion"}
        f.write(json.dumps({**base, "as_of": "2026-02-02", "version": "1", "probability": 0.1}))
        f.write("\n" + json.dumps({**base, "as_of": str(day), "version": "1", "probability": 1.5}))
        f.write("\n")
        f.write('{"torn": ')
    parsed = parse_day(path, "churn", day, closed=True)
    assert [r["id"] for r in parsed.records] == ["C1"] and parsed.records[0]["as_of"] == str(day)
    reasons = [why for _, _, why in parsed.bad]
    assert [n for n, _, _ in parsed.bad] == [2, 3, 4, 5]
    assert reasons[0].startswith("not JSON") and "in the file of 2026-02-01" in reasons[1]
    assert "probability 1.5" in reasons[2] and reasons[3].startswith("not JSON")
    still_open = parse_day(path, "churn", day, closed=False)
    assert still_open.pending == 1 and len(still_open.bad) == 3
