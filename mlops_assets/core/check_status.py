"""The newest result of every asset check, as small files the platform metrics read
(`pipeline_failed_checks{asset,severity}`): `<home>/monitoring/checks/<asset>.<check>.json`,
written by the notification sensors from each finished run's check evaluations."""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

_SAFE = re.compile(r"[^A-Za-z0-9_\-]")


@dataclass(frozen=True)
class CheckStatus:
    asset: str  # "model/drift_report"
    check: str
    passed: bool
    severity: str  # error | warn
    run_id: str
    timestamp: float


def checks_dir(home: Path) -> Path:
    return Path(home) / "monitoring" / "checks"


def write_check_status(home: Path, status: CheckStatus) -> Path:
    """Replace the check's file atomically, unless it already holds a newer result."""
    folder = checks_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    name = _SAFE.sub("_", status.asset.replace("/", "__")) + "." + _SAFE.sub("_", status.check)
    path = folder / f"{name}.json"
    try:
        if json.loads(path.read_text()).get("timestamp", 0) > status.timestamp:
            return path
    except (OSError, ValueError):
        pass
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(asdict(status)))
    os.replace(tmp, path)
    return path


def read_check_status(path: Path) -> CheckStatus:
    return CheckStatus(**json.loads(Path(path).read_text()))
