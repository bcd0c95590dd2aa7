"""The last batch score of every entity, for degraded answers: its writer and its reader.

`<model>/daily_scores` rewrites `<data home>/serving/batch_scores/<model>.parquet` (atomically)
after each run: per entity, its newest scored day, score and model version. A server answers
from it when the online store cannot (`degraded`), and re-reads it when the file changes.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path


def batch_scores_path(home: Path, model: str) -> Path:
    return Path(home) / "serving" / "batch_scores" / f"{model}.parquet"


def export_latest_scores(con, table: str, join_key: str, home: Path, model: str) -> Path:
    """Write each entity's newest score in `table` (a DuckDB predictions table on `con`) to
    the model's batch-score file: aside first, then renamed into place."""
    from mlops_assets.core.feature_store.offline_reads import quote_ident, quote_literal

    path = batch_scores_path(home, model)
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.{os.getpid()}")
    key = quote_ident(join_key)
    con.execute(
        f"COPY (SELECT CAST({key} AS VARCHAR) AS id, score, model_version, "
        f"CAST(score_date AS VARCHAR) AS score_date FROM {table} "
        f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY score_date DESC) = 1 "
        f"ORDER BY id) TO {quote_literal(str(staged))} (FORMAT parquet)"
    )
    os.replace(staged, path)
    return path


@dataclass(frozen=True)
class BatchScore:
    probability: float
    version: str
    score_date: str


class BatchScores:
    """The newest batch scores of one model, re-read when their file changes."""

    def __init__(self, home: Path, model: str) -> None:
        self.path = batch_scores_path(home, model)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._scores: dict[str, BatchScore] = {}

    def lookup(self, ids: list[str]) -> dict[str, BatchScore]:
        """The ids that have a batch score (an absent file means none)."""
        with self._lock:
            try:
                stat = os.stat(self.path)
            except FileNotFoundError:
                return {}
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp != self._stamp:
                self._scores, self._stamp = self._read(), stamp
            return {i: self._scores[i] for i in ids if i in self._scores}

    def _read(self) -> dict[str, BatchScore]:
        import pyarrow.parquet as pq

        table = pq.read_table(self.path).to_pydict()
        return {
            str(i): BatchScore(float(p), str(v), str(d))
            for i, p, v, d in zip(
                table["id"],
                table["score"],
                table["model_version"],
                table["score_date"],
                strict=True,
            )
        }
