"""The monthly inter-region clearing of out-of-area care within the platform (docs/architecture.md,
"Out-of-area care"; docs/domain.md, "Out-of-area care").

A settlement of a person insured in region A at an institution of region B is booked twice, each region's
entry balanced in its own books (``fund_ledger.books.service``): A Dr expenditure / Cr 2105 due to B; B Dr
1302 due from A / Cr 2101 payable to its institution. Once a month, per (A, B, scheme, fund):

- the reconciliation: A's month on 2105[B] (settlements less reversals dated in the month) against B's
  month on 1302[A]; they must agree (both come from one event in one transaction), and the month's
  out-of-area settlements and reversals are counted;
- the clearing: owed = what A owed B before the month and did not pay (brought forward) + the month's
  figure. A pays min(owed, its special account's balance) (a county in city-level pooling: its
  expenditure account, as for its institutions): A Dr 2105[B] / Cr 1002, B Dr 1002 / Cr 1302[A], two
  entries under the clearing's id, dated now. The rest stays owed (carried forward). A pair whose books
  disagree is not paid (``mismatch``) and is reported.

A month is cleared once per scheme: running it again answers the stored clearings and posts nothing.
What is booked for the month after its clearing (a late event) is brought forward to the next month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from prometheus_client import Counter
from sqlalchemy import and_, func, not_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from fund_ledger.books.bank import account_net, post_guarded_entry
from fund_ledger.books.chain import lock_chain_head
from fund_ledger.books.chart import (
    EXPENDITURE_ACCOUNT_DEPOSIT,
    FISCAL_SPECIAL_ACCOUNT_DEPOSIT,
    INTER_REGION_DUE_FROM,
    INTER_REGION_DUE_TO,
    SCHEMES,
)
from fund_ledger.books.models import Account, JournalEntry, Posting
from fund_ledger.books.service import OUT_OF_AREA_CARE, OUT_OF_AREA_REVERSAL, Leg, account_for
from fund_ledger.clearing.service import day_start
from fund_ledger.interregion.models import InterRegionClearing
from fund_ledger.pooling import service as pooling_service
from shared.clock import now_china
from shared.errors import Unprocessable
from shared.observability import after_commit

#: The two entries of a clearing (source ids: the clearing id).
INSURED_SIDE = "inter_region_clearing"
TREATING_SIDE = "inter_region_receipt"

INTER_REGION_CLEARINGS = Counter(
    "ledger_inter_region_clearings_total",
    "Monthly inter-region clearings of out-of-area care, one per insured region, treating region and fund, "
    "by outcome (mismatch: the two regions' books disagree, nothing paid)",
    ["status"],
)
for _status in ("cleared", "mismatch", "nothing_owed"):
    INTER_REGION_CLEARINGS.labels(_status)  # exported at 0: increase() sees the first mismatch
INTER_REGION_CLEARED_FEN = Counter(
    "ledger_inter_region_cleared_fen_total",
    "Inter-region clearing of out-of-area care, in fen: paid by insured regions to treating regions, and "
    "carried forward unpaid",
    ["insured_admdvs", "treating_admdvs", "insutype", "part"],
)


def month_bounds(month: str) -> tuple[date, date]:
    """``yyyy-mm`` -> (its first day, the next month's first day)."""
    try:
        year, number = (int(part) for part in month.split("-"))
        first = date(year, number, 1)
        following = date(year + number // 12, number % 12 + 1, 1)
    except ValueError as exc:
        raise Unprocessable(f"清算月份格式应为 yyyy-mm: {month}", code="BAD_PERIOD") from exc
    return first, following


@dataclass
class Pair:
    """One (insured region, treating region, scheme, fund) for a month: the two books and the clearing."""

    clearing_id: str
    month: date
    insured_admdvs: str
    treating_admdvs: str
    insutype: str
    fund_pay_type: str
    brought_forward_fen: int
    period_owed_fen: int
    treating_period_fen: int
    settlements: int
    reversals: int
    status: str = "open"
    owed_fen: int = 0
    available_fen: int = 0
    paid_fen: int = 0
    carried_forward_fen: int = 0
    #: Still owed after everything booked so far, in each region's books (2105[B] credit, 1302[A] debit).
    insured_balance_fen: int = 0
    treating_balance_fen: int = 0

    @property
    def agrees(self) -> bool:
        return self.period_owed_fen == self.treating_period_fen


def clearing_id(first: date, insured: str, treating: str, insutype: str, fund: str) -> str:
    return f"IRC{first:%Y%m}{insured}{treating}{insutype}{fund}"


async def _due_to_accounts(session: AsyncSession, insutype: str) -> list[Account]:
    rows = await session.scalars(
        select(Account)
        .where(Account.code == INTER_REGION_DUE_TO.code, Account.insutype == insutype)
        .order_by(col(Account.admdvs), col(Account.counterparty), col(Account.fund_pay_type))
    )
    return list(rows)


async def _count(session: AsyncSession, account_id: int, source_type: str, start: date, end: date) -> int:
    query = (
        select(func.count(func.distinct(JournalEntry.id)))
        .join(Posting, col(Posting.entry_id) == col(JournalEntry.id))
        .where(
            Posting.account_id == account_id,
            JournalEntry.source_type == source_type,
            col(JournalEntry.posted_at) >= day_start(start),
            col(JournalEntry.posted_at) < day_start(end),
        )
    )
    return int(await session.scalar(query) or 0)


async def _pair(
    session: AsyncSession, due_to: Account, first: date, following: date
) -> tuple[Pair, int, int]:
    """The month's figures of one pair from both books; also the two accounts' ids (due to, due from)."""
    assert due_to.id is not None
    insured, treating, fund = due_to.admdvs, due_to.counterparty, due_to.fund_pay_type
    due_from = await account_for(session, INTER_REGION_DUE_FROM, treating, due_to.insutype, fund, insured)
    start, end = day_start(first), day_start(following)
    posted_at = col(JournalEntry.posted_at)
    paying = col(JournalEntry.source_type) == INSURED_SIDE
    receiving = col(JournalEntry.source_type) == TREATING_SIDE
    in_month = and_(posted_at >= start, posted_at < end)
    # 2105 is credit-normal (owed = credits - debits), 1302 debit-normal.
    brought_forward = -await account_net(
        session, due_to.id, or_(paying, and_(not_(paying), posted_at < start))
    )
    period = -await account_net(session, due_to.id, and_(not_(paying), in_month))
    treating_period = await account_net(session, due_from, and_(not_(receiving), in_month))
    pair = Pair(
        clearing_id=clearing_id(first, insured, treating, due_to.insutype, fund),
        month=first,
        insured_admdvs=insured,
        treating_admdvs=treating,
        insutype=due_to.insutype,
        fund_pay_type=fund,
        brought_forward_fen=brought_forward,
        period_owed_fen=period,
        treating_period_fen=treating_period,
        settlements=await _count(session, due_from, OUT_OF_AREA_CARE, first, following),
        reversals=await _count(session, due_from, OUT_OF_AREA_REVERSAL, first, following),
        owed_fen=brought_forward + period,
    )
    return pair, due_to.id, due_from


async def _balances(session: AsyncSession, pair: Pair, due_to: int, due_from: int) -> None:
    pair.insured_balance_fen = -await account_net(session, due_to)
    pair.treating_balance_fen = await account_net(session, due_from)


def _stored(pair: Pair, row: InterRegionClearing) -> None:
    pair.status, pair.owed_fen, pair.available_fen = row.status, row.owed_fen, row.available_fen
    pair.paid_fen, pair.carried_forward_fen = row.paid_fen, row.carried_forward_fen
    pair.brought_forward_fen, pair.period_owed_fen = row.brought_forward_fen, row.period_owed_fen
    pair.treating_period_fen = row.treating_period_fen


async def _stored_rows(session: AsyncSession, first: date, insutype: str) -> dict[str, InterRegionClearing]:
    rows = await session.scalars(
        select(InterRegionClearing).where(
            InterRegionClearing.month == first, InterRegionClearing.insutype == insutype
        )
    )
    return {row.clearing_id: row for row in rows}


def _check_scheme(insutype: str) -> None:
    if insutype not in SCHEMES:
        raise Unprocessable(f"未知险种分账: {insutype}", code="UNKNOWN_SCHEME")


async def report(session: AsyncSession, month: str, insutype: str) -> tuple[list[Pair], bool]:
    """The month's reconciliation of every pair with out-of-area care, and its clearing if it ran (else
    status ``open`` with what would be owed); whether the month was cleared."""
    _check_scheme(insutype)
    first, following = month_bounds(month)
    stored = await _stored_rows(session, first, insutype)
    pairs = []
    for due_to in await _due_to_accounts(session, insutype):
        pair, to_id, from_id = await _pair(session, due_to, first, following)
        row = stored.get(pair.clearing_id)
        if row is not None:
            _stored(pair, row)
        await _balances(session, pair, to_id, from_id)
        if row is not None or pair.owed_fen or pair.settlements or pair.reversals:
            pairs.append(pair)
    return pairs, bool(stored)


async def run(session: AsyncSession, month: str, insutype: str) -> tuple[list[Pair], bool]:
    """Clear the month between every pair of regions (the module's docstring); (pairs, created). A month
    cleared before answers its stored clearings and posts nothing."""
    _check_scheme(insutype)
    first, following = month_bounds(month)
    await lock_chain_head(session)
    if await _stored_rows(session, first, insutype):
        pairs, _ = await report(session, month, insutype)
        return pairs, False
    pairs = []
    for due_to in await _due_to_accounts(session, insutype):
        pair, to_id, from_id = await _pair(session, due_to, first, following)
        if not (pair.owed_fen or pair.settlements or pair.reversals):
            continue
        await _clear(session, pair, to_id, from_id)
        await _balances(session, pair, to_id, from_id)
        pairs.append(pair)
    return pairs, True


async def _clear(session: AsyncSession, pair: Pair, due_to: int, due_from: int) -> None:
    key = (pair.insutype, pair.fund_pay_type)
    pooled = await pooling_service.pooling_of(session, pair.insured_admdvs, now_china().date()) is not None
    source = await account_for(
        session,
        EXPENDITURE_ACCOUNT_DEPOSIT if pooled else FISCAL_SPECIAL_ACCOUNT_DEPOSIT,
        pair.insured_admdvs,
        *key,
    )
    pair.available_fen = max(await account_net(session, source), 0)
    if not pair.agrees:
        pair.status = "mismatch"
    elif pair.owed_fen <= 0:
        pair.status = "nothing_owed"
    else:
        pair.status = "cleared"
        pair.paid_fen = min(pair.owed_fen, pair.available_fen)
    pair.carried_forward_fen = max(pair.owed_fen, 0) - pair.paid_fen
    what = (
        f"异地就医清算 {pair.clearing_id} ({pair.month:%Y-%m}, 参保地 {pair.insured_admdvs} → "
        f"就医地 {pair.treating_admdvs})"
    )
    insured_entry = treating_entry = None
    if pair.paid_fen > 0:
        insured_entry = await post_guarded_entry(
            session,
            source_type=INSURED_SIDE,
            source_id=pair.clearing_id,
            description=(
                f"{what}: 应付 {pair.owed_fen} 分, 支付 {pair.paid_fen} 分, "
                f"结转 {pair.carried_forward_fen} 分"
            ),
            admdvs=pair.insured_admdvs,
            insutype=pair.insutype,
            legs=[Leg(due_to, debit_fen=pair.paid_fen), Leg(source, credit_fen=pair.paid_fen)],
        )
        receipt = await account_for(session, FISCAL_SPECIAL_ACCOUNT_DEPOSIT, pair.treating_admdvs, *key)
        treating_entry = await post_guarded_entry(
            session,
            source_type=TREATING_SIDE,
            source_id=pair.clearing_id,
            description=f"{what}: 收到 {pair.paid_fen} 分",
            admdvs=pair.treating_admdvs,
            insutype=pair.insutype,
            legs=[Leg(receipt, debit_fen=pair.paid_fen), Leg(due_from, credit_fen=pair.paid_fen)],
        )
    session.add(
        InterRegionClearing(
            clearing_id=pair.clearing_id,
            month=pair.month,
            insured_admdvs=pair.insured_admdvs,
            treating_admdvs=pair.treating_admdvs,
            insutype=pair.insutype,
            fund_pay_type=pair.fund_pay_type,
            brought_forward_fen=pair.brought_forward_fen,
            period_owed_fen=pair.period_owed_fen,
            treating_period_fen=pair.treating_period_fen,
            status=pair.status,
            owed_fen=pair.owed_fen,
            available_fen=pair.available_fen,
            paid_fen=pair.paid_fen,
            carried_forward_fen=pair.carried_forward_fen,
            insured_entry_id=insured_entry.id if insured_entry else None,
            treating_entry_id=treating_entry.id if treating_entry else None,
        )
    )
    await session.flush()
    labels = (pair.insured_admdvs, pair.treating_admdvs, pair.insutype)
    paid, carried = pair.paid_fen, pair.carried_forward_fen

    status = pair.status

    def count() -> None:
        INTER_REGION_CLEARINGS.labels(status).inc()
        INTER_REGION_CLEARED_FEN.labels(*labels, "paid").inc(paid)
        INTER_REGION_CLEARED_FEN.labels(*labels, "carried_forward").inc(carried)

    after_commit(session, count)
