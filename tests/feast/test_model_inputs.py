"""A model's inputs come from its feature service in the applied registry: every field, in the
order training sets return them, with the window and categorical tags of the Feast repo."""

from __future__ import annotations

import pytest

from mlops_assets.core import feature_store as fs
from mlops_assets.core import model_inputs


def test_churn_inputs_are_the_service_fields_with_their_tags(store) -> None:
    inputs = model_inputs.from_feature_service(store, "churn_model")
    assert list(inputs.features) == fs.service_features(store, "churn_model")
    assert {"amount_trend", "tickets_per_transaction"} <= set(inputs.features)  # ODFV outputs
    assert inputs.categorical == ("plan_tier",)
    assert inputs.window("nb_transactions_7d") == 7
    assert inputs.window("support_tickets_90d") == 90
    assert inputs.window("tenure_days") == 1  # no window: comparable from the first day
    # every windowed name says its window, and the tag agrees
    for name in inputs.features:
        suffix = name.rsplit("_", 1)[-1]
        if suffix.endswith("d") and suffix[:-1].isdigit():
            assert inputs.window(name) == int(suffix[:-1]), name


def test_an_unknown_service_names_it_and_lists_the_registered_ones(store) -> None:
    with pytest.raises(model_inputs.FeatureServiceNotFound) as raised:
        model_inputs.from_feature_service(store, "churn_v9")
    assert "'churn_v9' is not in the Feast registry" in str(raised.value)
    assert "churn_model" in str(raised.value)
