"""Posting journal entries and reading the books."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter
from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from fund_ledger.books.chart import BENEFIT_EXPENSE_BY_CLR_TYPE, DEBIT_NORMAL, PAYABLE, AccountSpec
from fund_ledger.books.models import Account, JournalEntry, Posting
from shared.consumer import EventRejected
from shared.db import utcnow
from shared.errors import DomainError, NotFound
from shared.events import EventEnvelope, SettlementCompleted, SettlementReversed

JOURNAL_ENTRIES = Counter("ledger_journal_entries_total", "Journal entries posted", ["source_type"])


class UnbalancedEntry(DomainError):
    code = "UNBALANCED_ENTRY"
    status_code = 422


@dataclass(frozen=True)
class Leg:
    account_id: int
    debit_fen: int = 0
    credit_fen: int = 0


async def account_for(
    session: AsyncSession,
    spec: AccountSpec,
    admdvs: str,
    insutype: str,
    fund_pay_type: str,
    counterparty: str = "",
) -> int:
    """The id of the account for this key, created on first use (concurrency-safe upsert)."""
    table = Account.__table__  # type: ignore[attr-defined]
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    await session.execute(
        insert.values(
            code=spec.code,
            name=spec.name,
            kind=spec.kind,
            admdvs=admdvs,
            insutype=insutype,
            fund_pay_type=fund_pay_type,
            counterparty=counterparty,
            created_at=utcnow(),
        ).on_conflict_do_nothing(
            index_elements=["code", "admdvs", "insutype", "fund_pay_type", "counterparty"]
        )
    )
    account_id = await session.scalar(
        select(Account.id).where(
            Account.code == spec.code,
            Account.admdvs == admdvs,
            Account.insutype == insutype,
            Account.fund_pay_type == fund_pay_type,
            Account.counterparty == counterparty,
        )
    )
    assert account_id is not None
    return account_id


async def post_entry(
    session: AsyncSession,
    *,
    event_id: str | None,
    source_type: str,
    source_id: str,
    description: str,
    admdvs: str,
    insutype: str,
    legs: list[Leg],
) -> JournalEntry:
    """Write one journal entry. Debits must equal credits; an entry has at least two postings."""
    if len(legs) < 2:
        raise UnbalancedEntry("记账凭证至少需要两条分录")
    for leg in legs:
        if leg.debit_fen < 0 or leg.credit_fen < 0 or (leg.debit_fen == 0) == (leg.credit_fen == 0):
            raise UnbalancedEntry("每条分录必须且只能在借方或贷方记一个正数金额")
    debits = sum(leg.debit_fen for leg in legs)
    credits = sum(leg.credit_fen for leg in legs)
    if debits != credits:
        raise UnbalancedEntry(f"借贷不平衡: 借方 {debits} 分, 贷方 {credits} 分")
    entry = JournalEntry(
        event_id=event_id,
        source_type=source_type,
        source_id=source_id,
        description=description,
        admdvs=admdvs,
        insutype=insutype,
        total_fen=debits,
    )
    session.add(entry)
    await session.flush()
    assert entry.id is not None
    for leg in legs:
        session.add(
            Posting(
                entry_id=entry.id,
                account_id=leg.account_id,
                debit_fen=leg.debit_fen,
                credit_fen=leg.credit_fen,
            )
        )
    await session.flush()
    JOURNAL_ENTRIES.labels(source_type).inc()
    return entry


async def post_settlement_completed(session: AsyncSession, envelope: EventEnvelope) -> None:
    """Consumer handler: the funds owe the institution what they paid for this settlement.

    Dr benefit expenditure (by clearing type) / Cr payable to the institution, per fund, on the insured
    person's pooling region and scheme sub-ledger."""
    event = SettlementCompleted.model_validate(envelope.data)
    existing = await session.scalar(
        select(JournalEntry.id).where(
            JournalEntry.source_type == "settlement", JournalEntry.source_id == event.setl_id
        )
    )
    if existing is not None:
        raise EventRejected(f"settlement {event.setl_id} already posted as entry {existing} by another event")
    expense = BENEFIT_EXPENSE_BY_CLR_TYPE.get(event.clr_type)
    if expense is None:
        raise EventRejected(f"no benefit expenditure account for clr_type {event.clr_type}")
    if sum(p.amount_fen for p in event.fund_payments) != event.fund_pay_sumamt_fen:
        raise EventRejected(f"fund payments of {event.setl_id} do not add up to fund_pay_sumamt_fen")
    legs: list[Leg] = []
    for payment in event.fund_payments:
        if payment.amount_fen < 0:
            raise EventRejected(f"negative fund payment in settlement.completed {event.setl_id}")
        if payment.amount_fen == 0:
            continue
        debit = await account_for(
            session, expense, event.insuplc_admdvs, event.insutype, payment.fund_pay_type
        )
        credit = await account_for(
            session,
            PAYABLE,
            event.insuplc_admdvs,
            event.insutype,
            payment.fund_pay_type,
            event.fixmedins_code,
        )
        legs += [Leg(debit, debit_fen=payment.amount_fen), Leg(credit, credit_fen=payment.amount_fen)]
    if not legs:
        return  # the funds paid nothing: nothing to book
    await post_entry(
        session,
        event_id=str(envelope.event_id),
        source_type="settlement",
        source_id=event.setl_id,
        description=f"结算 {event.setl_id} 基金支付 (机构 {event.fixmedins_code}, 清算类别 {event.clr_type})",
        admdvs=event.insuplc_admdvs,
        insutype=event.insutype,
        legs=legs,
    )


