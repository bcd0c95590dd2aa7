"""What a day of the platform cost, per model, per run and per 1,000 predictions; and how the
month so far compares with each model's budget.

What is measured (and what it stands for):
- batch compute: the wall time of each run step from Dagster's step stats. Steps run one at a
  time on one core (the in-process executor), so a step's wall time is the CPU time billed
  for the core it holds: `cpu_seconds = wall_seconds` (an upper bound of the CPU it used);
- serving compute: the prediction log's request latency (`latency_ms`, once per request): the
  scoring handler is CPU-bound and runs on the event loop, so its time is CPU time;
- storage: bytes under the model's folders of the data home, priced per GB-month and
  charged per day (price × GB / days in the month).
A step or folder not prefixed by a model (`<model>__…`, `<model>/…`) is the shared platform's.
Prices come from `Settings`, budgets from each model's YAML (`cost.monthly_budget`).
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PLATFORM = "platform"  # what no single model owns: ingest, dbt, the Feast registry
WARN_RATIOS = (1.1, 1.25)  # +10 %, +25 %: warn
FAIL_RATIO = 1.5  # +50 %: fail


@dataclass(frozen=True)
class Prices:
    cpu_hour: float
    gb_month: float

    def __post_init__(self) -> None:
        if self.cpu_hour < 0 or self.gb_month < 0:
            raise ValueError("prices must be ≥ 0")


@dataclass(frozen=True)
class StepUsage:
    run_id: str
    step: str
    wall_seconds: float


@dataclass(frozen=True)
class ServingUsage:
    cpu_seconds: float
    predictions: int


@dataclass
class ModelCost:
    model: str
    batch_cpu_seconds: float = 0.0
    serving_cpu_seconds: float = 0.0
    storage_gb: float = 0.0
    predictions: int = 0
    compute_cost: float = 0.0
    storage_cost: float = 0.0
    total: float = 0.0
    per_1k_predictions: float | None = None
    month_to_date: float = 0.0
    monthly_budget: float | None = None
    budget_ratio: float | None = None  # month-to-date / budget prorated to this day


@dataclass
class DayCost:
    day: str
    models: dict[str, ModelCost]
    runs: dict[str, dict[str, float]]  # run id -> {wall_seconds, cpu_seconds, cost, steps}
    steps: dict[str, dict[str, float]] = field(default_factory=dict)  # step -> seconds, cost
    prices: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def owner(name: str, models: Sequence[str]) -> str:
    """The model a step (`<model>__…`) or asset key (`<model>/…`) belongs to."""
    for m in sorted(models, key=len, reverse=True):
        if name.startswith((f"{m}__", f"{m}/")):
            return m
    return PLATFORM


def serving_usage(records: Iterable[Mapping[str, Any]]) -> ServingUsage:
    """CPU seconds and answered predictions of a day's prediction-log records: a request's
    rows share its timestamp and latency, so each request's latency counts once."""
    requests: dict[tuple[str, float], None] = {}
    answered = 0
    for r in records:
        if not r.get("served") or r.get("latency_ms") is None:
            continue
        answered += 1
        requests[(str(r.get("ts")), float(r["latency_ms"]))] = None
    return ServingUsage(sum(lat for _, lat in requests) / 1000.0, answered)


