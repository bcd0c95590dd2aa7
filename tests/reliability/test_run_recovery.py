"""run_recovery against a real (temporary, SQLite) instance: dead runs are failed and their
pool slots freed, live or uncheckable ones are left alone and named, and a run that waits for
a slot says who holds it and gives up at its limit instead of spinning silently."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.test_utils import create_run_for_test, instance_for_test

from mlops_assets.core.process_liveness import (
    ProcessIdentity,
    current_identity,
    start_token,
    this_host,
)
from mlops_assets.run_recovery import (
    PoolWaitTimeout,
    describe_run,
    pool_holdings,
    recover_dead_runs,
    report_unfinished_others,
    wait_for_free_pools,
    watch_pool_waits,
)

POOL = "duckdb_warehouse"


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    overrides = {
        "concurrency": {"pools": {"default_limit": 1}},
        "run_monitoring": {"enabled": True, "max_runtime_seconds": 3600},
    }
    with instance_for_test(overrides=overrides) as inst:
        inst.event_log_storage.initialize_concurrency_limit_to_default(POOL)
        yield inst


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen]:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        yield child
    finally:
        child.kill()
        child.wait()


def _identity(child: subprocess.Popen) -> ProcessIdentity:
    return ProcessIdentity(child.pid, this_host(), start_token(child.pid) or "")


def _dead_identity() -> ProcessIdentity:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    identity = _identity(child)
    child.kill()
    child.wait()
    return identity


def _holder(
    instance: dg.DagsterInstance,
    tags: dict[str, str],
    *,
    step: str = "dbt_models",
    status: dg.DagsterRunStatus = dg.DagsterRunStatus.STARTED,
) -> str:
    run = create_run_for_test(instance, job_name="__ASSET_JOB", status=status, tags=tags)
    instance.event_log_storage.claim_concurrency_slot(POOL, run.run_id, step)
    return run.run_id


def _status(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRunStatus:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return run.status


def _claimed_by(instance: dg.DagsterInstance) -> list[str]:
    info = instance.event_log_storage.get_concurrency_info(POOL)
    return [slot.run_id for slot in info.claimed_slots]


def test_a_run_whose_process_is_gone_is_failed_and_its_slot_freed(
    instance: dg.DagsterInstance,
) -> None:
    dead = _holder(instance, _dead_identity().as_tags())
    assert _claimed_by(instance) == [dead]
    lines: list[str] = []
    assert recover_dead_runs(instance, progress=lines.append) == [dead]
    assert _status(instance, dead) == dg.DagsterRunStatus.FAILURE
    assert _claimed_by(instance) == [] and pool_holdings(instance) == {}
    assert len(lines) == 1 and f"marked run {dead[:8]} failed" in lines[0]
    assert "is gone" in lines[0] and f"freed 1 slot(s) of pool {POOL} (step dbt_models)" in lines[0]
    failure = instance.all_logs(dead, of_type=dg.DagsterEventType.RUN_FAILURE)
    assert "Marked failed by mlops-assets" in (failure[0].dagster_event.message or "")
    assert recover_dead_runs(instance, progress=lines.append) == []  # idempotent


def test_a_dead_run_with_a_slot_assigned_but_not_yet_claimed_is_recovered(
    instance: dg.DagsterInstance, sleeper: subprocess.Popen
) -> None:
    live = _holder(instance, _identity(sleeper).as_tags())
    # queued behind the live run, then assigned the slot when it ends, then killed
    dead = _holder(instance, _dead_identity().as_tags(), status=dg.DagsterRunStatus.NOT_STARTED)
    assert [h.claimed for h in pool_holdings(instance)[dead]] == [False]
    instance.event_log_storage.free_concurrency_slots_for_run(live)
    assert [h.claimed for h in pool_holdings(instance)[dead]] == [True]
    assert recover_dead_runs(instance, progress=lambda _: None) == [dead]
    assert _status(instance, dead) == dg.DagsterRunStatus.FAILURE
    assert pool_holdings(instance) == {}


def test_a_reused_pid_does_not_keep_a_dead_run_alive(instance: dg.DagsterInstance) -> None:
    me = current_identity()
    reused = ProcessIdentity(me.pid, me.host, "another-boot:1")  # our pid, not our process
    run_id = _holder(instance, reused.as_tags())
    assert recover_dead_runs(instance, progress=lambda _: None) == [run_id]


def test_live_runs_other_hosts_and_daemon_runs_are_left_alone_and_named(
    instance: dg.DagsterInstance, sleeper: subprocess.Popen
) -> None:
    live = _holder(instance, _identity(sleeper).as_tags())
    elsewhere = ProcessIdentity(4242, "another-host", "b:1").as_tags()
    other_host = _holder(instance, elsewhere, step="raw_customers")
    by_daemon = _holder(instance, {"dagster/sensor_name": "churn_world_landing_sensor"}, step="x")
    # make every one of them hold a slot, to see each named
    instance.event_log_storage.set_concurrency_slots(POOL, 3)
    for run_id, step in ((other_host, "raw_customers"), (by_daemon, "x")):
        instance.event_log_storage.claim_concurrency_slot(POOL, run_id, step)

    lines: list[str] = []
    assert recover_dead_runs(instance, progress=lines.append) == []
    report_unfinished_others(instance, progress=lines.append)
    assert {_status(instance, r) for r in (live, other_host, by_daemon)} == {
        dg.DagsterRunStatus.STARTED
    }
    text = "\n".join(lines)
    assert f"run {live[:8]} (step dbt_models" in text and "its process is alive" in text
    assert "pid 4242 on host another-host" in text and "cannot be checked from here" in text
    assert "launched by the daemon or the UI" in text and "run monitoring" in text


def test_a_run_without_our_tags_counts_as_dead_only_past_the_max_runtime(
    instance: dg.DagsterInstance,
) -> None:
    run_id = _holder(instance, {})
    assert recover_dead_runs(instance, progress=lambda _: None) == []
    lines: list[str] = []
    later = time.time() + 3 * 3600
    assert recover_dead_runs(instance, progress=lines.append, now=later) == [run_id]
    assert "max_runtime_seconds" in lines[0] and _claimed_by(instance) == []


def test_slots_of_runs_that_ended_are_freed_after_the_grace_period(
    instance: dg.DagsterInstance,
) -> None:
    ended = _holder(instance, {}, status=dg.DagsterRunStatus.FAILURE)
    assert recover_dead_runs(instance, progress=lambda _: None) == []  # just ended
    lines: list[str] = []
    assert recover_dead_runs(instance, progress=lines.append, now=time.time() + 120) == [ended]
    assert "has ended (FAILURE)" in lines[0] and _claimed_by(instance) == []


def test_waiting_for_a_pool_names_the_holder_repeats_and_times_out(
    instance: dg.DagsterInstance, sleeper: subprocess.Popen
) -> None:
    holder = _holder(instance, _identity(sleeper).as_tags())
    now = [0.0]
    lines: list[str] = []
    with pytest.raises(PoolWaitTimeout) as error:
        wait_for_free_pools(
            instance,
            {POOL},
            progress=lines.append,
            timeout=25,
            report_every=10,
            poll=1,
            clock=lambda: now[0],
            sleep=lambda s: now.__setitem__(0, now[0] + s),
        )
    expected = f"waiting for pool {POOL}: slot held by run {holder[:8]} (step dbt_models, started "
    assert [line.startswith(expected) for line in lines] == [True] * 3  # at 0, 10 and 20 s
    assert f"pid {sleeper.pid} on this host)" in lines[0] and lines[2].endswith("(waited 20 s)")
    assert "gave up after 25 s" in str(error.value) and holder[:8] in str(error.value)
    assert "mlops-assets recover" in str(error.value)


def test_a_wait_ends_when_the_holder_dies(
    instance: dg.DagsterInstance, sleeper: subprocess.Popen
) -> None:
    holder = _holder(instance, _identity(sleeper).as_tags())
    lines: list[str] = []

    def kill_then_sleep(seconds: float) -> None:
        sleeper.kill()
        sleeper.wait()

    wait_for_free_pools(instance, {POOL}, progress=lines.append, timeout=60, sleep=kill_then_sleep)
    assert lines[0].startswith(f"waiting for pool {POOL}: slot held by run {holder[:8]}")
    assert f"marked run {holder[:8]} failed" in lines[1] and lines[-1].startswith("pool free")
    assert _status(instance, holder) == dg.DagsterRunStatus.FAILURE


@dg.op(pool=POOL)
def write_warehouse() -> None:
    pass


@dg.job
def warehouse_job() -> None:
    write_warehouse()


def test_a_run_blocked_mid_execution_says_so_and_stops_at_the_limit(
    instance: dg.DagsterInstance, sleeper: subprocess.Popen
) -> None:
    holder = _holder(instance, _identity(sleeper).as_tags())
    run_id = str(uuid.uuid4())
    lines: list[str] = []
    started = time.monotonic()
    with (
        pytest.raises(PoolWaitTimeout, match="gave up after 2 s"),
        watch_pool_waits(
            instance, run_id, {POOL}, progress=lines.append, timeout=2, report_every=0.5, poll=0.2
        ),
    ):
        warehouse_job.execute_in_process(instance=instance, run_id=run_id)
    assert time.monotonic() - started < 15
    assert lines and all(
        line.startswith(f"step write_warehouse waiting for pool {POOL}: slot held by run ")
        for line in lines
    )
    assert describe_run(instance, holder, "dbt_models") in lines[0]
    assert _status(instance, run_id) == dg.DagsterRunStatus.FAILURE
    assert run_id not in pool_holdings(instance) and _claimed_by(instance) == [holder]


def test_a_run_blocked_by_a_run_that_dies_goes_on(
    instance: dg.DagsterInstance, sleeper: subprocess.Popen
) -> None:
    holder = _holder(instance, _identity(sleeper).as_tags())
    killer = threading.Timer(1.0, sleeper.kill)
    killer.start()
    lines: list[str] = []
    run_id = str(uuid.uuid4())
    try:
        with watch_pool_waits(
            instance, run_id, {POOL}, progress=lines.append, timeout=60, poll=0.2
        ):
            result = warehouse_job.execute_in_process(instance=instance, run_id=run_id)
    finally:
        killer.cancel()
    assert result.success
    assert any(f"marked run {holder[:8]} failed" in line for line in lines)
    assert pool_holdings(instance) == {}


BLOCKED_RUN = """
import sys, uuid
import dagster as dg
from dagster._core.test_utils import create_run_for_test, instance_for_test
from mlops_assets.run_recovery import watch_pool_waits

