"""core.deployment: the serving state stored with a model, and sticky per-entity routing."""

from __future__ import annotations

import pytest

from mlops_assets.core.deployment import (
    BUCKETS,
    DeploymentError,
    DeploymentState,
    bucket,
    variant_for,
)

IDS = [f"C{i:06d}" for i in range(20_000)]


def test_no_tag_means_the_champion_serves_everything() -> None:
    state = DeploymentState.from_json(None)
    assert state.mode == "single" and not state.uses_challenger
    assert {variant_for(state, "churn", i) for i in IDS[:500]} == {"champion"}


def test_state_round_trips_and_records_who_changed_it() -> None:
    state = DeploymentState().changed(
        by="dagster run 1234abcd", reason="canary step 1", mode="canary", challenger_percent=5
    )
    again = DeploymentState.from_json(state.to_json())
    assert again == state
    assert again.updated_by == "dagster run 1234abcd" and again.updated_at.endswith("+00:00")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"mode": "blue"}', "mode must be one of"),
        ('{"mode": "canary", "challenger_percent": 101}', "within 0..100"),
        ('{"mode": "canary", "challenger_percent": "5"}', "within 0..100"),
        ('{"mode": "shadow", "challenger_percent": 5}', "sends no traffic"),
        ('{"mode": "ab", "share": 5}', "unknown fields ['share']"),
        ("[1]", "must be a JSON object"),
        ("{", "is not JSON"),
    ],
)
def test_bad_states_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(DeploymentError, match=message.replace("[", r"\[").replace("]", r"\]")):
        DeploymentState.from_json(text)


def test_buckets_are_stable_uniform_and_depend_on_the_model() -> None:
    buckets = [bucket("churn", i) for i in IDS]
    assert buckets == [bucket("churn", i) for i in IDS]  # same answer on every call
    assert all(0 <= b < BUCKETS for b in buckets)
    under_10 = sum(b < BUCKETS // 10 for b in buckets) / len(IDS)
    assert 0.09 < under_10 < 0.11
    other = [bucket("cdnow_repurchase", i) for i in IDS[:1000]]
    assert other != buckets[:1000]  # two models' A/B tests do not split alike


@pytest.mark.parametrize("mode", ["canary", "ab"])
def test_split_sends_the_share_and_grows_without_moving_challenger_entities(mode: str) -> None:
    def on_challenger(percent: float) -> set[str]:
        state = DeploymentState(mode=mode, challenger_percent=percent)
        return {i for i in IDS if variant_for(state, "churn", i) == "challenger"}

    five, twenty_five, everyone = on_challenger(5), on_challenger(25), on_challenger(100)
    assert 0.04 < len(five) / len(IDS) < 0.06
    assert 0.23 < len(twenty_five) / len(IDS) < 0.27
    assert five <= twenty_five <= everyone == set(IDS)
    assert on_challenger(0) == set()


def test_shadow_answers_with_the_champion() -> None:
    state = DeploymentState(mode="shadow")
    assert state.uses_challenger
    assert {variant_for(state, "churn", i) for i in IDS[:500]} == {"champion"}
