"""Reconciliation figures (对账) as settlement sees them, and re-publishing settlement events from the outbox.

Days are Beijing calendar days (``shared.clock.CHINA_TZ``) of ``setl_time``; a reversal counts on the day it
was made, with its (negated) amounts. Grouping is done in Python over the selected rows, so both backends
give the same days whatever their date functions.

The records are the ``settlements`` table's and, on the insured side of the inter-platform protocol, the
peer settlements of this platform's insured (``settlement.interplatform.records``: a confirmed reservation,
its release after the confirmation), which this platform's fund pays and its ledger books under the same
setl_id."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from settlement.db import infra
from settlement.interplatform import records
from settlement.interplatform.records import PeerRecord
from settlement.reconciliation.schemas import (
    RepublishOut,
    RepublishRequest,
    SettlementAmount,
    TotalsRow,
)
from settlement.settlements.models import Settlement, SettlementFund
from shared.clock import CHINA_TZ
from shared.errors import Unprocessable
from shared.events import SETTLEMENT_TOPIC

#: The longest period one query covers (a year and a day, for a leap year's statement).
MAX_DAYS = 367


@dataclass(frozen=True)
class Filters:
    date_from: date
    date_to: date
    fixmedins_code: str | None = None
    insutype: str | None = None
    clr_type: str | None = None

    def check(self) -> None:
        if self.date_to < self.date_from:
            raise Unprocessable("date_to 早于 date_from", code="BAD_PERIOD")
        if (self.date_to - self.date_from).days + 1 > MAX_DAYS:
            raise Unprocessable(f"对账期间最长 {MAX_DAYS} 天", code="BAD_PERIOD")


def utc_bounds(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """[start of ``date_from``, start of the day after ``date_to``) in Beijing time."""
    start = datetime.combine(date_from, time(0), tzinfo=CHINA_TZ)
    end = datetime.combine(date_to + timedelta(days=1), time(0), tzinfo=CHINA_TZ)
    return start, end


def china_day(at: datetime) -> date:
    return at.astimezone(CHINA_TZ).date()


def kind_of(row: Settlement | PeerRecord) -> str:
    return "reversal" if row.status == "reversal" else "settlement"


async def _rows(session: AsyncSession, filters: Filters) -> Sequence[Settlement | PeerRecord]:
    """The settlement and reversal records of the period, the table's and the peer settlements', by
    setl_time."""
    filters.check()
    start, end = utc_bounds(filters.date_from, filters.date_to)
    query = select(Settlement).where(col(Settlement.setl_time) >= start, col(Settlement.setl_time) < end)
    if filters.fixmedins_code:
        query = query.where(col(Settlement.fixmedins_code) == filters.fixmedins_code)
    if filters.insutype:
        query = query.where(col(Settlement.insutype) == filters.insutype)
    if filters.clr_type:
        query = query.where(col(Settlement.clr_type) == filters.clr_type)
    own = (await session.scalars(query.order_by(col(Settlement.setl_time), col(Settlement.id)))).all()
    peer = [
        r
        for r in await records.in_period(session, start, end)
        if (not filters.fixmedins_code or r.fixmedins_code == filters.fixmedins_code)
        and (not filters.insutype or r.insutype == filters.insutype)
        and (not filters.clr_type or r.clr_type == filters.clr_type)
    ]
    if not peer:
        return own
    return sorted([*own, *peer], key=lambda r: r.setl_time)


async def settlement_amounts(session: AsyncSession, filters: Filters) -> list[SettlementAmount]:
    """One row per settlement or reversal record in the period (amounts as stored: a reversal's negative),
    with its visit, person and fund split."""
    rows = await _rows(session, filters)
    funds: dict[str, dict[str, int]] = {r.setl_id: r.funds for r in rows if isinstance(r, PeerRecord)}
    ids = [row.setl_id for row in rows if isinstance(row, Settlement)]
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        for fund in await session.scalars(
            select(SettlementFund).where(col(SettlementFund.setl_id).in_(chunk))
        ):
            by_type = funds.setdefault(fund.setl_id, {})
            by_type[fund.fund_pay_type] = by_type.get(fund.fund_pay_type, 0) + fund.paid_fen
    return [
        SettlementAmount(
            setl_id=row.setl_id,
            kind=kind_of(row),
            reversal_of=row.reversal_of,
            fixmedins_code=row.fixmedins_code,
            insutype=row.insutype,
            clr_type=row.clr_type,
            day=china_day(row.setl_time),
            setl_time=row.setl_time,
            medfee_sumamt_fen=row.medfee_sumamt_fen,
            fund_pay_sumamt_fen=row.fund_paid_total_fen,
            acct_pay_fen=row.account_paid_fen,
            mdtrt_id=row.mdtrt_id,
            psn_no=row.psn_no,
            funds={k: v for k, v in funds.get(row.setl_id, {}).items() if v},
        )
        for row in rows
    ]


async def totals(session: AsyncSession, filters: Filters) -> list[TotalsRow]:
    """Totals per (fixmedins_code, insutype, clr_type, day): originals and reversals counted apart, a net
    count (originals minus reversals), and net amounts (reversals negative)."""
    groups: dict[tuple[str, str, str, date], TotalsRow] = {}
    for row in await _rows(session, filters):
        key = (row.fixmedins_code, row.insutype, row.clr_type, china_day(row.setl_time))
        group = groups.get(key)
        if group is None:
            group = groups[key] = TotalsRow(
                fixmedins_code=key[0], insutype=key[1], clr_type=key[2], day=key[3]
            )
        if row.status == "reversal":
            group.reversal_cnt += 1
            group.reversal_medfee_sumamt_fen += row.medfee_sumamt_fen
            group.reversal_fund_pay_sumamt_fen += row.fund_paid_total_fen
            group.reversal_acct_pay_fen += row.account_paid_fen
        else:
            group.settlement_cnt += 1
        group.net_cnt = group.settlement_cnt - group.reversal_cnt
        group.medfee_sumamt_fen += row.medfee_sumamt_fen
        group.fund_pay_sumamt_fen += row.fund_paid_total_fen
        group.acct_pay_fen += row.account_paid_fen
    return sorted(groups.values(), key=lambda g: (g.day, g.fixmedins_code, g.insutype, g.clr_type))


def _payload_setl_id(payload: str) -> str | None:
    try:
        data = json.loads(payload).get("data", {})
    except (ValueError, AttributeError):
        return None
    value = data.get("setl_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


async def republish(session: AsyncSession, request: RepublishRequest) -> RepublishOut:
    """Mark outbox rows unsent again (``sent_at`` NULL) so that the relay publishes them once more, with
    their original event ids: the ledger's idempotent consumer posts only the events it has not processed.
    Rows not yet sent are left as they are (the relay will send them anyway) and not counted."""
    outbox = infra.outbox
    ids: list[int] = []
    not_found: list[str] = []
    if request.setl_ids is not None:
        wanted = list(dict.fromkeys(request.setl_ids))
        # The payload is the compact JSON envelope; LIKE narrows the candidates, the JSON decides.
        patterns = [outbox.c.payload.like(f'%"setl_id":"{setl_id}"%') for setl_id in wanted]
        found: set[str] = set()
        for chunk_start in range(0, len(patterns), 100):
            query = select(outbox.c.id, outbox.c.payload).where(
                outbox.c.topic == SETTLEMENT_TOPIC, or_(*patterns[chunk_start : chunk_start + 100])
            )
            for outbox_id, payload in (await session.execute(query)).all():
                setl_id = _payload_setl_id(payload)
                if setl_id in wanted:
                    ids.append(int(outbox_id))
                    found.add(setl_id)
        not_found = [setl_id for setl_id in wanted if setl_id not in found]
    else:
        assert request.outbox_id_from is not None and request.outbox_id_to is not None
        query = select(outbox.c.id).where(
            outbox.c.id >= request.outbox_id_from, outbox.c.id <= request.outbox_id_to
        )
        ids = [int(i) for i in (await session.scalars(query)).all()]
    ids = sorted(set(ids))
    marked: list[int] = []
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        result = await session.execute(
            update(outbox)
            .where(outbox.c.id.in_(chunk), outbox.c.sent_at.is_not(None))
            .values(sent_at=None)
            .returning(outbox.c.id)
        )
        marked += [int(i) for i in result.scalars().all()]
    return RepublishOut(
        republished=len(marked),
        outbox_ids=sorted(marked),
        already_pending=sorted(set(ids) - set(marked)),
        setl_ids_not_found=not_found,
    )
