"""The settlement store on SQLite, which has no data-modifying CTEs: a settlement's writes as five to
seven prebuilt statements in the transaction (SQLite's one writer makes the round trips cheap)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from settlement.db import infra
from settlement.eligibility import service as eligibility
from settlement.settlements.store import (
    CLOSE_STAY,
    FEE_LINES,
    FUNDS,
    LINES,
    PRODUCER,
    SETTLEMENTS,
    NewSettlement,
    SharedStore,
    claim_statement,
    void_claim_statement,
)
from settlement.supervision.rules import Probes
from shared.db import run
from shared.outbox import enqueue

_INSERT_SETTLEMENT = insert(SETTLEMENTS)
_INSERT_FUNDS = insert(FUNDS)
_INSERT_LINES = insert(LINES)
#: A stay's (a visit's batch's) lines marked settled, named by the settlement's own lines: read back from
#: them, once they are written.
_MARK_LINES_BY_SETTLEMENT = (
    update(FEE_LINES)
    .where(
        FEE_LINES.c.mdtrt_id == bindparam("mark_mdtrt_id"),  # the index; setl_id has none
        FEE_LINES.c.setl_id.is_(None),
        FEE_LINES.c.feedetl_sn.in_(
            sa_select(LINES.c.feedetl_sn).where(LINES.c.setl_id == bindparam("mark_setl_id"))
        ),
    )
    .values(setl_id=bindparam("mark_setl_id"))
)


class SqliteStore(SharedStore):
    _claim = claim_statement(sqlite.insert)
    _void_claim = void_claim_statement(sqlite.insert)

    async def write_settlement(
        self, session: AsyncSession, new: NewSettlement, probes: Probes
    ) -> list[Any] | None:
        """The probes are not read here: the caller reads them after the writes."""
        await run(session, _INSERT_SETTLEMENT, new.settlement_row())
        fund_rows = new.fund_rows()
        if fund_rows:
            await run(session, _INSERT_FUNDS, fund_rows)
        if new.lines:
            await run(session, _INSERT_LINES, new.lines)
        await eligibility.save_accumulator(session, new.totals)
        await enqueue(session, infra, new.event, PRODUCER)
        if new.stay is not None:
            marks = new.marks()
            await run(session, _MARK_LINES_BY_SETTLEMENT, marks)
            if new.stay.close:
                await run(session, CLOSE_STAY, marks)
        return None
