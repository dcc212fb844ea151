"""Idempotent Kafka consumer.

For each record, in ONE database transaction: run the handler and record the event id as processed. The
Kafka offset is committed only after that transaction committed, so a crash at any point leads to
redelivery, and a redelivered event finds its id already recorded and changes nothing.

An event that cannot be processed (malformed, unknown major version, refused by the handler as invalid) is
written to the dead-letter table with the reason, counted in a metric and logged; it is never silently
dropped. A failure of our own (database down) is not the event's fault: the consumer seeks back and retries
the same record with backoff instead of dead-lettering it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Database, utcnow
from shared.errors import DomainError
from shared.events import EventEnvelope
from shared.infra import InfraTables
from shared.observability import CONSUMER_DEAD_LETTERED, CONSUMER_DEAD_LETTERS, CONSUMER_EVENTS, CONSUMER_LAG

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, EventEnvelope], Awaitable[None]]


class EventRejected(Exception):
    """Raised by a handler for an event that can never be processed; it goes to the dead-letter table."""


@dataclass(frozen=True)
class Subscription:
    handler: Handler
    #: The major version this handler understands; any other version is dead-lettered.
    version: int = 1


class IdempotentConsumer:
    def __init__(
        self,
        db: Database,
        tables: InfraTables,
        service: str,
        consumer_factory: Callable[[], AIOKafkaConsumer],
        subscriptions: dict[str, Subscription],
        *,
        max_backoff_s: float = 30.0,
        on_processed: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.tables = tables
        self.service = service
        self._consumer_factory = consumer_factory
        self.subscriptions = subscriptions
        self.max_backoff_s = max_backoff_s
        self._stop = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._on_processed = on_processed

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        backoff = 0.0
        await self._load_dead_letter_count()
        while not self._stop.is_set():
            try:
                if self._consumer is None:
                    consumer = self._consumer_factory()
                    await consumer.start()
                    self._consumer = consumer
                batch = await self._consumer.getmany(timeout_ms=500, max_records=500)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The broker, not an event: reconnect with backoff.
                backoff = await self._back_off(backoff, f"broker: {type(exc).__name__}: {exc}")
                await self._close_consumer()
                continue
            try:
                await self._process_batch(batch)
                await self._update_lag()
                backoff = 0.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Our own failure (database down...): the unprocessed records were sought back and are
                # retried by the same consumer, keeping its partitions (no rebalance).
                backoff = await self._back_off(backoff, f"processing: {type(exc).__name__}: {exc}")
        await self._close_consumer()

    async def _back_off(self, backoff: float, reason: str) -> float:
        backoff = min(self.max_backoff_s, max(0.2, backoff * 2))
        log.warning("consumer %s: %s; retrying in %.1fs", self.service, reason, backoff)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), backoff)
        return backoff

    async def _close_consumer(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            try:
                await consumer.stop()
            except Exception:
                log.debug("consumer stop failed", exc_info=True)

    async def _process_batch(self, batch: dict[TopicPartition, list[ConsumerRecord[Any, Any]]]) -> None:
        consumer = self._consumer
        assert consumer is not None
        pending = list(batch.items())
        while pending:
            tp, records = pending.pop(0)
            next_offset: int | None = None
            try:
                for record in records:
                    await self.handle_record(record)
                    next_offset = record.offset + 1
            except Exception:
                # Rewind this partition to the record that failed and the untouched ones to their start,
                # so nothing fetched but not processed is skipped.
                consumer.seek(tp, next_offset if next_offset is not None else records[0].offset)
                for other_tp, other_records in pending:
                    consumer.seek(other_tp, other_records[0].offset)
                raise
            finally:
                # Commit only what is durably done (after its database commit).
                if next_offset is not None:
                    await consumer.commit({tp: next_offset})

    async def handle_record(self, record: ConsumerRecord[Any, Any]) -> str:
        """Process one record; returns the outcome (processed, duplicate, ignored, dead_lettered)."""
        topic = record.topic
        raw: bytes = record.value or b""
        try:
            envelope = EventEnvelope.from_bytes(raw)
        except ValidationError as exc:
            await self._dead_letter(record, None, None, f"malformed envelope: {_first_error(exc)}")
            return self._count(topic, "dead_lettered")

        subscription = self.subscriptions.get(envelope.type)
        if subscription is None:
            # Topics carry every event of their producer; this service handles a subset.
            return self._count(topic, "ignored")
        if envelope.version != subscription.version:
            await self._dead_letter(
                record,
                envelope,
                envelope.type,
                f"unsupported version {envelope.version} of {envelope.type} (handler understands "
                f"{subscription.version})",
            )
            return self._count(topic, "dead_lettered")

        event_id = str(envelope.event_id)
        try:
            async with self.db.transaction() as session:
                if await self._already_processed(session, event_id):
                    return self._count(topic, "duplicate")
                await subscription.handler(session, envelope)
                await self._record_processed(session, envelope, topic, "processed")
        except IntegrityError as exc:
            # A concurrent replica recorded the same event id first: its work stands, ours rolled back.
            async with self.db.session() as session:
                if await self._already_processed(session, event_id):
                    return self._count(topic, "duplicate")
            # Otherwise the database refused what the handler wrote (a constraint, an unbalanced entry at
            # commit): retrying would fail the same way and block the partition, so it is dead-lettered,
            # loudly, with the database's reason.
            await self._dead_letter(record, envelope, envelope.type, f"IntegrityError: {exc.orig}"[:4000])
            return self._count(topic, "dead_lettered")
        except (EventRejected, DomainError, ValidationError) as exc:
            reason = _first_error(exc) if isinstance(exc, ValidationError) else str(exc)
            await self._dead_letter(record, envelope, envelope.type, f"{type(exc).__name__}: {reason}")
            return self._count(topic, "dead_lettered")
        if self._on_processed is not None:
            self._on_processed()
        return self._count(topic, "processed")

    def _count(self, topic: str, outcome: str) -> str:
        CONSUMER_EVENTS.labels(self.service, topic, outcome).inc()
        return outcome

    async def _already_processed(self, session: AsyncSession, event_id: str) -> bool:
        t = self.tables.processed_events
        found = await session.execute(select(t.c.event_id).where(t.c.event_id == event_id))
        return found.first() is not None

    async def _record_processed(
        self, session: AsyncSession, envelope: EventEnvelope, topic: str, outcome: str
    ) -> None:
        await session.execute(
            self.tables.processed_events.insert().values(
                event_id=str(envelope.event_id),
                topic=topic,
                event_type=envelope.type,
                outcome=outcome,
                processed_at=utcnow(),
            )
        )

    async def _dead_letter(
        self,
        record: ConsumerRecord[Any, Any],
        envelope: EventEnvelope | None,
        event_type: str | None,
        reason: str,
    ) -> None:
        log.error("dead-lettering %s[%s]@%s: %s", record.topic, record.partition, record.offset, reason)
        raw: bytes = record.value or b""
        async with self.db.transaction() as session:
            if envelope is not None and await self._already_processed(session, str(envelope.event_id)):
                return  # dead-lettered before; a redelivery adds nothing
            await session.execute(
                self.tables.dead_letters.insert().values(
                    event_id=str(envelope.event_id) if envelope else None,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    event_type=event_type,
                    payload=raw.decode("utf-8", errors="replace"),
                    reason=reason[:4000],
                    created_at=utcnow(),
                )
            )
            if envelope is not None:
                await self._record_processed(session, envelope, record.topic, "dead_lettered")
        CONSUMER_DEAD_LETTERED.labels(self.service, record.topic).inc()
        CONSUMER_DEAD_LETTERS.labels(self.service).inc()

    async def _load_dead_letter_count(self) -> None:
        try:
            async with self.db.session() as session:
                count = (
                    await session.execute(select(func.count()).select_from(self.tables.dead_letters))
                ).scalar()
                await session.rollback()
            CONSUMER_DEAD_LETTERS.labels(self.service).set(count or 0)
        except Exception:
            log.warning("could not count dead letters", exc_info=True)

    async def _update_lag(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            position = await consumer.position(tp)
            CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition)).set(max(0, highwater - position))


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return str(exc)
    first = errors[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    return f"{loc}: {first.get('msg')}" if loc else str(first.get("msg"))
