"""`mlops-assets alertmanager-config` and `mlops-assets metrics` (see `mlops_assets.cli`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

from mlops_assets.argtypes import within

ALERTMANAGER_HELP = (
    "render Alertmanager's config (three tiers: critical to PagerDuty, warning to e-mail, info "
    "to Slack) from deploy/alertmanager/alertmanager.yml.tmpl and the receivers' environment "
    "variables; fails naming any that is missing"
)
METRICS_HELP = (
    "serve the platform's batch-side metrics for Prometheus (drift, performance, champion, "
    "retraining, data freshness and quarantine per model and source), read from the files "
    "the assets wrote; never opens the warehouse"
)

_port = within(int, 1, 65535, "a port")


def configure_alertmanager(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, default=None, help="file to write (default: standard output)"
    )
    parser.add_argument(
        "--template", type=Path, default=None, help="template (default: the repo's)"
    )


def run_alertmanager(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from mlops_assets.core.alerting import TEMPLATE, render_alertmanager_config

    try:
        text = render_alertmanager_config(env, args.template or TEMPLATE)
    except (ValueError, OSError) as exc:
        print(f"mlops-assets alertmanager-config: error: {exc}", file=sys.stderr)
        return 2
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text)
        args.out.chmod(0o600)  # it holds the receivers' keys
    return 0


def configure_metrics(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=9108, help="port (default 9108)")


def run_metrics(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from mlops_assets.observability.exporter import serve
    from mlops_assets.settings import Settings

    serve(Settings.from_env().home_path, host=args.host, port=args.port)
    return 0
