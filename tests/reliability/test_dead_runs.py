"""Runs killed with SIGKILL (as the OOM killer or a reboot would) leave nothing stuck.

Through the CLI: the same `mlops-assets materialize` is killed (its whole process group) during
ingest, then during dbt, then during the Feast online write; each next one fails the dead run
and frees its `duckdb_warehouse` slot first, and the last (the phase left to do) completes and
leaves the same warehouse tables, feature export and online store as an uninterrupted run on
an identical landing zone.

Through the daemon: a run launched by `dagster-daemon run` has its run worker killed mid-step;
its code server marks it failed and the daemon's run monitoring frees its slot within seconds,
and the next run succeeds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.datasets.simulator import SimulationConfig, simulate
from mlops_assets.run_recovery import pool_holdings
from mlops_assets.runner import DAGSTER_YAML

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WORLD = SimulationConfig(start_date=dt.date(2026, 1, 1), days=8, customers=1000, seed=3)
PHASES = ("data", "feature registry", "online features")
ONLINE_STEP = "churn_world__online_features"  # step key of the asset churn_world/online_features
VOLATILE_COLUMNS = {"_ingested_at", "ingested_at"}  # load times: differ between any two runs
POOL = "duckdb_warehouse"


def _home(root: Path) -> dict[str, str]:
    """A data home with the simulated landing zone and our dagster.yaml; its environment."""
    home = root / "home"
    simulate(WORLD, home / "landing")
    (home / "dagster").mkdir(parents=True)
    (home / "dagster" / "dagster.yaml").write_text(DAGSTER_YAML)
    env = {**os.environ, "MLOPS_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    env.pop("PYTHONWARNINGS", None)
    return env


def _cmd(*phases: str) -> list[str]:
    cmd = [str(BIN / "mlops-assets"), "materialize"]
    for phase in phases:
        cmd += ["--phase", phase]
    return cmd


def _materialize(env: dict[str, str], *phases: str) -> str:
    """Run `mlops-assets materialize` to completion (bounded); its stderr."""
    out = subprocess.run(
        _cmd(*phases), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-4000:]
    return out.stderr


def _instance(env: dict[str, str]) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(env["DAGSTER_HOME"])


def _events(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> list:
    return instance.all_logs(run_id, of_type=kind)


def _wait(what: str, condition: Callable[[], object], timeout: float, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _step_started(
    instance: dg.DagsterInstance, since: dt.datetime, step: str, proc: subprocess.Popen | None
) -> Callable[[], str | None]:
    """A check: the id of a run created after `since` whose `step` has started."""

    def check() -> str | None:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"materialize exited ({proc.returncode}) before {step} started")
        for run in instance.get_runs(dg.RunsFilter(created_after=since), limit=5):
            starts = _events(instance, run.run_id, dg.DagsterEventType.STEP_START)
            if any(e.step_key == step for e in starts):
                return run.run_id
        return None

    return check


def _snapshot(home: Path) -> dict[str, list[tuple]]:
    """Every warehouse table (raw.* and dbt's; load-time columns left out), the feature export
    Feast reads, and the online store; the data home's own path masked in values."""
    import duckdb

    tables: dict[str, list[tuple]] = {}
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        names = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        for schema, name in names:
            columns = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where table_schema = ? "
                    "and table_name = ? order by ordinal_position",
                    [schema, name],
                ).fetchall()
                if c not in VOLATILE_COLUMNS
            ]
            select = ", ".join(f'"{c}"' for c in columns)
            tables[f"{schema}.{name}"] = con.execute(
                f'select {select} from "{schema}"."{name}" order by all'
            ).fetchall()
        export = home / "features" / "**" / "*.parquet"
        tables["features export"] = con.execute(
            f"select * from read_parquet('{export}', hive_partitioning = true) order by all"
        ).fetchall()
    finally:
        con.close()
    db = sqlite3.connect(home / "feast" / "online.db")
    try:
        for (name,) in db.execute("select name from sqlite_master where type = 'table'"):
            tables[f"online.{name}"] = db.execute(
                "select entity_key, feature_name, value, value_text, event_ts, created_ts "
                f'from "{name}" order by entity_key, feature_name'
            ).fetchall()
    finally:
        db.close()
    mask = str(home)
    return {
        name: [
            tuple(v.replace(mask, "$HOME") if isinstance(v, str) else v for v in row)
            for row in rows
        ]
        for name, rows in tables.items()
    }


