"""The prediction service on a real uvicorn server, over a real data home.

The module fixture simulates a small churn world, runs `mlops-assets materialize` (every
phase: a champion is trained, exported, and the online store loaded), then starts
`mlops-assets serve` on a free port of 127.0.0.1. The tests talk HTTP to it and change the
MLflow registry underneath it, as a rollout would.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator

import duckdb
import httpx
import pytest

from mlops_assets.core import registry
from mlops_assets.core.deployment import DeploymentState, variant_for
from mlops_assets.datasets.simulator import SimulationConfig
from tests.redis_server import redis_server
from tests.serving.live import ADMIN_TOKEN, last_day, materialized_home, running_server, wait_until

pytestmark = pytest.mark.slow

MODEL = "churn"
WORLD = SimulationConfig(days=36, customers=1000, seed=5, corrupt_rate=0.0)
LAST_DAY = last_day(WORLD)
METRICS = (
    "model_predictions_total",
    "ml_predictions_total",
    "model_inference_time_seconds",
    "ml_processing_duration_seconds",
    "ml_confidence_distribution",
    "ml_prediction_errors_total",
    "http_request_duration_seconds",
    "http_requests_in_progress",
    "app_memory_usage_bytes",
    "ml_degraded_predictions_total",
    "ml_model_loaded",
)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """What serving needs, through the runner's own phases with spans narrowed: every day's
    data (labels need the first days), the online store and the scores for the last day, the
    model trained and exported. Monitoring phases are left out (not served)."""
    first, last = WORLD.start_date.isoformat(), LAST_DAY.isoformat()
    spans = {
        "data": (first, last),
        "feature registry": None,
        "online features": (last, last),
        "models": None,
        "scores and drift": (last, last),
    }
    return materialized_home(tmp_path_factory.mktemp("serving"), WORLD, MODEL, spans)


@pytest.fixture(scope="module")
def server(home: dict) -> Iterator[httpx.Client]:
    with running_server(home) as client:
        yield client


@pytest.fixture(scope="module")
def batch(home: dict) -> dict:
    """The batch scores of the last day, with the inputs they were computed from."""
    with duckdb.connect(str(home["home"] / "warehouse.duckdb"), read_only=True) as con:
        frame = con.execute(
            f"SELECT * FROM monitoring.{MODEL}_predictions WHERE score_date = ? "
            "ORDER BY customer_id LIMIT 200",
            [LAST_DAY],
        ).df()
    assert len(frame) == 200
    return {"frame": frame}


def predict(client: httpx.Client, body: dict, model: str = MODEL) -> httpx.Response:
    return client.post(f"/v1/models/{model}/predict", json=body)


def test_online_predictions_equal_the_batch_scores(server: httpx.Client, batch: dict) -> None:
    frame = batch["frame"]
    response = predict(server, {"ids": frame["customer_id"].tolist()})
    assert response.status_code == 200, response.text
    answers = response.json()["predictions"]
    assert [a["id"] for a in answers] == frame["customer_id"].tolist()
    assert [a["probability"] for a in answers] == frame["score"].tolist()
    assert {(a["version"], a["variant"], a["degraded"]) for a in answers} == {
        (frame["model_version"].iloc[0], "champion", False)
    }


def test_caller_sent_features_score_like_the_online_ones(server: httpx.Client, batch: dict) -> None:
    models = server.get("/v1/models").json()["models"]
    features = next(m for m in models if m["model"] == MODEL)["features"]
    rows = batch["frame"].head(20)
    instances = [{f: float(row[f]) for f in features} for _, row in rows.iterrows()]
    response = predict(server, {"instances": instances})
    assert response.status_code == 200, response.text
    assert [a["probability"] for a in response.json()["predictions"]] == rows["score"].tolist()

    bad = predict(server, {"instances": [{**instances[0], "shoe_size": 42.0}]})
    assert bad.status_code == 422 and "unexpected ['shoe_size']" in bad.json()["detail"]
    missing = dict(instances[0])
    missing.pop(features[0])
    bad = predict(server, {"instances": [missing]})
    assert bad.status_code == 422 and f"missing ['{features[0]}']" in bad.json()["detail"]


def test_caller_sent_values_are_checked_against_the_training_data_by_name(
    server: httpx.Client, batch: dict
) -> None:
    described = next(m for m in server.get("/v1/models").json()["models"] if m["model"] == MODEL)
    ranges = described["input_ranges"]
    assert ranges and set(ranges) <= set(described["features"])
    row = batch["frame"].iloc[0]
    instance = {f: float(row[f]) for f in described["features"]}
    name, allowed = next((f, r) for f, r in sorted(ranges.items()) if not r["integer"])
    beyond = predict(server, {"instances": [instance, {**instance, name: allowed["high"] * 2 + 1}]})
    assert beyond.status_code == 200, beyond.text  # flagged (the default), not refused
    first, second = beyond.json()["predictions"]
    assert "out_of_range" not in first and second["out_of_range"] == [name]
    counted = f'ml_out_of_range_inputs_total{{feature="{name}",model="{MODEL}"}}'
    assert counted in server.get("/metrics").text
    whole = next(f for f, r in sorted(ranges.items()) if r["integer"])
    halved = predict(server, {"instances": [instance, {**instance, whole: row[whole] + 0.5}]})
    assert halved.status_code == 422
    assert halved.json()["detail"].startswith(f"instances[1].{whole}: ")
    assert "not a whole number" in halved.json()["detail"]
    for wrong in ("3", True):
        typed = predict(server, {"instances": [{**instance, name: wrong}]})
        assert typed.status_code == 422 and name in str(typed.json()["detail"]), typed.text


def test_bad_requests_get_a_status_that_names_the_problem(server: httpx.Client) -> None:
    unknown_model = predict(server, {"ids": ["C000001"]}, model="no_such_model")
    assert unknown_model.status_code == 404
    assert "unknown model 'no_such_model'" in unknown_model.json()["detail"]
    unknown_id = predict(server, {"ids": ["NOBODY"]})
    assert unknown_id.status_code == 404 and "NOBODY" in unknown_id.json()["detail"]
    for body, field in (({"idz": ["C1"]}, "idz"), ({"ids": []}, "ids"), ({}, "body")):
        response = predict(server, body)
        assert response.status_code == 422, body
        assert field in str(response.json()["detail"]), response.text
    uneven = predict(server, {"ids": ["C1", "C2"], "instances": [{}]})
    assert uneven.status_code == 422 and "must have the same length" in uneven.text
    future = dt.date.today() + dt.timedelta(days=2)
    ahead = predict(server, {"ids": ["C1"], "as_of": future.isoformat()})
    assert ahead.status_code == 422 and "is in the future" in ahead.text


def test_the_admin_api_needs_its_token(server: httpx.Client) -> None:
    assert server.post("/v1/admin/reload").status_code == 401
    wrong = server.post("/v1/admin/reload", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    right = server.post("/v1/admin/reload", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert right.status_code == 200 and right.json()["models"][0]["model"] == MODEL


def test_the_server_follows_the_registry_without_a_restart(
    server: httpx.Client, home: dict, batch: dict
) -> None:
    uri, ids = home["tracking_uri"], batch["frame"]["customer_id"].tolist()
    champion = registry.alias_version(uri, MODEL, registry.CHAMPION)
    registry.move_alias(uri, MODEL, registry.CHALLENGER, champion, reason="test", actor="test")
    state = DeploymentState().changed(
        by="test", reason="A/B split", mode="ab", challenger_percent=50
    )
    registry.set_deployment(uri, MODEL, state.to_json())
    try:

        def switched() -> bool:
            (described,) = server.get("/v1/models").json()["models"]
            return described["deployment"]["mode"] == "ab"

        wait_until(switched, 15, "the server to pick up the A/B split")
        answers = predict(server, {"ids": ids}).json()["predictions"]
        assert [a["variant"] for a in answers] == [variant_for(state, MODEL, i) for i in ids]
        assert {a["variant"] for a in answers} == {"champion", "challenger"}
        # a version that cannot be loaded is not served: the previous deployment stays
        broken = _register_version_without_onnx(uri)
        registry.move_alias(uri, MODEL, registry.CHAMPION, broken, reason="test", actor="test")

        def failure_reported() -> bool:
            (described,) = server.get("/v1/models").json()["models"]
            return bool(described["last_error"])

        wait_until(failure_reported, 15, "the load failure to be reported")
        (described,) = server.get("/v1/models").json()["models"]
        assert described["champion"] == champion and f"v{broken}" in described["last_error"]
        still = predict(server, {"ids": ids[:5]})
        assert still.status_code == 200 and {a["version"] for a in still.json()["predictions"]} == {
            champion
        }
        assert 'ml_prediction_errors_total{error_type="model_load",model="churn"} 1.0' in (
            server.get("/metrics").text
        )
    finally:
        registry.move_alias(uri, MODEL, registry.CHAMPION, champion, reason="test", actor="test")
        registry.set_deployment(uri, MODEL, DeploymentState().to_json())
    wait_until(
        lambda: server.get("/v1/models").json()["models"][0]["last_error"] is None,
        15,
        "the server to recover",
    )


def _register_version_without_onnx(uri: str) -> str:
    """A new version of the model that records no inputs and has no ONNX export."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    run = client.create_run(client.get_experiment_by_name(MODEL).experiment_id)
    client.set_terminated(run.info.run_id)
    created = client.create_model_version(MODEL, f"runs:/{run.info.run_id}/model", run.info.run_id)
    return str(created.version)


