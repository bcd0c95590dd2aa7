"""A deterministic customer-churn simulator that writes the landing zone, one folder per day.

It exists so the whole platform (ingest, dbt, Feast, training, drift monitoring, retraining) can
run end to end on a laptop with data whose ground truth we control: churn is driven by the same
activity signals the feature mart computes, with noise, and covariate or concept drift can be
switched on from a chosen day to exercise the monitoring loop.

Grain and storage: `landing_dir/<YYYY-MM-DD>/{customers,transactions,support_tickets,
churn_labels}.csv`, written exactly to the `churn_world` dataset's contract (its YAML, loaded
through `mlops_assets.datasets.contract`: ingest reads the same file). A new day folder appears
atomically (written under a hidden `.tmp-<date>` name, then renamed), each file of an existing one
is replaced whole (`datasets.landing_writer`, which leaves other datasets' files alone), and
existing days are never touched unless `overwrite=True`. Every day draws from its own seeded
random stream and the simulation is always replayed from day 0, so a longer run extends a
shorter one byte for byte.

How churn works (the knobs live in `Dynamics`):
- each customer has a latent purchase rate (lognormal), spend level, preferred channel and
  ticket rate;
- a customer can enter a *decline*: purchases decay towards a floor and tickets rise; the
  decline ends 5-40 days later (mostly 25-40), usually in churn, sometimes in recovery (false
  positives); plan, fee, tenure and engagement move the hazard of entering one;
- a few customers churn abruptly with no warning (noise);
- churned customers never transact or open tickets again; new signups replace them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Literal, cast, get_args

import numpy as np

from mlops_assets.datasets import contract
from mlops_assets.datasets.landing_writer import day_has_files, write_day_files

# The contract is the dataset's YAML (mlops_assets/defs/datasets/churn_world/defs.yaml), the
# same one ingest validates against: the simulator writes its sources, columns and categories.
DATASET = "churn_world"
CONTRACT = contract(DATASET)
CUSTOMERS = CONTRACT.source("customers")
TRANSACTIONS = CONTRACT.source("transactions")
SUPPORT_TICKETS = CONTRACT.source("support_tickets")
CHURN_LABELS = CONTRACT.source("churn_labels")
SOURCES = CONTRACT.sources
PLANS = CUSTOMERS.column("plan").allowed or ()
REGIONS = CUSTOMERS.column("region").allowed or ()
CHANNELS = TRANSACTIONS.column("channel").allowed or ()
TICKET_CATEGORIES = SUPPORT_TICKETS.column("category").allowed or ()
PRIORITIES = SUPPORT_TICKETS.column("priority").allowed or ()

DriftKind = Literal["covariate", "concept"]
DRIFT_KINDS: tuple[str, ...] = get_args(DriftKind)
MANIFEST_NAME = ".simulator.json"  # hidden: landing-zone readers skip dot entries

_NEVER = np.iinfo(np.int32).max  # churn day of a customer who has not churned
_SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class DriftSpec:
    """A drift switched on from `start_day` (0-based index of the simulated day) onwards."""

    kind: DriftKind
    start_day: int

    def __post_init__(self) -> None:
        if self.kind not in DRIFT_KINDS:
            raise ValueError(f"unknown drift kind {self.kind!r}; expected one of {DRIFT_KINDS}")
        if self.start_day < 0:
            raise ValueError(f"drift start_day must be >= 0, got {self.start_day}")

    @classmethod
    def parse(cls, text: str) -> DriftSpec:
        """Parse `KIND@DAY`, e.g. `covariate@60`, the form the CLI takes."""
        kind, sep, day = text.strip().partition("@")
        if not sep or kind not in DRIFT_KINDS or not day.strip().isdigit():
            raise ValueError(
                f"invalid drift {text!r}: expected KIND@DAY with KIND in "
                f"{', '.join(DRIFT_KINDS)} and DAY a day index >= 0 (e.g. covariate@60)"
            )
        return cls(cast(DriftKind, kind), int(day))

    def __str__(self) -> str:
        return f"{self.kind}@{self.start_day}"


class LandingDirMismatch(ValueError):
    """The landing dir holds days of another simulated world, so extending it would mix worlds."""


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate.

    `start_date`, `customers`, `seed` and `label_delay_days` define the world: a landing dir only
    accepts more days of the same world. `days`, `drifts` and `corrupt_rate` may change between
    runs (a drift only alters the days from its `start_day`, corruption only the files written).
    """

    start_date: date = field(default_factory=lambda: CONTRACT.start_date)  # the dataset's first day
    days: int = 90
    customers: int = 5000
    seed: int = 7
    label_delay_days: int = 30
    drifts: tuple[DriftSpec, ...] = ()
    corrupt_rate: float = 0.0

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError(f"days must be >= 1, got {self.days}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if self.customers < 1:
            raise ValueError(f"customers must be >= 1, got {self.customers}")
        if self.label_delay_days < 1:
            raise ValueError(f"label_delay_days must be >= 1, got {self.label_delay_days}")
        if not 0.0 <= self.corrupt_rate <= 0.5:
            raise ValueError(f"corrupt_rate must be within [0, 0.5], got {self.corrupt_rate}")
        object.__setattr__(self, "drifts", tuple(self.drifts))

    def date_of(self, day: int) -> date:
        return self.start_date + timedelta(days=day)

    def drift_level(self, kind: DriftKind, day: int) -> int:
        """How many drifts of `kind` are active on `day` (covariate shifts compound)."""
        return sum(1 for d in self.drifts if d.kind == kind and day >= d.start_day)

    def world(self) -> dict[str, object]:
        """The settings an existing landing zone must share for an extension to be consistent."""
        return {
            "start_date": self.start_date.isoformat(),
            "customers": self.customers,
            "seed": self.seed,
            "label_delay_days": self.label_delay_days,
        }


@dataclass(frozen=True)
class SimulationSummary:
    """What one `simulate` call did. Row counts cover the days written by this call only."""

    landing_dir: Path
    days_written: tuple[date, ...]
    days_skipped: tuple[date, ...]
    rows: Mapping[str, int]  # per source, corrupted rows included
    corrupted_rows: Mapping[str, int]  # per source
    churn_positive_rate: float | None  # share of churned=1 among the label rows written
    active_customers: int  # at the end of the last simulated day

    @property
    def total_corrupted(self) -> int:
        return sum(self.corrupted_rows.values())


@dataclass(frozen=True)
class Dynamics:
    """The simulated world's constants, tuned so a default run gives a realistic churn problem.

    Tuned (and checked in tests/datasets/test_simulator.py) for: ~0.4 purchases and ~0.03 tickets
    per customer-day, a 30-day churn rate of ~13% with a stable base, an AUC-PR of ~0.8 for
    gradient boosting on the mart features with a time split, PSI > 0.2 on the spend features a
    few days into a covariate drift, and a collapse of that AUC-PR under concept drift.
    """

    signup_rate: float = 0.0042  # signups per day, as a share of the initial base
    tenure_max_days: int = 3 * 365  # oldest customers of the initial base
    tenure_mean_days: float = 330.0
    plan_probs: tuple[float, ...] = (0.5, 0.35, 0.15)
    plan_fees: tuple[float, ...] = (9.99, 19.99, 39.99)
    fee_noise: float = 1.5
    region_probs: tuple[float, ...] = (0.3, 0.25, 0.25, 0.2)
    channel_probs: tuple[float, ...] = (0.45, 0.4, 0.15)
    channel_loyalty: float = 0.75  # share of purchases on the preferred channel
    tx_rate_median: float = 0.38
    tx_rate_sigma: float = 0.55
    amount_median: float = 32.0
    amount_plan_shift: tuple[float, ...] = (-0.1, 0.0, 0.2)  # log-amount shift per plan
    amount_customer_sigma: float = 0.25
    amount_tx_sigma: float = 0.5
    ticket_rate: float = 0.01
    # Decline: hazard of entering one per day, its length, how purchases and tickets react.
    decline_hazard: float = 0.0042
    decline_len_min: int = 5
    decline_len_max: int = 40
    decline_len_beta: tuple[float, float] = (5.0, 1.0)  # skewed towards long declines
    decline_tau_days: float = 2.0  # purchases fall by 1/e every this many days, down to a floor
    decline_floor: tuple[float, float] = (0.02, 0.15)  # purchase rate left at the end
    recover_floor: tuple[float, float] = (0.15, 0.6)  # shallower declines of those who recover
    decline_ticket_boost: float = 15.0
    decline_churn_prob: float = 0.95  # the rest recover: declines that are false alarms
    abrupt_hazard: float = 0.0002  # churn with no warning at all
    plan_hazard: tuple[float, ...] = (1.15, 1.0, 0.8)
    new_customer_hazard: float = 0.6  # extra hazard at signup, fading over ~60 days
    engagement_hazard_exponent: float = -0.3
    # Covariate drift: spend and ticket levels shift, the mobile segment buys more.
    drift_amount_mult: float = 2.0
    drift_amount_mult_mobile: float = 1.5  # on top of drift_amount_mult
    drift_rate_mult_mobile: float = 1.6
    drift_ticket_mult: float = 1.5
    # Concept drift: declines mostly recover, churn becomes abrupt (same churn rate overall).
    concept_decline_churn_prob: float = 0.15
    concept_abrupt_hazard: float = 0.0042


DYNAMICS = Dynamics()

# Category and priority mix for tickets opened by customers in normal use / in a decline.
_TICKET_CATEGORY_PROBS = np.array([[0.25, 0.35, 0.2, 0.2], [0.45, 0.3, 0.15, 0.1]])
_TICKET_PRIORITY_PROBS = np.array([[0.5, 0.35, 0.15], [0.25, 0.4, 0.35]])


def _fits_contract() -> None:
    """One probability per allowed value of the contract, in its order: a category added to the
    YAML without a probability here would silently never be drawn."""
    pairs = {
        "plan_probs / customers.plan": (DYNAMICS.plan_probs, PLANS),
        "plan_fees / customers.plan": (DYNAMICS.plan_fees, PLANS),
        "region_probs / customers.region": (DYNAMICS.region_probs, REGIONS),
        "channel_probs / transactions.channel": (DYNAMICS.channel_probs, CHANNELS),
        "ticket categories / support_tickets.category": (
            _TICKET_CATEGORY_PROBS[0],
            TICKET_CATEGORIES,
        ),
        "priorities / support_tickets.priority": (_TICKET_PRIORITY_PROBS[0], PRIORITIES),
    }
    wrong = [f"{n}: {len(p)} vs {len(v)}" for n, (p, v) in pairs.items() if len(p) != len(v)]
    if wrong:
        raise ValueError(f"the simulator's dynamics do not fit the {DATASET} contract: {wrong}")


_fits_contract()

# Bad rows that ingest must quarantine; each kind breaks exactly one rule of the contract.
_CORRUPTIONS = {
    TRANSACTIONS: ("amount", "channel", "customer_id", "duplicate", "timestamp"),
    SUPPORT_TICKETS: ("category", "customer_id", "duplicate", "timestamp"),
}
_BAD_VALUES = {
    "amount": ("abc", "12..50", "1,234.5x"),
    "channel": ("fax", "kiosk", "carrier-pigeon"),
    "category": ("refund", "misc", "complaint"),
    "customer_id": ("", "", ""),
}
_BAD_TIMESTAMPS = ("not-a-timestamp", "{day} 25:61:00", "{day}T99")
_STREAM_INIT, _STREAM_BURN_IN, _STREAM_DAY, _STREAM_ACTIVITY, _STREAM_CORRUPT = 1, 2, 3, 4, 5
_DAILY_FILES = tuple(spec.file_name for spec in SOURCES if spec.required)
_BURN_IN_DAYS = 120  # three decline lengths: enough for the base to reach its steady state


def simulate(
    config: SimulationConfig,
    landing_dir: Path,
    *,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> SimulationSummary:
    """Simulate `config.days` days and write the missing day folders into `landing_dir`.

    The world is replayed from day 0 every time (it is cheap), so the days written do not
    depend on which days already existed. Raises LandingDirMismatch when `landing_dir` was
    written by a different world (seed, start date, size, label delay) and `overwrite` is False.
    """
    landing_dir = Path(landing_dir)
    landing_dir.mkdir(parents=True, exist_ok=True)
    _check_manifest(landing_dir, config, overwrite)
    population = _Population.initial(config, DYNAMICS)
    written: list[date] = []
    skipped: list[date] = []
    rows = dict.fromkeys(_source_names(), 0)
    corrupted = dict.fromkeys(_source_names(), 0)
    label_rows = label_positives = 0
    for day in range(config.days):
        out = _simulate_day(population, config, day)
        day_date = config.date_of(day)
        # this world's files, not the folder: another dataset may have landed files that day
        exists = day_has_files(landing_dir, day_date, _DAILY_FILES)
        if exists and not overwrite:
            skipped.append(day_date)
        else:
            tables, bad = _render_day(out, config, day)
            _write_day(landing_dir, day_date, tables)
            written.append(day_date)
            for name, table in tables.items():
                rows[name] += len(next(iter(table.values())))
            for name, count in bad.items():
                corrupted[name] += count
            if out.labels is not None:
                label_rows += len(out.labels.churned)
                label_positives += int(out.labels.churned.sum())
        if progress is not None and (day % 10 == 9 or day in (0, config.days - 1)):
            progress(_progress_line(config, day, out, skipped=exists and not overwrite))
    return SimulationSummary(
        landing_dir=landing_dir,
        days_written=tuple(written),
        days_skipped=tuple(skipped),
        rows=rows,
        corrupted_rows=corrupted,
        churn_positive_rate=label_positives / label_rows if label_rows else None,
        active_customers=int(population.active(config.days - 1).sum()),
    )


def _source_names() -> tuple[str, ...]:
    return tuple(spec.name for spec in SOURCES)


def _progress_line(config: SimulationConfig, day: int, out: _DayOutput, *, skipped: bool) -> str:
    line = (
        f"day {day + 1}/{config.days} {config.date_of(day).isoformat()}: "
        f"{len(out.tx_customer):,} transactions, {len(out.tk_customer):,} tickets, "
        f"{out.active_customers:,} active customers"
    )
    return line + (" (exists, skipped)" if skipped else "")


def _check_manifest(landing_dir: Path, config: SimulationConfig, overwrite: bool) -> None:
    """Refuse to extend a landing zone simulated with another world: it would not be a replay."""
    path = landing_dir / MANIFEST_NAME
    wanted = json.dumps(config.world(), sort_keys=True)
    if path.exists() and not overwrite:
        found = json.dumps(json.loads(path.read_text()), sort_keys=True)
        if found != wanted:
            raise LandingDirMismatch(
                f"{landing_dir} holds days simulated with {found}, not {wanted}: "
                "overwrite them (--overwrite) or choose another landing dir"
            )
    path.write_text(wanted + "\n")


# --------------------------------------------------------------------------------------------
# The simulated world
# --------------------------------------------------------------------------------------------


def _rng(config: SimulationConfig, *stream: int) -> np.random.Generator:
    """An independent random stream per (purpose, day, …): skipping a day never shifts another."""
    return np.random.default_rng([config.seed, *stream])


@dataclass
class _Population:
    """Every customer ever signed up, one array entry each (index i is customer C{i+1:06d})."""

    dyn: Dynamics
    signup_day: np.ndarray
    plan: np.ndarray
    region: np.ndarray
    age: np.ndarray
    fee: np.ndarray
    tx_rate: np.ndarray
    amount_mu: np.ndarray
    channel: np.ndarray
    ticket_rate: np.ndarray
    static_hazard: np.ndarray
    churn_day: np.ndarray
    in_decline: np.ndarray
    decline_start: np.ndarray
    decline_len: np.ndarray
    decline_floor: np.ndarray
    decline_will_churn: np.ndarray

    @classmethod
    def initial(cls, config: SimulationConfig, dyn: Dynamics) -> _Population:
        """The base at the start of day 0, in steady state.

        A base drawn straight from the signup distribution would hold too many risky customers
        and no declines under way, so churn would sag during the first weeks. Instead a slightly
        larger base lives through a burn-in (no files written) and `config.customers` of the
        survivors, oldest signups first, become the base.
        """
        rng = _rng(config, _STREAM_INIT)
        n = round(config.customers * 1.1) + 10
        tenure = rng.exponential(dyn.tenure_mean_days, n)
        tenure = np.minimum(tenure, dyn.tenure_max_days - _BURN_IN_DAYS)
        pop = cls.signups(dyn, rng, n, day=-_BURN_IN_DAYS)
        pop.signup_day = pop.signup_day - np.ceil(tenure).astype(np.int32)
        for day in range(-_BURN_IN_DAYS, 0):
            day_rng = _rng(config, _STREAM_BURN_IN, day + _BURN_IN_DAYS)
            active = _start_day(pop, day_rng, day, n_signups=n * dyn.signup_rate)
            _churn_at_end_of_day(pop, day_rng, day, active, concept=False)
        survivors = np.flatnonzero(pop.active(-1))
        if len(survivors) > config.customers:
            survivors = np.sort(rng.choice(survivors, config.customers, replace=False))
        return pop.take(survivors[np.argsort(pop.signup_day[survivors], kind="stable")])

    @classmethod
    def signups(cls, dyn: Dynamics, rng: np.random.Generator, n: int, day: int) -> _Population:
        """`n` new customers signing up on `day`, with their latent habits."""
        plan = rng.choice(len(PLANS), n, p=dyn.plan_probs).astype(np.int8)
        fee_mean = np.asarray(dyn.plan_fees)[plan]
        fee = np.round(np.clip(fee_mean + rng.normal(0.0, dyn.fee_noise, n), 1.0, None), 2)
        tx_rate = dyn.tx_rate_median * np.exp(rng.normal(0.0, dyn.tx_rate_sigma, n))
        amount_mu = (
            np.log(dyn.amount_median)
            + np.asarray(dyn.amount_plan_shift)[plan]
            + rng.normal(0.0, dyn.amount_customer_sigma, n)
        )
        static_hazard = (
            np.asarray(dyn.plan_hazard)[plan]
            * np.exp(0.08 * (fee - fee_mean))  # paying above the plan's list price irritates
            * (tx_rate / dyn.tx_rate_median) ** dyn.engagement_hazard_exponent
        )
        return cls(
            dyn=dyn,
            signup_day=np.full(n, day, dtype=np.int32),
            plan=plan,
            region=rng.choice(len(REGIONS), n, p=dyn.region_probs).astype(np.int8),
            age=np.clip(np.rint(rng.normal(42, 13, n)), 18, 90).astype(np.int16),
            fee=fee,
            tx_rate=tx_rate,
            amount_mu=amount_mu,
            channel=rng.choice(len(CHANNELS), n, p=dyn.channel_probs).astype(np.int8),
            ticket_rate=dyn.ticket_rate * np.exp(rng.normal(0.0, 0.5, n) - 0.125),
            static_hazard=static_hazard,
            churn_day=np.full(n, _NEVER, dtype=np.int32),
            in_decline=np.zeros(n, dtype=bool),
            decline_start=np.zeros(n, dtype=np.int32),
            decline_len=np.zeros(n, dtype=np.int32),
            decline_floor=np.ones(n),
            decline_will_churn=np.zeros(n, dtype=bool),
        )

    def _arrays(self) -> list[str]:
        return [name for name in self.__dataclass_fields__ if name != "dyn"]

    def take(self, index: np.ndarray) -> _Population:
        return _Population(self.dyn, *(getattr(self, name)[index] for name in self._arrays()))

    def append(self, other: _Population) -> None:
        for name in self._arrays():
            setattr(self, name, np.concatenate([getattr(self, name), getattr(other, name)]))

    def __len__(self) -> int:
        return len(self.signup_day)

    def active(self, day: int) -> np.ndarray:
        """Signed up by `day` and not churned by the end of `day`."""
        return (self.signup_day <= day) & (self.churn_day > day)

    def decline_hazard(self, day: int) -> np.ndarray:
        """Daily chance of entering a decline: plan, fee, engagement and a new-customer bump."""
        tenure = day - self.signup_day
        bump = 1.0 + self.dyn.new_customer_hazard * np.exp(-tenure / 60.0)
        return self.dyn.decline_hazard * self.static_hazard * bump

    def activity(self, day: int) -> np.ndarray:
        """Purchase-rate multiplier: 1 in normal use, sinking fast to a floor in a decline."""
        elapsed = (day - self.decline_start).astype(float)
        decay = np.exp(-elapsed / self.dyn.decline_tau_days)
        return np.where(self.in_decline, self.decline_floor + (1 - self.decline_floor) * decay, 1.0)


@dataclass
class _DayOutput:
    """One simulated day, as arrays (rendered to CSV only for the days actually written)."""

    population: _Population
    new_customers: np.ndarray  # indices of the customers listed in customers.csv
    tx_customer: np.ndarray
    tx_seconds: np.ndarray
    tx_amount: np.ndarray
    tx_channel: np.ndarray
    tk_customer: np.ndarray
    tk_seconds: np.ndarray
    tk_category: np.ndarray
    tk_priority: np.ndarray
    labels: _Labels | None
    active_customers: int


def _simulate_day(pop: _Population, config: SimulationConfig, day: int) -> _DayOutput:
    """Advance the world by one day and draw what customers did, vectorised over customers.

    The world's state (signups, declines, churn) and the activity it shows (purchases, tickets)
    draw from separate streams, so a covariate drift changes what is observed but not who
    churns: customers and labels stay identical to the undrifted run.
    """
    state_rng = _rng(config, _STREAM_DAY, day)
    first_new = 0 if day == 0 else len(pop)  # day 0's file also carries the initial base
    active = _start_day(pop, state_rng, day, n_signups=config.customers * pop.dyn.signup_rate)
    activity_rng = _rng(config, _STREAM_ACTIVITY, day)
    activity = _draw_activity(pop, activity_rng, day, active, config.drift_level("covariate", day))
    concept = config.drift_level("concept", day) > 0
    _churn_at_end_of_day(pop, state_rng, day, active, concept=concept)
    return _DayOutput(
        population=pop,
        new_customers=np.arange(first_new, len(pop)),
        **activity,
        labels=_labels(pop, config, day),
    )


def _start_day(
    pop: _Population, rng: np.random.Generator, day: int, n_signups: float
) -> np.ndarray:
    """The morning of `day`: signups arrive and some customers start a decline. Returns who is
    active (signed up, not churned)."""
    pop.append(_Population.signups(pop.dyn, rng, int(rng.poisson(n_signups)), day))
    active = pop.active(day)
    enter = active & ~pop.in_decline & (rng.random(len(pop)) < pop.decline_hazard(day))
    _start_declines(pop, rng, enter, day)
    return active


def _start_declines(
    pop: _Population, rng: np.random.Generator, enter: np.ndarray, day: int
) -> None:
    """Draw each new decline's length and fate; those who will recover sink less deep."""
    dyn, k = pop.dyn, int(enter.sum())
    will_churn = rng.random(k) < dyn.decline_churn_prob
    floor = np.where(
        will_churn, rng.uniform(*dyn.decline_floor, k), rng.uniform(*dyn.recover_floor, k)
    )
    span = dyn.decline_len_max - dyn.decline_len_min
    pop.in_decline[enter] = True
    pop.decline_start[enter] = day
    pop.decline_len[enter] = dyn.decline_len_min + np.rint(
        span * rng.beta(*dyn.decline_len_beta, k)
    )
    pop.decline_will_churn[enter] = will_churn
    pop.decline_floor[enter] = floor


def _draw_activity(
    pop: _Population, rng: np.random.Generator, day: int, active: np.ndarray, covariate: int
) -> dict[str, np.ndarray | int]:
    """Purchases and tickets of the day; a covariate drift scales spend, rates and tickets."""
    dyn, n = pop.dyn, len(pop)
    activity = pop.activity(day)
    mobile = pop.channel == CHANNELS.index("mobile")
    rate = pop.tx_rate * activity * np.where(mobile, dyn.drift_rate_mult_mobile**covariate, 1.0)
    tx_counts = np.where(active, rng.poisson(rate), 0)
    ticket_rate = pop.ticket_rate * (1 + dyn.decline_ticket_boost * (1 - activity))
    tk_counts = np.where(active, rng.poisson(ticket_rate * dyn.drift_ticket_mult**covariate), 0)

    tx_customer = np.repeat(np.arange(n), tx_counts)
    n_tx = len(tx_customer)
    amount_mult = dyn.drift_amount_mult * np.where(mobile, dyn.drift_amount_mult_mobile, 1.0)
    log_amount = pop.amount_mu[tx_customer] + rng.normal(0.0, dyn.amount_tx_sigma, n_tx)
    amount = np.exp(log_amount) * amount_mult[tx_customer] ** covariate
    loyal = rng.random(n_tx) < dyn.channel_loyalty
    channel = np.where(loyal, pop.channel[tx_customer], rng.integers(0, len(CHANNELS), n_tx))

    tk_customer = np.repeat(np.arange(n), tk_counts)
    declining = pop.in_decline[tk_customer].astype(int)
    return {
        "tx_customer": tx_customer,
        "tx_seconds": rng.integers(0, _SECONDS_PER_DAY, n_tx),
        "tx_amount": np.clip(np.round(amount, 2), 0.01, 100_000),
        "tx_channel": channel,
        "tk_customer": tk_customer,
        "tk_seconds": rng.integers(0, _SECONDS_PER_DAY, len(tk_customer)),
        "tk_category": _draw_categorical(rng, _TICKET_CATEGORY_PROBS[declining]),
        "tk_priority": _draw_categorical(rng, _TICKET_PRIORITY_PROBS[declining]),
        "active_customers": int(active.sum()),
    }


def _churn_at_end_of_day(
    pop: _Population, rng: np.random.Generator, day: int, active: np.ndarray, *, concept: bool
) -> None:
    """Declines that reach their end churn or recover; a few others churn abruptly.

    Under concept drift a decline's fate no longer follows its shape: most recover, and the
    churn moves to abrupt, unsignalled departures (the overall churn rate stays about the same).
    """
    dyn, n = pop.dyn, len(pop)
    ending = active & pop.in_decline & (day - pop.decline_start >= pop.decline_len)
    concept_churn = rng.random(n) < dyn.concept_decline_churn_prob
    abrupt = rng.random(n) < (dyn.concept_abrupt_hazard if concept else dyn.abrupt_hazard)
    churns = ending & (concept_churn if concept else pop.decline_will_churn)
    churns |= active & ~pop.in_decline & abrupt
    pop.in_decline &= ~ending
    pop.churn_day[churns] = day


@dataclass(frozen=True)
class _Labels:
    date: date  # the observation date O
    customer: np.ndarray
    churned: np.ndarray


def _labels(pop: _Population, config: SimulationConfig, day: int) -> _Labels | None:
    """Labels landing on `day`: customers active at the end of O = day - delay, and whether they
    churned in (O, day]."""
    observed = day - config.label_delay_days
    if observed < 0:
        return None
    who = np.flatnonzero(pop.active(observed))
    churned = (pop.churn_day[who] <= day).astype(np.int8)
    return _Labels(config.date_of(observed), who, churned)


def _draw_categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of a (rows x categories) probability table."""
    u = rng.random(len(probs))
    return (u[:, None] > np.cumsum(probs, axis=1)[:, :-1]).sum(axis=1)


# --------------------------------------------------------------------------------------------
# Rendering to the landing-zone contract
# --------------------------------------------------------------------------------------------


_Table = dict[str, np.ndarray]  # one file: column name -> values, in contract column order


def _padded(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """`prefix` + zero-padded numbers."""
    if len(numbers) == 0:  # np.char functions fail on empty arrays
        return np.array([], dtype=str)
    return np.char.add(prefix, np.char.zfill(numbers.astype(str), width))


def _customer_ids(index: np.ndarray) -> np.ndarray:
    return _padded("C", index + 1, 6)


def _sequence_ids(prefix: str, n: int, width: int) -> np.ndarray:
    return _padded(prefix, np.arange(1, n + 1), width)


def _iso_timestamps(day_date: date, seconds: np.ndarray) -> np.ndarray:
    if len(seconds) == 0:  # np.char functions fail on empty arrays
        return np.array([], dtype=str)
    stamps = np.datetime64(day_date.isoformat(), "s") + seconds.astype("timedelta64[s]")
    return np.char.replace(np.datetime_as_string(stamps, unit="s"), "T", " ")


def _iso_dates(config: SimulationConfig, days: np.ndarray) -> np.ndarray:
    dates = np.datetime64(config.start_date.isoformat(), "D") + days.astype("timedelta64[D]")
    return np.datetime_as_string(dates, unit="D")


def _money(values: np.ndarray) -> np.ndarray:
    return np.char.mod("%.2f", values) if len(values) else np.array([], dtype=str)


def _render_day(
    out: _DayOutput, config: SimulationConfig, day: int
) -> tuple[dict[str, _Table], dict[str, int]]:
    """The day's files as string columns in contract order, plus corrupted-row counts."""
    pop, day_date = out.population, config.date_of(day)
    stamp = day_date.strftime("%Y%m%d")
    new = out.new_customers
    tables: dict[str, _Table] = {
        CUSTOMERS.name: {
            "customer_id": _customer_ids(new),
            "signup_date": _iso_dates(config, pop.signup_day[new]),
            "plan": np.asarray(PLANS)[pop.plan[new]],
            "region": np.asarray(REGIONS)[pop.region[new]],
            "age": pop.age[new],
            "monthly_fee": _money(pop.fee[new]),
        }
    }
    order = np.argsort(out.tx_seconds, kind="stable")
    tables[TRANSACTIONS.name] = {
        "transaction_id": _sequence_ids(f"T{stamp}-", len(order), 6),
        "customer_id": _customer_ids(out.tx_customer[order]),
        "transaction_ts": _iso_timestamps(day_date, out.tx_seconds[order]),
        "amount": _money(out.tx_amount[order]),
        "channel": np.asarray(CHANNELS)[out.tx_channel[order]],
    }
    order = np.argsort(out.tk_seconds, kind="stable")
    tables[SUPPORT_TICKETS.name] = {
        "ticket_id": _sequence_ids(f"K{stamp}-", len(order), 5),
        "customer_id": _customer_ids(out.tk_customer[order]),
        "created_ts": _iso_timestamps(day_date, out.tk_seconds[order]),
        "category": np.asarray(TICKET_CATEGORIES)[out.tk_category[order]],
        "priority": np.asarray(PRIORITIES)[out.tk_priority[order]],
    }
    if out.labels is not None:
        tables[CHURN_LABELS.name] = {
            "customer_id": _customer_ids(out.labels.customer),
            "observation_date": np.full(len(out.labels.customer), out.labels.date.isoformat()),
            "churned": out.labels.churned,
        }
    corrupted = dict.fromkeys(_source_names(), 0)
    for stream, (spec, kinds) in enumerate(_CORRUPTIONS.items()):
        if config.corrupt_rate > 0:
            rng = _rng(config, _STREAM_CORRUPT, day, stream)
            tables[spec.name], corrupted[spec.name] = _corrupt(
                tables[spec.name], kinds, rng, config.corrupt_rate, day_date
            )
    for spec in SOURCES:
        if spec.name in tables and tuple(tables[spec.name]) != spec.column_names:
            raise AssertionError(
                f"{spec.name}: columns {tuple(tables[spec.name])} break the contract"
            )
    return tables, corrupted


def _corrupt(
    table: _Table,
    kinds: tuple[str, ...],
    rng: np.random.Generator,
    rate: float,
    day_date: date,
) -> tuple[_Table, int]:
    """Break a deterministic `rate` share of rows, each in exactly one way ingest must catch.

    Corruption happens after the clean day is drawn, from its own random stream, so every row
    that is not corrupted is identical to the clean run. A duplicate is an extra copy placed right
    after its original (the copy is the bad row); the other kinds edit the row in place.
    """
    n_rows = len(next(iter(table.values())))
    n_bad = int(rng.binomial(n_rows, rate)) if n_rows else 0
    if n_bad == 0:
        return table, 0
    rows = np.sort(rng.choice(n_rows, n_bad, replace=False))
    kind_of = np.asarray(kinds)[rng.integers(0, len(kinds), n_bad)]
    variant = rng.integers(0, 3, n_bad)
    table = {name: values.astype(object) for name, values in table.items()}
    timestamp_column = list(table)[2]
    for row, kind, k in zip(rows, kind_of, variant, strict=True):
        if kind == "timestamp":
            table[timestamp_column][row] = _BAD_TIMESTAMPS[k].format(day=day_date.isoformat())
        elif kind != "duplicate":
            table[kind][row] = _BAD_VALUES[kind][k]
    copies = rows[kind_of == "duplicate"]
    order = np.argsort(np.concatenate([np.arange(n_rows), copies + 0.5]), kind="stable")
    return {
        name: np.concatenate([values, values[copies]])[order] for name, values in table.items()
    }, n_bad


def _write_day(landing_dir: Path, day_date: date, tables: dict[str, _Table]) -> None:
    """The day's files, each appearing whole (`datasets.landing_writer`); files of another
    dataset in the same day folder are left alone, an old labels file of this world is not."""
    files = {f"{name}.csv": table for name, table in tables.items()}
    write_day_files(landing_dir, day_date, files, stale=[spec.file_name for spec in SOURCES])


__all__ = [
    "DRIFT_KINDS",
    "DYNAMICS",
    "MANIFEST_NAME",
    "DriftKind",
    "DriftSpec",
    "Dynamics",
    "LandingDirMismatch",
    "SimulationConfig",
    "SimulationSummary",
    "simulate",
]