def _assert_same(actual: dict[str, list[tuple]], expected: dict[str, list[tuple]]) -> None:
    assert sorted(actual) == sorted(expected), "different tables"
    different = [name for name in expected if actual[name] != expected[name]]
    assert not different, f"tables differ from an uninterrupted run: {different}"
    assert expected["raw.transactions"] and expected["main.customer_activity_features"]
    assert any(name.startswith("online.") and rows for name, rows in expected.items())


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def _kill_during(env: dict[str, str], log: Path, step: str, point: str) -> str:
    """Start `materialize` (all PHASES), SIGKILL its process group at `point` of `step`;
    the id of the run it left behind."""
    home = Path(env["MLOPS_HOME"])
    instance = _instance(env)
    since = dt.datetime.now(dt.UTC)
    with log.open("w") as out:
        proc = subprocess.Popen(
            _cmd(*PHASES), cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
        )
        try:
            if point == "write":  # the online store's write transaction is open
                # The write lasts milliseconds: a step that small can start, write and finish
                # between two event-log queries. Wait for the runner's line announcing the
                # online phase (the registry phase before it also touches online.db), then
                # watch for the journal with nothing slower in the loop.
                journal = home / "feast" / "online.db-journal"
                deadline = time.monotonic() + 240
                while proc.poll() is None and "] online features:" not in log.read_text():
                    assert time.monotonic() < deadline, "the online phase did not start in 240 s"
                    time.sleep(0.005)
                while not journal.exists() and proc.poll() is None:
                    assert time.monotonic() < deadline, "the online write did not start in 240 s"
                    time.sleep(0.0002)
                assert journal.exists(), "materialize finished before its online write was caught"
                _kill_group(proc)
                killed = _wait(f"{step} to start", _step_started(instance, since, step, None), 30)
                point = "write (transaction open)"
            else:
                killed = _wait(f"{step} to start", _step_started(instance, since, step, proc), 240)
            if point == "first model":  # dbt has built a model and is building the next
                _wait(
                    "dbt's first model",
                    lambda: _events(instance, killed, dg.DagsterEventType.ASSET_MATERIALIZATION),
                    120,
                    every=0.02,
                )
            assert proc.poll() is None or point.startswith("write"), (
                "materialize finished before it could be killed"
            )
        finally:
            _kill_group(proc)
    print(f"\nkilled run {killed[:8]} in step {step}: {point}")
    run = instance.get_run_by_id(killed)
    assert run is not None and run.status == dg.DagsterRunStatus.STARTED  # dead, unrecorded
    instance.dispose()
    return killed


def _assert_recovered(env: dict[str, str], stderr: str, killed: str, step: str) -> None:
    """The materialize that printed `stderr` failed the dead run and freed its slot first."""
    assert f"marked run {killed[:8]} failed: its process (pid " in stderr
    if step != ONLINE_STEP:  # the online write is not in the warehouse pool
        assert f"freed 1 slot(s) of pool {POOL} (step {step})" in stderr
    instance = _instance(env)
    run = instance.get_run_by_id(killed)
    assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
    instance.dispose()


@pytest.mark.timeout(600)
def test_reruns_after_sigkill_during_ingest_dbt_and_the_online_write_match_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    # the uninterrupted reference runs alongside, on an identical landing zone
    reference = _home(tmp_path / "uninterrupted")
    with (tmp_path / "uninterrupted.log").open("w") as log:
        uninterrupted = subprocess.Popen(
            _cmd(*PHASES), cwd=ROOT, env=reference, stdout=log, stderr=log, start_new_session=True
        )
        try:
            # the same command three times, killed during ingest, during dbt, during the Feast
            # online write, then the phase left to do; each run first recovers the killed one
            env = _home(tmp_path / "killed")
            previous: tuple[str, str] | None = None
            kills = [
                ("raw_transactions", "start"),
                ("churn_world_dbt_models", "first model"),
                (ONLINE_STEP, "write"),
            ]
            for i, (step, point) in enumerate(kills):
                log_path = tmp_path / f"killed-{i}.log"
                killed = _kill_during(env, log_path, step, point)
                if previous:
                    _assert_recovered(env, log_path.read_text(), *previous)
                previous = (killed, step)
            started = time.monotonic()
            stderr = _materialize(env, PHASES[-1])
            assert time.monotonic() - started < 240
            assert previous is not None
            _assert_recovered(env, stderr, *previous)
            assert "waiting for pool" not in stderr
            instance = _instance(env)
            assert pool_holdings(instance) == {}
            instance.dispose()
            assert uninterrupted.wait(timeout=300) == 0, "the uninterrupted run failed"
        finally:
            _kill_group(uninterrupted)
    _assert_same(_snapshot(Path(env["MLOPS_HOME"])), _snapshot(Path(reference["MLOPS_HOME"])))


