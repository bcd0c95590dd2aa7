"""Is the process that started a run still alive? Framework-free, read from `/proc`.

A run records who ran it: the pid, the host and the process's start time. The start time is
`/proc/<pid>/stat` field 22 (clock ticks since boot) prefixed with the kernel's boot id, so a
reused pid (another process with the same number) or a reboot reads as "gone", never as alive.
Where there is no `/proc` (macOS), the start time is empty and liveness falls back on
`kill(pid, 0)`, without that protection.
"""

from __future__ import annotations

import enum
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
PID_TAG = "mlops/pid"
HOST_TAG = "mlops/host"
STARTED_AT_TAG = "mlops/pid_started_at"


class Liveness(enum.Enum):
    ALIVE = "alive"
    GONE = "gone"  # no such process, a zombie, or the pid now belongs to another process
    OTHER_HOST = "other host"  # cannot be checked from here


@dataclass(frozen=True)
class ProcessIdentity:
    pid: int
    host: str
    started_at: str  # "<boot id>:<start ticks>"; "" where /proc is not available

    def as_tags(self) -> dict[str, str]:
        return {PID_TAG: str(self.pid), HOST_TAG: self.host, STARTED_AT_TAG: self.started_at}

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> ProcessIdentity | None:
        """The identity recorded in a run's tags; None when the run has none (or a bad pid)."""
        pid, host = tags.get(PID_TAG, ""), tags.get(HOST_TAG, "")
        if not pid.isdigit() or not host:
            return None
        return cls(pid=int(pid), host=host, started_at=tags.get(STARTED_AT_TAG, ""))


def this_host() -> str:
    return socket.gethostname()


def start_token(pid: int, proc: Path = PROC) -> str | None:
    """`<boot id>:<start ticks>` of a live process; None if there is no such process or it is
    a zombie (dead, not yet reaped); "" when `/proc` is not available on this system."""
    if not (proc / "self" / "stat").exists():
        return ""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, NotADirectoryError):
        return None
    # "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ")"
    fields = stat[stat.rindex(")") + 2 :].split()
    state, ticks = fields[0], fields[19]  # fields 3 and 22 of proc(5)
    if state in {"Z", "X", "x"}:
        return None
    return f"{_boot_id(proc)}:{ticks}"


def _boot_id(proc: Path) -> str:
    try:
        return (proc / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
    except OSError:
        return ""


def current_identity(proc: Path = PROC) -> ProcessIdentity:
    pid = os.getpid()
    return ProcessIdentity(pid=pid, host=this_host(), started_at=start_token(pid, proc) or "")


def liveness(identity: ProcessIdentity, *, host: str, proc: Path = PROC) -> Liveness:
    """Whether the recorded process still runs, seen from `host` (this machine)."""
    if identity.host != host:
        return Liveness.OTHER_HOST
    token = start_token(identity.pid, proc)
    if token is None:
        return Liveness.GONE
    if token and identity.started_at:
        return Liveness.ALIVE if token == identity.started_at else Liveness.GONE
    return Liveness.ALIVE if _pid_exists(identity.pid) else Liveness.GONE


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
