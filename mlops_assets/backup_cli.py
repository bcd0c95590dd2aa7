"""`mlops-assets backup` and `mlops-assets restore` (registered in `mlops_assets.cli`).

Both work on the data home (`MLOPS_HOME`), which holds the Dagster instance too (`DAGSTER_HOME`
defaults to `<home>/dagster`; one set elsewhere is refused, since it would not be restored)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from mlops_assets.argtypes import within

BACKUP_HELP = (
    "write a consistent, checksummed snapshot of the data home (MLflow registry and artifacts, "
    "Feast registry and online store, DuckDB warehouse, Dagster instance, landing zone, "
    "configuration) to a new directory"
)
RESTORE_HELP = (
    "bring the data home back from a snapshot (verified first, restored into a temporary "
    "directory and swapped in at the end); --verify only checks the snapshot"
)
BACKUP_DIR_ENV = "MLOPS_BACKUP_DIR"
PROJECT_ROOT = Path(__file__).resolve().parents[1]

_seconds = within(float, 0.0, 86400.0, "seconds")


def configure_backup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--to",
        default=None,
        metavar="DIR|s3://BUCKET/PREFIX",
        help=f"a new (or empty) directory or S3 prefix for the snapshot (default: "
        f"${BACKUP_DIR_ENV}/<UTC timestamp>)",
    )
    parser.add_argument(
        "--lock-timeout",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="how long to wait for a run that is writing the DuckDB warehouse (default 300)",
    )


def configure_restore(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="source", required=True, metavar="DIR|s3://BUCKET/PREFIX")
    parser.add_argument(
        "--verify",
        action="store_true",
        help="only check the snapshot (every file against its sha256 in the manifest)",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace a data home that is not empty"
    )


def _fail(command: str, message: str, code: int = 1) -> int:
    print(f"mlops-assets {command}: error: {message}", file=sys.stderr, flush=True)
    return code


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _home(env: Mapping[str, str]) -> Path:
    """The data home, after checking that the whole state lives in it: the local profile, and
    the Dagster instance inside it."""
    from mlops_assets.profile import deployment_env, mlops_home

    if deployment_env() == "prod":
        raise ValueError(
            "MLOPS_ENV=prod keeps the instance, registry and feature store on Postgres, S3 and "
            "Redis, which this command does not copy: back those up with pg_dump and S3 "
            "versioning (backup/restore cover the local profile's data home)"
        )
    home = mlops_home()
    dagster_home = env.get("DAGSTER_HOME")
    if dagster_home and not Path(dagster_home).resolve().is_relative_to(home):
        raise ValueError(
            f"DAGSTER_HOME={dagster_home} is outside the data home {home}: the Dagster instance "
            "would be left out; unset DAGSTER_HOME (default <home>/dagster) or move it inside"
        )
    return home


def run_backup(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from mlops_assets.core.backup import BackupError, take_snapshot
    from mlops_assets.core.backup.s3 import is_s3, parse_s3_uri, upload_snapshot
    from mlops_assets.core.backup.snapshot import project_config_files
    from mlops_assets.resources.model_registry import code_version

    target = args.to
    if target is None:
        base = env.get(BACKUP_DIR_ENV, "").strip()
        if not base:
            return _fail("backup", f"give --to DIR or set {BACKUP_DIR_ENV}", 2)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        target = f"{base.rstrip('/')}/{stamp}"
    try:
        home = _home(env)
        with tempfile.TemporaryDirectory(prefix="mlops-backup-") as scratch:
            if is_s3(target):
                parse_s3_uri(target)  # a bad URI fails before any copy
            local = Path(scratch) / "snapshot" if is_s3(target) else Path(target)
            report = take_snapshot(
                home,
                local,
                code_version=code_version(),
                config_files=project_config_files(PROJECT_ROOT),
                lock_timeout=args.lock_timeout,
                progress=_say,
            )
            if is_s3(target):
                upload_snapshot(local, target)
    except (BackupError, ValueError) as exc:
        return _fail("backup", str(exc))
    skipped = f", {len(report.manifest.skipped)} skipped" if report.manifest.skipped else ""
    _say(
        f"backup of {home} written to {target}: {len(report.manifest.files)} files, "
        f"{report.total_bytes / 1e6:.1f} MB{skipped}, in {report.seconds:.1f} s"
    )
    return 0


def run_restore(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from mlops_assets.core.backup import BackupError
    from mlops_assets.core.backup.s3 import download_snapshot, is_s3

    with tempfile.TemporaryDirectory(prefix="mlops-restore-") as scratch:
        try:
            source = (
                download_snapshot(args.source, Path(scratch) / "snapshot")
                if is_s3(args.source)
                else Path(args.source)
            )
        except (BackupError, ValueError) as exc:
            return _fail("restore", str(exc))
        return _restore(args, env, source)


def _restore(args: argparse.Namespace, env: Mapping[str, str], source: Path) -> int:
    from mlops_assets.core.backup import BackupError, restore_snapshot, verify_snapshot

    try:
        if args.verify:
            manifest = verify_snapshot(source)
            _say(
                f"{args.source}: ok, {len(manifest.files)} files match their sha256 "
                f"(format version {manifest.format_version}, taken {manifest.created_at} of "
                f"{manifest.source_home}, code {manifest.code_version})"
            )
            return 0
        report = restore_snapshot(source, _home(env), force=args.force, project_root=PROJECT_ROOT)
    except (BackupError, ValueError) as exc:
        return _fail("restore", str(exc))
    for name in report.config_differences:
        _say(
            f"note: {name} differs from the snapshot's copy (code "
            f"{report.manifest.code_version}); the snapshot keeps it under config/"
        )
    _say(
        f"restored {report.home} from {args.source} ({len(report.manifest.files)} files, taken "
        f"{report.manifest.created_at}) in {report.seconds:.1f} s"
    )
    return 0
