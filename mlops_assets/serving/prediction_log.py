"""The servers' prediction log: JSON lines appended per model and UTC day.

Servers never write the DuckDB warehouse (it has one writer): every answer, and every shadow
answer that is not returned, is appended here instead, one file per model per day
(`<data home>/serving/predictions/<model>/<YYYY-MM-DD>.jsonl`), so a file is closed for good
once its day is over. The day is the one the answer was made for (`as_of`): today for live
traffic, a past day when a simulated world is replayed through the server; the partitioned
`<model>/prediction_log` asset ingests one file per partition and joins its labels by that day.
"""

from __future__ import annotations

import dataclasses
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
        self._files: dict[Path, Any] = {}  # open append handles, one per model and day

    def close(self) -> None:
        with self._lock:
            for f in self._files.values():
                f.close()
            self._files.clear()

    def _handle(self, path: Path):
        f = self._files.get(path)
        if f is not None and not path.exists():  # moved or deleted underneath: start anew
            f.close()
            f = None
        if f is None:
            if len(self._files) >= 64:  # old days: closed for good
                for old in self._files.values():
                    old.close()
                self._files.clear()
            path.parent.mkdir(parents=True, exist_ok=True)
            f = self._files[path] = open(path, "a", encoding="utf-8")  # noqa: SIM115
        return f

    def path(self, model: str, day: dt.date) -> Path:
        return self.root / model / f"{day.isoformat()}.jsonl"

    def append(
        self, model: str, records: Iterable[Mapping[str, Any]], day: dt.date | None = None
    ) -> None:
        """Append `records` (made for `day`, default today UTC) with a timestamp each."""
        now = dt.datetime.now(dt.UTC)
        day = day or now.date()
        head = {"ts": now.isoformat(timespec="milliseconds"), "model": model, "as_of": str(day)}
        lines = "".join(json.dumps({**head, **r}, separators=(",", ":")) + "\n" for r in records)
        if not lines:
            return
        path = self.path(model, day)
        with self._lock:
            f = self._handle(path)
            f.write(lines)
            f.flush()  # whole lines reach the file per request: readers never wait for a close

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


COLUMNS = {
    "as_of": "DATE",
    "ts": "TIMESTAMPTZ",
    "id": "VARCHAR",
    "variant": "VARCHAR",
    "version": "VARCHAR",
    "probability": "DOUBLE",
    "served": "BOOLEAN",
    "degraded": "BOOLEAN",
    "error": "VARCHAR",
    "latency_ms": "DOUBLE",
    "inference_ms": "DOUBLE",
    "test": "VARCHAR",
}
"""The warehouse table's columns (`<model>/prediction_log`), in order, with their types."""
VARIANTS = ("champion", "challenger", "batch", "fallback")


@dataclasses.dataclass
class ParsedDay:
    """One day's log file, checked line by line: nothing is dropped, a bad line is kept with
    its number and why, and a last line still being written (no newline) is left pending."""

    records: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    bad: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)  # line, text, why
    pending: int = 0


def _problem(record: Any, day: dt.date, model: str) -> str | None:
    if not isinstance(record, dict):
        return "not a JSON object"
    missing = [k for k in ("ts", "as_of", "variant", "version") if k not in record]
    if missing:
        return f"missing {missing}"
    if record.get("model") != model:
        return f"model {record.get('model')!r} in {model}'s log"
    if record["as_of"] != day.isoformat():
        return f"as_of {record['as_of']!r} in the file of {day}"
    if record["variant"] not in VARIANTS:
        return f"variant {record['variant']!r} is not one of {list(VARIANTS)}"
    try:
        dt.datetime.fromisoformat(record["ts"])
    except (TypeError, ValueError):
        return f"ts {record['ts']!r} is not an ISO timestamp"
    if not record.get("error"):
        p = record.get("probability")
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
            return f"probability {p!r} is not a number in [0, 1]"
    return None


def parse_day(path: Path, model: str, day: dt.date, *, closed: bool) -> ParsedDay:
    """The records of `model`'s log file for `day` (`closed`: the day is over, so a line with
    no newline is a torn write, quarantined, not pending)."""
    out = ParsedDay()
    if not path.is_file():
        return out
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if not line.endswith("\n") and not closed:
                out.pending += 1
                continue
            text = line.rstrip("\n")
            try:
                record = json.loads(text)
            except json.JSONDecodeError as err:
                out.bad.append((number, text[:2000], f"not JSON: {err.msg}"))
                continue
            why = _problem(record, day, model)
            if why:
                out.bad.append((number, text[:2000], why))
                continue
            out.records.append({c: record.get(c) for c in COLUMNS})
    return out
