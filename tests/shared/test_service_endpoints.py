"""What every service answers besides its domain: health, readiness, metrics, request ids, error envelope."""

from __future__ import annotations

import gc

from prometheus_client.parser import text_string_to_metric_families
from settlement.config import SettlementSettings
from settlement.main import create_app

from platformctl.stack import free_port
from tests.conftest import DatabaseFactory
from tests.support.apps import build, running


def _samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (s.labels, s.value) for f in text_string_to_metric_families(text) for s in f.samples if s.name == name
    ]


async def test_ready_when_database_and_broker_answer(databases: DatabaseFactory, broker: str) -> None:
    app = build(
        create_app,
        SettlementSettings,
        database_url=databases.migrated("settlement"),
        kafka_bootstrap=broker,
        run_background_workers=False,
    )
    async with running(app) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}

        await client.get("/api/v1/policies", headers={"x-request-id": "his-trace-42"})
        missing = await client.get("/api/v1/no-such-thing")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "NOT_FOUND"
        assert missing.headers["x-request-id"] == missing.json()["request_id"]
        echoed = await client.get("/healthz", headers={"x-request-id": "his-trace-42"})
        assert echoed.headers["x-request-id"] == "his-trace-42"
        hostile = await client.get("/healthz", headers={"x-request-id": "bad id\twith spaces" * 10})
        assert hostile.headers["x-request-id"] != "bad id\twith spaces" * 10

        metrics = (await client.get("/metrics")).text
    requests = _samples(metrics, "http_requests_total")
    routes = {
        (labels["route"], labels["status"]) for labels, _ in requests if labels["service"] == "settlement"
    }
    # Route templates and a fixed label for anything unmatched: label sets stay bounded.
    assert ("/api/v1/policies", "200") in routes
    assert ("unmatched", "404") in routes
    assert all("no-such-thing" not in route for route, _ in routes)
    assert _samples(metrics, "http_request_duration_seconds_bucket")


async def test_not_ready_when_broker_is_down(databases: DatabaseFactory) -> None:
    app = build(
        create_app,
        SettlementSettings,
        database_url=databases.migrated("settlement"),
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
        run_background_workers=False,
        ready_timeout_s=1.0,
    )
    async with running(app) as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("unavailable")


async def test_a_started_service_freezes_what_it_built_to_start(databases: DatabaseFactory) -> None:
    """By default the heap built at start-up is kept out of the cyclic collector's full collections
    (``freeze_heap_at_start``); the suite's own apps leave it collectable (``tests.support.apps.build``)."""
    gc.unfreeze()
    url = databases.migrated("settlement")
    unfrozen = build(create_app, SettlementSettings, database_url=url, run_background_workers=False)
    async with running(unfrozen) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert gc.get_freeze_count() == 0
    frozen = build(
        create_app,
        SettlementSettings,
        database_url=url,
        run_background_workers=False,
        freeze_heap_at_start=True,
    )
    try:
        async with running(frozen) as client:
            assert (await client.get("/healthz")).status_code == 200
            # Modules, ORM mappings and schemas: far more than the few objects one request leaves.
            assert gc.get_freeze_count() > 50_000
    finally:
        gc.unfreeze()
    assert SettlementSettings().freeze_heap_at_start is True


async def test_a_started_service_collects_young_objects_less_often(databases: DatabaseFactory) -> None:
    """``gc_young_threshold`` (default 10,000, CPython's 700) is the collector's young-generation threshold
    once the service has started; the older generations' thresholds stay as they were."""
    before = gc.get_threshold()
    url = databases.migrated("settlement")
    app = build(create_app, SettlementSettings, database_url=url, run_background_workers=False)
    try:
        async with running(app) as client:
            assert (await client.get("/healthz")).status_code == 200
            assert gc.get_threshold() == (10_000, *before[1:])
        tuned = build(
            create_app,
            SettlementSettings,
            database_url=url,
            run_background_workers=False,
            gc_young_threshold=2_500,
        )
        async with running(tuned) as client:
            assert (await client.get("/healthz")).status_code == 200
            assert gc.get_threshold()[0] == 2_500
    finally:
        gc.set_threshold(*before)
    assert SettlementSettings().gc_young_threshold == 10_000
