"""The training ranges a version records, and what the prediction service refuses by them."""

import math

import numpy as np
import pytest

from mlops_assets.core import input_ranges
from mlops_assets.core.input_ranges import InputRange


def test_a_range_is_the_training_extremes_widened_by_k_sigma() -> None:
    columns = {
        "amount": np.array([1.0, 2.0, 3.0, np.nan]),  # NaN is missing, not a bound
        "orders": np.array([0.0, 2.0, 4.0, 6.0]),
        "empty": np.array([np.nan, np.nan]),
    }
    ranges = input_ranges.input_ranges(columns, ["amount", "orders", "empty"], sigmas=3)
    sigma = np.std([1.0, 2.0, 3.0])
    assert ranges["amount"] == InputRange(1 - 3 * sigma, 3 + 3 * sigma, integer=True)
    assert ranges["orders"].integer and ranges["orders"].high == 6 + 3 * np.std([0, 2, 4, 6])
    assert "empty" not in ranges  # nothing to bound it by
    assert not input_ranges.input_ranges({"x": np.array([0.5, 1.0])}, ["x"], 3)["x"].integer


def test_ranges_survive_the_version_tag() -> None:
    ranges = {"b": InputRange(-1.5, 2.25, False), "a": InputRange(0.0, 10.0, True)}
    text = input_ranges.to_json(ranges)
    assert input_ranges.from_json(text) == ranges
    assert input_ranges.from_json(None) == {} and input_ranges.from_json("") == {}
    for bad in ("[1, 2]", '{"a": [1]}', "not json"):
        with pytest.raises(ValueError):  # the service refuses to load such a version
            input_ranges.from_json(bad)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (2.5, "not a whole number"),
        (True, "not a number"),
        ("3", "not a number"),
        (math.inf, "not a finite number"),
        (math.nan, "not a finite number"),
    ],
)
def test_a_value_no_input_can_take_is_refused_with_the_reason(value: object, why: str) -> None:
    refusal = InputRange(0.0, 10.0, integer=True).refusal(value)  # type: ignore[arg-type]
    assert refusal is not None and why in refusal


@pytest.mark.parametrize(
    ("value", "why"),
    [(11, "outside the training range [0, 10]"), (-1.0, "outside the training range")],
)
def test_a_value_beyond_training_is_named_as_such(value: float, why: str) -> None:
    allowed = InputRange(0.0, 10.0, integer=True)
    assert allowed.refusal(value) is None
    outside = allowed.outside(value)
    assert outside is not None and why in outside


@pytest.mark.parametrize("value", [0, 10, 3, 3.0, 10.0])
def test_values_inside_pass_bounds_included(value: float) -> None:
    whole, real = InputRange(0.0, 10.0, integer=True), InputRange(0.0, 10.0, integer=False)
    assert whole.refusal(value) is None and whole.outside(value) is None
    assert real.refusal(value / 3) is None and real.outside(value / 3) is None
