"""The bank-type accounts' rule (收支两条线): an income (1001), fiscal special (1002) or expenditure (1003)
account can never go below zero. Every entry that moves money out of one of them (clearing's sweeps and
batches, the city pool's transfers) is posted through ``post_guarded_entry``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from fund_ledger.books.chain import lock_chain_head
from fund_ledger.books.chart import (
    EXPENDITURE_ACCOUNT_DEPOSIT,
    FISCAL_SPECIAL_ACCOUNT_DEPOSIT,
    INCOME_ACCOUNT_DEPOSIT,
)
from fund_ledger.books.journal import PostedEntry
from fund_ledger.books.models import Account, JournalEntry, Posting
from fund_ledger.books.service import Leg, post_entry
from shared.errors import DomainError

#: Bank deposit accounts: their balance can never go below zero.
BANK_ACCOUNT_CODES = frozenset(
    {INCOME_ACCOUNT_DEPOSIT.code, FISCAL_SPECIAL_ACCOUNT_DEPOSIT.code, EXPENDITURE_ACCOUNT_DEPOSIT.code}
)


class InsufficientFunds(DomainError):
    code = "INSUFFICIENT_FUNDS"
    status_code = 409


async def account_net(
    session: AsyncSession, account_id: int, where: ColumnElement[bool] | None = None
) -> int:
    """Debits minus credits of one account, over the postings whose entry matches ``where``."""
    query = (
        select(func.coalesce(func.sum(Posting.debit_fen - Posting.credit_fen), 0))
        .join(JournalEntry, col(JournalEntry.id) == col(Posting.entry_id))
        .where(Posting.account_id == account_id)
    )
    if where is not None:
        query = query.where(where)
    return int(await session.scalar(query) or 0)


async def post_guarded_entry(
    session: AsyncSession,
    *,
    source_type: str,
    source_id: str,
    description: str,
    admdvs: str,
    insutype: str,
    legs: list[Leg],
    posted_at: datetime | None = None,
) -> PostedEntry:
    """``post_entry`` after checking that no bank-type account (1001, 1002, 1003) the entry touches would
    end below zero, on its current balance or on its balance as of ``posted_at``. Call with the chain head
    locked (``lock_chain_head``) so the balances cannot move underneath."""
    await lock_chain_head(session)
    net_by_account: dict[int, int] = {}
    for leg in legs:
        net_by_account[leg.account_id] = (
            net_by_account.get(leg.account_id, 0) + leg.debit_fen - leg.credit_fen
        )
    accounts = await session.scalars(select(Account).where(col(Account.id).in_(list(net_by_account))))
    for account in accounts:
        if account.code not in BANK_ACCOUNT_CODES or account.id is None:
            continue
        change = net_by_account[account.id]
        if change >= 0:
            continue
        balances = [await account_net(session, account.id)]
        if posted_at is not None:
            balances.append(await account_net(session, account.id, col(JournalEntry.posted_at) <= posted_at))
        if min(balances) + change < 0:
            raise InsufficientFunds(
                f"银行存款科目不得透支: {account.code} {account.name} ({account.admdvs}/{account.insutype}/"
                f"{account.fund_pay_type}) 余额 {min(balances)} 分, 本次支出 {-change} 分",
                details={"account_code": account.code, "balance_fen": min(balances), "amount_fen": -change},
            )
    return await post_entry(
        session,
        event_id=None,
        source_type=source_type,
        source_id=source_id,
        description=description,
        admdvs=admdvs,
        insutype=insutype,
        legs=legs,
        posted_at=posted_at,
    )
