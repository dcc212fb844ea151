"""What every service process is made of: its database, the outbox relay if it publishes, the idempotent
consumer if it subscribes, readiness checks, and the FastAPI app wiring around them."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from pydantic import BaseModel
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from shared import voucher
from shared.audit import AuditMiddleware
from shared.auth import DEV_AUTH_SECRET, Authenticator, is_guarded
from shared.config import ServiceSettings
from shared.consumer import BatchScope, IdempotentConsumer, Subscription, no_scope
from shared.db import Database
from shared.docs_ui import install_documented_refusals, install_offline_docs
from shared.errors import install_error_handlers
from shared.events import ALL_TOPICS
from shared.infra import InfraTables
from shared.kafka import BrokerProbe, TopicGuard, ensure_topics_with_retry, make_consumer, make_producer
from shared.masking import install_log_masking
from shared.observability import ReadinessCheck, configure_logging, health_router, install_observability
from shared.outbox import OutboxRelay

log = logging.getLogger(__name__)


class ServiceRuntime:
    """Long-lived resources of one service process, created in the app's lifespan."""

    def __init__(
        self,
        settings: ServiceSettings,
        tables: InfraTables | None,
        *,
        publishes: bool = False,
        consumes: Sequence[str] = (),
        subscriptions: dict[str, Subscription] | None = None,
        consumer_group: str | None = None,
        batch_scope: BatchScope = no_scope,
        workers: Sequence[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = (),
    ) -> None:
        self.settings = settings
        self.tables = tables
        self.service = settings.service_name
        voucher.configure(settings.auth_secret.get_secret_value())  # e-voucher tokens (shared/voucher.py)
        self.db = Database(
            settings.resolved_database_url(),
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
        self.probe = BrokerProbe(settings.kafka_bootstrap)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        #: Other background loops of the service (a scheduler...): each runs until the event is set.
        self._extra_workers = list(workers)
        #: Calls that outlive the request that started them (``keep``), until they end.
        self._calls: set[asyncio.Future[Any]] = set()
        self.relay: OutboxRelay | None = None
        self.consumer: IdempotentConsumer | None = None
        #: Creates the topics again when the broker lost them (the relay, for the topics it publishes to).
        self.topic_guard = TopicGuard(settings.kafka_bootstrap, ALL_TOPICS)
        if (publishes or consumes) and tables is None:
            raise ValueError("a service that publishes or consumes events needs the messaging tables")
        if publishes:
            assert tables is not None
            self.relay = OutboxRelay(
                self.db,
                tables,
                self.service,
                lambda: make_producer(
                    settings.kafka_bootstrap,
                    idempotence=settings.kafka_idempotence,
                    client_id=f"{self.service}-relay",
                ),
                batch_size=settings.outbox_batch_size,
                poll_interval_s=settings.outbox_poll_interval_s,
                max_backoff_s=settings.outbox_max_backoff_s,
                topic_guard=self.topic_guard,
            )
        if consumes:
            assert tables is not None
            topics = tuple(consumes)
            group = consumer_group or self.service
            self.consumer = IdempotentConsumer(
                self.db,
                tables,
                self.service,
                lambda: make_consumer(settings, topics, group=group, client_id=f"{self.service}-consumer"),
                subscriptions or {},
                max_backoff_s=settings.outbox_max_backoff_s,
                max_batch=settings.consumer_batch_size,
                batch_scope=batch_scope,
            )

    async def start(self) -> None:
        if not self.settings.run_background_workers:
            return
        if self.relay is not None or self.consumer is not None:
            self._tasks.append(asyncio.create_task(self._workers(), name=f"{self.service}-workers"))
        for number, worker in enumerate(self._extra_workers, start=1):
            task = asyncio.create_task(worker(self._stop), name=f"{self.service}-worker-{number}")
            self._tasks.append(task)

    async def _workers(self) -> None:
        if not await ensure_topics_with_retry(self.settings.kafka_bootstrap, ALL_TOPICS, self._stop):
            return
        runners = []
        if self.relay is not None:
            runners.append(self.relay.run())
        if self.consumer is not None:
            runners.append(self.consumer.run())
        await asyncio.gather(*runners)

    def keep(self, call: asyncio.Future[Any]) -> None:
        """Hold ``call`` (a task that outlives the request that started it: a confirmation owed to a peer
        platform after the commit) referenced until it ends, and let ``stop`` wait for it before the
        database pool it uses is closed."""
        self._calls.add(call)
        call.add_done_callback(self._calls.discard)

    def calls_running(self) -> list[asyncio.Future[Any]]:
        """The calls kept (``keep``) that have not ended yet."""
        return [call for call in self._calls if not call.done()]

    async def _finish_calls(self) -> None:
        """At shutdown: the kept calls are given ``shutdown_calls_wait_s`` to end; those still running are
        cancelled (what they owed stays owed, for the retry loop after the restart), and every one has
        ended before ``stop`` closes the pool."""
        running = self.calls_running()
        if not running:
            return
        _, late = await asyncio.wait(running, timeout=self.settings.shutdown_calls_wait_s)
        if late:
            log.warning("%d call(s) owed after a commit cut off at shutdown; they stay owed", len(late))
            for call in late:
                call.cancel()
            await asyncio.wait(late)

    async def stop(self) -> None:
        # First the calls still going on after their request: they use the pool closed below.
        await self._finish_calls()
        self._stop.set()
        if self.relay is not None:
            self.relay.stop()
        if self.consumer is not None:
            self.consumer.stop()
        for task in self._tasks:
            try:
                await asyncio.wait_for(task, 10)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
            except Exception:
                log.exception("background worker ended with an error")
        await self.probe.close()
        await self.db.dispose()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction; after it commits, the outbox relay is told there is something to publish."""
        async with self.db.transaction() as session:
            yield session
        if self.relay is not None:
            self.relay.wake()

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        return {"database": self.db.ping, "broker": self.probe.check}


def model_response(model: BaseModel) -> Response:
    """A 200 answer serialized by pydantic straight from ``model``. For an endpoint whose
    ``response_model`` is the model's own class (it still documents the answer): FastAPI would validate
    the model it was handed once more and serialize it through Python objects (a 100-line settlement:
    ≈ 2 ms of CPU)."""
    return Response(model.model_dump_json(), media_type="application/json")


async def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    runtime_factory: Callable[[ServiceSettings], ServiceRuntime],
    routers: Sequence[APIRouter],
    audit_table: Table,
    his_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """``routers`` must each be wrapped by ``shared.auth.guarded`` (nothing is open by default);
    ``his_routers`` are the gateway's HIS entry point, which authenticates institutions its own way."""
    configure_logging(settings.log_level, settings.service_name)
    install_log_masking()
    unguarded = [r for r in routers if not is_guarded(r)]
    if unguarded:
        raise ValueError(f"{settings.service_name}: every router needs shared.auth.guarded(...)")
    secret = settings.auth_secret.get_secret_value()
    if secret == DEV_AUTH_SECRET:
        log.warning(
            "%s runs with the development auth secret; set the AUTH_SECRET setting", settings.service_name
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = runtime_factory(settings)
        app.state.runtime = runtime
        await runtime.start()
        gc.set_threshold(settings.gc_young_threshold, *gc.get_threshold()[1:])
        if settings.freeze_heap_at_start:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                await runtime.stop()

    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by install_offline_docs, without a CDN
        redoc_url=None,
    )
    app.state.auth = Authenticator(secret, settings.service_name)
    install_error_handlers(app)
    app.add_middleware(AuditMiddleware, table=audit_table)
    install_observability(app, settings.service_name)
    app.include_router(health_router(lambda: app.state.runtime.readiness_checks(), settings.ready_timeout_s))
    for router in [*his_routers, *routers]:
        app.include_router(router)
    install_offline_docs(app)
    install_documented_refusals(app)
    return app


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]