def test_metrics_use_the_documented_names(server: httpx.Client, batch: dict) -> None:
    predict(server, {"ids": batch["frame"]["customer_id"].head(3).tolist()})
    text = server.get("/metrics").text
    missing = [name for name in METRICS if f"\n# TYPE {name} " not in text]
    assert not missing, missing
    assert re.search(
        r'ml_predictions_total\{confidence_level="(high|medium|low)",model="churn",'
        r'result="(positive|negative)",variant="champion",version="\d+"\} \d+',
        text,
    )
    assert (
        'http_request_duration_seconds_count{method="POST",route="/v1/models/{model}/predict"'
        in (text)
    )


def test_every_answer_is_in_the_prediction_log(server: httpx.Client, home: dict) -> None:
    predict(server, {"ids": ["C000001"]})
    logs = list((home["home"] / "serving" / "predictions" / MODEL).glob("*.jsonl"))
    assert logs and '"id":"C000001"' in logs[0].read_text()


def _challenger_copy(uri: str) -> str:
    """A second version of the champion's run (same ONNX, same inputs) as the challenger."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    champion = client.get_model_version_by_alias(MODEL, registry.CHAMPION)
    copy = client.create_model_version(
        MODEL, champion.source, champion.run_id, tags=dict(champion.tags)
    )
    registry.move_alias(
        uri, MODEL, registry.CHALLENGER, str(copy.version), reason="test", actor="test"
    )
    return str(copy.version)


def _rollout(defs, instance, **config) -> None:
    job = defs.get_job_def(f"{MODEL}_rollout_job")
    result = job.execute_in_process(
        run_config={"ops": {f"{MODEL}_rollout": {"config": config}}}, instance=instance
    )
    assert result.success


def test_a_canary_that_breaches_its_latency_budget_rolls_back_by_itself(
    server: httpx.Client, home: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg

    from mlops_assets.components.model_pipeline.rollout import build_canary_sensor
    from mlops_assets.components.model_pipeline.spec import MODELS_DIR, ServingSpec, load_spec
    from mlops_assets.resources.model_registry import ModelRegistry
    from mlops_assets.settings import Settings

    monkeypatch.setenv("MLOPS_HOME", str(home["home"]))
    from mlops_assets.definitions import defs as load

    defs, uri = load(), home["tracking_uri"]
    champion = registry.alias_version(uri, MODEL, registry.CHAMPION)
    challenger = _challenger_copy(uri)
    with duckdb.connect(str(home["home"] / "warehouse.duckdb"), read_only=True) as con:
        ids = [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT customer_id FROM monitoring.{MODEL}_predictions "
                "WHERE score_date = ? ORDER BY 1 LIMIT 1000",
                [LAST_DAY],
            ).fetchall()
        ]
    instance = dg.DagsterInstance.ephemeral()
    spec = load_spec(MODELS_DIR / MODEL / "defs.yaml")
    resources = {
        "settings": Settings(home=str(home["home"])),
        "mlflow": ModelRegistry(tracking_uri=uri),
    }

    def judge(serving: ServingSpec):
        sensor = build_canary_sensor(
            spec.model_copy(update={"serving": serving}), defs.get_job_def(f"{MODEL}_rollout_job")
        )
        context = dg.build_sensor_context(instance=instance, resources=resources)
        return sensor(context)

    def mode() -> tuple[str, float]:
        (described,) = server.get("/v1/models").json()["models"]
        return described["deployment"]["mode"], described["deployment"]["challenger_percent"]

    _rollout(defs, instance, action="canary", reason="test canary", requested_by="test")
    wait_until(lambda: mode() == ("canary", 5.0), 15, "the canary's first step")
    answers = predict(server, {"ids": ids}).json()["predictions"]
    on_challenger = [a for a in answers if a["variant"] == "challenger"]
    assert 0 < len(on_challenger) < len(ids) * 0.15
    assert {a["version"] for a in on_challenger} == {challenger}

    held = judge(ServingSpec(min_answers=10_000))
    assert isinstance(held, dg.SkipReason) and "of the 10000 needed" in held.skip_message
    clean = judge(ServingSpec(min_answers=10))
    assert clean.run_config["ops"][f"{MODEL}_rollout"]["config"]["action"] == "advance"
    assert clean.run_config["ops"][f"{MODEL}_rollout"]["config"]["percent"] == 25.0

    breach = judge(ServingSpec(min_answers=10, max_p95_ms=0.001))
    config = breach.run_config["ops"][f"{MODEL}_rollout"]["config"]
    assert config["action"] == "rollback" and "p95 scoring latency" in config["reason"]
    assert breach.tags["mlops/rollout_action"] == "rollback"
    _rollout(defs, instance, **config)
    wait_until(lambda: mode() == ("single", 0.0), 15, "the rollback to reach the server")
    answers = predict(server, {"ids": ids}).json()["predictions"]
    assert {(a["variant"], a["version"]) for a in answers} == {("champion", champion)}
    target = registry.serving_target(uri, MODEL)
    assert target.champion == champion  # the champion never moved
    recorded = DeploymentState.from_json(target.deployment)
    assert recorded.updated_by.startswith("sensor churn_canary_sensor")
    assert "p95 scoring latency" in recorded.reason


def test_with_the_online_store_down_answers_are_degraded_to_the_last_batch_score(
    server: httpx.Client, home: dict, batch: dict
) -> None:
    import sqlite3

    frame = batch["frame"].head(20)
    ids = frame["customer_id"].tolist()
    online = sqlite3.connect(home["home"] / "feast" / "online.db")
    table = "mlops_assets_customer_activity"
    online.execute(f"ALTER TABLE {table} RENAME TO {table}_away")  # the store "stops"
    online.commit()
    try:
        response = predict(server, {"ids": ids})
        assert response.status_code == 200, response.text
        answers = response.json()["predictions"]
        assert {(a["variant"], a["degraded"]) for a in answers} == {("batch", True)}
        assert "online store unavailable" in answers[0]["degraded_reason"]
        # the last batch score of each id: here the newest scored day, the one in `batch`
        assert [a["probability"] for a in answers] == frame["score"].tolist()
        assert {a["score_date"] for a in answers} == {LAST_DAY.isoformat()}
        no_batch = predict(server, {"ids": [*ids[:2], "NEVER_SCORED"]})
        assert no_batch.status_code == 503
        assert "no batch score for 1 id(s): ['NEVER_SCORED']" in no_batch.json()["detail"]
        text = server.get("/metrics").text
        assert (
            'ml_degraded_predictions_total{model="churn",reason="online_store_unavailable"} 20.0'
            in text
        )
    finally:
        online.execute(f"ALTER TABLE {table}_away RENAME TO {table}")
        online.commit()
        online.close()
    recovered = predict(server, {"ids": ids}).json()["predictions"]
    assert {(a["variant"], a["degraded"]) for a in recovered} == {("champion", False)}


def test_a_blue_green_switch_under_load_drops_no_request(
    server: httpx.Client, home: dict, batch: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import dagster as dg

    monkeypatch.setenv("MLOPS_HOME", str(home["home"]))
    from mlops_assets.definitions import defs as load

    defs, uri = load(), home["tracking_uri"]
    before = registry.alias_version(uri, MODEL, registry.CHAMPION)
    green = _challenger_copy(uri)
    ids = batch["frame"]["customer_id"].tolist()
    statuses: list[int] = []
    versions: list[str] = []  # every answer, in the order they came back
    per_client: list[list[str]] = [[] for _ in range(4)]  # each client's, in its own order
    stop = threading.Event()

    def client_loop(offset: int) -> None:
        with httpx.Client(base_url=server.base_url, timeout=30) as own:
            k = offset
            while not stop.is_set():
                response = predict(own, {"ids": [ids[k % len(ids)]]})
                statuses.append(response.status_code)
                if response.status_code == 200:
                    version = response.json()["predictions"][0]["version"]
                    versions.append(version)
                    per_client[offset].append(version)
                k += 4

    threads = [threading.Thread(target=client_loop, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        _rollout(
            defs,
            dg.DagsterInstance.ephemeral(),
            action="promote",
            reason="blue-green test",
            requested_by="test",
        )

        def switched() -> bool:
            return bool(versions) and versions[-1] == green

        wait_until(switched, 15, "the switch to green to reach the clients")
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        registry.move_alias(uri, MODEL, registry.CHAMPION, before, reason="test", actor="test")
    assert statuses and set(statuses) == {200}, sorted(set(statuses))
    assert versions[0] == before and versions[-1] == green
    # Across clients, a request sent just before the switch may come back after another's
    # first green answer; a client's next request is sent after its last answer, so once a
    # client has been answered by green it must never be answered by blue again.
    for seen in per_client:  # (a client whose answers all came before the switch is fine)
        first_green = seen.index(green) if green in seen else len(seen)
        assert set(seen[first_green:]) <= {green}, "a request went back to blue after the switch"


def test_stale_features_are_answered_from_the_batch_score_or_the_fallback_model(
    server: httpx.Client, home: dict, batch: dict
) -> None:
    """Ten days after the last materialized day, every online feature is older than its
    view's 3-day TTL: scored ids get their last batch score, the others the fallback model."""
    frame = batch["frame"].head(5)
    later = (LAST_DAY + dt.timedelta(days=10)).isoformat()
    champion = registry.alias_version(home["tracking_uri"], MODEL, registry.CHAMPION)
    wait_until(
        lambda: server.get("/v1/models").json()["models"][0]["champion"] == champion,
        15,
        "the server to serve the registry's champion",
    )
    with duckdb.connect(str(home["home"] / "warehouse.duckdb"), read_only=True) as con:
        unscored = [
            r[0]
            for r in con.execute(
                "SELECT customer_id FROM main.customer_activity_features WHERE feature_date = ? "
                f"AND customer_id NOT IN (SELECT customer_id FROM monitoring.{MODEL}_predictions) "
                "ORDER BY 1 LIMIT 3",
                [LAST_DAY],
            ).fetchall()
        ]
    assert len(unscored) == 3
    fresh = predict(server, {"ids": frame["customer_id"].tolist(), "as_of": LAST_DAY.isoformat()})
    assert {a["degraded"] for a in fresh.json()["predictions"]} == {False}
    response = predict(server, {"ids": [*frame["customer_id"], *unscored], "as_of": later})
    assert response.status_code == 200, response.text
    answers = response.json()["predictions"]
    assert all(a["degraded"] and "older than their TTL" in a["degraded_reason"] for a in answers)
    assert [a["variant"] for a in answers] == ["batch"] * 5 + ["fallback"] * 3
    assert [a["probability"] for a in answers[:5]] == frame["score"].tolist()
    assert {a["version"] for a in answers[5:]} == {champion}
    assert all(0 < a["probability"] < 1 for a in answers[5:])
    assert 'ml_degraded_predictions_total{model="churn",reason="features_stale"} 8.0' in (
        server.get("/metrics").text
    )
    logged = (home["home"] / "serving" / "predictions" / MODEL / f"{later}.jsonl").read_text()
    assert logged.count('"variant":"fallback"') == 3 and logged.count('"degraded":true') == 8


