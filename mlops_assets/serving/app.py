"""The prediction service: champions (and challengers) as ONNX, features from the online store.

`mlops-assets serve` runs `create_app(ServiceConfig.from_env(...))` on uvicorn. Endpoints:

* `GET /healthz` (the process answers) and `GET /readyz` (every model has a loaded champion);
* `GET /v1/models`: models, versions, aliases, deployment state, the last load error;
* `POST /v1/models/{model}/predict` with `{"ids": [...]}` (features read from the online store)
  or `{"instances": [{feature: value, ...}]}` (checked against the model's inputs), or both
  (the caller's features for those entities: a replay); `as_of` (a date, default today) is the
  day the answers are made for, the day their labels are joined on;
* `GET /metrics` (Prometheus);
* `POST /v1/admin/reload`: re-read the registry now (bearer token, `MLOPS_ADMIN_TOKEN`).

Degraded mode, flagged (`degraded`, `degraded_reason`) and counted
(`ml_degraded_predictions_total{reason}`): when the online store cannot be read, or an id's
features are older than their view's TTL (at the end of `as_of`, or now when
`MLOPS_FEATURE_CLOCK=wall`, prod's default), the id is answered from its last batch score;
failing that, by the champion's fallback model on the features at hand (stale ones); failing
that, 503 with both reasons.

Prediction endpoints need a bearer token too when `MLOPS_PREDICT_TOKEN` is set. Without
`MLOPS_ADMIN_TOKEN` the admin API answers 403, and the `prod` profile refuses to start.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import math
import threading
import time
from collections.abc import Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, model_validator

from mlops_assets.core.deployment import variant_for
from mlops_assets.serving.batch_scores import BatchScores
from mlops_assets.serving.metrics import ModelLoadedCollector, ServiceMetrics
from mlops_assets.serving.models import Deployment, ModelHub
from mlops_assets.serving.prediction_log import PredictionLog, log_dir
from mlops_assets.serving.rows import Rows

MAX_BATCH = 1_000


class ConfigError(ValueError):
    """The service cannot start with this configuration."""


@dataclasses.dataclass(frozen=True)
class ServiceConfig:
    home: Path
    tracking_uri: str
    env: str = "local"
    redis_url: str | None = None
    feast_registry_url: str | None = None  # prod: Feast's SQL registry on Postgres
    models: tuple[str, ...] = ()  # empty: every registered model with a champion
    poll_seconds: float = 2.0
    admin_token: str | None = None
    predict_token: str | None = None
    # what "now" is for the features' TTL: "wall" (the clock; prod's default) or "as_of" (only
    # a request's `as_of` day: the local profile replays a simulated calendar)
    feature_clock: str = "as_of"
    # caller-sent values outside a version's training range ± kσ: "flag" answers them, naming
    # the features in `out_of_range` (and counting them); "reject" refuses them (422)
    out_of_range: str = "flag"

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> ServiceConfig:
        from mlops_assets.core.registry import local_tracking_uri
        from mlops_assets.profile import deployment_env, mlops_home

        home, env = mlops_home(), deployment_env()  # not `Settings`: no Dagster in the server
        config = cls(
            home=home,
            tracking_uri=environ.get("MLFLOW_TRACKING_URI") or local_tracking_uri(home),
            env=env,
            redis_url=environ.get("MLOPS_REDIS_URL") or None,
            feast_registry_url=environ.get("MLOPS_FEAST_REGISTRY_URL") or None,
            admin_token=environ.get("MLOPS_ADMIN_TOKEN") or None,
            predict_token=environ.get("MLOPS_PREDICT_TOKEN") or None,
            feature_clock=environ.get("MLOPS_FEATURE_CLOCK")
            or ("wall" if env == "prod" else "as_of"),
            out_of_range=environ.get("MLOPS_SERVE_OUT_OF_RANGE") or "flag",
        )
        config = dataclasses.replace(config, **overrides)
        config.check()
        return config

    def check(self) -> None:
        if self.env == "prod" and not self.admin_token:
            raise ConfigError(
                "MLOPS_ENV=prod: set MLOPS_ADMIN_TOKEN (the admin API refuses to run without one)"
            )
        if self.env == "prod" and not self.redis_url:
            raise ConfigError("MLOPS_ENV=prod: set MLOPS_REDIS_URL (the online store)")
        if self.feature_clock not in ("wall", "as_of"):
            raise ConfigError(
                f"MLOPS_FEATURE_CLOCK must be 'wall' or 'as_of', got {self.feature_clock!r}"
            )
        if self.out_of_range not in ("flag", "reject"):
            raise ConfigError(
                f"MLOPS_SERVE_OUT_OF_RANGE must be 'flag' or 'reject', got {self.out_of_range!r}"
            )
        for name, token in (
            ("MLOPS_ADMIN_TOKEN", self.admin_token),
            ("MLOPS_PREDICT_TOKEN", self.predict_token),
        ):
            if token is not None and len(token) < 16:
                raise ConfigError(f"{name} must be at least 16 characters")


class PredictRequest(BaseModel):
    """`ids` (entity ids, features from the online store), `instances` (the caller's feature
    values), or both of the same length (the caller's features for those entities)."""

    model_config = ConfigDict(extra="forbid")

    ids: list[str | int] | None = Field(None, min_length=1, max_length=MAX_BATCH)
    # strict: a string or a boolean is refused by name, never coerced to a number
    instances: list[dict[str, StrictFloat | StrictInt | None]] | None = Field(
        None, min_length=1, max_length=MAX_BATCH
    )
    as_of: dt.date | None = None

    @model_validator(mode="after")
    def _one_of(self) -> PredictRequest:
        if self.ids is None and self.instances is None:
            raise ValueError("send 'ids', 'instances', or both")
        if (
            self.ids is not None
            and self.instances is not None
            and (len(self.ids) != len(self.instances))
        ):
            raise ValueError(
                f"'ids' ({len(self.ids)}) and 'instances' ({len(self.instances)}) "
                "must have the same length"
            )
        if self.as_of is not None and self.as_of > dt.datetime.now(dt.UTC).date():
            raise ValueError(f"'as_of' {self.as_of} is in the future")
        return self


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _token_guard(expected: str | None, *, required: bool, what: str):
    # async: no I/O here, and a sync dependency costs a worker-thread hop per request
    async def guard(request: Request) -> None:
        if expected is None:
            if required:
                raise HTTPException(403, f"the {what} API is disabled: MLOPS_ADMIN_TOKEN is unset")
            return
        given = _bearer(request)
        if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(
                401,
                f"the {what} API needs 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return guard


def create_app(config: ServiceConfig, hub: ModelHub | None = None) -> FastAPI:
    metrics = ServiceMetrics.create()
    hub = hub or ModelHub(
        config.tracking_uri,
        config.home,
        config.models or None,
        poll_seconds=config.poll_seconds,
        on_load_error=lambda model, _err: metrics.errors.labels(model, "model_load").inc(),
    )
    metrics.registry.register(
        ModelLoadedCollector(lambda: {m: hub.deployment(m) is not None for m in hub.names()})
    )
    log = PredictionLog(log_dir(config.home))
    feast_lock = threading.Lock()  # one online read at a time on a shared FeatureStore
    stores: dict[str, Any] = {}
    batch: dict[str, BatchScores] = {}

    def batch_scores(model: str) -> BatchScores:
        return batch.setdefault(model, BatchScores(config.home, model))

    def store():
        if "store" not in stores:
            from mlops_assets.core.feature_store import open_store

            stores["store"] = open_store(
                config.home,
                env=config.env,
                redis_url=config.redis_url,
                registry_url=config.feast_registry_url,
            )
        return stores["store"]

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        hub.start()
        store()  # open the online store before the first request, not during it
        try:
            yield
        finally:
            hub.stop()
            log.close()

    app = FastAPI(title="mlops-assets prediction service", lifespan=lifespan)
    app.state.hub, app.state.metrics, app.state.config = hub, metrics, config
    admin = Depends(_token_guard(config.admin_token, required=True, what="admin"))
    predict_auth = Depends(_token_guard(config.predict_token, required=False, what="predict"))

    app.add_middleware(ObserveRequests, metrics=metrics)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        models = hub.describe()
        not_ready = {m["model"]: m["last_error"] for m in models if m["champion"] is None}
        if not models or not_ready:
            return JSONResponse(
                {"status": "not ready", "models": not_ready or "no model with a champion"}, 503
            )
        return JSONResponse({"status": "ready", "models": [m["model"] for m in models]})

    @app.get("/v1/models")
    def list_models() -> dict[str, Any]:
        return {"models": hub.describe()}

    @app.get("/metrics")
    def prometheus() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/v1/admin/reload", dependencies=[admin])
    def reload() -> dict[str, Any]:
        hub.refresh()
        return {"models": hub.describe()}

    # async on purpose: the work is ~2 ms of CPU under the GIL, so a worker-thread hop per
    # request (FastAPI's way for sync endpoints) costs more than it could overlap
    @app.post("/v1/models/{model}/predict", dependencies=[predict_auth])
    async def predict(model: str, body: PredictRequest) -> dict[str, Any]:
        deployment = hub.deployment(model)
        if deployment is None:
            known = hub.names()
            if model in known:
                raise HTTPException(503, f"{model}: no version loaded yet ({_error(hub, model)})")
            raise HTTPException(404, f"unknown model {model!r}; served: {known}")
        started = time.perf_counter()
        as_of = body.as_of
        if body.instances is not None:
            ids = [str(i) for i in body.ids] if body.ids else [None] * len(body.instances)
            rows, outside = _instance_rows(deployment, body.instances, config.out_of_range)
            answers = _score(deployment, ids, rows, metrics, log, started, as_of)
            for n, features in outside.items():
                answers[n]["out_of_range"] = features
                for feature in features:
                    metrics.out_of_range.labels(model, feature).inc()
        else:
            ids = [str(i) for i in body.ids]
            fresh_at = _fresh_at(as_of, config.feature_clock)
            try:
                rows = _online_rows(deployment, ids, store, feast_lock, metrics, fresh_at)
            except HTTPException:
                raise
            except Exception as err:  # the online store is down or broken: degrade
                why = f"online store unavailable ({type(err).__name__}: {err})"
                answers = _degraded(
                    deployment, ids, None, why, "online_store_unavailable",
                    batch_scores(model), metrics, log, as_of,
                )  # fmt: skip
                metrics.processing_duration.labels(model).observe(time.perf_counter() - started)
                return {"model": model, "predictions": answers}
            answers = _answer_online(
                deployment, ids, rows, fresh_at, batch_scores(model), metrics, log, started, as_of
            )
        metrics.processing_duration.labels(model).observe(time.perf_counter() - started)
        return {"model": model, "predictions": answers}

    return app


_FIXED = {"/healthz", "/readyz", "/metrics", "/v1/models", "/v1/admin/reload"}


class ObserveRequests:
    """Pure ASGI middleware (Starlette's `BaseHTTPMiddleware` costs ~1 ms a request): requests
    in progress, and their duration by method, route template and status."""

    def __init__(self, app, metrics: ServiceMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method, path = scope["method"], scope["path"]
        gauge = self.metrics.http_in_progress.labels(method, path if path in _FIXED else "/v1/*")
        status = [500]

        async def send_status(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        gauge.inc()
        try:
            await self.app(scope, receive, send_status)
        finally:
            gauge.dec()
            template = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.http_duration.labels(method, template, str(status[0])).observe(
                time.perf_counter() - started
            )


def _error(hub: ModelHub, model: str) -> str:
    status = hub.status.get(model)
    return (status.last_error if status else None) or "loading"


def _fresh_at(as_of: dt.date | None, clock: str) -> dt.datetime | None:
    """When features must still be within their TTL: at the end of `as_of` (features of a day
    are stamped at its end), else now on the wall clock; None: the data home runs on a
    simulated calendar (`feature_clock` "as_of") and the request names no day."""
    if as_of is not None:
        return dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return dt.datetime.now(dt.UTC) if clock == "wall" else None


def _answer_online(
    deployment, ids, rows, fresh_at, scores, metrics, log, started, as_of
) -> list[dict[str, Any]]:
    """Score the ids whose features are fresh; the stale ones get degraded answers."""
    stale = rows.stale
    if stale is None or not stale.any():
        return _score(deployment, ids, rows, metrics, log, started, as_of)
    old = [k for k, s in enumerate(stale) if s]
    fresh = [k for k, s in enumerate(stale) if not s]
    answers: list[Any] = [None] * len(ids)
    if fresh:
        scored = _score(
            deployment, [ids[k] for k in fresh], rows.take(fresh), metrics, log, started, as_of
        )
        for k, answer in zip(fresh, scored, strict=True):
            answers[k] = answer
    why = f"online features older than their TTL at {fresh_at.isoformat()}"
    degraded = _degraded(
        deployment, [ids[k] for k in old], rows.take(old), why, "features_stale",
        scores, metrics, log, as_of,
    )  # fmt: skip
    for k, answer in zip(old, degraded, strict=True):
        answers[k] = answer
    return answers


def _online_rows(
    deployment: Deployment, ids: list[str], store, lock, metrics, fresh_at=None
) -> Rows:
    """The inputs of every loaded variant for `ids` from the online store, one read per
    feature service (a challenger may use another), with which rows are stale at `fresh_at`
    (stale in any read: stale); 404 for ids the store does not know."""
    from mlops_assets.core.feature_store.online import STALE_COLUMN, online_columns

    variants = [v for v in (deployment.champion, deployment.challenger) if v is not None]
    services = dict.fromkeys(v.inputs.feature_service for v in variants)
    needed = sorted({f for v in variants for f in v.inputs.features})
    columns: dict[str, Any] = {}
    stale = None
    with lock:
        for service in services:
            read = online_columns(store(), ids, service, fresh_at=fresh_at)
            if STALE_COLUMN in read:
                flags = read.pop(STALE_COLUMN)
                stale = flags if stale is None else stale | flags
            for name, values in read.items():
                columns.setdefault(name, values)
    rows = Rows.from_columns({f: columns[f] for f in needed}, len(ids), stale)
    unknown = [i for i, empty in zip(ids, rows.empty(needed), strict=True) if empty]
    if unknown:
        metrics.errors.labels(deployment.model, "features_missing").inc(len(unknown))
        raise HTTPException(
            404,
            f"no online features for {len(unknown)} id(s) of {deployment.model}: {unknown[:10]}",
        )
    return rows


def _degraded(
    deployment: Deployment,
    ids: list[str],
    rows: Rows | None,
    why: str,
    reason: str,
    scores: BatchScores,
    metrics: ServiceMetrics,
    log: PredictionLog,
    as_of: dt.date | None,
) -> list[dict[str, Any]]:
    """Degraded answers, flagged and counted: each id's last batch score; failing that, the
    champion's fallback model on the features at hand (`rows`: stale ones, or None when the
    store is down); failing that, a 503 naming both failures."""
    model, champion = deployment.model, deployment.champion
    found = scores.lookup(ids)
    missing = [k for k, i in enumerate(ids) if i not in found]
    fallback: dict[int, float] = {}
    if missing and rows is not None and champion.fallback is not None:
        X = rows.take(missing).matrix(champion.inputs.features)
        fallback = dict(zip(missing, champion.fallback.predict_proba(X).tolist(), strict=True))
    unanswered = [ids[k] for k in missing if k not in fallback]
    if unanswered:
        metrics.errors.labels(model, "features_missing").inc(len(unanswered))
        last = "no batch score" if rows is None else "no batch score and no fallback model"
        raise HTTPException(
            503, f"{why}, and {last} for {len(unanswered)} id(s): {unanswered[:10]}"
        )
    metrics.degraded.labels(model, reason).inc(len(ids))
    answers = []
    for k, i in enumerate(ids):
        if k in fallback:
            answer = {"probability": fallback[k], "version": champion.version}
            answer["variant"] = "fallback"
        else:
            answer = {"probability": found[i].probability, "version": found[i].version}
            answer.update(variant="batch", score_date=found[i].score_date)
        answers.append({"id": i, **answer, "degraded": True, "degraded_reason": why})
    log.append(
        model,
        [
            {
                "id": a["id"],
                "variant": a["variant"],
                "version": a["version"],
                "probability": a["probability"],
                "served": True,
                "degraded": True,
            }
            for a in answers
        ],
        as_of,
    )
    return answers


def _instance_rows(
    deployment: Deployment, instances: list[dict[str, Any]], out_of_range: str
) -> tuple[Rows, dict[int, list[str]]]:
    """Caller-sent feature values, checked against every variant that may answer: names,
    finiteness, whole numbers where a variant was trained on whole numbers only (refused,
    422), and each value against the variant's training range ± kσ: refused under
    `out_of_range="reject"`, else returned as {instance index: [features outside]}. The range
    checks run on the request's columns, not value by value."""
    champion = deployment.champion
    variants = [champion] + ([deployment.challenger] if deployment.challenger else [])
    expected = list(champion.inputs.features)
    if deployment.challenger is not None:
        expected += [f for f in deployment.challenger.inputs.features if f not in expected]
    for n, instance in enumerate(instances):
        missing = [f for f in expected if f not in instance]
        extra = sorted(set(instance) - set(expected))
        if missing or extra:
            raise HTTPException(
                422,
                f"instances[{n}]: missing {missing} / unexpected {extra}; "
                f"{champion.model} v{champion.version} takes {expected}",
            )
        bad = [f for f in expected if instance[f] is not None and not math.isfinite(instance[f])]
        if bad:
            raise HTTPException(422, f"instances[{n}]: {bad} must be finite numbers or null")
    rows = Rows.from_instances(instances, expected)
    outside: dict[int, list[str]] = {}
    for variant in variants:
        for name, allowed in variant.ranges.items():
            column = rows.columns.get(name)
            if column is None:
                continue
            sent = ~np.isnan(column)  # null stays missing, as from the online store
            fraction = sent & (column != np.floor(column)) if allowed.integer else None
            beyond = sent & ((column < allowed.low) | (column > allowed.high))
            refused = fraction if fraction is not None and fraction.any() else None
            if refused is None and out_of_range == "reject" and beyond.any():
                refused = beyond
            if refused is not None:
                n = int(np.flatnonzero(refused)[0])
                value = instances[n][name]
                why = allowed.refusal(value) or allowed.outside(value)
                raise HTTPException(
                    422, f"instances[{n}].{name}: {why} of {variant.model} v{variant.version}"
                )
            for n in np.flatnonzero(beyond).tolist():
                if name not in outside.setdefault(n, []):
                    outside[n].append(name)
    return rows, outside


def _score(
    deployment: Deployment,
    ids,
    rows,
    metrics: ServiceMetrics,
    log: PredictionLog,
    started: float,
    as_of: dt.date | None = None,
):
    """Score each row with the variant that answers it (and the shadow), log every answer
    (for `as_of`, with the A/B test it belongs to) with the request's latency so far and the
    variant's own scoring time in it; a failed variant's rows are logged as errors."""

    model, state = deployment.model, deployment.state
    variants = [
        variant_for(state, model, i) if i is not None and deployment.challenger else "champion"
        for i in ids
    ]
    results: dict[str, Any] = {}
    inference_ms: dict[str, float] = {}
    for name, loaded in (("champion", deployment.champion), ("challenger", deployment.challenger)):
        if loaded is None:
            continue
        chosen = [k for k, v in enumerate(variants) if v == name]
        if name == "challenger" and state.mode == "shadow":
            chosen = list(range(len(ids)))  # scores everything, answers nothing
        if not chosen:
            continue
        scoring = time.perf_counter()
        try:
            X = (rows if len(chosen) == rows.n else rows.take(chosen)).matrix(
                loaded.inputs.features
            )
            probs = loaded.scorer.predict_proba(X).astype(float).tolist()
        except Exception as err:
            metrics.errors.labels(model, "prediction_failed").inc(len(chosen))
            log.append(
                model,
                [
                    {
                        "id": ids[k],
                        "variant": name,
                        "version": loaded.version,
                        "error": "prediction_failed",
                    }
                    for k in chosen
                ],
                as_of,
            )
            raise HTTPException(500, f"{model} v{loaded.version} failed to score: {err}") from err
        took = time.perf_counter() - scoring
        metrics.inference_time.labels(model).observe(took)
        inference_ms[name] = round(took * 1000, 3)
        results[name] = dict(zip(chosen, probs, strict=True))
    answers, records = [], []
    test = {"test": state.test_id} if state.mode == "ab" and state.test_id else {}
    latency_ms = round((time.perf_counter() - started) * 1000, 3)
    for k, variant in enumerate(variants):
        loaded = deployment.champion if variant == "champion" else deployment.challenger
        p = results[variant][k]
        answers.append(
            {
                "id": ids[k],
                "probability": p,
                "version": loaded.version,
                "variant": variant,
                "degraded": False,
            }
        )
        records.append(
            {
                "id": ids[k],
                "variant": variant,
                "version": loaded.version,
                "probability": p,
                "served": True,
                "latency_ms": latency_ms,
                "inference_ms": inference_ms[variant],
                **test,
            }
        )
        if state.mode == "shadow" and deployment.challenger is not None:
            records.append(
                {
                    "id": ids[k],
                    "variant": "challenger",
                    "version": deployment.challenger.version,
                    "probability": results["challenger"][k],
                    "served": False,
                }
            )
    for variant in ("champion", "challenger"):
        served = [a["probability"] for a in answers if a["variant"] == variant]
        if served:
            version = answers[variants.index(variant)]["version"]
            metrics.record_predictions(model, version, variant, served)
    log.append(model, records, as_of)
    return answers


def run(config: ServiceConfig, host: str = "127.0.0.1", port: int = 8000) -> None:
    import uvicorn

    uvicorn.run(create_app(config), host=host, port=port, log_level="info", access_log=False)


__all__ = ["ConfigError", "ServiceConfig", "create_app", "run"]
