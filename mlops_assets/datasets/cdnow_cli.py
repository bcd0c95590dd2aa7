"""`mlops-assets replay-cdnow`: land CDNOW purchases (real data) into the landing zone.

Registered in `mlops_assets.cli.COMMANDS`; kept here so the command line stays one table of
subcommands and the dataset's options live with the dataset.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from mlops_assets.argtypes import within
from mlops_assets.datasets.cdnow import (
    SOURCE_DAYS,
    CdnowSourceError,
    ReplayConfig,
    ReplayMismatch,
    replay,
)

HELP = "replay the CDNOW purchases (real data, 1997-98) into the landing zone, one file per day"


_days = within(int, 1, SOURCE_DAYS, "a whole number of days")


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def configure(parser: argparse.ArgumentParser) -> None:
    defaults = ReplayConfig()
    parser.add_argument(
        "--days",
        type=_days,
        default=defaults.days,
        help=f"calendar days replayed from 1997-01-01 (1-{SOURCE_DAYS}; default: %(default)s)",
    )
    parser.add_argument(
        "--start-date",
        type=_iso_date,
        default=defaults.start_date,
        metavar="YYYY-MM-DD",
        help="the day 1997-01-01 lands on; the shift is the only change made to the data "
        "(default: the cdnow dataset's first partition, %(default)s)",
    )
    parser.add_argument(
        "--landing-dir",
        type=Path,
        default=None,
        help="where day folders go (default: $MLOPS_HOME/landing, MLOPS_HOME defaulting to .mlops)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="rewrite days whose CDNOW file already exists"
    )


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    landing_dir = args.landing_dir or Path(env.get("MLOPS_HOME", ".mlops")) / "landing"
    config = ReplayConfig(start_date=args.start_date, days=args.days)
    started = time.perf_counter()
    try:
        summary = replay(config, landing_dir, overwrite=args.overwrite, progress=_to_stderr)
    except (ReplayMismatch, CdnowSourceError) as exc:
        _to_stderr(f"mlops-assets replay-cdnow: error: {exc}")
        return 2 if isinstance(exc, ReplayMismatch) else 1
    _to_stderr(
        f"wrote {len(summary.days_written)} days ({len(summary.days_skipped)} existing skipped) "
        f"to {summary.landing_dir} in {time.perf_counter() - started:.1f}s: "
        f"{summary.rows_written:,} purchases, ${summary.amount_written:,}"
    )
    return 0


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