def test_with_redis_as_the_online_store_stopping_it_degrades_the_answers(
    home: dict, batch: dict, tmp_path
) -> None:
    """The prod profile's online store: features materialized into a real Redis; the server
    answers from it, then from the last batch scores once Redis is stopped."""
    from mlops_assets.components.landing_dataset import DATASETS_DIR, load_dataset_spec
    from mlops_assets.core.feature_store import materialize_day, open_store

    frame = batch["frame"].head(10)
    ids = frame["customer_id"].tolist()
    dataset = load_dataset_spec(DATASETS_DIR / "churn_world" / "defs.yaml")
    with redis_server(tmp_path) as (url, redis_proc):
        store = open_store(home["home"], env="prod", redis_url=url)
        materialize_day(
            store, LAST_DAY, feature_views=dataset.features.online_views, method="feast"
        )
        # a simulated calendar: the features' TTL is judged against a request's as_of only
        prod_env = {"MLOPS_ENV": "prod", "MLOPS_REDIS_URL": url, "MLOPS_FEATURE_CLOCK": "as_of"}
        prod = {**home, "env": {**home["env"], **prod_env}}
        with running_server(prod) as server:
            live = predict(server, {"ids": ids})
            assert live.status_code == 200, live.text
            answers = live.json()["predictions"]
            assert {(a["variant"], a["degraded"]) for a in answers} == {("champion", False)}
            assert [a["probability"] for a in answers] == frame["score"].tolist()

            redis_proc.terminate()  # the online store goes away
            redis_proc.wait(timeout=10)
            down = predict(server, {"ids": ids})
            assert down.status_code == 200, down.text
            answers = down.json()["predictions"]
            assert {(a["variant"], a["degraded"]) for a in answers} == {("batch", True)}
            assert "online store unavailable" in answers[0]["degraded_reason"]
            assert [a["probability"] for a in answers] == frame["score"].tolist()
            assert (
                'ml_degraded_predictions_total{model="churn",reason="online_store_unavailable"} '
                "10.0" in server.get("/metrics").text
            )


