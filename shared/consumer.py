"""Idempotent Kafka consumer.

For each record, in ONE database transaction: run the handler and record the event id as processed. The
Kafka offset is committed only after that transaction committed, so a crash at any point leads to
redelivery, and a redelivered event finds its id already recorded and changes nothing.

Records are processed a poll batch at a time: all the records of a batch in ONE transaction (handlers run
one after the other in partition order; the processed-event records are written together), and the offsets
of every partition in it are committed after that commit. When anything in the batch fails (an event to
dead-letter, a handler refusing one, the database refusing the batch at commit), nothing of it was kept, and
the batch is processed again one record per transaction, which isolates the failing record exactly as
before. A ``batch_scope`` lets a service wrap each transaction (the fund ledger buffers its journal in it).

An event that cannot be processed (malformed, unknown major version, refused by the handler as invalid) is
written to the dead-letter table with the reason, counted in a metric and logged; it is never silently
dropped. A failure of our own (database down) is not the event's fault: the consumer seeks back and retries
the same record with backoff instead of dead-lettering it.

The broker is not trusted to keep anything: every call to it is bounded
(``shared.kafka.BROKER_CALL_TIMEOUT_S``) and a failed or timed-out start, fetch or offset commit closes the
consumer and joins the group anew after a backoff (the topics are created again by the service that
publishes to them). An offset commit that fails after the database commit loses nothing: the records come
again and are found processed. Offsets are not committed when the consumer rejoined its group since it
fetched the records (after a broker restart they would point past the start of the new log). A group whose
committed offsets vanished (a broker that restarted empty) starts from the earliest offset, again
deduplicated by event id. What the broker lost entirely is found by ``shared.gapwatch`` against the
producer's outbox and booked through ``process_envelopes`` (the same handlers, the same processed-event
table).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
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
from shared.kafka import BROKER_CALL_TIMEOUT_S
from shared.observability import CONSUMER_DEAD_LETTERED, CONSUMER_DEAD_LETTERS, CONSUMER_EVENTS, CONSUMER_LAG

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, EventEnvelope], Awaitable[None]]
#: Wraps every consumer transaction, inside it: entered after BEGIN, left (normally) before COMMIT.
BatchScope = Callable[[AsyncSession], AbstractAsyncContextManager[None]]


@asynccontextmanager
async def no_scope(session: AsyncSession) -> AsyncIterator[None]:
    yield


class _BatchFailed(Exception):
    """The batch could not be processed as one transaction; it is processed record by record instead."""


class BrokerCallFailed(Exception):
    """A call to the broker failed or timed out (an offset commit, a position): the consumer is recreated."""


class EventRejected(Exception):
    """Raised by a handler for an event that can never be processed; it goes to the dead-letter table."""


@dataclass(frozen=True)
class Subscription:
    handler: Handler
    #: The major version this handler understands; any other version is dead-lettered.
    version: int = 1
    #: Older major versions the handler still reads while producers roll over to ``version`` (the handler
    #: tells them apart by ``envelope.version``).
    older: frozenset[int] = frozenset()

    def accepts(self, version: int) -> bool:
        return version == self.version or version in self.older


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
        max_batch: int = 500,
        batch_scope: BatchScope = no_scope,
        call_timeout_s: float = BROKER_CALL_TIMEOUT_S,
    ) -> None:
        self.db = db
        self.call_timeout_s = call_timeout_s
        #: The group generation and member id the last batch was fetched in (``_commit``).
        self._fetched_in: tuple[object, object] | None = None
        self.tables = tables
        self.service = service
        self._consumer_factory = consumer_factory
        self.subscriptions = subscriptions
        self.max_backoff_s = max_backoff_s
        self._stop = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._on_processed = on_processed
        self.max_batch = max(1, max_batch)
        self.batch_scope = batch_scope

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        backoff = 0.0
        await self._load_dead_letter_count()
        while not self._stop.is_set():
            try:
                if self._consumer is None:
                    consumer = self._consumer_factory()
                    try:
                        async with asyncio.timeout(self.call_timeout_s):
                            await consumer.start()
                    except BaseException:
                        await self._stop_client(consumer)
                        raise
                    self._consumer = consumer
                async with asyncio.timeout(self.call_timeout_s):
                    batch = await self._consumer.getmany(timeout_ms=500, max_records=self.max_batch)
                self._fetched_in = _membership(self._consumer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The broker, not an event: reconnect (topics created again if it lost them) with backoff.
                await self._close_consumer()
                backoff = await self._back_off(backoff, f"broker: {type(exc).__name__}: {exc}")
                continue
            try:
                await self._process_batch(batch)
                await self._update_lag()
                backoff = 0.0
            except asyncio.CancelledError:
                raise
            except BrokerCallFailed as exc:
                # What was processed is committed in the database; the broker forgot the group or stopped
                # answering. A new consumer joins the group again and resumes from the committed offsets (or
                # the earliest ones if the broker lost them): anything redelivered is found processed.
                await self._close_consumer()
                backoff = await self._back_off(backoff, f"broker: {exc}")
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
            await self._stop_client(consumer)

    async def _stop_client(self, consumer: AIOKafkaConsumer) -> None:
        try:
            async with asyncio.timeout(self.call_timeout_s):
                await consumer.stop()
        except Exception:
            log.debug("consumer stop failed", exc_info=True)

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        """Commit offsets of records whose effects are committed in the database; bounded.

        Not when the consumer rejoined its group since it fetched them: after a broker restart that joins a
        new, empty group on the new broker, and committing offsets read from the old broker's log there would
        put the group past the start of the new log, skipping its first records. Not committing loses
        nothing (the records come again and are found processed)."""
        if _membership(consumer) != self._fetched_in:
            log.info(
                "consumer %s: group rejoined since the records were fetched; offsets not committed",
                self.service,
            )
            return
        try:
            async with asyncio.timeout(self.call_timeout_s):
                await consumer.commit(offsets)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise BrokerCallFailed(f"offset commit: {type(exc).__name__}: {exc}") from exc

    async def _process_batch(self, batch: dict[TopicPartition, list[ConsumerRecord[Any, Any]]]) -> None:
        consumer = self._consumer
        assert consumer is not None
        records = [record for _, partition_records in batch.items() for record in partition_records]
        if len(records) > 1:
            try:
                await self.handle_batch(records)
            except _BatchFailed:
                pass  # nothing was kept: one record per transaction below
            else:
                await self._commit(
                    consumer,
                    {tp: partition_records[-1].offset + 1 for tp, partition_records in batch.items()},
                )
                return
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
                    await self._commit(consumer, {tp: next_offset})

    async def process_envelopes(self, events: list[tuple[str, bytes]]) -> list[str]:
        """Process events fetched from elsewhere than the broker (``(topic, raw envelope)`` pairs, in their
        producer's order) exactly as if they had been consumed: same handlers, same processed-event table,
        so an event the consumer also receives is booked once."""
        records = [
            ConsumerRecord(
                topic=topic,
                partition=-1,
                offset=-1,
                timestamp=0,
                timestamp_type=0,
                key=None,
                value=raw,
                checksum=None,
                serialized_key_size=0,
                serialized_value_size=len(raw),
                headers=(),
            )
            for topic, raw in events
        ]
        return await self.process_records(records)

    async def process_records(self, records: list[ConsumerRecord[Any, Any]]) -> list[str]:
        """Process records as the consumer loop does, without Kafka: one transaction for all of them, or
        one per record if that fails. Returns each record's outcome."""
        if len(records) > 1:
            with contextlib.suppress(_BatchFailed):
                return await self.handle_batch(records)
        return [await self.handle_record(record) for record in records]

    async def handle_batch(self, records: list[ConsumerRecord[Any, Any]]) -> list[str]:
        """Process records in ONE transaction; returns each record's outcome (processed, duplicate,
        ignored). Raises ``_BatchFailed`` (and keeps nothing) when a record would be dead-lettered or the
        transaction fails for any reason: the caller then uses ``handle_record`` one by one, which tells an
        event's fault (dead letter) from our own (retry)."""
        parsed: list[tuple[ConsumerRecord[Any, Any], EventEnvelope, Subscription | None]] = []
        for record in records:
            try:
                envelope = EventEnvelope.from_bytes(record.value or b"")
            except ValidationError as exc:
                raise _BatchFailed("malformed envelope") from exc
            subscription = self.subscriptions.get(envelope.type)
            if subscription is not None and not subscription.accepts(envelope.version):
                raise _BatchFailed("unsupported version")
            parsed.append((record, envelope, subscription))
        wanted = [str(envelope.event_id) for _, envelope, subscription in parsed if subscription is not None]
        outcomes: list[str] = []
        try:
            async with self.db.transaction() as session:
                seen = await self._processed_among(session, wanted)
                done: list[dict[str, Any]] = []
                async with self.batch_scope(session):
                    for record, envelope, subscription in parsed:
                        event_id = str(envelope.event_id)
                        if subscription is None:
                            outcomes.append("ignored")
                        elif event_id in seen:
                            outcomes.append("duplicate")
                        else:
                            await subscription.handler(session, envelope)
                            seen.add(event_id)
                            done.append(self._processed_row(envelope, record.topic, "processed"))
                            outcomes.append("processed")
                if done:
                    await session.execute(self.tables.processed_events.insert(), done)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info(
                "consumer %s: batch of %d falls back to one record at a time: %s: %s",
                self.service,
                len(records),
                type(exc).__name__,
                exc,
            )
            raise _BatchFailed(str(exc)) from exc
        for (record, _, _), outcome in zip(parsed, outcomes, strict=True):
            self._count(record.topic, outcome)
            if outcome == "processed" and self._on_processed is not None:
                self._on_processed()
        return outcomes

    async def _processed_among(self, session: AsyncSession, event_ids: list[str]) -> set[str]:
        t = self.tables.processed_events
        found: set[str] = set()
        for start in range(0, len(event_ids), 500):
            chunk = event_ids[start : start + 500]
            found.update(
                str(row[0])
                for row in await session.execute(select(t.c.event_id).where(t.c.event_id.in_(chunk)))
            )
        return found

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
        if not subscription.accepts(envelope.version):
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
                async with self.batch_scope(session):
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

    @staticmethod
    def _processed_row(envelope: EventEnvelope, topic: str, outcome: str) -> dict[str, Any]:
        return {
            "event_id": str(envelope.event_id),
            "topic": topic,
            "event_type": envelope.type,
            "outcome": outcome,
            "processed_at": utcnow(),
        }

    async def _record_processed(
        self, session: AsyncSession, envelope: EventEnvelope, topic: str, outcome: str
    ) -> None:
        await session.execute(
            self.tables.processed_events.insert().values(**self._processed_row(envelope, topic, outcome))
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
        try:
            async with asyncio.timeout(self.call_timeout_s):
                for tp in consumer.assignment():
                    highwater = consumer.highwater(tp)
                    if highwater is None:
                        continue
                    position = await consumer.position(tp)
                    lag = max(0, highwater - position)
                    CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition)).set(lag)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise BrokerCallFailed(f"position: {type(exc).__name__}: {exc}") from exc


def _membership(consumer: AIOKafkaConsumer) -> tuple[object, object] | None:
    """(generation, member id) of the consumer in its group, from aiokafka's coordinator (no public API)."""
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is None:
        return None
    return getattr(coordinator, "generation", None), getattr(coordinator, "member_id", None)


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return str(exc)
    first = errors[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    return f"{loc}: {first.get('msg')}" if loc else str(first.get("msg"))
