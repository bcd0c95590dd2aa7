"""The `mlops-assets` command line: small operator tasks that sit outside the Dagster graph.

Each subcommand is a `Command` in `COMMANDS`: a name, a function that adds its arguments to a
subparser and a function that runs it and returns an exit code. Adding one is adding an entry.
Heavy imports happen inside the run functions, and the environment is read in `main()` only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_assets import backup_cli
from mlops_assets.argtypes import within
from mlops_assets.datasets import cdnow_cli
from mlops_assets.datasets.simulator import (
    DriftSpec,
    LandingDirMismatch,
    SimulationConfig,
    SimulationSummary,
    simulate,
)
from mlops_assets.observability import cli as observability_cli
from mlops_assets.serving import cli as serve_cli
from mlops_assets.serving import replay

if TYPE_CHECKING:
    from dagster import DagsterInstance

CLI_CORRUPT_RATE = 0.001  # the demo shows a little quarantine; the library default is clean


@dataclass(frozen=True)
class Command:
    """A subcommand: `configure` adds its arguments, `run` executes it and returns an exit code."""

    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Mapping[str, str]], int]


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= `minimum`, with a message naming the value."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a number >= {minimum}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _drift(text: str) -> DriftSpec:
    try:
        return DriftSpec.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_rate = within(float, 0.0, 0.5, "a rate")


def _configure_simulate(parser: argparse.ArgumentParser) -> None:
    defaults = SimulationConfig()
    parser.add_argument("--days", type=_positive_int, default=defaults.days)
    parser.add_argument("--customers", type=_positive_int, default=defaults.customers)
    parser.add_argument("--seed", type=_non_negative_int, default=defaults.seed)
    parser.add_argument(
        "--start-date",
        type=_iso_date,
        default=defaults.start_date,
        metavar="YYYY-MM-DD",
        help="the first simulated day (default: the churn_world dataset's first partition, "
        "%(default)s)",
    )
    parser.add_argument(
        "--label-delay",
        type=_positive_int,
        default=defaults.label_delay_days,
        metavar="DAYS",
        help="days until a churn label lands (default: %(default)s)",
    )
    parser.add_argument(
        "--drift",
        type=_drift,
        action="append",
        default=[],
        metavar="KIND@DAY",
        help="switch on covariate or concept drift from a 0-based day index, i.e. from "
        "start date + DAY; e.g. covariate@60 (repeatable)",
    )
    parser.add_argument(
        "--corrupt-rate",
        type=_rate,
        default=CLI_CORRUPT_RATE,
        help="share of transaction/ticket rows to corrupt for ingest to quarantine "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--landing-dir",
        type=Path,
        default=None,
        help="where day folders go (default: $MLOPS_HOME/landing, MLOPS_HOME defaulting to .mlops)",
    )
    parser.add_argument("--overwrite", action="store_true", help="rewrite days that already exist")


def _run_simulate(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    landing_dir = args.landing_dir or Path(env.get("MLOPS_HOME", ".mlops")) / "landing"
    config = SimulationConfig(
        start_date=args.start_date,
        days=args.days,
        customers=args.customers,
        seed=args.seed,
        label_delay_days=args.label_delay,
        drifts=tuple(args.drift),
        corrupt_rate=args.corrupt_rate,
    )
    started = time.perf_counter()
    try:
        summary = simulate(config, landing_dir, overwrite=args.overwrite, progress=_to_stderr)
    except LandingDirMismatch as exc:
        _to_stderr(f"mlops-assets simulate: error: {exc}")
        return 2
    _to_stderr(_summary_line(summary, time.perf_counter() - started))
    return 0


def _summary_line(summary: SimulationSummary, seconds: float) -> str:
    rows = ", ".join(f"{count:,} {name}" for name, count in summary.rows.items())
    rate = summary.churn_positive_rate
    churn = f"{rate:.1%} churn positive rate" if rate is not None else "no labels yet"
    return (
        f"wrote {len(summary.days_written)} days ({len(summary.days_skipped)} existing skipped) "
        f"to {summary.landing_dir} in {seconds:.1f}s: {rows}; {churn}; "
        f"{summary.total_corrupted:,} corrupted rows"
    )


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


POOL_WAIT_TIMEOUT_ENV = "MLOPS_POOL_WAIT_TIMEOUT"


def _configure_materialize(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--phase",
        action="append",
        metavar="NAME",
        help="run only this phase (repeatable; default: all phases in order): data, "
        "'feature registry', 'online features', models, 'scores and drift', performance, "
        "history, cost (today's runs: cost_report); KIND:NAME for one dataset or model, e.g. "
        "data:cdnow or models:churn",
    )
    parser.add_argument(
        "--pool-wait-timeout",
        type=_non_negative_int,
        default=None,
        metavar="SECONDS",
        help="give up when a run has waited this long for a concurrency-pool slot held by "
        f"another run; 0 waits for ever (default: ${POOL_WAIT_TIMEOUT_ENV} or 1800)",
    )
    parser.add_argument(
        "--bootstrap",
        metavar="REASON",
        default=None,
        help="a model with no champion yet may be promoted on a held-out window smaller than "
        "its gate's evidence minimum (gate.min_test_rows/positives/days); REASON is recorded "
        "on the version",
    )


def _pool_wait_timeout(args: argparse.Namespace, env: Mapping[str, str]) -> float | None:
    from mlops_assets.run_recovery import DEFAULT_POOL_WAIT_TIMEOUT_SECONDS

    value = args.pool_wait_timeout
    if value is None:
        text = env.get(POOL_WAIT_TIMEOUT_ENV, "").strip()
        value = _non_negative_int(text) if text else DEFAULT_POOL_WAIT_TIMEOUT_SECONDS
    return float(value) or None


def _open_instance(progress: Callable[[str], None]) -> tuple[DagsterInstance, list[str]]:
    """The persistent instance, after runs whose process is gone are marked failed and their
    pool slots freed (`mlops_assets.run_recovery`); and the ids of the runs that changed."""
    import dagster as dg

    from mlops_assets.run_recovery import recover_dead_runs, report_unfinished_others
    from mlops_assets.runner import ensure_dagster_home
    from mlops_assets.settings import Settings

    ensure_dagster_home(Settings.from_env().home_path, progress=progress)
    instance = dg.DagsterInstance.get()
    changed = recover_dead_runs(instance, progress=progress)
    report_unfinished_others(instance, progress=progress)
    return instance, changed


def _run_materialize(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Materialize every asset for every landed day, recorded in the persistent instance."""
    import dagster as dg

    from mlops_assets.definitions import defs
    from mlops_assets.runner import materialize_everything
    from mlops_assets.settings import Settings

    try:
        timeout = _pool_wait_timeout(args, env)
    except argparse.ArgumentTypeError as exc:
        _to_stderr(f"mlops-assets materialize: error: {POOL_WAIT_TIMEOUT_ENV}: {exc}")
        return 2
    if args.bootstrap is not None and not args.bootstrap.strip():
        _to_stderr("mlops-assets materialize: error: --bootstrap needs a reason")
        return 2
    settings = Settings.from_env()
    started = time.perf_counter()
    instance, _ = _open_instance(_to_stderr)
    with instance:
        try:
            materialize_everything(
                defs(),
                settings.landing_dir,
                instance=instance,
                progress=_to_stderr,
                only=args.phase,
                pool_wait_timeout=timeout,
                bootstrap_reason=args.bootstrap,
            )
        except (RuntimeError, dg.DagsterError) as exc:
            _to_stderr(f"mlops-assets materialize: error: {exc}")
            return 1
    _to_stderr(f"everything materialized in {time.perf_counter() - started:.0f} s")
    return 0


