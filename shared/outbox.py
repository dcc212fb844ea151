"""Transactional outbox: an event is written in the same database transaction as the business row it
describes, and a relay publishes it to Kafka afterwards.

The relay marks a row sent only after the broker acknowledged it (acks=all). A crash between the
acknowledgement and the mark publishes the row again on restart: delivery is at-least-once and consumers
dedupe on ``event_id``. On PostgreSQL, several relay replicas share the table safely: each batch is claimed
with ``FOR UPDATE SKIP LOCKED`` for the time it takes to publish it, so replicas do not send the same row
concurrently. SQLite has one writer process by construction (the embedded default).

Every broker call is bounded (``shared.kafka.BROKER_CALL_TIMEOUT_S``): a failed or timed-out batch drops the
producer, asks the ``TopicGuard`` to create the topics again (a broker that restarted empty has none) and
retries with a new producer after a backoff, so the relay survives a broker restart without a service
restart. Rows are kept after they are sent (never purged): the producer's outbox is the record the ledger
checks the broker against (``shared.outbox_feed``, ``shared.gapwatch``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Database, run, utcnow
from shared.events import EventData, EventEnvelope
from shared.infra import InfraTables
from shared.kafka import BROKER_CALL_TIMEOUT_S, TopicGuard
from shared.observability import (
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    OUTBOX_PUBLISH_FAILURES,
    OUTBOX_PUBLISHED,
    request_id_var,
)

log = logging.getLogger(__name__)


async def enqueue(
    session: AsyncSession, tables: InfraTables, event: EventData, producer: str
) -> EventEnvelope:
    """Add ``event`` to the outbox inside the caller's transaction; returns the envelope written (with the
    current request's id as its ``trace_id``)."""
    envelope = event.envelope(producer, trace_id=current_trace_id())
    insert = _INSERTS.get(tables.outbox)
    if insert is None:  # built once per outbox table: a statement written inline is built on every call
        insert = _INSERTS[tables.outbox] = tables.outbox.insert()
    await run(session, insert, outbox_row(event, envelope))
    return envelope


def current_trace_id() -> str | None:
    """The id of the request being served (``X-Request-ID``), the ``trace_id`` of the events it produces;
    None outside a request (a batch job, a consumer)."""
    request_id = request_id_var.get()
    return None if request_id == "-" else request_id


def kafka_headers(payload: str) -> list[tuple[str, bytes]]:
    """The Kafka headers of an event (its envelope as stored in the outbox): ``type``, ``version``,
    ``event_id`` and, when a request produced it, ``trace_id``; a consumer can route or trace a record
    without parsing its value (docs/architecture.md, "Kafka")."""
    envelope = json.loads(payload)
    headers = [
        ("type", str(envelope["type"]).encode()),
        ("version", str(envelope["version"]).encode()),
        ("event_id", str(envelope["event_id"]).encode()),
    ]
    if envelope.get("trace_id"):
        headers.append(("trace_id", str(envelope["trace_id"]).encode()))
    return headers


def outbox_row(event: EventData, envelope: EventEnvelope) -> dict[str, Any]:
    """The outbox row of an event (``enqueue``, and bulk writers that insert many at once)."""
    return {
        "event_id": str(envelope.event_id),
        "topic": event.topic,
        "event_key": envelope.key,
        "event_type": envelope.type,
        "payload": envelope.model_dump_json(),
        "created_at": envelope.occurred_at,
        "attempts": 0,
    }


