"""The legacy schemes in the books: their audited opening balances, and their merger into the unified fund
(基金统一管理、分账运行 until the switch-over; then 历年结余并入 by explicit entries, never silent moves).

Opening (``open_legacy_fund``), once per region and scheme, from the audited figures: the money in the
fiscal special account C, the benefits still owed P and the risk reserve R. The fund balance is
B = C - P - R:

    Dr 1002 special account C / Cr 2103 benefits payable P / Cr 3002 risk reserve R / Cr 3001 fund balance B
    (B < 0, an accumulated deficit: Dr 1202 receivable from the same-level finance bureau -B instead)

Merger (``merge_scheme``), after the switch-over: one entry (source ``scheme_merger``, the only entries
allowed to span two sub-ledgers, and only legacy -> 390 in one region) that empties every account of the
legacy sub-ledger into the unified one. Assets, liabilities and reserves move to the same account of 390
(same fund, same counterparty); the legacy income and expenditure are closed into 390's fund balance
(3001), as is the legacy fund balance. A posting that reaches the legacy sub-ledger after its merger (a
late reversal of an old settlement) is moved by another merger under a new id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from fund_ledger.books.chain import lock_chain_head
from fund_ledger.books.chart import (
    DEFICIT_RECEIVABLE,
    FISCAL_SPECIAL_ACCOUNT_DEPOSIT,
    FUND_BALANCE,
    LEGACY_BENEFITS_PAYABLE,
    POOLED_FUND,
    RISK_RESERVE,
    SCHEMES,
    AccountSpec,
)
from fund_ledger.books.journal import SCHEME_MERGER, UNIFIED_SCHEME, Leg
from fund_ledger.books.models import JournalEntry
from fund_ledger.books.service import account_for, balances, post_entry
from fund_ledger.clearing.service import day_start
from shared.clock import now_china
from shared.errors import Conflict, Unprocessable

OPENING = "opening_balance"
LEGACY_SCHEMES = frozenset({"391", "380"})


@dataclass(frozen=True)
class OpeningBalance:
    admdvs: str
    insutype: str
    as_of: date
    special_account_fen: int
    benefits_payable_fen: int
    risk_reserve_fen: int
    audited_by: str
    audit_ref: str

    @property
    def fund_balance_fen(self) -> int:
        return self.special_account_fen - self.benefits_payable_fen - self.risk_reserve_fen


@dataclass(frozen=True)
class Posted:
    entry_id: int
    total_fen: int
    replayed: bool


def opening_id(admdvs: str, insutype: str) -> str:
    return f"opening-{admdvs}-{insutype}"


def _opening_description(o: OpeningBalance) -> str:
    return (
        f"{o.insutype} 基金期初余额 (截至 {o.as_of.isoformat()}, 审计 {o.audited_by} {o.audit_ref}): "
        f"财政专户 {o.special_account_fen} 分, 应付历史待遇 {o.benefits_payable_fen} 分, "
        f"风险储备金 {o.risk_reserve_fen} 分, 基金结余 {o.fund_balance_fen} 分"
    )


async def _existing(session: AsyncSession, source_type: str, source_id: str) -> JournalEntry | None:
    return await session.scalar(
        select(JournalEntry).where(
            JournalEntry.source_type == source_type, JournalEntry.source_id == source_id
        )
    )


async def open_legacy_fund(session: AsyncSession, opening: OpeningBalance) -> Posted:
    if opening.insutype not in SCHEMES:
        raise Unprocessable(f"未知险种分账: {opening.insutype}", code="UNKNOWN_SCHEME")
    if opening.as_of > now_china().date():
        raise Unprocessable(f"期初日期不能晚于今天: {opening.as_of}", code="OPENING_IN_FUTURE")
    await lock_chain_head(session)
    source_id = opening_id(opening.admdvs, opening.insutype)
    description = _opening_description(opening)
    existing = await _existing(session, OPENING, source_id)
    if existing is not None:
        assert existing.id is not None
        if existing.description != description:
            raise Conflict(
                f"统筹区 {opening.admdvs} 险种 {opening.insutype} 已登记期初余额 (记账凭证 {existing.id}); "
                "更正请做更正分录",
                code="OPENING_EXISTS",
            )
        return Posted(existing.id, existing.total_fen, replayed=True)
    key = (opening.admdvs, opening.insutype, POOLED_FUND)
    legs: list[Leg] = []

    async def leg(debit: bool, spec: AccountSpec, amount: int) -> None:
        if amount <= 0:
            return
        account = await account_for(session, spec, *key)
        legs.append(Leg(account, debit_fen=amount) if debit else Leg(account, credit_fen=amount))

    balance = opening.fund_balance_fen
    await leg(True, FISCAL_SPECIAL_ACCOUNT_DEPOSIT, opening.special_account_fen)
    await leg(True, DEFICIT_RECEIVABLE, -balance)
    await leg(False, LEGACY_BENEFITS_PAYABLE, opening.benefits_payable_fen)
    await leg(False, RISK_RESERVE, opening.risk_reserve_fen)
    await leg(False, FUND_BALANCE, balance)
    if len(legs) < 2:
        raise Unprocessable("期初余额全部为零，无需登记", code="NOTHING_TO_OPEN")
    entry = await post_entry(
        session,
        event_id=None,
        source_type=OPENING,
        source_id=source_id,
        description=description,
        admdvs=opening.admdvs,
        insutype=opening.insutype,
        legs=legs,
        posted_at=day_start(opening.as_of),
    )
    assert entry.id is not None
    return Posted(entry.id, entry.total_fen, replayed=False)


@dataclass(frozen=True)
class Merger:
    merger_id: str
    admdvs: str
    from_insutype: str
    approved_by: str
    audit_ref: str


def _merger_description(m: Merger) -> str:
    return (
        f"{m.from_insutype} 基金并入城乡居民医保基金 (批准 {m.approved_by}, {m.audit_ref}): "
        f"资产、负债、储备按原科目转入 390, 收支结转基金结余"
    )


async def merge_scheme(session: AsyncSession, merger: Merger) -> Posted:
    if merger.from_insutype not in LEGACY_SCHEMES:
        raise Unprocessable(
            f"只能将原城镇居民医保(391)或新农合(380)基金并入 390: {merger.from_insutype}",
            code="NOT_A_LEGACY_SCHEME",
        )
    await lock_chain_head(session)
    description = _merger_description(merger)
    existing = await _existing(session, SCHEME_MERGER, merger.merger_id)
    if existing is not None:
        assert existing.id is not None
        if (existing.admdvs, existing.description) != (merger.admdvs, description):
            raise Conflict(f"并轨批次号已用于另一次并轨: {merger.merger_id}", code="MERGER_ID_REUSED")
        return Posted(existing.id, existing.total_fen, replayed=True)
    legs: list[Leg] = []
    closing: dict[str, int] = {}  # fund -> net debit to 390's fund balance (3001)
    for account, debits, credits in await balances(session, merger.admdvs, merger.from_insutype):
        assert account.id is not None
        net = debits - credits
        if net == 0:
            continue
        legs.append(Leg(account.id, credit_fen=net) if net > 0 else Leg(account.id, debit_fen=-net))
        if account.kind in ("income", "expense") or account.code == FUND_BALANCE.code:
            closing[account.fund_pay_type] = closing.get(account.fund_pay_type, 0) + net
            continue
        spec = AccountSpec(account.code, account.name, account.kind)
        target = await account_for(
            session, spec, merger.admdvs, UNIFIED_SCHEME, account.fund_pay_type, account.counterparty
        )
        legs.append(Leg(target, debit_fen=net) if net > 0 else Leg(target, credit_fen=-net))
    for fund, net in sorted(closing.items()):
        if net == 0:
            continue
        target = await account_for(session, FUND_BALANCE, merger.admdvs, UNIFIED_SCHEME, fund)
        legs.append(Leg(target, debit_fen=net) if net > 0 else Leg(target, credit_fen=-net))
    if not legs:
        raise Unprocessable(
            f"统筹区 {merger.admdvs} 险种 {merger.from_insutype} 分账已无余额，无需并轨",
            code="NOTHING_TO_MERGE",
        )
    entry = await post_entry(
        session,
        event_id=None,
        source_type=SCHEME_MERGER,
        source_id=merger.merger_id,
        description=description,
        admdvs=merger.admdvs,
        insutype=UNIFIED_SCHEME,
        legs=legs,
        posted_at=now_china(),
    )
    assert entry.id is not None
    return Posted(entry.id, entry.total_fen, replayed=False)
