"""core.process_liveness: a recorded pid/host/start time reads as alive only while that very
process runs on this host — an exited, reaped or zombie process, a reused pid and a reboot all
read as gone; another host cannot be judged."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops_assets.core.process_liveness import (
    HOST_TAG,
    PID_TAG,
    STARTED_AT_TAG,
    Liveness,
    ProcessIdentity,
    current_identity,
    liveness,
    start_token,
    this_host,
)

LINUX = Path("/proc/self/stat").exists()
needs_proc = pytest.mark.skipif(not LINUX, reason="reads /proc")


def _fake_proc(root: Path, pid: int, comm: str, state: str, ticks: int, boot: str) -> Path:
    """A /proc with one process: stat fields 3 (state) and 22 (start ticks) set."""
    (root / "self").mkdir(parents=True, exist_ok=True)
    (root / "self" / "stat").write_text("1 (x) S")
    fields = [state, *["0"] * 18, str(ticks), "0", "0"]  # fields 3 … 24
    (root / str(pid)).mkdir()
    (root / str(pid) / "stat").write_text(f"{pid} ({comm}) {' '.join(fields)}\n")
    (root / "sys" / "kernel" / "random").mkdir(parents=True, exist_ok=True)
    (root / "sys" / "kernel" / "random" / "boot_id").write_text(boot + "\n")
    return root


def test_tags_round_trip_and_runs_without_them_have_no_identity() -> None:
    identity = ProcessIdentity(pid=4242, host="box", started_at="boot:123")
    tags = identity.as_tags()
    assert tags == {PID_TAG: "4242", HOST_TAG: "box", STARTED_AT_TAG: "boot:123"}
    assert ProcessIdentity.from_tags({**tags, "other": "x"}) == identity
    assert ProcessIdentity.from_tags({}) is None
    assert ProcessIdentity.from_tags({PID_TAG: "abc", HOST_TAG: "box"}) is None
    assert ProcessIdentity.from_tags({PID_TAG: "12"}) is None


def test_start_time_is_read_after_the_last_parenthesis_of_the_command_name(
    tmp_path: Path,
) -> None:
    proc = _fake_proc(tmp_path, 77, comm="a) b (c) S 1 2", state="S", ticks=98765, boot="b1")
    assert start_token(77, proc) == "b1:98765"
    assert start_token(78, proc) is None  # no such process


def test_a_recorded_process_is_alive_only_with_the_same_start_time_and_boot(
    tmp_path: Path,
) -> None:
    proc = _fake_proc(tmp_path, 77, comm="python", state="R", ticks=500, boot="b1")
    same = ProcessIdentity(77, "box", "b1:500")
    assert liveness(same, host="box", proc=proc) is Liveness.ALIVE
    reused = ProcessIdentity(77, "box", "b1:499")  # another process got pid 77
    assert liveness(reused, host="box", proc=proc) is Liveness.GONE
    rebooted = ProcessIdentity(77, "box", "b0:500")  # same ticks, before a reboot
    assert liveness(rebooted, host="box", proc=proc) is Liveness.GONE
    assert liveness(ProcessIdentity(78, "box", "b1:500"), host="box", proc=proc) is Liveness.GONE
    assert liveness(same, host="other", proc=proc) is Liveness.OTHER_HOST


def test_a_zombie_is_gone(tmp_path: Path) -> None:
    proc = _fake_proc(tmp_path, 77, comm="dbt", state="Z", ticks=500, boot="b1")
    assert liveness(ProcessIdentity(77, "box", "b1:500"), host="box", proc=proc) is Liveness.GONE


def test_without_proc_liveness_falls_back_on_the_pid_alone(tmp_path: Path) -> None:
    assert start_token(os.getpid(), tmp_path) == ""
    me = ProcessIdentity(os.getpid(), "box", "")
    assert liveness(me, host="box", proc=tmp_path) is Liveness.ALIVE
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    gone = ProcessIdentity(child.pid, "box", "")
    assert liveness(gone, host="box", proc=tmp_path) is Liveness.GONE


@needs_proc
def test_this_process_is_alive_and_a_killed_child_is_gone() -> None:
    me = current_identity()
    assert me.pid == os.getpid() and me.host == this_host() and me.started_at
    assert liveness(me, host=this_host()) is Liveness.ALIVE
    assert liveness(ProcessIdentity(me.pid, me.host, "x:1"), host=this_host()) is Liveness.GONE

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        identity = ProcessIdentity(child.pid, this_host(), start_token(child.pid) or "")
        assert liveness(identity, host=this_host()) is Liveness.ALIVE
        child.kill()
        deadline = time.monotonic() + 10
        while liveness(identity, host=this_host()) is Liveness.ALIVE:  # a zombie until reaped
            assert time.monotonic() < deadline
            time.sleep(0.01)
        child.wait()
        assert liveness(identity, host=this_host()) is Liveness.GONE
    finally:
        child.kill()
        child.wait()
