"""The monthly clearing between platforms (跨省; docs/interface.md, "Between platforms": the clearing), the
fund ledger's part: the books of this platform's side of a month the settlement service reconciled with
the peer (``settlement.interplatform.clearing``).

For each direction of the reconciliation that is reconciled (both platforms' records agree to the fen and
nothing is pending), the matched confirmed items are booked per region and scheme, one entry with a leg
pair per fund:

- this platform treated, the peer pays (``receivable``): Dr 1002 special account / Cr 1303 due from the
  peer (source ``inter_platform_receipt``);
- the peer treated, this platform pays (``payable``): Dr 2106 due to the peer / Cr 1002 special account
  (source ``inter_platform_clearing``; the special account may not go below zero: ``INSUFFICIENT_FUNDS``,
  nothing booked). A county in city-level pooling (统收统支) pays from its expenditure account 1003, as
  it pays its institutions and the inter-region clearing (its special account is swept up to the city).

A month's line is net: a settlement cleared in an earlier month and reversed in this one counts below zero
(``settlement.interplatform.clearing``, ``reversed`` items), and a line below zero is booked the other way
round (the treating platform pays back: Dr 1303 / Cr 1002; the insured platform gets back: Dr 1002 / Cr 2106).

Source ids ``IPC`` + yyyymm + region + scheme + peer: a month is booked once per region and scheme; running
it again answers what was booked (``replayed``) and posts nothing. A direction that is not reconciled is
not booked (``mismatch``) and its differences are in the report."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from fund_ledger.books.bank import post_guarded_entry
from fund_ledger.books.chain import lock_chain_head
from fund_ledger.books.chart import (
    EXPENDITURE_ACCOUNT_DEPOSIT,
    FISCAL_SPECIAL_ACCOUNT_DEPOSIT,
    INTER_PLATFORM_DUE_FROM,
    INTER_PLATFORM_DUE_TO,
)
from fund_ledger.books.journal import Journal
from fund_ledger.books.service import Leg, account_for
from fund_ledger.pooling import service as pooling_service
from shared.clock import now_china
from shared.contracts.v1.interplatform import ClearingLine, DirectionReport, Reconciliation

RECEIPT = "inter_platform_receipt"
PAYMENT = "inter_platform_clearing"


@dataclass
class Booked:
    source_type: str
    source_id: str
    admdvs: str
    insutype: str
    amount_fen: int
    replayed: bool


@dataclass
class Cleared:
    """One direction: ``cleared`` (booked), ``mismatch`` (not reconciled: nothing booked) or
    ``nothing_owed``; and its entries."""

    status: str
    entries: list[Booked] = field(default_factory=list)


def source_id(month: str, admdvs: str, insutype: str, peer: str) -> str:
    """``IPC`` + yyyymm + region + scheme + peer (a long peer id by its digest: 40 characters at most)."""
    base = f"IPC{month.replace('-', '')}{admdvs}{insutype}"
    if len(base) + len(peer) > 40:
        peer = hashlib.sha256(peer.encode()).hexdigest()[: 40 - len(base)]
    return base + peer


async def book(session: AsyncSession, report: Reconciliation) -> tuple[Cleared, Cleared]:
    """Book both directions of the reconciled month (the module's docstring): (receivable, payable)."""
    await lock_chain_head(session)
    receivable = await _direction(session, report, report.receivable, receiving=True)
    payable = await _direction(session, report, report.payable, receiving=False)
    return receivable, payable


async def _direction(
    session: AsyncSession, report: Reconciliation, direction: DirectionReport, *, receiving: bool
) -> Cleared:
    if not direction.reconciled:
        return Cleared("mismatch")
    if not direction.books:
        return Cleared("nothing_owed")
    by_books: dict[tuple[str, str], list[ClearingLine]] = {}
    for line in direction.books:
        by_books.setdefault((line.admdvs, line.insutype), []).append(line)
    cleared = Cleared("cleared")
    today = now_china().date()
    for (admdvs, insutype), lines in sorted(by_books.items()):
        # A county in city-level pooling pays from its expenditure account, which the city's fund-use
        # plans fill (its special account is swept up to the city): as the inter-region clearing does.
        pooled = await pooling_service.pooling_of(session, admdvs, today) is not None
        pays_from = EXPENDITURE_ACCOUNT_DEPOSIT if pooled else FISCAL_SPECIAL_ACCOUNT_DEPOSIT
        source_type = RECEIPT if receiving else PAYMENT
        source = source_id(report.month, admdvs, insutype, report.peer)
        amount = sum(x.amount_fen for x in lines)
        if await Journal.of(session).already_posted(source_type, source) is not None:
            cleared.entries.append(Booked(source_type, source, admdvs, insutype, amount, replayed=True))
            continue
        legs: list[Leg] = []
        for line in lines:
            comes_in = receiving == (line.amount_fen > 0)
            bank = await account_for(
                session,
                FISCAL_SPECIAL_ACCOUNT_DEPOSIT if comes_in else pays_from,
                admdvs,
                insutype,
                line.fund_pay_type,
            )
            due = await account_for(
                session,
                INTER_PLATFORM_DUE_FROM if receiving else INTER_PLATFORM_DUE_TO,
                admdvs,
                insutype,
                line.fund_pay_type,
                report.peer,
            )
            fen = abs(line.amount_fen)
            # Receiving, the peer's payment arrives: Dr 1002 / Cr 1303[peer]; paying the peer: Dr 2106[peer]
            # / Cr 1002. A line below zero (the month's reversals of settlements cleared in earlier months
            # are more than its confirmations) moves the money back the other way.
            if comes_in:
                legs += [Leg(bank, debit_fen=fen), Leg(due, credit_fen=fen)]
            else:
                legs += [Leg(due, debit_fen=fen), Leg(bank, credit_fen=fen)]
        side = f"收参保地平台 {report.peer}" if receiving else f"付就医地平台 {report.peer}"
        await post_guarded_entry(
            session,
            source_type=source_type,
            source_id=source,
            description=f"跨省异地就医清算 {report.month} ({side}, {amount} 分)",
            admdvs=admdvs,
            insutype=insutype,
            legs=legs,
        )
        cleared.entries.append(Booked(source_type, source, admdvs, insutype, amount, replayed=False))
    return cleared