def days_in_month(day: dt.date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def day_cost(
    day: dt.date,
    models: Sequence[str],
    steps: Sequence[StepUsage],
    serving: Mapping[str, ServingUsage],
    storage_bytes: Mapping[str, int],
    prices: Prices,
) -> DayCost:
    """The day's cost per model (and the platform), per run and per step."""
    cpu_price = prices.cpu_hour / 3600.0
    storage_price = prices.gb_month / days_in_month(day)
    costs = {m: ModelCost(m) for m in [*models, PLATFORM]}
    runs: dict[str, dict[str, float]] = {}
    per_step: dict[str, dict[str, float]] = {}
    for s in steps:
        c = costs[owner(s.step, models)]
        c.batch_cpu_seconds += s.wall_seconds
        run = runs.setdefault(s.run_id, {"cpu_seconds": 0.0, "cost": 0.0, "steps": 0})
        run["cpu_seconds"] += s.wall_seconds
        run["cost"] += s.wall_seconds * cpu_price
        run["steps"] += 1
        step = per_step.setdefault(s.step, {"cpu_seconds": 0.0, "cost": 0.0})
        step["cpu_seconds"] += s.wall_seconds
        step["cost"] += s.wall_seconds * cpu_price
    for name, usage in serving.items():
        c = costs[owner(f"{name}/", models)]
        c.serving_cpu_seconds += usage.cpu_seconds
        c.predictions += usage.predictions
    for name, size in storage_bytes.items():
        costs[owner(f"{name}/", models)].storage_gb += size / 1e9
    for c in costs.values():
        serving_cost = c.serving_cpu_seconds * cpu_price
        c.compute_cost = (c.batch_cpu_seconds * cpu_price) + serving_cost
        c.storage_cost = c.storage_gb * storage_price
        c.total = c.compute_cost + c.storage_cost
        if c.predictions:
            c.per_1k_predictions = serving_cost / c.predictions * 1000
    return DayCost(day.isoformat(), costs, runs, per_step, asdict(prices))


def apply_budgets(
    today: DayCost, earlier_this_month: Iterable[DayCost], budgets: Mapping[str, float | None]
) -> None:
    """Month-to-date cost and its ratio to the budget prorated to this day, per model."""
    day = dt.date.fromisoformat(today.day)
    totals = {m: c.total for m, c in today.models.items()}
    for past in earlier_this_month:
        past_day = dt.date.fromisoformat(past.day)
        if (past_day.year, past_day.month) != (day.year, day.month) or past_day >= day:
            continue
        for m, c in past.models.items():
            if m in totals:
                totals[m] += c.total
    share = day.day / days_in_month(day)
    for m, c in today.models.items():
        c.month_to_date = totals[m]
        budget = budgets.get(m)
        c.monthly_budget = budget
        c.budget_ratio = totals[m] / (budget * share) if budget else None


def budget_level(ratio: float | None) -> str:
    """ok, warn (over +10 % or +25 %) or fail (over +50 %)."""
    if ratio is None or ratio <= WARN_RATIOS[0]:
        return "ok"
    return "fail" if ratio > FAIL_RATIO else "warn"


def monthly_trend(days: Iterable[DayCost]) -> dict[str, dict[str, float]]:
    """Total cost per month (YYYY-MM) per model."""
    out: dict[str, dict[str, float]] = {}
    for d in days:
        month = d.day[:7]
        for m, c in d.models.items():
            out.setdefault(month, {}).setdefault(m, 0.0)
            out[month][m] += c.total
    return dict(sorted(out.items()))


# ------------------------------------------------------------------------------ the files


def cost_dir(home: Path) -> Path:
    return Path(home) / "cost"


def write_day(home: Path, report: DayCost) -> Path:
    """`cost/<day>.json`, written atomically (the exporter may read it at any moment)."""
    dt.date.fromisoformat(report.day)  # a day, never a path
    folder = cost_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{report.day}.json"
    tmp = folder / f".{report.day}.{os.getpid()}.tmp"
    tmp.write_text(report.to_json())
    os.replace(tmp, path)
    return path


def read_day(path: Path) -> DayCost:
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    models = {m: ModelCost(**c) for m, c in data["models"].items()}
    return DayCost(data["day"], models, data["runs"], data.get("steps", {}), data.get("prices", {}))


def read_days(home: Path) -> list[DayCost]:
    folder = cost_dir(home)
    if not folder.is_dir():
        return []
    return [read_day(p) for p in sorted(folder.glob("[0-9]*.json"))]


def folder_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                continue
    return total
