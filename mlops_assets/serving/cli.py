"""`mlops-assets serve`: the prediction service on uvicorn (registered in `mlops_assets.cli`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping

from mlops_assets.argtypes import within

HELP = (
    "serve the champions (and challengers) over HTTP: ONNX scoring on online features, "
    "following the registry's aliases and deployment state without a restart"
)


_port = within(int, 1, 65535, "a port")
_seconds = within(float, 0.1, 3600.0, "seconds")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--model",
        action="append",
        metavar="NAME",
        help="serve only this model (repeatable; default: every model with a champion)",
    )
    parser.add_argument(
        "--poll-seconds",
        type=_seconds,
        default=2.0,
        help="how often the registry is re-read for alias and deployment changes (default 2)",
    )


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from mlops_assets.serving.app import ConfigError, ServiceConfig
    from mlops_assets.serving.app import run as serve

    try:
        config = ServiceConfig.from_env(
            env, models=tuple(args.model or ()), poll_seconds=args.poll_seconds
        )
    except (ConfigError, ValueError) as exc:
        print(f"mlops-assets serve: error: {exc}", file=sys.stderr)
        return 2
    serve(config, host=args.host, port=args.port)
    return 0
