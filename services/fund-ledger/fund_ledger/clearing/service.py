"""Money through the fund's bank accounts (收支两条线): the periodic sweep from the income account (收入户,
1001) to the fiscal special account (财政专户, 1002), and clearing batches that move what an institution is
owed from the special account through the expenditure account (支出户, 1003) to the institution, less the
withheld quality deposit.

Every write goes through ``post_entry`` (balance, sub-ledgers, hash chain) and, first, through
``post_guarded_entry``: a bank-type account can never go below zero. The chain head is locked before
anything is read, so balances read here cannot change until the transaction commits.

Business dates are Beijing dates: a date D covers [D 00:00, D+1 00:00) in UTC+8.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from prometheus_client import Counter
from sqlalchemy import and_, func, not_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from fund_ledger.books.bank import (
    account_net,
    post_guarded_entry,
)
from fund_ledger.books.chain import lock_chain_head
from fund_ledger.books.chart import (
    EXPENDITURE_ACCOUNT_DEPOSIT,
    FISCAL_SPECIAL_ACCOUNT_DEPOSIT,
    INCOME_ACCOUNT_DEPOSIT,
    PAYABLE,
    POOLED_FUND,
    QUALITY_DEPOSIT_WITHHELD,
    SCHEMES,
    SUBSIDY_INCOME_BY_LEVEL,
    SUBSIDY_RECEIVABLE,
)
from fund_ledger.books.journal import POOLING_TRANSFER
from fund_ledger.books.models import Account, JournalEntry, Posting
from fund_ledger.books.service import Leg, account_for, post_entry
from fund_ledger.clearing.models import ClearingBatch
from fund_ledger.pooling import service as pooling_service
from shared.clock import CHINA_TZ, now_china
from shared.errors import Conflict, Unprocessable
from shared.money import apply_ratio
from shared.observability import after_commit

SWEEP = "sweep"
#: A pooled county's sweep is a pooling transfer (it crosses into the city's books), under the same id.
SWEEP_SOURCES = (SWEEP, POOLING_TRANSFER)
CLEARING_TRANSFER = "clearing_transfer"
CLEARING = "clearing"


CLEARING_BATCHES = Counter(
    "ledger_clearing_batches_total", "Clearing batches run (not counting re-runs)", ["admdvs", "insutype"]
)
CLEARING_FEN = Counter(
    "ledger_clearing_fen_total",
    "Clearing amounts in fen: paid to institutions, quality deposit withheld, carried forward unpaid",
    ["admdvs", "insutype", "part"],
)
CLEARING_PARTS = ("paid", "deposit", "carried_forward")


def day_start(day: date) -> datetime:
    """The first moment of a Beijing business date."""
    return datetime.combine(day, time(), CHINA_TZ)


def day_end(day: date) -> datetime:
    """The first moment after a Beijing business date (exclusive bound)."""
    return day_start(day + timedelta(days=1))


def _check_scheme(insutype: str) -> None:
    if insutype not in SCHEMES:
        raise Unprocessable(f"未知险种分账: {insutype}", code="UNKNOWN_SCHEME")


# --- sweep ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    sweep_id: str
    admdvs: str
    insutype: str
    as_of: date
    amount_fen: int
    entry_id: int | None
    #: True when this sweep had been run before: nothing was posted now.
    replayed: bool


def sweep_id_for(admdvs: str, insutype: str, as_of: date) -> str:
    return f"sweep-{admdvs}-{insutype}-{as_of.isoformat()}"


async def run_sweep(
    session: AsyncSession, *, admdvs: str, insutype: str, as_of: date, today: date
) -> SweepResult:
    """Move the income account's (1001) balance as of ``as_of`` to the special account (1002), per fund, as
    one entry dated at the end of ``as_of`` (Dr 1002 / Cr 1001). Idempotent by the sweep id derived from
    (admdvs, insutype, as_of): a re-run returns the first result and posts nothing.

    The amount is what came into 1001 up to the end of ``as_of`` minus everything any sweep has moved out
    already (whatever its date), so sweeps for different dates never move the same money twice."""
    _check_scheme(insutype)
    if as_of > today:
        raise Unprocessable(f"归集日期不能晚于今天: {as_of}", code="SWEEP_IN_FUTURE")
    sweep_id = sweep_id_for(admdvs, insutype, as_of)
    await lock_chain_head(session)
    existing = await session.scalar(
        select(JournalEntry).where(
            col(JournalEntry.source_type).in_(SWEEP_SOURCES), JournalEntry.source_id == sweep_id
        )
    )
    if existing is not None:
        amount = await _swept_amount(session, existing)
        return SweepResult(sweep_id, admdvs, insutype, as_of, amount, existing.id, replayed=True)
    pooling = await pooling_service.pooling_of(session, admdvs, as_of)
    cutoff = day_end(as_of)
    income_accounts = list(
        await session.scalars(
            select(Account)
            .where(
                Account.code == INCOME_ACCOUNT_DEPOSIT.code,
                Account.admdvs == admdvs,
                Account.insutype == insutype,
            )
            .order_by(col(Account.fund_pay_type), col(Account.counterparty))
        )
    )
    legs: list[Leg] = []
    swept = 0
    for income in income_accounts:
        assert income.id is not None
        amount = await account_net(
            session,
            income.id,
            or_(col(JournalEntry.posted_at) < cutoff, col(JournalEntry.source_type).in_(SWEEP_SOURCES)),
        )
        if amount <= 0:
            continue
        swept += amount
        if pooling is None:
            special = await account_for(
                session, FISCAL_SPECIAL_ACCOUNT_DEPOSIT, admdvs, insutype, income.fund_pay_type
            )
            legs.append(Leg(special, debit_fen=amount))
        else:  # 统收统支: to the city's special account
            legs += await pooling_service.hand_up_legs(
                session, pooling, insutype, income.fund_pay_type, amount
            )
        legs.append(Leg(income.id, credit_fen=amount))
    if not legs:
        return SweepResult(sweep_id, admdvs, insutype, as_of, 0, None, replayed=False)
    where = "财政专户" if pooling is None else f"市级统筹 {pooling.city_admdvs} 财政专户"
    entry = await post_guarded_entry(
        session,
        source_type=SWEEP if pooling is None else POOLING_TRANSFER,
        source_id=sweep_id,
        description=f"收入户资金归集至{where} (截至 {as_of.isoformat()})",
        admdvs=admdvs,
        insutype=insutype,
        legs=legs,
        posted_at=cutoff - timedelta(microseconds=1),
    )
    return SweepResult(sweep_id, admdvs, insutype, as_of, swept, entry.id, replayed=False)


async def _swept_amount(session: AsyncSession, entry: JournalEntry) -> int:
    """What a sweep entry took out of the income account(s) (its total, for a plain sweep)."""
    if entry.source_type == SWEEP:
        return entry.total_fen
    value = await session.scalar(
        select(func.coalesce(func.sum(Posting.credit_fen), 0))
        .join(Account, col(Account.id) == col(Posting.account_id))
        .where(Posting.entry_id == entry.id, Account.code == INCOME_ACCOUNT_DEPOSIT.code)
    )
    return int(value or 0)


# --- clearing ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClearingRequest:
    batch_id: str
    admdvs: str
    insutype: str
    fund_pay_type: str
    fixmedins_code: str
    period_from: date
    period_to: date

    def matches(self, batch: ClearingBatch) -> bool:
        return (
            batch.admdvs,
            batch.insutype,
            batch.fund_pay_type,
            batch.fixmedins_code,
            batch.period_from,
            batch.period_to,
        ) == (
            self.admdvs,
            self.insutype,
            self.fund_pay_type,
            self.fixmedins_code,
            self.period_from,
            self.period_to,
        )


async def run_clearing(
    session: AsyncSession,
    request: ClearingRequest,
    *,
    deposit_ratio: Decimal,
    only_if_owed: bool = False,
) -> tuple[ClearingBatch | None, bool]:
    """Run a clearing batch; returns (batch, created). A batch id seen before returns the stored batch and
    posts nothing (a different request under the same id is refused).

    owed = the institution's 2101 payable brought forward (older claims and earlier carried-forward
    amounts) + the net payable of settlements and reversals dated in the period. The quality deposit is
    ``deposit_ratio`` of the period's payable (half-up, at most owed). The funds pay
    min(owed - deposit, special-account balance); the rest stays on 2101, carried forward.

    Entries: (a) Dr 1003 / Cr 1002 for the amount paid (source ``clearing_transfer``); (b) Dr 2101 / Cr 1003
    for the amount paid out to the institution and Dr 2101 / Cr 2102 for the deposit (source ``clearing``).
    Both are dated now (when the money moves). With ``only_if_owed`` (the scheduler), nothing is recorded
    when nothing is owed: returns (None, False)."""
    _check_scheme(request.insutype)
    if request.period_from > request.period_to:
        raise Unprocessable("清算期间起始日期不能晚于结束日期", code="BAD_PERIOD")
    await lock_chain_head(session)
    existing = await session.scalar(select(ClearingBatch).where(ClearingBatch.batch_id == request.batch_id))
    if existing is not None:
        if not request.matches(existing):
            raise Conflict(f"清算批次号已用于另一清算: {request.batch_id}", code="BATCH_ID_REUSED")
        return existing, False
    overlapping = await session.scalar(
        select(ClearingBatch.batch_id).where(
            ClearingBatch.admdvs == request.admdvs,
            ClearingBatch.insutype == request.insutype,
            ClearingBatch.fund_pay_type == request.fund_pay_type,
            ClearingBatch.fixmedins_code == request.fixmedins_code,
            col(ClearingBatch.period_from) <= request.period_to,
            col(ClearingBatch.period_to) >= request.period_from,
        )
    )
    if overlapping is not None:
        raise Conflict(
            f"该机构此期间已清算 (批次 {overlapping}), 清算期间不得重叠", code="PERIOD_ALREADY_CLEARED"
        )

    key = (request.admdvs, request.insutype, request.fund_pay_type)
    payable = await account_for(session, PAYABLE, *key, request.fixmedins_code)
    special = await account_for(session, FISCAL_SPECIAL_ACCOUNT_DEPOSIT, *key)
    start, end = day_start(request.period_from), day_end(request.period_to)
    is_clearing = col(JournalEntry.source_type) == CLEARING
    posted_at = col(JournalEntry.posted_at)
    # 2101 is credit-normal: owed = credits - debits.
    brought_forward = -await account_net(
        session, payable, or_(is_clearing, and_(not_(is_clearing), posted_at < start))
    )
    period_owed = -await account_net(
        session, payable, and_(not_(is_clearing), posted_at >= start, posted_at < end)
    )
    owed = brought_forward + period_owed
    if only_if_owed and owed <= 0:
        return None, False
    deposit = min(apply_ratio(max(period_owed, 0), deposit_ratio), max(owed, 0))
    payable_now = max(owed - deposit, 0)
    # A county in city-level pooling pays from what the city's fund-use plans put in its expenditure
    # account; otherwise the special account funds the expenditure account for this batch.
    pooled = await pooling_service.pooling_of(session, request.admdvs, now_china().date()) is not None
    expenditure = await account_for(session, EXPENDITURE_ACCOUNT_DEPOSIT, *key)
    available = max(await account_net(session, expenditure if pooled else special), 0)
    paid = min(payable_now, available)
    carried_forward = payable_now - paid

    period = f"{request.period_from}~{request.period_to}"
    what = f"清算批次 {request.batch_id} (机构 {request.fixmedins_code}, {period})"
    transfer_entry_id = clearing_entry_id = None
    if paid > 0 and not pooled:
        transfer = await post_guarded_entry(
            session,
            source_type=CLEARING_TRANSFER,
            source_id=request.batch_id,
            description=f"财政专户拨付支出户: {what}",
            admdvs=request.admdvs,
            insutype=request.insutype,
            legs=[Leg(expenditure, debit_fen=paid), Leg(special, credit_fen=paid)],
        )
        transfer_entry_id = transfer.id
    legs: list[Leg] = []
    if paid > 0:
        legs += [Leg(payable, debit_fen=paid), Leg(expenditure, credit_fen=paid)]
    if deposit > 0:
        withheld = await account_for(session, QUALITY_DEPOSIT_WITHHELD, *key, request.fixmedins_code)
        legs += [Leg(payable, debit_fen=deposit), Leg(withheld, credit_fen=deposit)]
    if legs:
        clearing = await post_guarded_entry(
            session,
            source_type=CLEARING,
            source_id=request.batch_id,
            description=(
                f"支付定点机构: {what}; 应付 {owed} 分, 预留质量保证金 {deposit} 分, 支付 {paid} 分, "
                f"结转 {carried_forward} 分"
            ),
            admdvs=request.admdvs,
            insutype=request.insutype,
            legs=legs,
        )
        clearing_entry_id = clearing.id
    batch = ClearingBatch(
        batch_id=request.batch_id,
        admdvs=request.admdvs,
        insutype=request.insutype,
        fund_pay_type=request.fund_pay_type,
        fixmedins_code=request.fixmedins_code,
        period_from=request.period_from,
        period_to=request.period_to,
        brought_forward_fen=brought_forward,
        period_owed_fen=period_owed,
        owed_fen=owed,
        deposit_ratio=deposit_ratio,
        deposit_fen=deposit,
        available_fen=available,
        paid_fen=paid,
        carried_forward_fen=carried_forward,
        transfer_entry_id=transfer_entry_id,
        clearing_entry_id=clearing_entry_id,
    )
    session.add(batch)
    await session.flush()
    labels = (request.admdvs, request.insutype)

    def count() -> None:
        CLEARING_BATCHES.labels(*labels).inc()
        CLEARING_FEN.labels(*labels, "paid").inc(paid)
        CLEARING_FEN.labels(*labels, "deposit").inc(deposit)
        CLEARING_FEN.labels(*labels, "carried_forward").inc(carried_forward)

    after_commit(session, count)
    return batch, True


async def get_batch(session: AsyncSession, batch_id: str) -> ClearingBatch | None:
    return await session.scalar(select(ClearingBatch).where(ClearingBatch.batch_id == batch_id))


# --- government subsidy received (财政补助资金到账) --------------------------------------------------------

SUBSIDY_RECEIPT = "subsidy_receipt"


@dataclass(frozen=True)
class SubsidyReceipt:
    receipt_id: str
    admdvs: str
    insutype: str
    level: str
    amount_fen: int
    received_on: date


@dataclass(frozen=True)
class SubsidyReceiptResult:
    entry_id: int
    #: What is still receivable from this level after the receipt.
    receivable_left_fen: int
    replayed: bool


def _receipt_description(receipt: SubsidyReceipt) -> str:
    return (
        f"{receipt.level} 级财政补助资金到账 {receipt.amount_fen} 分 (到账凭证 {receipt.receipt_id}, "
        f"{receipt.received_on.isoformat()})"
    )


async def receive_subsidy(
    session: AsyncSession, receipt: SubsidyReceipt, *, today: date
) -> SubsidyReceiptResult:
    """Government subsidy money arrives in the fiscal special account: Dr 1002 / Cr 1201 receivable of that
    level, on the pooled fund (390100). It settles what enrolment subsidies made receivable; more than is
    receivable from that level is refused (an advance allocation would need its own account). Idempotent by
    ``receipt_id``: the same receipt again returns the first entry; a different one under the same id is
    refused."""
    _check_scheme(receipt.insutype)
    if receipt.level not in SUBSIDY_INCOME_BY_LEVEL:
        raise Unprocessable(f"未知财政补助级次: {receipt.level}", code="UNKNOWN_SUBSIDY_LEVEL")
    if receipt.amount_fen <= 0:
        raise Unprocessable("到账金额必须大于零", code="BAD_AMOUNT")
    if receipt.received_on > today:
        raise Unprocessable(f"到账日期不能晚于今天: {receipt.received_on}", code="RECEIPT_IN_FUTURE")
    await lock_chain_head(session)
    receivable = await account_for(
        session, SUBSIDY_RECEIVABLE, receipt.admdvs, receipt.insutype, POOLED_FUND, receipt.level
    )
    existing = await session.scalar(
        select(JournalEntry).where(
            JournalEntry.source_type == SUBSIDY_RECEIPT, JournalEntry.source_id == receipt.receipt_id
        )
    )
    if existing is not None:
        assert existing.id is not None
        same = (existing.admdvs, existing.insutype, existing.total_fen, existing.description) == (
            receipt.admdvs,
            receipt.insutype,
            receipt.amount_fen,
            _receipt_description(receipt),
        )
        if not same:
            raise Conflict(
                f"到账凭证 {receipt.receipt_id} 已登记为另一笔到账 (记账凭证 {existing.id})",
                code="RECEIPT_ID_REUSED",
            )
        left = await account_net(session, receivable)
        return SubsidyReceiptResult(existing.id, left, replayed=True)
    outstanding = await account_net(session, receivable)
    if receipt.amount_fen > outstanding:
        raise Unprocessable(
            f"到账金额 {receipt.amount_fen} 分超过应收 {receipt.level} 级财政补助余额 {outstanding} 分",
            code="MORE_THAN_RECEIVABLE",
            details={"receivable_fen": outstanding, "amount_fen": receipt.amount_fen},
        )
    special = await account_for(
        session, FISCAL_SPECIAL_ACCOUNT_DEPOSIT, receipt.admdvs, receipt.insutype, POOLED_FUND
    )
    entry = await post_entry(
        session,
        event_id=None,
        source_type=SUBSIDY_RECEIPT,
        source_id=receipt.receipt_id,
        description=_receipt_description(receipt),
        admdvs=receipt.admdvs,
        insutype=receipt.insutype,
        legs=[Leg(special, debit_fen=receipt.amount_fen), Leg(receivable, credit_fen=receipt.amount_fen)],
        posted_at=min(now_china(), day_end(receipt.received_on) - timedelta(microseconds=1)),
    )
    assert entry.id is not None
    return SubsidyReceiptResult(entry.id, outstanding - receipt.amount_fen, replayed=False)