# ---------------------------------------------------------------------------------------------
# Runs launched by the daemon

INGEST = "raw_customers,raw_transactions,raw_support_tickets,raw_churn_labels"
RANGE_TAGS = {
    "dagster/asset_partition_range_start": "2026-01-01",
    "dagster/asset_partition_range_end": "2026-01-08",
}


def _launch(env: dict[str, str], run_id: str) -> None:
    """`dagster job launch`: the run is queued; the daemon dequeues and launches it."""
    cmd = [
        str(BIN / "dagster"),
        "job",
        "launch",
        "-w",
        "workspace.yaml",
        "-j",
        "churn_world_daily_job",
    ]
    cmd += ["-o", INGEST, "--tags", json.dumps(RANGE_TAGS), "--run-id", run_id]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]


def _worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    for event in _events(instance, run_id, dg.DagsterEventType.ENGINE_EVENT):
        found = re.match(r"Started process for run \(pid: (\d+)\)", event.message or "")
        if found:
            return int(found.group(1))
    return None


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[dict[str, str]]:
    """`dagster-daemon run` on a fresh data home, run monitoring polling every 2 s; stopped (its
    whole process group: code server, run workers) however the test ends."""
    env = _home(tmp_path)
    config = Path(env["DAGSTER_HOME"]) / "dagster.yaml"
    fast = DAGSTER_YAML.replace("poll_interval_seconds: 30", "poll_interval_seconds: 2")
    fast = fast.replace(
        "free_slots_after_run_end_seconds: 60", "free_slots_after_run_end_seconds: 1"
    )
    assert fast != DAGSTER_YAML
    config.write_text(fast + "run_queue:\n  dequeue_interval_seconds: 1\n")
    # create and stamp the instance's SQLite storages once, before two processes (the daemon,
    # `dagster job launch`) open it: concurrent first opens can stamp alembic twice
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        instance.get_runs(limit=1)
    with (tmp_path / "daemon.log").open("w") as log:
        proc = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        try:
            yield env
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
            with contextlib.suppress(ProcessLookupError):  # a code server, a run worker left
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.timeout(300)
def test_the_daemon_fails_a_run_whose_worker_was_killed_and_frees_its_slot(
    daemon: dict[str, str],
) -> None:
    instance = _instance(daemon)
    killed = str(uuid.uuid4())
    _launch(daemon, killed)

    def holds_a_slot() -> bool:
        return any(h.claimed for h in pool_holdings(instance).get(killed, []))

    _wait("a step of the daemon's run to claim a slot", holds_a_slot, 180, every=0.02)
    worker = _worker_pid(instance, killed)
    assert worker is not None
    os.kill(worker, signal.SIGKILL)  # mid-step, holding the duckdb_warehouse slot
    at_kill = time.monotonic()
    assert holds_a_slot()

    def failed() -> bool:
        run = instance.get_run_by_id(killed)
        return run is not None and run.status == dg.DagsterRunStatus.FAILURE

    _wait("the killed run to be marked failed", failed, 30, every=0.2)
    failed_after = time.monotonic() - at_kill
    _wait("its pool slot to be freed", lambda: killed not in pool_holdings(instance), 30, 0.2)
    freed_after = time.monotonic() - at_kill
    assert failed_after < 30 and freed_after < 30
    print(f"\nmarked failed {failed_after:.1f} s and slot freed {freed_after:.1f} s after SIGKILL")

    following = str(uuid.uuid4())
    _launch(daemon, following)

    def finished() -> dg.DagsterRun | None:
        run = instance.get_run_by_id(following)
        return run if run is not None and run.is_finished else None

    run = _wait("the following run to finish", finished, 180, every=0.5)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert pool_holdings(instance) == {}
    instance.dispose()
