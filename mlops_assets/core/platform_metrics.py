"""The batch side's platform metrics, read from the files the assets already wrote.

Per model: the newest judged day's drift (`monitoring/<model>/days/<day>.drift.json`), the
newest labelled day's performance (`<day>.performance.json`), the champion and the
retraining history (`retraining_history.parquet`). Per data source: the newest ingest
(`ingest_log/<dataset>/<source>/<day>.json`). A read never computes anything heavy and never
opens the DuckDB warehouse; parsed files are cached by modification time, so a scrape costs a
few directory listings. A file that does not parse is counted (and its metrics left out),
never fatal.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_assets.core.check_status import CheckStatus, checks_dir, read_check_status
from mlops_assets.core.ingest_status import IngestStatus, status_dir

_DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.(drift|performance)\.json$")
_STATUS_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")
MAX_DAYS_BACK = 60  # how many warming-up days a reader walks past to find a judged one


@dataclass(frozen=True)
class MetricInfo:
    name: str
    kind: str  # gauge | counter
    labels: tuple[str, ...]
    help: str


# The exporter's metrics (also the README's table).
METRICS: tuple[MetricInfo, ...] = (
    MetricInfo(
        "model_drift_score",
        "gauge",
        ("model", "feature"),
        "PSI of each judged input on the newest judged scored day, vs the champion's training "
        "window",
    ),
    MetricInfo(
        "model_drift_share", "gauge", ("model",), "Share of judged inputs that drifted that day"
    ),
    MetricInfo(
        "model_score_psi", "gauge", ("model",), "PSI of the score distribution vs the reference"
    ),
    MetricInfo(
        "model_drift_day_timestamp_seconds", "gauge", ("model",), "The day the drift numbers are of"
    ),
    MetricInfo(
        "model_accuracy",
        "gauge",
        ("model", "metric"),
        "AUC-PR (metric=auc_pr) and ROC-AUC (metric=roc_auc) of the newest labelled day",
    ),
    MetricInfo(
        "model_calibration_error",
        "gauge",
        ("model",),
        "Expected calibration error (10 bins) of the newest labelled day",
    ),
    MetricInfo(
        "model_performance_day_timestamp_seconds",
        "gauge",
        ("model",),
        "The labelled day the performance numbers are of",
    ),
    MetricInfo("model_accuracy_floor", "gauge", ("model",), "The model's AUC-PR floor (its YAML)"),
    MetricInfo("model_champion_version", "gauge", ("model",), "Registry version of the champion"),
    MetricInfo(
        "model_champion_age_seconds",
        "gauge",
        ("model",),
        "Seconds since the champion alias moved to this version",
    ),
    MetricInfo(
        "retraining_runs_total",
        "counter",
        ("model", "trigger", "outcome"),
        "Model versions trained, by trigger and outcome (promoted, rejected, pending)",
    ),
    MetricInfo(
        "data_last_ingest_timestamp_seconds",
        "gauge",
        ("dataset", "source"),
        "When the source last had a partition ingested",
    ),
    MetricInfo(
        "data_last_partition_timestamp_seconds",
        "gauge",
        ("dataset", "source"),
        "The newest ingested partition day (midnight UTC)",
    ),
    MetricInfo(
        "data_quarantine_rate",
        "gauge",
        ("dataset", "source"),
        "Share of the newest partition's rows quarantined",
    ),
    MetricInfo(
        "data_rows_ingested",
        "gauge",
        ("dataset", "source"),
        "Rows read from the newest partition's landing file",
    ),
    MetricInfo(
        "pipeline_failed_checks",
        "gauge",
        ("asset", "severity"),
        "Asset checks of this severity (error, warn) whose newest result failed",
    ),
    # output and business monitoring (core.output_monitoring), of the same days as the drift
    # and the performance numbers
    MetricInfo(
        "model_score_kl",
        "gauge",
        ("model",),
        "KL divergence of the score distribution vs reference",
    ),
    MetricInfo(
        "model_score_bucket_deviation",
        "gauge",
        ("model",),
        "Largest relative change of a score bucket's share vs the reference",
    ),
    MetricInfo("model_scoring_volume_rows", "gauge", ("model",), "Rows scored that day"),
    MetricInfo(
        "model_scoring_volume_ratio",
        "gauge",
        ("model",),
        "Rows scored vs the same weekday one week earlier (absent without that day)",
    ),
    MetricInfo(
        "model_out_of_range_share",
        "gauge",
        ("model",),
        "Largest share of a numeric input's values outside the training range ± 3σ",
    ),
    MetricInfo(
        "model_top_decile",
        "gauge",
        ("model", "metric"),
        "Precision (metric=precision) and recall (metric=recall) in the top decile of scores, "
        "newest labelled day",
    ),
    # cost (the cost_report asset's newest day, core.cost)
    MetricInfo(
        "mlops_cost_budget_ratio",
        "gauge",
        ("model",),
        "Month-to-date cost / the budget prorated to the same day of the month",
    ),
    MetricInfo("mlops_cost_month_to_date", "gauge", ("model",), "Cost this month so far"),
    MetricInfo("mlops_cost_monthly_budget", "gauge", ("model",), "The model's monthly budget"),
    MetricInfo("mlops_cost_daily", "gauge", ("model",), "Cost of the newest reported day"),
    MetricInfo(
        "mlops_cost_per_1k_predictions",
        "gauge",
        ("model",),
        "Serving cost per 1,000 logged predictions, newest reported day",
    ),
    MetricInfo(
        "mlops_compute_seconds",
        "gauge",
        ("model", "kind"),
        "CPU seconds of the newest reported day (kind=batch: run steps; kind=serving)",
    ),
    MetricInfo("mlops_cost_day_timestamp_seconds", "gauge", (), "The day the cost numbers are of"),
    MetricInfo(
        "mlops_metrics_unreadable_files",
        "gauge",
        (),
        "Monitoring files the last scrape could not parse",
    ),
)
METRIC_INFO = {m.name: m for m in METRICS}


@dataclass(frozen=True)
class Sample:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float


@dataclass(frozen=True)
class ModelSource:
    name: str
    auc_pr_floor: float | None = None


@dataclass(frozen=True)
class DataSource:
    dataset: str
    source: str


@dataclass
class _Cache:
    entries: dict[Path, tuple[int, Any]] = field(default_factory=dict)
    listings: dict[Path, tuple[int, list[str]]] = field(default_factory=dict)

    def listing(self, folder: Path) -> tuple[float, list[str]]:
        """(the folder's modification time, its file names), listed again only when that time
        changes: every writer creates its file by a rename into the folder, which updates it."""
        try:
            stat = os.stat(folder)
        except FileNotFoundError:
            return 0.0, []
        hit = self.listings.get(folder)
        if hit is not None and hit[0] == stat.st_mtime_ns:
            return stat.st_mtime, hit[1]
        names = sorted(os.listdir(folder))
        self.listings[folder] = (stat.st_mtime_ns, names)
        return stat.st_mtime, names

    def load(self, path: Path, parse: Callable[[Path], Any]) -> Any:
        mtime = path.stat().st_mtime_ns
        hit = self.entries.get(path)
        if hit is not None and hit[0] == mtime:
            return hit[1]
        value = parse(path)
        self.entries[path] = (mtime, value)
        return value


def _json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    return data


def _status(path: Path) -> IngestStatus:
    return IngestStatus(**_json(path))


def _history(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    columns = ["version", "trigger", "gate_passed", "promoted", "is_champion"]
    schema = pq.read_schema(path)
    if "champion_since" in schema.names:
        columns.append("champion_since")
    return pq.read_table(path, columns=columns).to_pylist()


_OUTPUT_FIELDS = (
    ("score_kl", "model_score_kl"),
    ("bucket_deviation", "model_score_bucket_deviation"),
    ("rows_scored", "model_scoring_volume_rows"),
    ("volume_ratio", "model_scoring_volume_ratio"),
    ("out_of_range_share", "model_out_of_range_share"),
)


def _day_seconds(day: str) -> float:
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp()


def _outcome(row: dict[str, Any]) -> str:
    if row.get("promoted"):
        return "promoted"
    if str(row.get("gate_passed", "")).lower() == "false":
        return "rejected"
    return "pending"


class PlatformReader:
    """Reads the platform's state from `home` into samples; keep one per process (its cache
    makes repeated scrapes cheap)."""

    def __init__(
        self,
        home: Path,
        models: Sequence[ModelSource],
        sources: Sequence[DataSource],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.home = Path(home)
        self.models = list(models)
        self.sources = list(sources)
        self.clock = clock
        self._cache = _Cache()

    def read(self) -> list[Sample]:
        samples: list[Sample] = []
        unreadable = 0
        for model in self.models:
            unreadable += self._model(model, samples)
        for src in self.sources:
            unreadable += self._source(src, samples)
        unreadable += self._checks(samples)
        unreadable += self._cost(samples)
        samples.append(Sample("mlops_metrics_unreadable_files", (), float(unreadable)))
        return samples

    def _newest(self, folder: Path, owner: str) -> Iterable[tuple[str, Path]]:
        """(day, path) of `owner`'s summaries, newest first, at most MAX_DAYS_BACK."""
        _, names = self._cache.listing(folder)
        suffix = f".{owner}.json"
        found = 0
        for name in reversed(names):  # sorted by name: ISO days sort by date
            m = _DAY_FILE.match(name)
            if m and name.endswith(suffix):
                yield m.group(1), folder / name
                found += 1
                if found >= MAX_DAYS_BACK:
                    return

    def _judged(self, folder: Path, owner: str) -> tuple[str | None, dict[str, Any], int]:
        """The newest day of `owner` not warming up (else the newest at all)."""
        bad, first = 0, None
        for day, path in self._newest(folder, owner):
            try:
                data = self._cache.load(path, _json)
            except (OSError, ValueError):
                bad += 1
                continue
            first = first or (day, data)
            if not data.get("warming_up"):
                return day, data, bad
        return (first[0], first[1], bad) if first else (None, {}, bad)

    def _model(self, model: ModelSource, out: list[Sample]) -> int:
        m = (("model", model.name),)
        folder = self.home / "monitoring" / model.name
        day, drift, bad = self._judged(folder / "days", "drift")
        if day is not None:
            out.append(Sample("model_drift_share", m, float(drift.get("drift_share", 0.0))))
            out.append(Sample("model_drift_day_timestamp_seconds", m, _day_seconds(day)))
            if drift.get("score_psi") is not None:
                out.append(Sample("model_score_psi", m, float(drift["score_psi"])))
            for feature, psi in sorted((drift.get("feature_psi") or {}).items()):
                out.append(Sample("model_drift_score", (*m, ("feature", feature)), float(psi)))
            for field_name, metric in _OUTPUT_FIELDS:
                if drift.get(field_name) is not None:
                    out.append(Sample(metric, m, float(drift[field_name])))
        day, perf, bad_perf = self._judged(folder / "days", "performance")
        bad += bad_perf
        if day is not None:
            out.append(Sample("model_performance_day_timestamp_seconds", m, _day_seconds(day)))
            for metric in ("auc_pr", "roc_auc"):
                if perf.get(metric) is not None:
                    labels = (*m, ("metric", metric))
                    out.append(Sample("model_accuracy", labels, float(perf[metric])))
            if perf.get("ece") is not None:
                out.append(Sample("model_calibration_error", m, float(perf["ece"])))
            for metric in ("precision", "recall"):
                if perf.get(f"{metric}_top") is not None:
                    labels = (*m, ("metric", metric))
                    out.append(Sample("model_top_decile", labels, float(perf[f"{metric}_top"])))
        if model.auc_pr_floor is not None:
            out.append(Sample("model_accuracy_floor", m, float(model.auc_pr_floor)))
        history = folder / "retraining_history.parquet"
        if history.exists():
            try:
                rows = self._cache.load(history, _history)
            except Exception:  # a half-written or foreign parquet: counted, not fatal
                return bad + 1
            self._history_samples(model.name, rows, out)
        return bad

    def _history_samples(self, model: str, rows: list[dict[str, Any]], out: list[Sample]) -> None:
        counts: dict[tuple[str, str], int] = {}
        for row in rows:
            key = (str(row.get("trigger") or "manual"), _outcome(row))
            counts[key] = counts.get(key, 0) + 1
        for (trigger, outcome), n in sorted(counts.items()):
            labels = (("model", model), ("trigger", trigger), ("outcome", outcome))
            out.append(Sample("retraining_runs_total", labels, float(n)))
        champion = next((r for r in rows if r.get("is_champion")), None)
        if champion is None:
            return
        m = (("model", model),)
        out.append(Sample("model_champion_version", m, float(champion["version"])))
        since = champion.get("champion_since") or ""
        if since:
            age = self.clock() - dt.datetime.fromisoformat(since).timestamp()
            out.append(Sample("model_champion_age_seconds", m, max(age, 0.0)))

    def _source(self, src: DataSource, out: list[Sample]) -> int:
        labels = (("dataset", src.dataset), ("source", src.source))
        folder = status_dir(self.home, src.dataset, src.source)
        written, names = self._cache.listing(folder)
        days = [n for n in names if _STATUS_FILE.match(n)]
        if not days:
            return 0
        try:
            status = self._cache.load(folder / days[-1], _status)
        except (OSError, ValueError, TypeError):
            return 1
        # the folder changes with every write, so a backfilled old day counts as fresh data
        fresh = max(written, status.ingested_at)
        out.append(Sample("data_last_ingest_timestamp_seconds", labels, fresh))
        out.append(
            Sample("data_last_partition_timestamp_seconds", labels, _day_seconds(status.day))
        )
        out.append(Sample("data_quarantine_rate", labels, status.quarantine_rate))
        out.append(Sample("data_rows_ingested", labels, float(status.rows_in)))
        return 0

    def _cost(self, out: list[Sample]) -> int:
        """The newest `cost/<day>.json` the cost_report asset wrote."""
        from mlops_assets.core import cost

        folder = cost.cost_dir(self.home)
        _, names = self._cache.listing(folder)
        days = [n for n in names if _STATUS_FILE.match(n)]
        if not days:
            return 0
        try:
            report = self._cache.load(folder / days[-1], cost.read_day)
        except (OSError, ValueError, TypeError, KeyError):
            return 1
        out.append(Sample("mlops_cost_day_timestamp_seconds", (), _day_seconds(report.day)))
        for name, c in sorted(report.models.items()):
            m = (("model", name),)
            out.append(Sample("mlops_cost_daily", m, c.total))
            out.append(Sample("mlops_cost_month_to_date", m, c.month_to_date))
            batch, serving = (*m, ("kind", "batch")), (*m, ("kind", "serving"))
            out.append(Sample("mlops_compute_seconds", batch, c.batch_cpu_seconds))
            out.append(Sample("mlops_compute_seconds", serving, c.serving_cpu_seconds))
            if c.monthly_budget is not None:
                out.append(Sample("mlops_cost_monthly_budget", m, c.monthly_budget))
            if c.budget_ratio is not None:
                out.append(Sample("mlops_cost_budget_ratio", m, c.budget_ratio))
            if c.per_1k_predictions is not None:
                out.append(Sample("mlops_cost_per_1k_predictions", m, c.per_1k_predictions))
        return 0

    def _checks(self, out: list[Sample]) -> int:
        folder = checks_dir(self.home)
        _, names = self._cache.listing(folder)
        failing: dict[tuple[str, str], int] = {}
        bad = 0
        for name in names:
            if not name.endswith(".json") or name.startswith("."):
                continue
            try:
                status: CheckStatus = self._cache.load(folder / name, read_check_status)
            except (OSError, ValueError, TypeError):
                bad += 1
                continue
            key = (status.asset, status.severity)
            failing[key] = failing.get(key, 0) + (0 if status.passed else 1)
        for (asset, severity), n in sorted(failing.items()):
            labels = (("asset", asset), ("severity", severity))
            out.append(Sample("pipeline_failed_checks", labels, float(n)))
        return bad
