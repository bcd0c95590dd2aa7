"""Sensors and schedules tick without errors on a real instance, before and after data lands;
each dataset's landing sensor counts only its own days (the landing zone is shared) and each
model's scoring sensor follows its dataset; both are idempotent (same cursor → same run
keys)."""

import datetime as dt

import dagster as dg
import pytest

from tests.defs.conftest import day


@pytest.fixture
def instance(tmp_path):
    with dg.instance_for_test() as inst:
        yield inst


def _tick(defs: dg.Definitions, name: str, instance, cursor: str | None = None):
    sensor = defs.resolve_sensor_def(name)
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources=defs.resources
    )
    return sensor.evaluate_tick(context)


def test_every_sensor_ticks_without_error_on_a_fresh_home(tmp_path, monkeypatch, instance):
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "empty"))
    from mlops_assets.definitions import defs as load

    defs = load()
    for sensor in defs.sensors:
        result = _tick(defs, sensor.name, instance)
        assert not result.run_requests, sensor.name
        assert result.skip_message, sensor.name


LANDING = "churn_world_landing_sensor"


def test_landing_sensor_requests_each_new_day_once(defs, data_home, instance) -> None:
    first = _tick(defs, LANDING, instance)
    keys = [r.run_key for r in first.run_requests]
    assert keys[:2] == [f"churn_world:landing:{day(0)}", f"churn_world:landing:{day(1)}"]
    assert [r.partition_key for r in first.run_requests] == [day(i) for i in range(8)]
    assert all(r.tags["mlops/trigger"] == "new_data" for r in first.run_requests)
    assert first.cursor == day(7)
    again = _tick(defs, LANDING, instance)  # a restart without the cursor …
    assert [r.run_key for r in again.run_requests] == keys  # … asks for the same run keys
    caught_up = _tick(defs, LANDING, instance, cursor=first.cursor)
    assert not caught_up.run_requests


def test_each_dataset_counts_only_the_days_it_landed(defs, data_home, instance) -> None:
    """The landing zone is shared: a churn day is no CDNOW day, and the other way round."""
    from mlops_assets.datasets.cdnow import ReplayConfig, replay

    assert _tick(defs, "cdnow_landing_sensor", instance).skip_message  # only churn days so far
    replay(ReplayConfig(start_date=dt.date.fromisoformat(day(5)), days=5), data_home.landing_dir)
    cdnow = _tick(defs, "cdnow_landing_sensor", instance)
    assert [r.run_key for r in cdnow.run_requests] == [
        f"cdnow:landing:{day(i)}" for i in range(5, 10)
    ]
    assert {r.job_name for r in cdnow.run_requests} <= {None, "cdnow_daily_job"}
    churn = _tick(defs, LANDING, instance)  # days 8, 9 hold CDNOW files only: not churn days
    assert [r.partition_key for r in churn.run_requests] == [day(i) for i in range(8)]
    assert defs.resolve_sensor_def("cdnow_landing_sensor").job_name == "cdnow_daily_job"


def test_schedules_build_runs_for_a_tick(defs) -> None:
    import datetime as dt

    for unresolved in defs.schedules:
        schedule = defs.resolve_schedule_def(unresolved.name)  # partitioned ones resolve here
        context = dg.build_schedule_context(
            scheduled_execution_time=dt.datetime(2026, 8, 1, 5, tzinfo=dt.UTC)  # past every start
        )
        result = schedule.evaluate_tick(context)
        assert result.run_requests, schedule.name


def _data_day(instance, i: int, dataset: str = "churn_world") -> None:
    """A dataset finished day i (what its daily job run leaves in the instance)."""
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=[dataset, "online_features"], partition=day(i))
    )


def test_model_scoring_sensor_follows_the_data_layer_day_by_day(defs, instance) -> None:
    name = "churn_scoring_sensor"
    assert _tick(defs, name, instance).skip_message  # no data day yet
    for i in range(3):
        _data_day(instance, i)
    first = _tick(defs, name, instance)
    assert [(r.run_key, r.job_name, r.partition_key) for r in first.run_requests] == [
        (f"churn:scoring:{day(i)}", "churn_scoring_job", day(i)) for i in range(3)
    ]
    assert all(r.tags["mlops/trigger"] == "new_data" for r in first.run_requests)
    assert first.cursor == day(2)
    again = _tick(defs, name, instance)  # a restart without the cursor asks for the same keys
    assert [r.run_key for r in again.run_requests] == [r.run_key for r in first.run_requests]
    assert not _tick(defs, name, instance, cursor=first.cursor).run_requests

    # day 31 lands: it is scored, and day 1's labels (30-day delay, from the YAML) are in
    _data_day(instance, 31)
    later = _tick(defs, name, instance, cursor=first.cursor)
    assert [(r.run_key, r.job_name, r.partition_key) for r in later.run_requests] == [
        (f"churn:scoring:{day(31)}", "churn_scoring_job", day(31)),
        (f"churn:performance:{day(1)}", "churn_performance_job", day(1)),
    ]


def test_a_model_follows_its_own_dataset_only(defs, instance) -> None:
    """CDNOW days do not score churn, churn days do not score the CDNOW model; and the CDNOW
    model scores only from its own first partition (2026-04-01, day 90: its YAML)."""
    for i in (88, 89, 90, 91):
        _data_day(instance, i, "cdnow")
    assert not _tick(defs, "churn_scoring_sensor", instance).run_requests
    cdnow = _tick(defs, "cdnow_repurchase_scoring_sensor", instance)
    assert [(r.run_key, r.job_name) for r in cdnow.run_requests] == [
        (f"cdnow_repurchase:scoring:{day(i)}", "cdnow_repurchase_scoring_job") for i in (90, 91)
    ]
    _data_day(instance, 3)  # a churn day
    assert not _tick(defs, "cdnow_repurchase_scoring_sensor", instance, cdnow.cursor).run_requests
