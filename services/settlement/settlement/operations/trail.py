"""The settlement service's part of the transaction trail (``shared.contracts.v1.trail``): the settlement
records asked for, with their calculation trace, the reversal that undid each, and the events written for
them to the outbox (published or not). A settlement is found by its msgid (the 2102/2207/2304 message, or
the 2103/2208/2305/2601 one of a reversal), by setl_id, or by person (``psn_no``) and Beijing days of
``setl_time``. Names, ID numbers and birth dates are masked. Every read is written to the audit log."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement.db import infra
from settlement.settlements import service as settlements
from settlement.settlements.models import Settlement
from shared.audit import audited_read
from shared.clock import CHINA_TZ
from shared.contracts.v1.settlement import SettlementOut
from shared.contracts.v1.trail import (
    SettlementTrail,
    TrailEvent,
    TrailPerson,
    TrailSettlement,
    TrailSettlementRecord,
)
from shared.errors import Unprocessable
from shared.events import SettlementCompleted, SettlementReversed
from shared.masking import mask, mask_name, mask_number
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/trail", tags=["trail"], dependencies=[Depends(audited_read)])

#: The longest period one person's trail may cover, and the most settlements one answer holds.
MAX_DAYS = 366
MAX_SETTLEMENTS = 200
_EVENT_TYPES = (SettlementCompleted.event_type, SettlementReversed.event_type)


def _masked(settlement: SettlementOut) -> TrailSettlementRecord:
    person = settlement.person
    shown = TrailPerson(
        psn_no=person.psn_no,
        psn_name=mask_name(person.psn_name) if person.psn_name else "",
        certno=mask_number(person.certno) if person.certno else "",
        gend=person.gend,
        birth_year=person.brdy.year,
        age=person.age,
        psn_type=person.psn_type,
    )
    record = settlement.model_dump(exclude={"person"})
    record["calc_trace"] = mask(record["calc_trace"])
    return TrailSettlementRecord(**record, person=shown)


async def _events(
    session: AsyncSession, psn_nos: set[str], setl_ids: set[str]
) -> dict[str, list[TrailEvent]]:
    """The outbox rows of these settlements (keyed by psn_no, so read by person, then matched by setl_id)."""
    t = infra.outbox
    rows = (
        await session.execute(
            t.select()
            .where(col(t.c.event_key).in_(sorted(psn_nos)), col(t.c.event_type).in_(_EVENT_TYPES))
            .order_by(t.c.id)
        )
    ).all()
    found: dict[str, list[TrailEvent]] = {}
    for row in rows:
        envelope = json.loads(row.payload)
        setl_id = str(envelope.get("data", {}).get("setl_id", ""))
        if setl_id not in setl_ids:
            continue
        found.setdefault(setl_id, []).append(
            TrailEvent(
                event_id=row.event_id,
                topic=row.topic,
                type=row.event_type,
                trace_id=envelope.get("trace_id"),
                created_at=row.created_at,
                sent_at=row.sent_at,
                attempts=row.attempts,
                last_error=row.last_error,
            )
        )
    return found


@router.get(
    "/settlements",
    response_model=SettlementTrail,
    responses={
        401: {"description": "No valid bearer token."},
        403: {"description": "The token's roles may not read the trail."},
        422: {
            "description": "BAD_TRAIL_QUERY: none or more than one of msgid, setl_id, psn_no; a person "
            "without date_from and date_to; BAD_PERIOD: date_to before date_from or longer than a year."
        },
    },
)
async def settlement_trail(
    runtime: RuntimeDep,
    msgid: Annotated[str | None, Query(min_length=1, max_length=30)] = None,
    setl_id: Annotated[str | None, Query(min_length=1, max_length=30)] = None,
    psn_no: Annotated[str | None, Query(min_length=1, max_length=30)] = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> SettlementTrail:
    """The settlements of one msgid, one setl_id, or one person over Beijing days ``date_from`` to
    ``date_to`` (at most a year), each with its reversal and the events written for it, oldest first. A
    reversal's original is included with it, and an original's reversal with it."""
    asked = [name for name, value in (("msgid", msgid), ("setl_id", setl_id), ("psn_no", psn_no)) if value]
    if len(asked) != 1:
        raise Unprocessable("须且仅须给出 msgid、setl_id、psn_no 之一", code="BAD_TRAIL_QUERY")
    query = select(Settlement)
    if msgid:
        query = query.where(Settlement.msgid == msgid)
    elif setl_id:
        query = query.where(or_(col(Settlement.setl_id) == setl_id, col(Settlement.reversal_of) == setl_id))
    else:
        if date_from is None or date_to is None:
            raise Unprocessable(
                "按参保人查询须给出 date_from 和 date_to (须且仅须给出 msgid、setl_id、psn_no 之一)",
                code="BAD_TRAIL_QUERY",
            )
        if date_to < date_from or (date_to - date_from).days >= MAX_DAYS:
            raise Unprocessable(f"查询期间最长 {MAX_DAYS} 天，且止日不得早于起日", code="BAD_PERIOD")
        start = datetime.combine(date_from, time(), CHINA_TZ)
        end = datetime.combine(date_to + timedelta(days=1), time(), CHINA_TZ)
        query = query.where(
            Settlement.psn_no == psn_no, col(Settlement.setl_time) >= start, col(Settlement.setl_time) < end
        )
    async with runtime.db.session() as session:
        found = list(await session.scalars(query.order_by(col(Settlement.id)).limit(MAX_SETTLEMENTS)))
        related = {s.reversal_of for s in found if s.reversal_of} | {
            s.reversed_by for s in found if s.reversed_by
        }
        related -= {s.setl_id for s in found}
        if related:
            found += list(
                await session.scalars(select(Settlement).where(col(Settlement.setl_id).in_(related)))
            )
        found.sort(key=lambda s: (s.setl_time, s.id or 0))
        records = [await settlements.load(session, s.setl_id) for s in found]
        events = await _events(session, {s.psn_no for s in found}, {s.setl_id for s in found})
    return SettlementTrail(
        settlements=[
            TrailSettlement(
                settlement=_masked(record),
                reversed_by=row.reversed_by,
                events=events.get(record.setl_id, []),
            )
            for row, record in zip(found, records, strict=True)
        ]
    )