def _run_recover(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Mark runs whose process is gone failed and free their pool slots, without running."""
    instance, changed = _open_instance(_to_stderr)
    with instance:
        if not changed:
            _to_stderr("no dead run holds a pool slot or is left unfinished")
    return 0


COMMANDS: dict[str, Command] = {
    "simulate": Command(
        help="write simulated churn data (dataset churn_world) into the landing zone, one "
        "folder per day",
        configure=_configure_simulate,
        run=_run_simulate,
    ),
    "materialize": Command(
        help="materialize every dataset for the days it has landed, then every model "
        "(ingest, dbt, features, training, scores, drift, performance)",
        configure=_configure_materialize,
        run=_run_materialize,
    ),
    "recover": Command(
        help="mark runs whose process died (killed, out of memory, reboot) failed and free "
        "their concurrency-pool slots; materialize does this first too",
        configure=lambda parser: None,
        run=_run_recover,
    ),
    "replay-cdnow": Command(help=cdnow_cli.HELP, configure=cdnow_cli.configure, run=cdnow_cli.run),
    "replay-serving": Command(help=replay.HELP, configure=replay.configure, run=replay.run),
    "serve": Command(help=serve_cli.HELP, configure=serve_cli.configure, run=serve_cli.run),
    "backup": Command(
        help=backup_cli.BACKUP_HELP,
        configure=backup_cli.configure_backup,
        run=backup_cli.run_backup,
    ),
    "restore": Command(
        help=backup_cli.RESTORE_HELP,
        configure=backup_cli.configure_restore,
        run=backup_cli.run_restore,
    ),
    "metrics": Command(
        help=observability_cli.METRICS_HELP,
        configure=observability_cli.configure_metrics,
        run=observability_cli.run_metrics,
    ),
    "alertmanager-config": Command(
        help=observability_cli.ALERTMANAGER_HELP,
        configure=observability_cli.configure_alertmanager,
        run=observability_cli.run_alertmanager,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlops-assets", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        sub = subparsers.add_parser(name, help=command.help, description=command.help)
        command.configure(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mlops-assets` console script; returns the process exit code.

    Bad arguments exit with code 2 and a message naming the argument (argparse's convention).
    """
    args = build_parser().parse_args(argv)
    # MLflow draws a tqdm bar per artifact download (a few per model run) into the run log;
    # the log already says what was loaded. A user's own setting wins.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return COMMANDS[args.command].run(args, os.environ)


if __name__ == "__main__":
    sys.exit(main())
