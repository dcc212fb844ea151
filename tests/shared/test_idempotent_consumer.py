"""The idempotent consumer against the real broker, on SQLite and PostgreSQL: processed once, redelivery
changes nothing, unprocessable events are dead-lettered with a reason, our own failures are retried."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import Column, ColumnElement, Integer, MetaData, String, Table, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.consumer import EventRejected, IdempotentConsumer, Subscription
from shared.db import Database, utcnow
from shared.events import EventEnvelope
from shared.infra import define_infra_tables
from shared.kafka import ensure_topics
from shared.observability import CONSUMER_DEAD_LETTERED, CONSUMER_EVENTS
from tests.conftest import DatabaseFactory, eventually

metadata = MetaData()
deposits = Table(
    "deposits",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ref", String(50)),
    Column("amount_fen", Integer),
)
infra = define_infra_tables(metadata)


def envelope(
    ref: str, amount_fen: int, *, version: int = 1, event_type: str = "test.deposit"
) -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid.uuid4(),
        type=event_type,
        version=version,
        occurred_at=utcnow(),
        producer="test",
        key=ref,
        data={"ref": ref, "amount_fen": amount_fen},
    )


class Harness:
    def __init__(self, db: Database, bootstrap: str, topic: str, service: str) -> None:
        self.db = db
        self.bootstrap = bootstrap
        self.topic = topic
        self.service = service
        self.failures_left = 0
        self.group = f"group-{uuid.uuid4().hex[:8]}"
        #: Transactions the consumer opened (its batch scope is entered once per transaction).
        self.transactions = 0
        self.events_per_transaction: list[int] = []

    @asynccontextmanager
    async def scope(self, session: AsyncSession) -> AsyncIterator[None]:
        self.transactions += 1
        before = await session.scalar(select(func.count()).select_from(deposits))
        yield
        after = await session.scalar(select(func.count()).select_from(deposits))
        self.events_per_transaction.append(int(after or 0) - int(before or 0))

    async def handler(self, session: AsyncSession, env: EventEnvelope) -> None:
        if self.failures_left > 0:
            self.failures_left -= 1
            raise OperationalError("INSERT", {}, Exception("database went away"))
        if env.data["amount_fen"] < 0:
            raise EventRejected("a deposit cannot be negative")
        await session.execute(
            deposits.insert().values(ref=env.data["ref"], amount_fen=env.data["amount_fen"])
        )

    def consumer(self) -> IdempotentConsumer:
        return IdempotentConsumer(
            self.db,
            infra,
            self.service,
            lambda: AIOKafkaConsumer(
                self.topic,
                bootstrap_servers=self.bootstrap,
                group_id=self.group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                session_timeout_ms=3000,
                heartbeat_interval_ms=500,
                rebalance_timeout_ms=1000,
            ),
            {"test.deposit": Subscription(self.handler)},
            max_backoff_s=0.3,
            batch_scope=self.scope,
        )

    async def send(self, *payloads: bytes) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap)
        await producer.start()
        try:
            for payload in payloads:
                await producer.send_and_wait(self.topic, payload, key=b"k")
        finally:
            await producer.stop()

    async def count(self, table: Table, *where: ColumnElement[bool]) -> int:
        async with self.db.session() as session:
            return int(await session.scalar(select(func.count()).select_from(table).where(*where)) or 0)

    async def committed_is(self, expected: int) -> bool:
        return await self.committed() == expected

    async def committed(self) -> int:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=self.group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            return (await consumer.committed(TopicPartition(self.topic, 0))) or 0
        finally:
            await consumer.stop()


@pytest.fixture
async def harness(databases: DatabaseFactory, broker: str) -> AsyncIterator[Harness]:
    db = Database(databases.new_url("consumer"))
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    topic = f"test.consumer.{uuid.uuid4().hex[:8]}"
    await ensure_topics(broker, (topic,), partitions=1)
    h = Harness(db, broker, topic, service=f"svc-{uuid.uuid4().hex[:6]}")
    yield h
    await db.dispose()


async def _run_until(
    consumer: IdempotentConsumer, condition: Callable[[], Any], timeout_s: float = 20
) -> None:
    task = asyncio.create_task(consumer.run())
    try:
        await eventually(condition, timeout_s=timeout_s, interval_s=0.2)
    finally:
        consumer.stop()
        await task


async def test_redelivered_event_changes_nothing(harness: Harness) -> None:
    first = envelope("r1", 500)
    await harness.send(first.to_bytes(), envelope("r2", 700).to_bytes(), first.to_bytes())
    await _run_until(harness.consumer(), lambda: harness.committed_is(3))
    assert await harness.count(deposits) == 2
    assert await harness.count(deposits, deposits.c.ref == "r1") == 1
    assert await harness.count(infra.processed_events) == 2
    assert CONSUMER_EVENTS.labels(harness.service, harness.topic, "duplicate")._value.get() == 1
    assert CONSUMER_EVENTS.labels(harness.service, harness.topic, "processed")._value.get() == 2

    # A new consumer (say after a restart) given the same event again also does nothing.
    await harness.send(first.to_bytes())
    await _run_until(harness.consumer(), lambda: harness.committed_is(4))
    assert await harness.count(deposits) == 2


async def test_unprocessable_events_are_dead_lettered_with_reason(harness: Harness) -> None:
    await harness.send(
        b"not json at all",
        json.dumps({"event_id": str(uuid.uuid4()), "type": "test.deposit"}).encode(),
        envelope("v2", 100, version=2).to_bytes(),
        envelope("neg", -5).to_bytes(),
        envelope("other", 1, event_type="test.something_else").to_bytes(),
        envelope("ok", 300).to_bytes(),
    )
    await _run_until(harness.consumer(), lambda: harness.committed_is(6))
    async with harness.db.session() as session:
        rows = (await session.execute(select(infra.dead_letters).order_by(infra.dead_letters.c.id))).all()
    reasons = [r.reason for r in rows]
    assert len(rows) == 4
    assert reasons[0].startswith("malformed envelope")
    assert reasons[1].startswith("malformed envelope")
    assert "unsupported version 2" in reasons[2]
    assert "cannot be negative" in reasons[3]
    assert rows[0].payload == "not json at all"
    # Nothing of the rejected ones was applied; the good one was; the foreign type was skipped.
    assert [r for r in (await _refs(harness))] == ["ok"]
    assert CONSUMER_DEAD_LETTERED.labels(harness.service, harness.topic)._value.get() == 4
    assert CONSUMER_EVENTS.labels(harness.service, harness.topic, "ignored")._value.get() == 1


async def _refs(harness: Harness) -> list[str]:
    async with harness.db.session() as session:
        return list(await session.scalars(select(deposits.c.ref).order_by(deposits.c.id)))


async def test_our_own_failure_is_retried_not_dead_lettered(harness: Harness) -> None:
    harness.failures_left = 2
    await harness.send(envelope("retry-me", 900).to_bytes())
    await _run_until(harness.consumer(), lambda: harness.committed_is(1))
    assert harness.failures_left == 0
    assert await _refs(harness) == ["retry-me"]
    assert await harness.count(infra.dead_letters) == 0


async def test_a_poll_batch_is_one_transaction(harness: Harness) -> None:
    await harness.send(*(envelope(f"b{i}", 100 + i).to_bytes() for i in range(40)))
    await _run_until(harness.consumer(), lambda: harness.committed_is(40))
    assert await harness.count(deposits) == 40
    assert await harness.count(infra.processed_events) == 40
    # Fewer transactions than events: records polled together were committed together.
    assert harness.transactions < 40
    assert max(harness.events_per_transaction) > 1
    assert sum(harness.events_per_transaction) == 40


async def test_a_bad_event_in_a_batch_costs_only_itself(harness: Harness) -> None:
    good = [envelope(f"g{i}", 10 + i) for i in range(12)]
    first = good[0]
    payloads = [e.to_bytes() for e in good[:6]] + [
        envelope("neg", -1).to_bytes(),  # refused by the handler
        b"{broken",  # malformed
        first.to_bytes(),  # a redelivery inside the same poll
    ]
    payloads += [e.to_bytes() for e in good[6:]]
    await harness.send(*payloads)
    await _run_until(harness.consumer(), lambda: harness.committed_is(len(payloads)))
    assert await _refs(harness) == [f"g{i}" for i in range(12)]
    assert await harness.count(infra.dead_letters) == 2
    assert await harness.count(infra.processed_events) == 13  # 12 good + the refused one's id
    assert CONSUMER_EVENTS.labels(harness.service, harness.topic, "duplicate")._value.get() == 1
    assert CONSUMER_EVENTS.labels(harness.service, harness.topic, "processed")._value.get() == 12


async def test_our_own_failure_inside_a_batch_is_retried_and_applies_each_event_once(
    harness: Harness,
) -> None:
    harness.failures_left = 3
    await harness.send(*(envelope(f"f{i}", 1 + i).to_bytes() for i in range(15)))
    await _run_until(harness.consumer(), lambda: harness.committed_is(15))
    assert harness.failures_left == 0
    assert await _refs(harness) == [f"f{i}" for i in range(15)]
    assert await harness.count(infra.dead_letters) == 0
