"""The settlement store on PostgreSQL: a settlement's writes in one statement, one round trip instead of
five to seven (``shared.db.OneRoundTrip``), which reads the supervision rules' probes as well."""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from sqlalchemy import ARRAY, String, any_, bindparam, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from settlement import reference
from settlement.db import infra
from settlement.eligibility import service as eligibility
from settlement.schemes.service import UNIFIED
from settlement.settlements.store import (
    CLOSE_STAY,
    FEE_LINES,
    FUND_COLUMNS,
    FUNDS,
    LINE_COLUMNS,
    LINES,
    PRODUCER,
    SETTLEMENT_COLUMNS,
    SETTLEMENTS,
    NewSettlement,
    SharedStore,
    claim_statement,
    void_claim_statement,
)
from settlement.supervision.rules import Probes
from shared.db import OneRoundTrip, run, utcnow
from shared.outbox import OUTBOX_COLUMNS, current_trace_id, outbox_row

_WRITES = {
    "s": (SETTLEMENTS, SETTLEMENT_COLUMNS, False),
    "f": (FUNDS, FUND_COLUMNS, True),
    "l": (LINES, LINE_COLUMNS, True),
    "o": (infra.outbox, OUTBOX_COLUMNS, False),
}
#: A stay's (a visit's batch's) lines marked settled, named by the settlement's own lines, bound as an
#: array: the statement's CTEs do not see the lines written beside them.
_MARK_LINES_BY_ARRAY = (
    update(FEE_LINES)
    .where(
        FEE_LINES.c.mdtrt_id == bindparam("mark_mdtrt_id"),  # the index; setl_id has none
        FEE_LINES.c.setl_id.is_(None),
        FEE_LINES.c.feedetl_sn == any_(bindparam("mark_sns", type_=ARRAY(String))),
    )
    .values(setl_id=bindparam("mark_setl_id"))
)
#: The settlement, its fund shares, its lines, the accumulator and the outbox event in one statement; for
#: an encounter's lines, marking them and closing the stay too.
_ONE_WRITE = OneRoundTrip(_WRITES, {"a": eligibility.SAVE_ACCUMULATOR})
_ONE_WRITE_STAY = OneRoundTrip(
    _WRITES,
    {"a": eligibility.SAVE_ACCUMULATOR, "m": _MARK_LINES_BY_ARRAY, "e": CLOSE_STAY},
)


@cache
def _write_and_read(write: OneRoundTrip, read: Any) -> Executable:
    """``write`` followed by the supervision rules' probes (``read``, itself built once per set of enabled
    rules)."""
    return write.then(read)


_CLAIM = cast(postgresql.Insert, claim_statement(postgresql.insert))
#: The msgid's claim with the coverage rows read and the accumulator locked beside it (``after_claim``).
_CLAIM_AND_COVER = eligibility.after_claim(_CLAIM.cte("claim"))
#: The same, inserting the person's first accumulator of the year under the unified scheme.
_CLAIM_AND_COVER_FIRST = eligibility.after_claim(_CLAIM.cte("claim"), first=True)


class PostgresStore(SharedStore):
    _claim = claim_statement(postgresql.insert)
    _void_claim = void_claim_statement(postgresql.insert)

    async def claim_msgid(
        self, session: AsyncSession, msgid: str, cover: eligibility.CoverageKey | None = None
    ) -> bool:
        """With ``cover``: one round trip for the claim and the reads that begin a settlement."""
        eligibility.forget_reads(session)  # a settlement's reads are its own (group commit: one transaction)
        if cover is None:
            return await super().claim_msgid(session, msgid)
        parameters = {"msgid": msgid, "now": utcnow(), **cover.parameters()}
        statement = _CLAIM_AND_COVER_FIRST if cover.insutype == UNIFIED else _CLAIM_AND_COVER
        rows = (await run(session, statement, parameters)).all()
        if rows[0].claimed_msgid is None:
            return False
        reference.seen_version(session, rows[0].reference_version)
        eligibility.read_with_claim(session, cover, rows)
        return True

    async def write_settlement(
        self, session: AsyncSession, new: NewSettlement, probes: Probes
    ) -> list[Any] | None:
        inserted: dict[str, Any] = {
            "s": new.settlement_row(),
            "f": new.fund_rows(),
            "l": new.lines,
            "o": outbox_row(new.event, new.event.envelope(PRODUCER, trace_id=current_trace_id())),
        }
        write = _ONE_WRITE
        marks = new.marks()
        if new.stay is not None:
            write = _ONE_WRITE_STAY
            marks["mark_sns"] = [x["feedetl_sn"] for x in new.lines]
        parameters = write.parameters(inserted, **eligibility.save_parameters(new.totals), **marks)
        read = probes.in_flight()
        if read is None:
            await run(session, write.statement, parameters)
            return []
        return list(await run(session, _write_and_read(write, read), {**parameters, **probes.binds}))
