"""Dead runs and concurrency-pool slots in the persistent Dagster instance.

A run whose process is killed (SIGKILL, the OOM killer, a reboot) never records its end: it
stays STARTED and keeps the `duckdb_warehouse` slot its running step claimed, and every later
run waits for that slot forever. How Dagster 1.13's in-process executor waits: its claim loop
never sleeps (`InstanceConcurrencyContext.interval_to_next_pending_claim_check` returns
`min([0, …])`, never > 0, so `ActiveExecution.sleep_til_ready` returns at once), it re-reads the
slot table only every 1–15 s, its "Step blocked by limit for pool" message is a DEBUG event
repeated every 5 minutes, and SIGINT and SIGTERM are captured and held until a step starts.
Hence a silent 100 % CPU spin that only SIGKILL ends (leaving one more dead run).

So the runner, on one machine and one instance:
- tags each run it starts with its pid, host and process start time (`core.process_liveness`);
- before it starts, fails runs whose process is gone and frees their slots (`recover_dead_runs`);
- before each phase, waits for its pools, saying which run holds the slot, up to a time limit
  (`wait_for_free_pools`); and while a run executes, watches for a step of it waiting for a
  slot, says so every ~10 s, and stops it at the same limit (`watch_pool_waits`).

Runs without our tags (launched by the daemon or the UI) are left to Dagster: their code server
fails a run whose worker process dies, and the daemon's run monitoring frees the slots of
finished runs and fails runs over `run_monitoring.max_runtime_seconds` (see `runner.DAGSTER_YAML`).
Here they count as dead only past that same limit, for when no daemon is running.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import dagster as dg
from dagster._core.events import JobFailureData, RunFailureReason

from mlops_assets.core.process_liveness import Liveness, ProcessIdentity, liveness, this_host

Progress = Callable[[str], None]

UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
# A finished run's slots are freed after this long (the daemon's free_slots_after_run_end_seconds
# when set): a run marked failed from outside may still be finishing a step.
FINISHED_GRACE_SECONDS = 60.0
REPORT_EVERY_SECONDS = 10.0
DEFAULT_POOL_WAIT_TIMEOUT_SECONDS = 1800.0


class PoolWaitTimeout(RuntimeError):
    """A run waited longer than the limit for a concurrency-pool slot."""


class _PoolWaitExpired(BaseException):
    """Raised inside the executing (main) thread by the watcher; a BaseException so that no
    `except Exception` on the way swallows it. Subclassed per use to carry the message, since
    an asynchronous exception is raised from its class."""

    message = ""

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Holding:
    pool: str
    run_id: str
    step_key: str
    claimed: bool  # True: holds a slot, or a slot is assigned to it; False: queued for one


def pool_holdings(
    instance: dg.DagsterInstance, pools: Collection[str] | None = None
) -> dict[str, list[Holding]]:
    """Claimed slots and queued steps per run id, over `pools` (default: every pool)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return {}
    keys = sorted(pools if pools is not None else storage.get_concurrency_keys())
    held: dict[str, list[Holding]] = defaultdict(list)
    for pool, info in storage.get_concurrency_infos(keys).items():
        for run_id, step_key, claimed in _occupancy(info):
            held[run_id].append(Holding(pool, run_id, step_key, claimed=claimed))
    return dict(held)


def _occupancy(info) -> list[tuple[str, str, bool]]:
    """(run id, step key, occupies a slot) per step in a pool. A slot is occupied from the
    moment Dagster assigns it to a queued step, before the step claims it: a run that died in
    between keeps it just as well."""
    claimed = {(s.run_id, s.step_key) for s in info.claimed_slots}
    assigned = {(p.run_id, p.step_key) for p in info.pending_steps if p.assigned_timestamp}
    queued = {(p.run_id, p.step_key) for p in info.pending_steps} - claimed - assigned
    return [(*key, True) for key in sorted(claimed | assigned)] + [
        (*key, False) for key in sorted(queued)
    ]


def _clock(timestamp: float | None) -> str:
    return dt.datetime.fromtimestamp(timestamp).strftime("%H:%M:%S") if timestamp else "?"


