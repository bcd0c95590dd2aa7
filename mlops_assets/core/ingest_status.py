"""What each ingest run leaves for monitoring outside Dagster: one small JSON file per
(source, partition day) under `<home>/ingest_log/<dataset>/<source>/<day>.json`, with the
day's row balance. The platform metrics read these instead of the warehouse, so a scrape
never opens DuckDB (whose file lock would block the next writer)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

_NAME = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class IngestStatus:
    day: str
    rows_in: int
    valid: int
    quarantined: int
    ingested_at: float  # unix seconds

    @property
    def quarantine_rate(self) -> float:
        return self.quarantined / self.rows_in if self.rows_in else 0.0


def status_dir(home: Path, dataset: str, source: str) -> Path:
    for name in (dataset, source):
        if not _NAME.match(name):
            raise ValueError(f"not a dataset/source name: {name!r}")
    return Path(home) / "ingest_log" / dataset / source


def write_status(
    home: Path, dataset: str, source: str, day: dt.date, rows_in: int, valid: int, quarantined: int
) -> Path:
    """Atomically (temp file + rename) record one day's ingest; a re-run replaces it."""
    if rows_in != valid + quarantined:
        raise ValueError(f"rows_in {rows_in} != valid {valid} + quarantined {quarantined}")
    folder = status_dir(home, dataset, source)
    folder.mkdir(parents=True, exist_ok=True)
    status = IngestStatus(
        day.isoformat(), rows_in, valid, quarantined, dt.datetime.now().timestamp()
    )
    path = folder / f"{status.day}.json"
    tmp = folder / f".{status.day}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(asdict(status)))
    os.replace(tmp, path)
    return path