#: The columns ``outbox_row`` fills.
OUTBOX_COLUMNS = ("event_id", "topic", "event_key", "event_type", "payload", "created_at", "attempts")
_INSERTS: dict[Any, Any] = {}


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        tables: InfraTables,
        service: str,
        producer_factory: Callable[[], AIOKafkaProducer],
        *,
        batch_size: int = 200,
        poll_interval_s: float = 0.5,
        max_backoff_s: float = 30.0,
        topic_guard: TopicGuard | None = None,
        call_timeout_s: float = BROKER_CALL_TIMEOUT_S,
    ) -> None:
        self.db = db
        self.topic_guard = topic_guard
        self.call_timeout_s = call_timeout_s
        #: The topics of the rows this relay has published (the ones it creates again after a failure).
        self._topics: set[str] = set()
        self.tables = tables
        self.service = service
        # Exported as 0 from the start, so that dashboards and alerts see the series before any failure.
        OUTBOX_PUBLISH_FAILURES.labels(service)
        self._producer_factory = producer_factory
        self._producer: AIOKafkaProducer | None = None
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.max_backoff_s = max_backoff_s
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._stats_at = 0.0

    def wake(self) -> None:
        """Tell the relay a row was just committed, so it publishes now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = self._producer_factory()
            try:
                async with asyncio.timeout(self.call_timeout_s):
                    await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _drop_producer(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            try:
                async with asyncio.timeout(self.call_timeout_s):
                    await producer.stop()
            except Exception:
                log.debug("producer stop failed", exc_info=True)

    async def run(self) -> None:
        backoff = 0.0
        while not self._stop.is_set():
            try:
                published = await self.publish_once()
                await self.refresh_stats()
                backoff = 0.0
                if published >= self.batch_size:
                    continue  # more waiting: keep draining
                # A batch that was not full took everything committed before it; what this process
                # committed meanwhile has woken the relay (``wake``), so ``_idle`` returns at once for it,
                # without a poll of an empty table after every batch (a transaction of three round trips;
                # at a card swipe's rate nearly one per settlement). Other processes' rows wait for the poll.
                await self._idle(self.poll_interval_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                OUTBOX_PUBLISH_FAILURES.labels(self.service).inc()
                backoff = min(self.max_backoff_s, max(0.2, backoff * 2))
                log.warning("outbox relay: %s: %s; retrying in %.1fs", type(exc).__name__, exc, backoff)
                await self._drop_producer()
                if self.topic_guard is not None and self._topics:
                    await self.topic_guard.ensure(self._topics)
                try:
                    await self.refresh_stats(force=True)
                except Exception:
                    log.debug("outbox stats refresh failed", exc_info=True)
                await self._idle(backoff)
        await self._drop_producer()

    async def _idle(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    def _claim_query(self) -> Any:
        t = self.tables.outbox
        query = select(t.c.id, t.c.topic, t.c.event_key, t.c.payload).where(t.c.sent_at.is_(None))
        query = query.order_by(t.c.id).limit(self.batch_size)
        if not self.db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        return query

    async def publish_once(self) -> int:
        """Publish one batch of unsent rows; returns how many were acknowledged by the broker."""
        producer = await self._ensure_producer()
        if self.db.is_sqlite:
            # Single writer process: read, publish, then mark, without holding SQLite's write lock while
            # waiting for the broker.
            async with self.db.session() as session:
                rows = (await session.execute(self._claim_query())).all()
                await session.rollback()
            if not rows:
                return 0
            sent, failed = await self._publish(producer, rows)
            async with self.db.transaction() as session:
                await self._mark(session, sent, failed)
        else:
            async with self.db.transaction() as session:
                rows = (await session.execute(self._claim_query())).all()
                if not rows:
                    return 0
                sent, failed = await self._publish(producer, rows)
                await self._mark(session, sent, failed)
        if failed:
            raise ConnectionError(
                f"{len(failed)} of {len(rows)} outbox rows not acknowledged: {failed[0][1]}"
            )
        return len(sent)

    async def _publish(
        self, producer: AIOKafkaProducer, rows: Sequence[Any]
    ) -> tuple[list[int], list[tuple[int, str]]]:
        # The whole batch is bounded: a broker that stopped answering fails it (nothing is marked sent) and
        # the relay starts over with a new producer.
        self._topics.update(row.topic for row in rows)
        async with asyncio.timeout(self.call_timeout_s):
            futures = []
            for row in rows:
                futures.append(
                    await producer.send(
                        row.topic,
                        value=row.payload.encode(),
                        key=row.event_key.encode(),
                        headers=kafka_headers(row.payload),
                    )
                )
            results = await asyncio.gather(*futures, return_exceptions=True)
        sent: list[int] = []
        failed: list[tuple[int, str]] = []
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, BaseException):
                failed.append((row.id, f"{type(result).__name__}: {result}"))
            else:
                sent.append(row.id)
                OUTBOX_PUBLISHED.labels(self.service, row.topic).inc()
        return sent, failed

    async def _mark(self, session: AsyncSession, sent: list[int], failed: list[tuple[int, str]]) -> None:
        t = self.tables.outbox
        if sent:
            await session.execute(update(t).where(t.c.id.in_(sent)).values(sent_at=utcnow()))
        for row_id, error in failed:
            await session.execute(
                update(t).where(t.c.id == row_id).values(attempts=t.c.attempts + 1, last_error=error[:2000])
            )

    async def backlog(self) -> tuple[int, float]:
        """(unsent rows, age in seconds of the oldest unsent row)."""
        t = self.tables.outbox
        async with self.db.session() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(t.c.created_at)).where(t.c.sent_at.is_(None))
                )
            ).one()
            await session.rollback()
        age = 0.0
        if oldest is not None:
            age = max(0.0, (utcnow() - _aware(oldest)).total_seconds())
        return int(count), age

    async def refresh_stats(self, *, force: bool = False) -> None:
        now = asyncio.get_running_loop().time()
        if not force and now - self._stats_at < 1.0:
            return
        self._stats_at = now
        count, age = await self.backlog()
        OUTBOX_BACKLOG.labels(self.service).set(count)
        OUTBOX_OLDEST_AGE.labels(self.service).set(age)


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