def describe_run(instance: dg.DagsterInstance, run_id: str, step_key: str | None = None) -> str:
    """`run 1a2b3c4d (step dbt_models, started 12:03:11, pid 4242 on this host)`."""
    record = instance.get_run_record_by_id(run_id)
    parts = [f"step {step_key}"] if step_key else []
    if record is None:
        return f"run {run_id[:8]} ({', '.join([*parts, 'not in this instance'])})"
    run = record.dagster_run
    parts.append(f"started {_clock(record.start_time or record.create_timestamp.timestamp())}")
    if run.status not in (dg.DagsterRunStatus.STARTED,):
        parts.append(run.status.value)
    identity = ProcessIdentity.from_tags(run.tags)
    if identity is None:
        parts.append("launched by the daemon or the UI")
    elif identity.host == this_host():
        parts.append(f"pid {identity.pid} on this host")
    else:
        parts.append(f"pid {identity.pid} on host {identity.host}")
    return f"run {run_id[:8]} ({', '.join(parts)})"


def recover_dead_runs(
    instance: dg.DagsterInstance,
    *,
    progress: Progress,
    run_ids: Collection[str] | None = None,
    now: float | None = None,
) -> list[str]:
    """Fail unfinished runs whose process is gone and free the pool slots of dead, finished
    or deleted runs; returns the ids of the runs it changed. Limited to `run_ids` if given."""
    now = time.time() if now is None else now
    ids = list(run_ids) if run_ids is not None else None
    if ids == []:
        return []
    host = this_host()
    holdings = pool_holdings(instance)
    changed: list[str] = []
    for record in instance.get_run_records(dg.RunsFilter(run_ids=ids, statuses=UNFINISHED)):
        run = record.dagster_run
        reason = _why_dead(instance, record, host=host, now=now)
        if reason is None:
            continue
        instance.report_run_failed(
            run,
            f"Marked failed by mlops-assets: {reason}. Its pool slots were freed.",
            JobFailureData(error=None, failure_reason=RunFailureReason.UNEXPECTED_TERMINATION),
        )
        freed = _free(instance, run.run_id, holdings)
        progress(f"marked run {run.run_id[:8]} failed: {reason}{freed}")
        changed.append(run.run_id)

    # slots still held by runs that have ended (e.g. failed by their code server) or are gone
    leftovers = [r for r in holdings if r not in changed and (ids is None or r in ids)]
    if not leftovers:
        return changed
    records = {
        r.dagster_run.run_id: r for r in instance.get_run_records(dg.RunsFilter(run_ids=leftovers))
    }
    grace = float(
        instance.run_monitoring_settings.get("free_slots_after_run_end_seconds")
        or FINISHED_GRACE_SECONDS
    )
    for run_id in leftovers:
        record = records.get(run_id)
        if record is None:
            what = "is not in this instance any more"
        elif record.dagster_run.is_finished and _ended(record, host=host, now=now, grace=grace):
            what = f"has ended ({record.dagster_run.status.value})"
        else:
            continue
        freed = _free(instance, run_id, holdings)
        if freed:
            progress(f"run {run_id[:8]} {what}{freed}")
        changed.append(run_id)
    return changed


def _ended(record, *, host: str, now: float, grace: float) -> bool:
    """A finished run's process is gone, or it finished more than `grace` seconds ago."""
    identity = ProcessIdentity.from_tags(record.dagster_run.tags)
    if identity is not None and liveness(identity, host=host) is Liveness.GONE:
        return True
    return (record.end_time or record.update_timestamp.timestamp()) + grace < now


