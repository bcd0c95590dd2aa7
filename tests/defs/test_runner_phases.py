"""`mlops-assets materialize`'s plan: phases per dataset and per model, in order, each over
the right days (its dataset's landed days; the model's own start and label delay), `--phase`
by kind or by `kind:name`, and a clear reason when a phase has nothing to do yet. No run."""

from __future__ import annotations

import datetime as dt

import pytest

from mlops_assets.components.landing_dataset import dataset_specs
from mlops_assets.components.model_pipeline.spec import model_specs
from mlops_assets.runner import DAYS, LABELLED, NONE, TODAY, _select, _spans, plan

DATASETS = dataset_specs()
MODELS = model_specs()
BY_NAME = {m.name: m for m in MODELS}


def _days(first: str, n: int) -> list[dt.date]:
    start = dt.date.fromisoformat(first)
    return [start + dt.timedelta(days=i) for i in range(n)]


def test_the_plan_runs_every_dataset_then_the_registry_then_every_model() -> None:
    names = [p.name for p in plan(DATASETS, MODELS)]
    assert names == [
        "data:cdnow",
        "data:churn_world",
        "feature registry",
        "online features:cdnow",
        "online features:churn_world",
        "models:cdnow_repurchase",
        "scores and drift:cdnow_repurchase",
        "performance:cdnow_repurchase",
        "history:cdnow_repurchase",
        "models:churn",
        "scores and drift:churn",
        "performance:churn",
        "history:churn",
        "cost",
    ]
    phases = {p.name: p for p in plan(DATASETS, MODELS)}
    assert phases["cost"].selection == "key:cost_report" and phases["cost"].span == TODAY
    assert [p.name for p in plan(DATASETS, [])][-1] == "online features:churn_world"
    assert phases["data:cdnow"].selection == "tag:mlops/dataset=cdnow and tag:mlops/stage=data"
    assert phases["online features:cdnow"].selection == "key:cdnow/online_features"
    assert phases["performance:churn"].span == LABELLED
    assert phases["scores and drift:churn"].span == DAYS
    assert phases["models:churn"].span == NONE


def test_phase_selects_by_kind_or_by_kind_and_name() -> None:
    phases = plan(DATASETS, MODELS)
    assert [p.name for p in _select(phases, ["data"])] == ["data:cdnow", "data:churn_world"]
    assert [p.name for p in _select(phases, ["data:cdnow", "models:churn"])] == [
        "data:cdnow",
        "models:churn",
    ]
    assert len(_select(phases, None)) == len(phases)
    with pytest.raises(RuntimeError, match=r"unknown phase\(s\) \['data:nowhere'\]"):
        _select(phases, ["data:nowhere"])


def test_spans_follow_each_datasets_days_and_each_models_start_and_delay() -> None:
    phases = {p.name: p for p in plan(DATASETS, MODELS)}
    days = {"churn_world": _days("2026-01-01", 90), "cdnow": _days("2026-01-01", 200)}

    def span(name: str):
        return _spans(phases[name], days, BY_NAME)

    assert span("data:cdnow") == ((dt.date(2026, 1, 1), dt.date(2026, 7, 19)), None)
    assert span("models:cdnow_repurchase") == (None, None)
    # the CDNOW model goes live on 2026-04-01 (its YAML), labels land 90 days later
    assert span("scores and drift:cdnow_repurchase")[0] == (
        dt.date(2026, 4, 1),
        dt.date(2026, 7, 19),
    )
    assert span("performance:cdnow_repurchase")[0] == (dt.date(2026, 4, 1), dt.date(2026, 4, 20))
    assert span("performance:churn")[0] == (dt.date(2026, 1, 1), dt.date(2026, 3, 1))
    today = dt.datetime.now(dt.UTC).date()  # the runs' own day, not the simulated ones
    assert span("cost") in (((today, today), None), ((today + dt.timedelta(days=1),) * 2, None))

    # a dataset with no day yet, and a model whose labels have not landed: skipped, with why
    days = {"churn_world": _days("2026-01-01", 90), "cdnow": _days("2026-01-01", 60)}
    assert span("models:churn")[1] is None
    _, why = _spans(phases["models:cdnow_repurchase"], days, BY_NAME)
    assert why.startswith("no label yet (labels land 90 days after a day")
    _, why = _spans(phases["data:cdnow"], {"churn_world": days["churn_world"], "cdnow": []}, {})
    assert why == "no day landed yet"


def test_adapters_write_the_contract_their_dataset_declares() -> None:
    """The simulator and the replay load their contract (and default first day) from the
    dataset YAML: the writer and ingest read the same file."""
    from mlops_assets.datasets import cdnow, simulator

    specs = {d.name: d for d in DATASETS}
    assert specs["churn_world"].contract.sources == simulator.SOURCES
    assert simulator.SimulationConfig().start_date == specs["churn_world"].partitions.start_date
    assert specs["cdnow"].contract.sources == (cdnow.CDNOW_PURCHASES,)
    assert cdnow.ReplayConfig().start_date == specs["cdnow"].partitions.start_date
    assert simulator.PLANS == ("basic", "standard", "premium")  # the YAML's allowed values


def test_a_bootstrap_reason_configures_each_models_challenger() -> None:
    from mlops_assets.runner import bootstrap_config

    churn = next(m for m in model_specs() if m.name == "churn")
    assert bootstrap_config(churn, "first model of a pilot") == {
        "ops": {
            "churn__challenger": {
                "config": {"bootstrap": True, "bootstrap_reason": "first model of a pilot"}
            }
        }
    }


def test_materialize_refuses_a_blank_bootstrap_reason(capsys: pytest.CaptureFixture) -> None:
    from mlops_assets.cli import main

    assert main(["materialize", "--bootstrap", "  "]) == 2
    assert "--bootstrap needs a reason" in capsys.readouterr().err
