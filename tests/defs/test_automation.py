"""Sensors and schedules tick without errors on a real instance, before and after data lands,
and the landing sensor is idempotent (same cursor → same run keys)."""

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

    for schedule in defs.schedules:
        context = dg.build_schedule_context(
            scheduled_execution_time=dt.datetime(2026, 1, 12, 4, tzinfo=dt.UTC)
        )
        result = schedule.evaluate_tick(context)
        assert result.run_requests, schedule.name
