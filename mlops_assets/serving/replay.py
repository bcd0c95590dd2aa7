"""`mlops-assets replay-serving`: send a simulated world's days through a live prediction server.

For each day, the model's scored population (the same rows the batch scores read,
`monitoring.population_features`) is sent as requests: the entity ids, their features as of
that day, and `as_of` = the day. So the server routes each entity to its sticky variant,
answers, and logs every answer for that day; once the labels of those days are in the
warehouse (30 days later in the churn world), `<model>/prediction_log` and `<model>/ab_test`
decide the A/B test exactly as they would on live traffic.

The server is reached over HTTP only (urllib, no extra client), with `MLOPS_PREDICT_TOKEN` as
the bearer token when set. The warehouse is opened read-only: no run may hold its write lock.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import re
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mlops_assets.argtypes import within

HELP = (
    "replay days of a simulated world through a running prediction server (each day's "
    "population with its features, as of that day), e.g. to run an A/B test on the simulator"
)
BATCH = 500


class ReplayError(RuntimeError):
    """The replay cannot go on (server error, unknown model, no data for a day)."""


@dataclasses.dataclass
class ReplayStats:
    days: int = 0
    requests: int = 0
    answers: Counter = dataclasses.field(default_factory=Counter)  # by variant
    seconds: float = 0.0


def _post(url: str, body: Mapping[str, Any], token: str | None, timeout: float = 60) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as err:
        detail = err.read().decode(errors="replace")[:500]
        raise ReplayError(f"POST {url}: HTTP {err.code}: {detail}") from err
    except urllib.error.URLError as err:
        raise ReplayError(f"POST {url}: {err.reason} (is `mlops-assets serve` running?)") from err


def _served_inputs(tracking_uri: str, model: str):
    """The inputs of every version the model's deployment may answer with (champion and, when
    the split uses it, challenger): the replay sends the union of their features."""
    from mlops_assets.core import registry
    from mlops_assets.core.deployment import DeploymentState
    from mlops_assets.core.model_inputs import MLFLOW_TAG, ModelInputs

    target = registry.serving_target(tracking_uri, model)
    if target.champion is None:
        raise ReplayError(f"{model} has no champion: nothing is served")
    versions = [target.champion]
    if DeploymentState.from_json(target.deployment).uses_challenger and target.challenger:
        versions.append(target.challenger)
    out = []
    for version in versions:
        raw = registry.version_info(tracking_uri, model, version)["tags"].get(MLFLOW_TAG)
        if not raw:
            raise ReplayError(f"{model} v{version} does not record its model inputs")
        out.append(ModelInputs.from_json(raw))
    return out


def replay(
    *,
    model: str,
    url: str,
    home: Path,
    tracking_uri: str,
    first: dt.date,
    last: dt.date,
    token: str | None = None,
    batch: int = BATCH,
    progress: Callable[[str], None] = print,
) -> ReplayStats:
    """Send each day of [first, last] through the server at `url`; returns what was answered."""
    import duckdb

    from mlops_assets.components.model_pipeline.monitoring import population_features
    from mlops_assets.components.model_pipeline.spec import MODELS_DIR, NAME_PATTERN, load_spec
    from mlops_assets.core.feature_store import open_store

    if not url.startswith(("http://", "https://")):
        raise ReplayError(f"--url must be an http(s) address, got {url!r}")
    if not re.fullmatch(NAME_PATTERN, model):
        raise ReplayError(f"--model {model!r} is not a model name ({NAME_PATTERN})")
    spec_path = MODELS_DIR / model / "defs.yaml"
    if not spec_path.is_file():
        raise ReplayError(f"unknown model {model!r} (no {spec_path})")
    spec = load_spec(spec_path)
    if last < first:
        raise ReplayError(f"--end {last} is before --start {first}")
    inputs = _served_inputs(tracking_uri, model)
    features = list(dict.fromkeys(f for i in inputs for f in i.features))
    store = open_store(home)
    endpoint = f"{url.rstrip('/')}/v1/models/{model}/predict"
    stats, started = ReplayStats(), time.perf_counter()
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        for n in range((last - first).days + 1):
            day = first + dt.timedelta(days=n)
            tick = time.perf_counter()
            frames = []
            for service in dict.fromkeys(i.feature_service for i in inputs):
                wanted = next(i for i in inputs if i.feature_service == service)
                try:
                    frames.append(population_features(con, store, spec, wanted, [day]))
                except ValueError as err:
                    raise ReplayError(f"{model} {day}: {err}") from err
            frame = frames[0]
            for other in frames[1:]:
                frame = frame.merge(
                    other, on=[spec.entity.join_key, "score_date"], suffixes=("", "_dup")
                )
            ids = frame[spec.entity.join_key].astype(str).tolist()
            values = frame[features].astype("float64")
            rows = [
                {f: (None if v != v else float(v)) for f, v in zip(features, r, strict=True)}
                for r in values.itertuples(index=False)
            ]
            day_answers: Counter = Counter()
            for k in range(0, len(ids), batch):
                body = {"ids": ids[k : k + batch], "instances": rows[k : k + batch]}
                answer = _post(endpoint, {**body, "as_of": day.isoformat()}, token)
                day_answers.update(p["variant"] for p in answer["predictions"])
                stats.requests += 1
            stats.days += 1
            stats.answers.update(day_answers)
            split = ", ".join(f"{v} {c}" for v, c in sorted(day_answers.items()))
            progress(f"{day}: {len(ids)} entities ({split}) in {time.perf_counter() - tick:.1f} s")
    stats.seconds = time.perf_counter() - started
    return stats


_date = dt.date.fromisoformat
_batch = within(int, 1, 1000, "a batch size")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="the model to send requests for")
    parser.add_argument("--start", type=_date, required=True, help="first day (YYYY-MM-DD)")
    parser.add_argument("--end", type=_date, help="last day (default: --start)")
    parser.add_argument(
        "--url", default="http://127.0.0.1:8000", help="the server (default http://127.0.0.1:8000)"
    )
    parser.add_argument("--batch", type=_batch, default=BATCH, help=f"ids per request ({BATCH})")


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from mlops_assets.core.registry import local_tracking_uri
    from mlops_assets.settings import Settings

    home = Settings.from_env().home_path
    try:
        stats = replay(
            model=args.model,
            url=args.url,
            home=home,
            tracking_uri=env.get("MLFLOW_TRACKING_URI") or local_tracking_uri(home),
            first=args.start,
            last=args.end or args.start,
            token=env.get("MLOPS_PREDICT_TOKEN") or None,
            batch=args.batch,
        )
    except ReplayError as err:
        print(f"mlops-assets replay-serving: error: {err}", file=sys.stderr)
        return 1
    total = sum(stats.answers.values())
    split = ", ".join(f"{v} {c}" for v, c in sorted(stats.answers.items()))
    print(
        f"replayed {stats.days} day(s): {total} answers ({split}) in {stats.requests} requests, "
        f"{stats.seconds:.1f} s"
    )
    return 0
