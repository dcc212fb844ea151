"""The transactional outbox and its relay, against the real broker, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from typing import ClassVar

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from sqlalchemy import Column, Integer, MetaData, String, Table, event, func, select

from platformctl.stack import free_port
from shared.db import Database
from shared.events import EventData, EventEnvelope
from shared.infra import define_infra_tables
from shared.kafka import ensure_topics, make_producer
from shared.observability import OUTBOX_BACKLOG, request_id_var
from shared.outbox import OutboxRelay, enqueue
from tests.conftest import DatabaseFactory, eventually

metadata = MetaData()
notes = Table("notes", metadata, Column("id", Integer, primary_key=True), Column("text", String(50)))
infra = define_infra_tables(metadata)


class NoteWritten(EventData):
    event_type: ClassVar[str] = "test.note_written"
    topic: ClassVar[str] = "placeholder"
    text: str

    def partition_key(self) -> str:
        return self.text


async def _database(databases: DatabaseFactory) -> Database:
    db = Database(databases.new_url("outbox"))
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return db


async def _read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 20) -> list[EventEnvelope]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    # No group: read every partition from the beginning.
    partitions = consumer.partitions_for_topic(topic) or set()
    if not partitions:
        await consumer.stop()
        raise AssertionError(f"topic {topic} has no partitions")
    consumer.assign([TopicPartition(topic, p) for p in partitions])
    seen: list[EventEnvelope] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(seen) < expected and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                seen += [EventEnvelope.from_bytes(r.value) for r in records]
        # Anything extra (a duplicate) would show up within a short grace period.
        for records in (await consumer.getmany(timeout_ms=500)).values():
            seen += [EventEnvelope.from_bytes(r.value) for r in records]
    finally:
        await consumer.stop()
    return seen


def _relay(db: Database, bootstrap: str, name: str = "test") -> OutboxRelay:
    return OutboxRelay(
        db,
        infra,
        name,
        lambda: make_producer(bootstrap, idempotence=False, client_id=name),
        batch_size=50,
        poll_interval_s=0.1,
        max_backoff_s=0.5,
    )


class Topic:
    def __init__(self) -> None:
        self.name = f"test.outbox.{uuid.uuid4().hex[:8]}"


async def _write(db: Database, topic: str, text: str, *, fail: bool = False) -> None:
    async with db.transaction() as session:
        await session.execute(notes.insert().values(text=text))
        event = NoteWritten(text=text)
        type(event).topic = topic
        await enqueue(session, infra, event, "test")
        if fail:
            raise RuntimeError("business failure after the outbox write")


async def test_event_is_published_only_if_its_transaction_commits(
    databases: DatabaseFactory, broker: str
) -> None:
    db = await _database(databases)
    topic = Topic().name
    await ensure_topics(broker, (topic,))
    with pytest.raises(RuntimeError):
        await _write(db, topic, "rolled-back", fail=True)
    for i in range(5):
        await _write(db, topic, f"note-{i}")
    relay = _relay(db, broker)
    task = asyncio.create_task(relay.run())
    try:
        published = await _read_all(broker, topic, expected=5)
        async with db.session() as session:
            unsent = await session.scalar(select(func.count()).where(infra.outbox.c.sent_at.is_(None)))
            texts = list(await session.scalars(select(notes.c.text)))
        await relay.refresh_stats(force=True)
    finally:
        relay.stop()
        await task
        await db.dispose()
    assert sorted(e.data["text"] for e in published) == [f"note-{i}" for i in range(5)]
    assert all(e.type == "test.note_written" and e.producer == "test" and e.version == 1 for e in published)
    assert "rolled-back" not in texts
    assert unsent == 0
    assert OUTBOX_BACKLOG.labels("test")._value.get() == 0


async def test_relay_keeps_rows_while_broker_is_down_and_catches_up(
    databases: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from platformctl.stack import start_broker

    db = await _database(databases)
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    relay = _relay(db, bootstrap, name="down")
    topic = Topic().name
    for i in range(3):
        await _write(db, topic, f"waiting-{i}")
    task = asyncio.create_task(relay.run())
    broker_process = None
    try:
        # Nothing listens yet: the rows must stay, visible as backlog with an age.
        await asyncio.sleep(1.0)
        count, age = await relay.backlog()
        assert count == 3 and age > 0
        broker_process = start_broker(port)
        await ensure_topics(bootstrap, (topic,))
        published = await _read_all(bootstrap, topic, expected=3, timeout_s=30)
        assert sorted(e.data["text"] for e in published) == ["waiting-0", "waiting-1", "waiting-2"]
        await eventually(lambda: _no_backlog(relay), timeout_s=10)
    finally:
        relay.stop()
        await task
        await db.dispose()
        if broker_process is not None:
            broker_process.terminate()
            broker_process.wait(10)


async def _no_backlog(relay: OutboxRelay) -> bool:
    count, _ = await relay.backlog()
    return count == 0


async def test_two_relays_share_the_outbox_without_double_sending(
    databases: DatabaseFactory, broker: str
) -> None:
    if databases.backend != "postgres":
        pytest.skip(
            "several relay replicas on one database is a PostgreSQL deployment (SQLite has one process)"
        )
    db = await _database(databases)
    topic = Topic().name
    await ensure_topics(broker, (topic,))
    for i in range(300):
        await _write(db, topic, f"n{i}")
    relays = [_relay(db, broker, name=f"replica-{i}") for i in range(2)]
    tasks = [asyncio.create_task(r.run()) for r in relays]
    try:
        published = await _read_all(broker, topic, expected=300, timeout_s=30)
    finally:
        for relay in relays:
            relay.stop()
        await asyncio.gather(*tasks)
        await db.dispose()
    ids = [e.event_id for e in published]
    assert len(ids) == 300
    assert len(set(ids)) == 300


async def test_records_carry_type_version_event_id_and_trace_id_headers(
    databases: DatabaseFactory, broker: str
) -> None:
    """A consumer can route and trace a record from its Kafka headers alone; ``trace_id`` is the request id
    of the request that wrote the event (none outside a request)."""
    db = await _database(databases)
    topic = Topic().name
    await ensure_topics(broker, (topic,))
    token = request_id_var.set("req-headers-1")
    try:
        await _write(db, topic, "in-a-request")
    finally:
        request_id_var.reset(token)
    await _write(db, topic, "outside-a-request")
    relay = _relay(db, broker)
    task = asyncio.create_task(relay.run())
    consumer = AIOKafkaConsumer(bootstrap_servers=broker, auto_offset_reset="earliest")
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()])
        deadline = asyncio.get_running_loop().time() + 20
        while len(records) < 2 and asyncio.get_running_loop().time() < deadline:
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records += batch
    finally:
        await consumer.stop()
        relay.stop()
        await task
        await db.dispose()
    by_text = {EventEnvelope.from_bytes(r.value).data["text"]: r for r in records}
    assert set(by_text) == {"in-a-request", "outside-a-request"}
    for text, record in by_text.items():
        envelope = EventEnvelope.from_bytes(record.value)
        headers = {name: value.decode() for name, value in record.headers}
        expected = {"type": "test.note_written", "version": "1", "event_id": str(envelope.event_id)}
        if text == "in-a-request":
            expected["trace_id"] = "req-headers-1"
            assert envelope.trace_id == "req-headers-1"
        else:
            assert envelope.trace_id is None
        assert headers == expected


async def _all_sent(db: Database) -> bool:
    async with db.session() as session:
        unsent = await session.scalar(select(func.count()).where(infra.outbox.c.sent_at.is_(None)))
    return unsent == 0


async def test_the_relay_polls_once_per_wake_and_not_again_after_a_batch(
    databases: DatabaseFactory, broker: str
) -> None:
    """Woken by a commit, the relay publishes what is there and then waits for the next wake (or its poll
    interval, here longer than the test): no second poll of an empty table after each batch."""
    db = await _database(databases)
    topic = Topic().name
    await ensure_topics(broker, (topic,))
    claims: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "FROM outbox" in statement and "LIMIT" in statement:
            claims.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    relay = OutboxRelay(
        db, infra, "test", lambda: make_producer(broker, idempotence=False, client_id="test"),
        batch_size=50, poll_interval_s=60, max_backoff_s=0.5,
    )  # fmt: skip
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: len(claims) == 1)  # the first poll, of an empty table

        async def polled(count: int) -> None:
            await eventually(lambda: len(claims) >= count)
            assert len(claims) == count

        for i in (1, 2):
            await _write(db, topic, f"note-{i}")
            relay.wake()
            await polled(1 + i)
            await eventually(lambda: _all_sent(db))
        await asyncio.sleep(0.5)  # nothing more: no poll until the next wake
        assert len(claims) == 3
        published = await _read_all(broker, topic, expected=2)
    finally:
        relay.stop()
        await task
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
        await db.dispose()
    assert sorted(e.data["text"] for e in published) == ["note-1", "note-2"]
