"""`ml_model_loaded{model}` on the service's /metrics: 0 for a model the service knows but
could not load (alert MLModelNotLoaded), 1 once a champion serves."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, generate_latest

from mlops_assets.serving.app import ServiceConfig, create_app
from mlops_assets.serving.metrics import ModelLoadedCollector
from mlops_assets.serving.models import ModelHub, ModelStatus


def test_a_model_without_a_loaded_champion_reads_0_on_the_service(tmp_path: Path) -> None:
    hub = ModelHub(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path, ["churn"])
    hub.status["churn"] = ModelStatus(last_error="no champion alias")  # what a failed load leaves
    app = create_app(ServiceConfig(home=tmp_path, tracking_uri=hub.tracking_uri), hub=hub)

    async def scrape() -> str:  # ASGI in process, no lifespan: the hub never polls MLflow
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            return (await client.get("/metrics")).text

    text = asyncio.run(scrape())
    assert 'ml_model_loaded{model="churn"} 0.0' in text


def test_the_collector_reports_each_model() -> None:
    state = {"churn": True, "cdnow_repurchase": False}
    registry = CollectorRegistry()
    registry.register(ModelLoadedCollector(lambda: dict(state)))
    text = generate_latest(registry).decode()
    assert 'ml_model_loaded{model="churn"} 1.0' in text
    assert 'ml_model_loaded{model="cdnow_repurchase"} 0.0' in text
    state["cdnow_repurchase"] = True  # read at scrape time, not at registration
    assert 'ml_model_loaded{model="cdnow_repurchase"} 1.0' in generate_latest(registry).decode()
