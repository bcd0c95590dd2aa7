"""What the service does with caller-sent feature values, per variant that may answer: the
checks alone, on versions built in memory (the live server runs them in test_service.py)."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from mlops_assets.core.input_ranges import InputRange
from mlops_assets.core.model_inputs import ModelInputs
from mlops_assets.serving.app import _instance_rows
from mlops_assets.serving.models import Deployment, LoadedVersion

INPUTS = ModelInputs("svc", ("orders", "amount"))


def _version(number: str, ranges: dict[str, InputRange]) -> LoadedVersion:
    return LoadedVersion("toy", number, None, INPUTS, 0.0, None, ranges)  # type: ignore[arg-type]


CHAMPION = _version("1", {"orders": InputRange(0, 10, True), "amount": InputRange(0, 100, False)})
CHALLENGER = _version("2", {"amount": InputRange(0, 50, False)})  # trained on a narrower range
BOTH = Deployment("toy", CHAMPION, CHALLENGER, None, None)  # type: ignore[arg-type]


def test_values_beyond_a_variants_training_range_are_flagged_by_default() -> None:
    instances = [{"orders": 3, "amount": 10.0}, {"orders": 12, "amount": 70.0}]
    rows, outside = _instance_rows(BOTH, instances, "flag")
    assert rows.n == 2 and rows.columns["orders"].tolist() == [3.0, 12.0]
    assert outside == {1: ["orders", "amount"]}  # orders: champion's range, amount: challenger's


def test_reject_refuses_them_naming_instance_feature_and_version() -> None:
    with pytest.raises(HTTPException) as refused:
        _instance_rows(
            BOTH, [{"orders": 3, "amount": 10.0}, {"orders": 3, "amount": 70.0}], "reject"
        )
    assert refused.value.status_code == 422
    assert refused.value.detail == (
        "instances[1].amount: 70.0 is outside the training range [0, 50] of toy v2"
    )


@pytest.mark.parametrize("policy", ["flag", "reject"])
def test_a_fraction_where_training_had_whole_numbers_is_always_refused(policy: str) -> None:
    with pytest.raises(HTTPException) as refused:
        _instance_rows(BOTH, [{"orders": 2.5, "amount": 10.0}], policy)
    assert refused.value.detail.startswith("instances[0].orders: 2.5 is not a whole number")


def test_a_version_without_recorded_ranges_checks_names_and_finiteness_only() -> None:
    bare = Deployment("toy", _version("0", {}), None, None, None)  # type: ignore[arg-type]
    _, outside = _instance_rows(bare, [{"orders": 2.5, "amount": 1e9}], "reject")
    assert outside == {}
    with pytest.raises(HTTPException, match=r"\['amount'\] must be finite"):
        _instance_rows(bare, [{"orders": 1, "amount": float("inf")}], "flag")


def test_each_instance_is_judged_on_its_own_and_null_stays_missing() -> None:
    instances = [
        {"orders": 20, "amount": 10.0},  # orders beyond the champion's range
        {"orders": None, "amount": None},  # nothing sent: missing, not out of range
        {"orders": 3, "amount": 60.0},  # amount beyond the challenger's range only
    ]
    rows, outside = _instance_rows(BOTH, instances, "flag")
    assert outside == {0: ["orders"], 2: ["amount"]}
    assert rows.columns["orders"][1] != rows.columns["orders"][1]  # NaN: scored as missing
