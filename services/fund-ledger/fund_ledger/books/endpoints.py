from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from prometheus_client import Gauge

from fund_ledger.books import service
from fund_ledger.books.chain import verify_chain
from fund_ledger.books.models import Account, JournalEntry, Posting
from fund_ledger.books.schemas import BalanceOut, ChainVerifyOut, EntryOut, PostingOut, TrialBalanceOut
from shared.clock import CHINA_TZ
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["books"])
LEDGER_IMBALANCE = Gauge(
    "ledger_imbalance_fen", "Total debits minus total credits at the last check (must be 0)"
)
LEDGER_CHAIN_OK = Gauge("ledger_chain_ok", "1 if the journal's hash chain verified at the last check, else 0")


def _entry_out(entry: JournalEntry, postings: list[tuple[Posting, Account]]) -> EntryOut:
    assert entry.id is not None
    return EntryOut(
        id=entry.id,
        seq=entry.seq,
        event_id=entry.event_id,
        trace_id=entry.trace_id,
        source_type=entry.source_type,
        source_id=entry.source_id,
        description=entry.description,
        admdvs=entry.admdvs,
        insutype=entry.insutype,
        total_fen=entry.total_fen,
        posting_count=entry.posting_count,
        posted_at=entry.posted_at,
        prev_hash=entry.prev_hash,
        entry_hash=entry.entry_hash,
        postings=[
            PostingOut(
                account_code=a.code,
                account_name=a.name,
                admdvs=a.admdvs,
                insutype=a.insutype,
                fund_pay_type=a.fund_pay_type,
                counterparty=a.counterparty,
                debit_fen=p.debit_fen,
                credit_fen=p.credit_fen,
            )
            for p, a in postings
        ],
    )


@router.get("/journal", response_model=list[EntryOut])
async def journal(
    runtime: RuntimeDep,
    source_id: Annotated[str | None, Query(max_length=40)] = None,
    trace_id: Annotated[str | None, Query(max_length=64)] = None,
    after_id: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[EntryOut]:
    """Journal entries in chain order; ``source_id`` (a setl_id, a claim number...) or ``trace_id`` (the
    request id the event carried) select the entries of one business fact or one request."""
    async with runtime.db.session() as session:
        rows = await service.list_entries(
            session, source_id=source_id, trace_id=trace_id, after_id=after_id, limit=limit
        )
        return [_entry_out(e, p) for e, p in rows]


@router.get("/journal/{entry_id}", response_model=EntryOut)
async def journal_entry(entry_id: int, runtime: RuntimeDep) -> EntryOut:
    """One journal entry with its postings and hash-chain fields. Refused: 404
    ENTRY_NOT_FOUND."""
    async with runtime.db.session() as session:
        return _entry_out(*await service.get_entry(session, entry_id))


def _balance_out(account: Account, debits: int, credits: int) -> BalanceOut:
    assert account.id is not None
    return BalanceOut(
        account_id=account.id,
        code=account.code,
        name=account.name,
        kind=account.kind,
        admdvs=account.admdvs,
        insutype=account.insutype,
        fund_pay_type=account.fund_pay_type,
        counterparty=account.counterparty,
        debit_total_fen=debits,
        credit_total_fen=credits,
        balance_fen=service.normal_balance(account.kind, debits, credits),
    )


def _end_of(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day + timedelta(days=1), time(), CHINA_TZ)


@router.get("/accounts/balances", response_model=list[BalanceOut])
async def account_balances(
    runtime: RuntimeDep,
    admdvs: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    insutype: Annotated[str | None, Query(pattern=r"^\d{3}$")] = None,
    as_of: Annotated[date | None, Query(description="balances at the end of this Beijing date")] = None,
) -> list[BalanceOut]:
    """Account balances, by region and scheme, now or at the end of a Beijing date."""
    before = _end_of(as_of)
    async with runtime.db.session() as session:
        return [_balance_out(*row) for row in await service.balances(session, admdvs, insutype, before)]


@router.get("/trial-balance", response_model=TrialBalanceOut)
async def trial_balance(
    runtime: RuntimeDep,
    as_of: Annotated[date | None, Query(description="the books at the end of this Beijing date")] = None,
) -> TrialBalanceOut:
    """Every account's debits, credits and balance, with the whole journal's imbalance (must be 0): now
    (from the kept balances, cross-checked against the postings' sums), or as of the end of a date
    (summed from the postings of the entries posted before then)."""
    before = _end_of(as_of)
    async with runtime.db.session() as session:
        rows = await service.balances(session, None, None, before)
        entries = await service.count_entries(session, before)
        imbalance = await service.imbalance(session, before)
    if before is None:
        LEDGER_IMBALANCE.set(imbalance)
    debits = sum(d for _, d, _ in rows)
    credits = sum(c for _, _, c in rows)
    return TrialBalanceOut(
        entries=entries,
        debit_total_fen=debits,
        credit_total_fen=credits,
        imbalance_fen=imbalance,
        accounts=[_balance_out(*row) for row in rows],
    )


@router.get("/chain/verify", response_model=ChainVerifyOut)
async def chain_verify(runtime: RuntimeDep) -> ChainVerifyOut:
    """Walk the journal's hash chain and report the first entry that does not match its stored content
    or its predecessor (a full scan: an operator or scheduled check, not a hot path)."""
    async with runtime.db.session() as session:
        result = await verify_chain(session)
    LEDGER_CHAIN_OK.set(1 if result.ok else 0)
    return ChainVerifyOut(
        ok=result.ok,
        entries=result.entries,
        first_bad_entry_id=result.first_bad_entry_id,
        reason=result.reason,
    )