async def post_settlement_reversed(session: AsyncSession, envelope: EventEnvelope) -> None:
    """Consumer handler: a reversal takes back what the funds owed for the original settlement.

    The mirror of the original entry: Dr payable to the institution / Cr benefit expenditure, per fund."""
    event = SettlementReversed.model_validate(envelope.data)
    existing = await session.scalar(
        select(JournalEntry.id).where(
            JournalEntry.source_type == "settlement_reversal", JournalEntry.source_id == event.setl_id
        )
    )
    if existing is not None:
        raise EventRejected(f"reversal {event.setl_id} already posted as entry {existing} by another event")
    expense = BENEFIT_EXPENSE_BY_CLR_TYPE.get(event.clr_type)
    if expense is None:
        raise EventRejected(f"no benefit expenditure account for clr_type {event.clr_type}")
    if sum(p.amount_fen for p in event.fund_payments) != event.fund_pay_sumamt_fen:
        raise EventRejected(f"fund payments of reversal {event.setl_id} do not add up to fund_pay_sumamt_fen")
    legs: list[Leg] = []
    for payment in event.fund_payments:
        if payment.amount_fen > 0:
            raise EventRejected(f"a reversal carries negated amounts; {event.setl_id} has a positive one")
        amount = -payment.amount_fen
        if amount == 0:
            continue
        payable = await account_for(
            session,
            PAYABLE,
            event.insuplc_admdvs,
            event.insutype,
            payment.fund_pay_type,
            event.fixmedins_code,
        )
        benefit = await account_for(
            session, expense, event.insuplc_admdvs, event.insutype, payment.fund_pay_type
        )
        legs += [Leg(payable, debit_fen=amount), Leg(benefit, credit_fen=amount)]
    if not legs:
        return
    await post_entry(
        session,
        event_id=str(envelope.event_id),
        source_type="settlement_reversal",
        source_id=event.setl_id,
        description=f"撤销结算 {event.original_setl_id}（冲销 {event.setl_id}，机构 {event.fixmedins_code}）",
        admdvs=event.insuplc_admdvs,
        insutype=event.insutype,
        legs=legs,
    )


async def list_entries(
    session: AsyncSession, *, source_id: str | None, after_id: int, limit: int
) -> list[tuple[JournalEntry, list[tuple[Posting, Account]]]]:
    query = (
        select(JournalEntry)
        .where(col(JournalEntry.id) > after_id)
        .order_by(col(JournalEntry.id))
        .limit(limit)
    )
    if source_id is not None:
        query = query.where(JournalEntry.source_id == source_id)
    entries = list(await session.scalars(query))
    if not entries:
        return []
    rows = await session.execute(
        select(Posting, Account)
        .join(Account, col(Account.id) == col(Posting.account_id))
        .where(col(Posting.entry_id).in_([e.id for e in entries]))
        .order_by(col(Posting.id))
    )
    by_entry: dict[int, list[tuple[Posting, Account]]] = {}
    for posting, account in rows:
        by_entry.setdefault(posting.entry_id, []).append((posting, account))
    return [(e, by_entry.get(e.id or 0, [])) for e in entries]


async def get_entry(
    session: AsyncSession, entry_id: int
) -> tuple[JournalEntry, list[tuple[Posting, Account]]]:
    found = await list_entries(session, source_id=None, after_id=entry_id - 1, limit=1)
    if not found or found[0][0].id != entry_id:
        raise NotFound(f"记账凭证不存在: {entry_id}", code="ENTRY_NOT_FOUND")
    return found[0]


async def count_entries(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(JournalEntry)) or 0)


async def balances(
    session: AsyncSession, admdvs: str | None, insutype: str | None
) -> list[tuple[Account, int, int]]:
    """(account, total debits, total credits) for every account."""
    debit = func.coalesce(func.sum(Posting.debit_fen), 0)
    credit = func.coalesce(func.sum(Posting.credit_fen), 0)
    query = (
        select(Account, debit, credit)
        .join(Posting, col(Posting.account_id) == col(Account.id), isouter=True)
        .group_by(col(Account.id))
        .order_by(col(Account.code), col(Account.admdvs), col(Account.insutype), col(Account.counterparty))
    )
    if admdvs is not None:
        query = query.where(Account.admdvs == admdvs)
    if insutype is not None:
        query = query.where(Account.insutype == insutype)
    return [(a, int(d), int(c)) for a, d, c in await session.execute(query)]


def normal_balance(kind: str, debits: int, credits: int) -> int:
    return debits - credits if kind in DEBIT_NORMAL else credits - debits


async def imbalance(session: AsyncSession) -> int:
    """Total debits minus total credits over the whole journal; must be 0."""
    value = await session.scalar(select(func.coalesce(func.sum(Posting.debit_fen - Posting.credit_fen), 0)))
    return int(value or 0)
