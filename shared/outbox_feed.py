"""The producer's outbox as an HTTP feed, for the consumers that check the broker against it
(``shared.gapwatch``): what the producer published, in outbox order, independent of the broker.

``GET /api/v1/outbox/events`` lists rows after a position (the outbox id) with their event id, type and
when they were created and acknowledged by the broker; ``recount_from`` also counts the rows in
(``recount_from``, ``after``], so that a reader keeping a window of rows it has seen learns, with one
indexed count, whether a transaction committed a row with a lower id after it read past it (outbox ids are
taken at insert, not at commit: on PostgreSQL they are not commit-ordered). ``GET
/api/v1/outbox/events/payloads`` returns the envelopes of given positions, to book what the broker lost.

Only the ``service`` role may read it (the envelopes carry personal and financial data). Rows are kept after
they are sent (nothing purges the outbox), so the feed reaches back to the producer's first event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import func, select

from shared.auth import SERVICE, Access, access
from shared.errors import Unprocessable
from shared.service import RuntimeDep

#: The consumers' credential only.
FEED_ACCESS: Access = access(read={SERVICE}, write=set())
MAX_LIMIT = 5000
MAX_PAYLOADS = 500
#: Positions are BIGINT ids.
MAX_POSITION = 2**63 - 1

router = APIRouter(prefix="/api/v1/outbox", tags=["outbox feed"])


class FeedEvent(BaseModel):
    position: int
    event_id: str
    topic: str
    event_type: str
    created_at: datetime
    #: When the broker acknowledged it (the relay marked it sent); null while unsent.
    sent_at: datetime | None


class FeedPage(BaseModel):
    events: list[FeedEvent]
    #: Rows of the requested types in (recount_from, after], when recount_from was given.
    recount: int | None = None


class FeedPayload(BaseModel):
    position: int
    event_id: str
    topic: str
    #: The envelope exactly as published (JSON text).
    payload: str


class FeedPayloads(BaseModel):
    events: list[FeedPayload]


@router.get("/events", response_model=FeedPage)
async def events(
    runtime: RuntimeDep,
    after: Annotated[
        int, Query(ge=0, le=MAX_POSITION, description="List rows with a position (outbox id) above this")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1000,
    event_type: Annotated[list[str] | None, Query(description="Only these event types (repeatable)")] = None,
    recount_from: Annotated[
        int | None, Query(ge=0, description="Also count rows in (recount_from, after]")
    ] = None,
) -> FeedPage:
    """The outbox rows after ``after`` in position order (at most ``limit``)."""
    assert runtime.tables is not None
    t = runtime.tables.outbox
    types = [value for value in event_type or [] if value]
    query = select(t.c.id, t.c.event_id, t.c.topic, t.c.event_type, t.c.created_at, t.c.sent_at).where(
        t.c.id > after
    )
    if types:
        query = query.where(t.c.event_type.in_(types))
    async with runtime.db.session() as session:
        recount: int | None = None
        if recount_from is not None and recount_from < after:
            counting = select(func.count()).where(t.c.id > recount_from, t.c.id <= after)
            if types:
                counting = counting.where(t.c.event_type.in_(types))
            recount = int((await session.execute(counting)).scalar_one())
        rows = (await session.execute(query.order_by(t.c.id).limit(limit))).all()
        await session.rollback()
    if recount_from is not None and recount is None:
        recount = 0
    return FeedPage(
        events=[
            FeedEvent(
                position=row.id,
                event_id=row.event_id,
                topic=row.topic,
                event_type=row.event_type,
                created_at=row.created_at,
                sent_at=row.sent_at,
            )
            for row in rows
        ],
        recount=recount,
    )


@router.get("/events/payloads", response_model=FeedPayloads)
async def payloads(
    runtime: RuntimeDep,
    position: Annotated[list[int], Query(description="Positions (outbox ids), repeatable")],
) -> FeedPayloads:
    """The published envelopes of the given positions (at most 500), in position order."""
    assert runtime.tables is not None
    t = runtime.tables.outbox
    wanted = sorted(set(position))
    if any(not 0 <= p <= MAX_POSITION for p in wanted):
        raise Unprocessable("a position is a non-negative outbox id", code="BAD_POSITION")
    if len(wanted) > MAX_PAYLOADS:
        raise Unprocessable(f"at most {MAX_PAYLOADS} positions per request", code="TOO_MANY_POSITIONS")
    async with runtime.db.session() as session:
        rows = (
            await session.execute(
                select(t.c.id, t.c.event_id, t.c.topic, t.c.payload)
                .where(t.c.id.in_(wanted))
                .order_by(t.c.id)
            )
        ).all()
        await session.rollback()
    return FeedPayloads(
        events=[
            FeedPayload(position=r.id, event_id=r.event_id, topic=r.topic, payload=r.payload) for r in rows
        ]
    )
