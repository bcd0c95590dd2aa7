"""core.model_inputs: the inputs a feature service's tags describe, and the training-set file
that carries them (no Feast here: tests/feast/test_model_inputs.py reads a real registry)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlops_assets.core.model_inputs import (
    ModelInputs,
    from_fields,
    load_training_set,
    save_training_set,
)


def test_tags_give_windows_and_categoricals_in_service_order() -> None:
    inputs = from_fields(
        "svc",
        [
            ("spend_7d", {"window_days": "7"}),
            ("tier", {"categorical": "true"}),
            ("tickets_90d", {"window_days": "90", "team": "x"}),
            ("age", {}),
        ],
    )
    assert inputs.features == ("spend_7d", "tier", "tickets_90d", "age")
    assert inputs.categorical == ("tier",)
    assert inputs.numeric == ("spend_7d", "tickets_90d", "age")
    assert dict(inputs.windows) == {"spend_7d": 7, "tickets_90d": 90}
    assert inputs.window("age") == 1 and inputs.longest_window == 90
    assert ModelInputs.from_json(inputs.to_json()) == inputs


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ({"window_days": "a week"}, "whole number of days"),
        ({"window_days": "0"}, "whole number of days"),
        ({"categorical": "yes"}, "'true' or 'false'"),
    ],
)
def test_bad_tags_name_the_feature(tags, message) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        from_fields("svc", [("spend_7d", tags)])
    assert "spend_7d" in str(raised.value)


def test_an_empty_or_duplicated_list_is_refused() -> None:
    with pytest.raises(ValueError, match="no features"):
        ModelInputs("svc", ())
    with pytest.raises(ValueError, match="duplicate"):
        ModelInputs("svc", ("a", "a"))
    with pytest.raises(ValueError, match="does not yield"):
        ModelInputs("svc", ("a",), windows={"b": 7})


def test_the_training_set_file_carries_its_inputs(tmp_path: Path) -> None:
    inputs = from_fields("svc", [("x_7d", {"window_days": "7"}), ("y", {})])
    frame = pd.DataFrame({"id": ["a", "b"], "label": [0, 1], "x_7d": [1.0, None], "y": [2.0, 3.0]})
    path = save_training_set(frame, inputs, tmp_path / "sets" / "training_set.parquet")
    read, read_inputs = load_training_set(path)
    pd.testing.assert_frame_equal(read, frame)
    assert read_inputs == inputs
    assert not list(path.parent.glob(".*"))  # written through a temp file, renamed

    with pytest.raises(ValueError, match="lacks input column"):
        save_training_set(frame.drop(columns=["y"]), inputs, path)
    frame.to_parquet(tmp_path / "bare.parquet")
    with pytest.raises(ValueError, match="does not record its model inputs"):
        load_training_set(tmp_path / "bare.parquet")
    with pytest.raises(FileNotFoundError):
        load_training_set(tmp_path / "missing.parquet")
