"""The servers' prediction log: JSON lines appended per model and UTC day.

Servers never write the DuckDB warehouse (it has one writer): every answer, and every shadow
answer that is not returned, is appended here instead, one file per model per day
(`<data home>/serving/predictions/<model>/<YYYY-MM-DD>.jsonl`), so a file is closed for good
once its day is over.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def log_dir(home: Path) -> Path:
    """Where a data home keeps its servers' prediction log."""
    return Path(home) / "serving" / "predictions"


class PredictionLog:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()

    def path(self, model: str, day: dt.date) -> Path:
        return self.root / model / f"{day.isoformat()}.jsonl"

    def append(self, model: str, records: Iterable[Mapping[str, Any]]) -> None:
        now = dt.datetime.now(dt.UTC)
        stamp = now.isoformat(timespec="milliseconds")
        lines = "".join(
            json.dumps({"ts": stamp, "model": model, **r}, separators=(",", ":")) + "\n"
            for r in records
        )
        if not lines:
            return
        path = self.path(model, now.date())
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as f:
                f.write(lines)

    def read_since(self, model: str, since: dt.datetime) -> list[dict[str, Any]]:
        """Every record of `model` logged at or after `since` (UTC), oldest first. A line
        still being written by a server (no newline yet) is left for the next read."""
        since = since.astimezone(dt.UTC)
        today = dt.datetime.now(dt.UTC).date()
        out: list[dict[str, Any]] = []
        day = since.date()
        while day <= today:
            path = self.path(model, day)
            if path.is_file():
                with open(path, encoding="utf-8") as f:
                    for line in f:
                        if not line.endswith("\n"):
                            break
                        record = json.loads(line)
                        if dt.datetime.fromisoformat(record["ts"]) >= since:
                            out.append(record)
            day += dt.timedelta(days=1)
        return out