def test_every_dashboard_panel_returns_series(server: httpx.Client, batch: dict, tmp_path) -> None:
    """Grafana is not installable here, so each panel's query (deploy/grafana/dashboards) runs
    against a real Prometheus that scraped this service and the platform exporter; each must
    return series. The exporter reads a platform home written with the assets' writers (this
    module's home runs no performance or history phase)."""
    from tests.observability import servers
    from tests.observability.dashboards import empty_queries
    from tests.observability.platform_home import healthy_home

    platform = tmp_path / "platform"
    healthy_home(platform)
    service = f"{server.base_url.host}:{server.base_url.port}"
    ids = batch["frame"]["customer_id"].head(20).tolist()
    described = next(m for m in server.get("/v1/models").json()["models"] if m["model"] == MODEL)
    row = batch["frame"].iloc[0]
    name, allowed = next((f, r) for f, r in described["input_ranges"].items() if not r["integer"])
    beyond = {**{f: float(row[f]) for f in described["features"]}, name: allowed["high"] + 1}
    with (
        servers.exporter(platform, tmp_path) as exporter,
        servers.prometheus(
            tmp_path, {"mlops-serving": service, "mlops-platform": exporter}, []
        ) as prometheus,
    ):
        for _ in range(4):  # traffic over several scrapes, so every rate has two points
            assert predict(server, {"ids": ids}).status_code == 200
            assert predict(server, {"ids": ["NOBODY"]}).status_code == 404  # an error by type
            assert predict(server, {"instances": [beyond]}).status_code == 200  # out of range
            time.sleep(1.2)
        deadline = time.monotonic() + 30
        while (missing := empty_queries(prometheus)) and time.monotonic() < deadline:
            time.sleep(1)
    assert not missing, "panels without series:\n" + "\n".join(missing)
