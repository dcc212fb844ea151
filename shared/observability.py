"""Request ids, Prometheus metrics, structured logs and health endpoints, the same in every service.

Metrics are module-level objects in the default registry: one service runs per process, and label sets stay
bounded (route templates, never raw paths; no person ids, no msgids). Logs are one JSON object a line,
carrying the request id, and the NHSA ``msgid`` and ``setl_id`` once known, so one card swipe can be
followed through the gateway, settlement and the ledger.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
#: The NHSA message id being answered: set by the gateway, passed downstream as ``X-Msgid``.
msgid_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("msgid", default=None)
#: The settlement id a request created or acted on: set by the settlement service.
setl_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("setl_id", default=None)
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")

#: Millisecond-oriented buckets: counter answers should sit in the first few.
LATENCY_BUCKETS = (
    0.002,
    0.005,
    0.01,
    0.02,
    0.035,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    2.0,
    5.0,
)

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=LATENCY_BUCKETS,
)
HTTP_IN_FLIGHT = Gauge("http_requests_in_flight", "HTTP requests being served", ["service"])

OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row (0 when empty)", ["service"]
)
OUTBOX_PUBLISHED = Counter("outbox_published_total", "Outbox rows published", ["service", "topic"])
OUTBOX_PUBLISH_FAILURES = Counter(
    "outbox_publish_failures_total", "Outbox publish attempts that failed", ["service"]
)

CONSUMER_EVENTS = Counter(
    "consumer_events_total", "Events seen by a consumer, by outcome", ["service", "topic", "outcome"]
)
CONSUMER_LAG = Gauge(
    "consumer_lag", "Records behind the partition's high watermark", ["service", "topic", "partition"]
)
CONSUMER_DEAD_LETTERS = Gauge("consumer_dead_letters", "Rows in the dead-letter table", ["service"])
CONSUMER_DEAD_LETTERED = Counter(
    "consumer_dead_lettered_total", "Events sent to the dead-letter table", ["service", "topic"]
)


class RequestContextMiddleware:
    """Assigns a request id (honouring a sane incoming ``X-Request-ID``) and records request metrics."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = msgid = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
            elif name == b"x-msgid":
                msgid = value.decode("latin-1")
        request_id = incoming if incoming and _REQUEST_ID_OK.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        # Each request starts with a clean correlation context (a kept-alive connection must not carry the
        # previous request's msgid or setl_id into this one's log lines).
        msgid_token = msgid_var.set(msgid if msgid and _REQUEST_ID_OK.match(msgid) else None)
        setl_token = setl_id_var.set(None)
        status_holder = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        start = time.perf_counter()
        in_flight = HTTP_IN_FLIGHT.labels(self.service)
        in_flight.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            in_flight.dec()
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            HTTP_LATENCY.labels(self.service, method, template).observe(time.perf_counter() - start)
            HTTP_REQUESTS.labels(self.service, method, template, str(status_holder["status"])).inc()
            setl_id_var.reset(setl_token)
            msgid_var.reset(msgid_token)
            request_id_var.reset(token)


#: ``Session.info`` key: the callbacks waiting for the session's transaction to commit.
_AFTER_COMMIT = "after_commit"


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's transaction has committed; never if it rolls back.

    Business metrics count facts, and a settlement or a payment is a fact only once it is committed: a
    request that fails at commit, or loses a race and is retried, must not be counted twice or at all.
    """
    info = session.sync_session.info
    pending: list[Callable[[], None]] | None = info.get(_AFTER_COMMIT)
    if pending is None:
        pending = info[_AFTER_COMMIT] = []
    pending.append(callback)


# Listened to once for every session (a listener registered per session cost each settlement ≈ 1 % of its
# CPU): a session without callbacks waiting is passed over.
@event.listens_for(Session, "after_commit")
def _committed(sync_session: Session) -> None:
    pending: list[Callable[[], None]] | None = sync_session.info.get(_AFTER_COMMIT)
    if not pending:
        return
    callbacks = list(pending)
    pending.clear()
    for run in callbacks:
        try:
            run()
        except Exception:  # a metric must never turn a committed answer into an error
            logging.getLogger(__name__).exception("after-commit callback failed")


@event.listens_for(Session, "after_rollback")
def _rolled_back(sync_session: Session) -> None:
    pending: list[Callable[[], None]] | None = sync_session.info.get(_AFTER_COMMIT)
    if pending:
        pending.clear()


class RequestIdLogFilter(logging.Filter):
    """Puts the correlation ids on every record (also for the plain-text format used by tests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.msgid = msgid_var.get()
        record.setl_id = setl_id_var.get()
        return True


class JsonLogFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, service, logger, message and the correlation
    ids, and the fields of a trail record (``extra={"trail": {...}}``); ``exc`` holds a formatted traceback
    when there is one. Log shippers (Loki, Elasticsearch, the
    container runtime) index the fields as they are."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id_var.get()),
        }
        for key, var in (("msgid", msgid_var), ("setl_id", setl_id_var)):
            value = getattr(record, key, var.get())
            if value:
                data[key] = value
        trail = getattr(record, "trail", None)  # a trail record's own fields (``extra={"trail": {...}}``)
        if isinstance(trail, dict):
            data.update({key: value for key, value in trail.items() if key not in data})
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exc"] = record.exc_text
        return json.dumps(data, ensure_ascii=False, default=str)


def configure_logging(level: str, service: str) -> None:
    root = logging.getLogger()
    if any(getattr(h, "_medins", False) for h in root.handlers):
        return
    handler = logging.StreamHandler()
    handler._medins = True  # type: ignore[attr-defined]
    handler.addFilter(RequestIdLogFilter())
    handler.setFormatter(JsonLogFormatter(service))
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


ReadinessCheck = Callable[[], Awaitable[None]]


def health_router(checks: Callable[[], dict[str, ReadinessCheck]], timeout_s: float) -> APIRouter:
    """``/healthz``: the process answers. ``/readyz``: every dependency answered within ``timeout_s``."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers (no dependency is asked). For the orchestrator's liveness probe."""
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        """Readiness: every dependency (database, broker, the services called) answered within the
        timeout; 503 with each one's reason when one did not. For the orchestrator's readiness probe."""
        results: dict[str, Any] = {}
        ready = True
        for name, check in checks().items():
            try:
                await asyncio.wait_for(check(), timeout_s)
                results[name] = "ok"
            except Exception as exc:
                ready = False
                results[name] = f"unavailable: {type(exc).__name__}: {exc}"[:300]
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": results},
            status_code=200 if ready else 503,
        )

    return router


def install_observability(app: FastAPI, service: str) -> None:
    app.add_middleware(RequestContextMiddleware, service=service)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