def _why_dead(instance: dg.DagsterInstance, record, *, host: str, now: float) -> str | None:
    """Why an unfinished run is dead, or None when it is (or may be) alive."""
    run = record.dagster_run
    identity = ProcessIdentity.from_tags(run.tags)
    if identity is not None:
        state = liveness(identity, host=host)
        if state is Liveness.GONE:
            started = _clock(record.start_time or record.create_timestamp.timestamp())
            return (
                f"its process (pid {identity.pid} on this host, run started {started}) is gone "
                "— killed, out of memory, or the machine restarted"
            )
        return None
    # not started by mlops-assets: its code server and the daemon's run monitoring own it
    limit = instance.run_monitoring_max_runtime_seconds
    started_at = record.start_time or record.create_timestamp.timestamp()
    if limit and now - started_at > limit:
        return (
            f"{run.status.value} for {(now - started_at) / 3600:.1f} h, over "
            f"run_monitoring.max_runtime_seconds ({limit} s), and no daemon has ended it"
        )
    return None


def _free(instance: dg.DagsterInstance, run_id: str, holdings: dict[str, list[Holding]]) -> str:
    held = holdings.get(run_id, [])
    if not instance.event_log_storage.supports_global_concurrency_limits:
        return ""
    instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    claimed = [h for h in held if h.claimed]
    if not claimed:
        return ""
    pools = ", ".join(sorted({h.pool for h in claimed}))
    return f"; freed {len(claimed)} slot(s) of pool {pools} (step {claimed[0].step_key})"


def report_unfinished_others(instance: dg.DagsterInstance, *, progress: Progress) -> None:
    """Say which other runs hold pool slots and were left alone (alive, or not checkable)."""
    host = this_host()
    for run_id, held in pool_holdings(instance).items():
        claimed = [h for h in held if h.claimed]
        if not claimed:
            continue
        record = instance.get_run_record_by_id(run_id)
        if record is None or record.dagster_run.is_finished:
            continue
        identity = ProcessIdentity.from_tags(record.dagster_run.tags)
        if identity is None:
            why = "left to Dagster's run monitoring"
        elif identity.host != host:
            why = "on another host, so it cannot be checked from here: left alone"
        else:
            why = "its process is alive"
        progress(
            f"{describe_run(instance, run_id, claimed[0].step_key)} holds a slot of pool "
            f"{claimed[0].pool}: {why}"
        )


def _blockers(instance: dg.DagsterInstance, pools: Collection[str], *, exclude: str = "") -> dict:
    """Pools that are full, each with the holdings that fill it (not counting `exclude`)."""
    storage = instance.event_log_storage
    full: dict[str, list[Holding]] = {}
    for pool, info in storage.get_concurrency_infos(sorted(pools)).items():
        if info.limit is None:
            continue
        occupied = [Holding(pool, r, s, True) for r, s, claimed in _occupancy(info) if claimed]
        if len(occupied) >= info.limit and any(h.run_id != exclude for h in occupied):
            full[pool] = [h for h in occupied if h.run_id != exclude]
    return full


def _waiting_line(instance: dg.DagsterInstance, pool: str, held: list[Holding]) -> str:
    holders = "; ".join(describe_run(instance, h.run_id, h.step_key) for h in held) or "nobody"
    noun = "slot held by" if len(held) == 1 else "slots held by"
    return f"waiting for pool {pool}: {noun} {holders}"


def _timeout_message(line: str, waited: float) -> str:
    return (
        f"gave up after {waited:.0f} s {line}. If that run is dead, `mlops-assets recover` "
        "frees its slot (or in the UI: the run → Terminate, or Deployment → Concurrency); "
        "otherwise let it finish, or raise --pool-wait-timeout."
    )