@dg.op(pool="p")
def write() -> None: ...

@dg.job
def job() -> None: write()

with instance_for_test(overrides={"concurrency": {"pools": {"default_limit": 1}}}) as instance:
    instance.event_log_storage.initialize_concurrency_limit_to_default("p")
    holder = create_run_for_test(instance, status=dg.DagsterRunStatus.STARTED)
    instance.event_log_storage.claim_concurrency_slot("p", holder.run_id, "x")
    run_id = str(uuid.uuid4())
    say = lambda line: print(line, flush=True)
    try:
        with watch_pool_waits(instance, run_id, {"p"}, progress=say, timeout=None, poll=0.2):
            job.execute_in_process(instance=instance, run_id=run_id)
    except KeyboardInterrupt:
        print("interrupted:", instance.get_run_by_id(run_id).status.value, flush=True)
        sys.exit(130)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_run_blocked_on_a_pool_stops_on_ctrl_c_or_sigterm(signum: int) -> None:
    child = subprocess.Popen([sys.executable, "-c", BLOCKED_RUN], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        first = child.stdout.readline()  # the watcher's first "waiting for pool" line
        assert "waiting for pool p: slot held by run" in first
        child.send_signal(signum)
        out, _ = child.communicate(timeout=20)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 130
    assert "interrupted: FAILURE" in out or "interrupted: CANCELED" in out


def test_the_recover_command_fails_dead_runs_of_the_data_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlops_assets.cli import main
    from mlops_assets.runner import PREVIOUS_DAGSTER_YAMLS

    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home" / "dagster"))
    (tmp_path / "home" / "dagster").mkdir(parents=True)
    (tmp_path / "home" / "dagster" / "dagster.yaml").write_text(PREVIOUS_DAGSTER_YAMLS[0])
    with dg.DagsterInstance.get() as instance:
        instance.event_log_storage.initialize_concurrency_limit_to_default(POOL)
        dead = _holder(instance, _dead_identity().as_tags())
    assert main(["recover"]) == 0
    err = capsys.readouterr().err
    assert "upgraded" in err and f"marked run {dead[:8]} failed" in err
    assert main(["recover"]) == 0
    assert "no dead run" in capsys.readouterr().err
    with dg.DagsterInstance.get() as instance:
        assert _status(instance, dead) == dg.DagsterRunStatus.FAILURE
        assert instance.run_monitoring_enabled and pool_holdings(instance) == {}
