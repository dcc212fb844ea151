"""The ledger's part of the transaction trail (``shared.contracts.v1.trail``): the journal entries posted
for some settlements (by ``source_id``: a settlement's or a reversal's setl_id) or from some events, and
what the ledger's consumer did with those events (processed, dead-lettered with the reason, or not seen
yet). Every read is written to the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import or_
from sqlmodel import col, select

from fund_ledger.books.models import Account, JournalEntry, Posting
from fund_ledger.db import infra
from shared.audit import audited_read
from shared.contracts.v1.trail import LedgerTrail, TrailConsumption, TrailEntry, TrailPosting
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/trail", tags=["trail"], dependencies=[Depends(audited_read)])

#: The most source ids, and the most event ids, one request may name.
MAX_IDS = 200


@router.get(
    "/entries",
    response_model=LedgerTrail,
    responses={
        401: {"description": "No valid bearer token."},
        403: {"description": "The token's roles may not read the trail."},
    },
)
async def entries(
    runtime: RuntimeDep,
    source_id: Annotated[list[str], Query(max_length=MAX_IDS)] = [],  # noqa: B006 - FastAPI's list query
    event_id: Annotated[list[str], Query(max_length=MAX_IDS)] = [],  # noqa: B006
) -> LedgerTrail:
    """The entries whose ``source_id`` is one of these (a settlement's, a reversal's setl_id) or that
    were posted from one of these events, in chain order with their postings; and for each event id the
    consumer's outcome. A settlement whose funds paid nothing has no entry, by design."""
    sources = sorted({s for s in source_id if 0 < len(s) <= 40})
    events = sorted({e for e in event_id if 0 < len(e) <= 36})
    found: list[JournalEntry] = []
    postings: dict[int, list[TrailPosting]] = {}
    consumption: list[TrailConsumption] = []
    async with runtime.db.session() as session:
        if sources or events:
            query = select(JournalEntry).where(
                or_(col(JournalEntry.source_id).in_(sources), col(JournalEntry.event_id).in_(events))
            )
            found = list(await session.scalars(query.order_by(col(JournalEntry.seq))))
        if found:
            rows = await session.execute(
                select(Posting, Account)
                .join(Account, col(Account.id) == col(Posting.account_id))
                .where(col(Posting.entry_id).in_([e.id for e in found]))
                .order_by(col(Posting.id))
            )
            for posting, account in rows:
                postings.setdefault(posting.entry_id, []).append(
                    TrailPosting(
                        account_code=account.code,
                        fund_pay_type=account.fund_pay_type,
                        counterparty=account.counterparty,
                        debit_fen=posting.debit_fen,
                        credit_fen=posting.credit_fen,
                    )
                )
        if events:
            processed = infra.processed_events
            outcomes = {
                row.event_id: row
                for row in (
                    await session.execute(processed.select().where(col(processed.c.event_id).in_(events)))
                ).all()
            }
            dead = infra.dead_letters
            reasons = {
                row.event_id: row.reason
                for row in (
                    await session.execute(
                        dead.select().where(col(dead.c.event_id).in_(events)).order_by(dead.c.id)
                    )
                ).all()
            }
            for event in events:
                row = outcomes.get(event)
                if row is None:
                    consumption.append(TrailConsumption(event_id=event, outcome="not_seen"))
                else:
                    dead_lettered = row.outcome == "dead_lettered"
                    consumption.append(
                        TrailConsumption(
                            event_id=event,
                            outcome="dead_lettered" if dead_lettered else "processed",
                            processed_at=row.processed_at,
                            reason=reasons.get(event) if dead_lettered else None,
                        )
                    )
    return LedgerTrail(
        entries=[
            TrailEntry(
                id=entry.id or 0,
                seq=entry.seq,
                event_id=entry.event_id,
                trace_id=entry.trace_id,
                source_type=entry.source_type,
                source_id=entry.source_id,
                total_fen=entry.total_fen,
                posted_at=entry.posted_at,
                entry_hash=entry.entry_hash,
                postings=postings.get(entry.id or 0, []),
            )
            for entry in found
        ],
        events=consumption,
    )