def wait_for_free_pools(
    instance: dg.DagsterInstance,
    pools: Collection[str],
    *,
    progress: Progress,
    timeout: float | None,
    report_every: float = REPORT_EVERY_SECONDS,
    poll: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once every pool in `pools` has a free slot; say who holds it every
    `report_every` seconds meanwhile; raise `PoolWaitTimeout` after `timeout` (None: never).
    A holder whose process turns out to be gone is failed and its slots freed on the way."""
    if not pools or not instance.event_log_storage.supports_global_concurrency_limits:
        return
    started = clock()
    last_report = None
    while True:
        full = _blockers(instance, pools)
        if not full:
            if last_report is not None:
                progress(f"pool free after {clock() - started:.0f} s")
            return
        holders = {h.run_id for held in full.values() for h in held}
        if recover_dead_runs(instance, progress=progress, run_ids=holders):
            continue
        pool, held = next(iter(full.items()))
        line = _waiting_line(instance, pool, held)
        waited = clock() - started
        if timeout is not None and waited >= timeout:
            raise PoolWaitTimeout(_timeout_message(line, waited))
        if last_report is None or clock() - last_report >= report_every:
            progress(f"{line} (waited {waited:.0f} s)")
            last_report = clock()
        sleep(poll if timeout is None else max(0.0, min(poll, timeout - waited)))


@contextmanager
def watch_pool_waits(
    instance: dg.DagsterInstance,
    run_id: str,
    pools: Collection[str],
    *,
    progress: Progress,
    timeout: float | None,
    report_every: float = REPORT_EVERY_SECONDS,
    poll: float = 1.0,
) -> Iterator[None]:
    """While the body executes run `run_id` in this (main) thread, watch from a second thread for
    a step of it queued for a pool slot: say which run holds the slot every `report_every` s,
    fail dead holders, and stop the run with `PoolWaitTimeout` after `timeout` s of waiting.
    A Ctrl-C (or SIGTERM) that Dagster captured while the run waits is delivered as a
    KeyboardInterrupt (Dagster would hold it until a step starts)."""
    if not pools or not instance.event_log_storage.supports_global_concurrency_limits:
        yield
        return
    stop = threading.Event()
    target = threading.get_ident()
    lock = threading.Lock()
    body_done = False

    def interrupt(exc_type: type[BaseException]) -> None:
        with lock:
            if not body_done:
                _raise_in_thread(target, exc_type)

    def watch() -> None:
        since: float | None = None
        last_report = 0.0
        errors: list[Exception] = []
        while not stop.wait(poll):
            try:
                waiting = [
                    h for h in pool_holdings(instance, pools).get(run_id, []) if not h.claimed
                ]
                if not waiting:
                    since = None
                    continue
                now = time.monotonic()
                if since is None:
                    since, last_report = now, 0.0
                wait = waiting[0]
                full = _blockers(instance, [wait.pool], exclude=run_id)
                holders = {h.run_id for held in full.values() for h in held}
                if holders and recover_dead_runs(instance, progress=progress, run_ids=holders):
                    continue
                line = _waiting_line(instance, wait.pool, full.get(wait.pool, []))
                if _interrupt_captured():
                    interrupt(KeyboardInterrupt)
                    return
                if timeout is not None and now - since >= timeout:
                    message = _timeout_message(f"(step {wait.step_key}) {line}", now - since)
                    interrupt(type("PoolWaitExpired", (_PoolWaitExpired,), {"message": message}))
                    return
                if now - last_report >= report_every:
                    progress(f"step {wait.step_key} {line} (waited {now - since:.0f} s)")
                    last_report = now
            except Exception as exc:  # never take the run down; a locked SQLite: next poll
                if not errors:
                    progress(f"pool watcher: {type(exc).__name__}: {exc} (retrying)")
                errors.append(exc)

    thread = threading.Thread(target=watch, name=f"pool-watch-{run_id[:8]}", daemon=True)
    thread.start()
    try:
        yield
    except _PoolWaitExpired as exc:
        raise PoolWaitTimeout(str(exc)) from None
    finally:
        with lock:
            body_done = True
            _raise_in_thread(target, None)  # drop an interrupt not yet delivered, if any
        stop.set()
        thread.join()


def _interrupt_captured() -> bool:
    """Whether Dagster captured a SIGINT/SIGTERM (and take it: raised once, by us)."""
    try:
        from dagster._utils.interrupts import pop_captured_interrupt
    except ImportError:  # pragma: no cover - a Dagster without it
        return False
    return pop_captured_interrupt()


def _raise_in_thread(ident: int, exc_type: type[BaseException] | None) -> None:
    """Raise `exc_type` in thread `ident` at its next bytecode (None: cancel a pending one).
    Only the run's own claim loop is interrupted this way: it runs Python code, never blocks."""
    exc = ctypes.py_object(exc_type) if exc_type is not None else ctypes.c_void_p()
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), exc)
