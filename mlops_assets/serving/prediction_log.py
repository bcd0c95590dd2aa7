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
