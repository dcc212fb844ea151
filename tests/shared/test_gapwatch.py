"""The gap check (``shared.gapwatch``) against a producer's outbox feed (``shared.outbox_feed``) served over
HTTP in-process, on SQLite and PostgreSQL, without a broker: what the broker acknowledged and never
delivered (or the relay could not send for long) is booked once, through the consumer's handlers; what is
unsent or within the grace period is not a gap; a row committed late under a lower id is found; the
watermark moves only over old, done rows and survives a restart."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import outbox_feed
from shared.consumer import IdempotentConsumer, Subscription
from shared.db import Database, utcnow
from shared.errors import install_error_handlers
from shared.events import EventEnvelope
from shared.gapwatch import GAP_EVENTS, GAP_RECOVERED, EventGapWatcher, WatermarkStore, define_feed_watermarks
from shared.infra import InfraTables, define_infra_tables
from tests.conftest import DatabaseFactory

TOPIC = "test.events"

producer_metadata = MetaData()
producer_infra = define_infra_tables(producer_metadata)

consumer_metadata = MetaData()
deposits = Table(
    "deposits", consumer_metadata, Column("id", Integer, primary_key=True), Column("ref", String(50))
)
consumer_infra = define_infra_tables(consumer_metadata)
watermarks = define_feed_watermarks(consumer_metadata)


async def _deposit(session: AsyncSession, env: EventEnvelope) -> None:
    await session.execute(deposits.insert().values(ref=env.data["ref"]))


@dataclass
class World:
    producer: Database
    consumer_db: Database
    consumer: IdempotentConsumer
    transport: httpx.ASGITransport
    service: str

    def watcher(self, grace_s: float = 10.0, commit_grace_s: float = 60.0) -> EventGapWatcher:
        """Unsent rows are booked after 120 s (``unsent_grace_s``)."""
        return EventGapWatcher(
            service=self.service,
            producer="producer",
            base_url="http://producer",
            headers=dict,
            event_types=["test.deposit"],
            consumer=self.consumer,
            store=WatermarkStore(self.consumer_db, watermarks),
            transport=self.transport,
            grace_s=grace_s,
            commit_grace_s=commit_grace_s,
            unsent_grace_s=120.0,
        )

    async def publish(
        self,
        ref: str,
        *,
        row_id: int | None = None,
        age_s: float = 120,
        sent: bool = True,
        kind: str = "deposit",
    ) -> EventEnvelope:
        """An outbox row created ``age_s`` ago (sent by the relay then, or not)."""
        at = utcnow() - timedelta(seconds=age_s)
        env = EventEnvelope(
            event_id=uuid.uuid4(),
            type=f"test.{kind}",
            version=1,
            occurred_at=at,
            producer="producer",
            key=ref,
            data={"ref": ref},
        )
        row = {
            "event_id": str(env.event_id),
            "topic": TOPIC,
            "event_key": ref,
            "event_type": env.type,
            "payload": env.model_dump_json(),
            "created_at": at,
            "attempts": 0,
            "sent_at": at if sent else None,
        }
        if row_id is not None:
            row["id"] = row_id
        async with self.producer.transaction() as session:
            await session.execute(producer_infra.outbox.insert().values(**row))
        return env

    async def deliver(self, env: EventEnvelope) -> None:
        """As the broker would: through the consumer."""
        assert await self.consumer.process_envelopes([(TOPIC, env.to_bytes())]) == ["processed"]

    async def refs(self) -> list[str]:
        async with self.consumer_db.session() as session:
            return sorted((await session.scalars(select(deposits.c.ref))).all())

    async def mark_sent(self, ref: str, at: datetime) -> None:
        t = producer_infra.outbox
        async with self.producer.transaction() as session:
            await session.execute(t.update().where(t.c.event_key == ref).values(sent_at=at))


@pytest.fixture
async def world(databases: DatabaseFactory) -> AsyncIterator[World]:
    producer = Database(databases.new_url("producer"))
    consumer_db = Database(databases.new_url("consumer"))
    async with producer.engine.begin() as conn:
        await conn.run_sync(producer_metadata.create_all)
    async with consumer_db.engine.begin() as conn:
        await conn.run_sync(consumer_metadata.create_all)
    app = FastAPI()
    install_error_handlers(app)
    app.state.runtime = SimpleNamespace(db=producer, tables=producer_infra)
    app.include_router(outbox_feed.router)
    service = f"svc-{uuid.uuid4().hex[:6]}"
    consumer = IdempotentConsumer(
        consumer_db,
        InfraTables(consumer_infra.outbox, consumer_infra.processed_events, consumer_infra.dead_letters),
        service,
        lambda: None,  # never started: no broker here
        {"test.deposit": Subscription(_deposit)},
    )
    yield World(producer, consumer_db, consumer, httpx.ASGITransport(app=app), service)
    await producer.dispose()
    await consumer_db.dispose()


def _gauge(world: World) -> float:
    return GAP_EVENTS.labels(world.service, "producer")._value.get()


def _recovered(world: World) -> float:
    return GAP_RECOVERED.labels(world.service, "producer")._value.get()


async def test_what_the_broker_lost_is_booked_once_and_the_gauge_opens_then_closes(world: World) -> None:
    delivered = [await world.publish(f"d{i}") for i in range(3)]
    for env in delivered:
        await world.deliver(env)
    await world.publish("lost-1")
    await world.publish("lost-2")
    await world.publish("other", kind="noise")  # a type this consumer does not handle: not its business
    await world.publish("unsent", sent=False, age_s=30)  # the relay's backlog, not a gap
    await world.publish("stuck", sent=False, age_s=300)  # unsent for longer than unsent_grace_s: booked
    await world.publish("recent", age_s=2)  # acknowledged 2 s ago: within the grace period
    watcher = world.watcher()

    report = await watcher.check_once()
    assert (report.gap, report.recovered) == (3, 3)
    assert _gauge(world) == 3  # open until the next pass has seen them booked
    assert await world.refs() == ["d0", "d1", "d2", "lost-1", "lost-2", "stuck"]

    report = await watcher.check_once()
    assert (report.gap, report.recovered) == (0, 0)
    assert _gauge(world) == 0
    assert _recovered(world) == 3
    # Booked once: a redelivery by the broker afterwards is a duplicate.
    async with world.producer.session() as session:
        payload = (
            await session.execute(
                select(producer_infra.outbox.c.payload).where(producer_infra.outbox.c.event_key == "lost-1")
            )
        ).scalar_one()
    assert await world.consumer.process_envelopes([(TOPIC, payload.encode())]) == ["duplicate"]

    # The unsent row, once acknowledged long enough ago and still not delivered, is a gap too.
    await world.mark_sent("unsent", utcnow() - timedelta(seconds=60))
    report = await watcher.check_once()
    assert report.recovered == 1
    assert "unsent" in await world.refs()


async def test_a_row_committed_late_under_a_lower_id_is_found(world: World) -> None:
    for i in (1, 2, 3, 5, 6):
        await world.deliver(await world.publish(f"r{i}", row_id=i, age_s=5))
    watcher = world.watcher(grace_s=1.0)
    assert (await watcher.check_once()).gap == 0
    assert watcher.head == 6
    # Id 4 was taken before 5 and 6 but its transaction commits after the watcher read past it; the broker
    # then loses it.
    await world.publish("r4", row_id=4, age_s=5)
    report = await watcher.check_once()
    assert (report.gap, report.recovered) == (1, 1)
    assert await world.refs() == ["r1", "r2", "r3", "r4", "r5", "r6"]


async def test_the_watermark_moves_over_old_done_rows_only_and_survives_a_restart(world: World) -> None:
    for i in range(4):
        await world.deliver(await world.publish(f"old{i}", age_s=600))
    await world.deliver(await world.publish("young", age_s=5))  # younger than the commit grace
    await world.publish("old-unsent", age_s=600, sent=False)
    await world.deliver(await world.publish("after", age_s=600))
    watcher = world.watcher()
    await watcher.check_once()
    assert watcher.watermark == 4  # stops before "young" (and the unsent row behind it)
    async with world.consumer_db.session() as session:
        assert (await session.execute(select(watermarks.c.position))).scalar_one() == 4

    restarted = world.watcher()
    report = await restarted.check_once()
    assert restarted.watermark == 4 and report.listed == 3  # it does not list history again
    async with world.consumer_db.session() as session:
        assert (await session.execute(select(func.count()).select_from(watermarks))).scalar_one() == 1


async def test_the_feed_refuses_too_many_positions(world: World) -> None:
    async with httpx.AsyncClient(transport=world.transport, base_url="http://producer") as client:
        answer = await client.get(
            "/api/v1/outbox/events/payloads", params=[("position", p) for p in range(501)]
        )
        assert answer.status_code == 422
        page = (await client.get("/api/v1/outbox/events", params={"after": 0, "recount_from": 0})).json()
        assert page == {"events": [], "recount": 0}
