"""Sensors and schedules tick without errors on a real instance, before and after data lands;
the landing sensor and each model's scoring sensor are idempotent (same cursor → same run
keys)."""

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


def test_landing_sensor_requests_each_new_day_once(defs, data_home, instance) -> None:
    first = _tick(defs, "landing_zone_sensor", instance)
    keys = [r.run_key for r in first.run_requests]
    assert keys[:2] == [f"landing:{day(0)}", f"landing:{day(1)}"]
    landing = [r for r in first.run_requests if r.run_key.startswith("landing:")]
    assert [r.partition_key for r in landing] == [day(i) for i in range(8)]
    assert all(r.tags["mlops/trigger"] == "new_data" for r in landing)
    assert first.cursor == day(7)
    again = _tick(defs, "landing_zone_sensor", instance)  # a restart without the cursor …
    assert [r.run_key for r in again.run_requests] == keys  # … asks for the same run keys
    caught_up = _tick(defs, "landing_zone_sensor", instance, cursor=first.cursor)
    assert not caught_up.run_requests


def test_schedules_build_runs_for_a_tick(defs) -> None:
    import datetime as dt

    for unresolved in defs.schedules:
        schedule = defs.resolve_schedule_def(unresolved.name)  # partitioned ones resolve here
        context = dg.build_schedule_context(
            scheduled_execution_time=dt.datetime(2026, 1, 12, 4, tzinfo=dt.UTC)
        )
        result = schedule.evaluate_tick(context)
        assert result.run_requests, schedule.name


def _data_day(instance, i: int) -> None:
    """The shared data layer finished day i (what a daily_job run leaves in the instance)."""
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key="online_features", partition=day(i))
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
