"""The monthly statement between two platforms and its reconciliation (docs/interface.md,
"Between platforms": the clearing).

Each platform states a month with a peer from its own records only:

- ``treated``: the peer's insured treated here (``interplatform_peer_settlements`` with their settlements):
  what the peer's funds pay, as the peer's reservation answered it;
- ``insured``: this platform's insured treated by the peer (``interplatform_reservations``): what this
  platform's funds pay.

An item is one reservation (``reservation_id``: the one key both platforms hold from the first call). It
belongs to the month in which its reservation's hold ends (``expires_at``, China time): the one instant both
platforms keep to the microsecond, so both statements always put an item in the same month. Its status is
the one it had at the month's end: ``confirmed`` (payable), ``released`` (reversed in that month, or its
hold ran out: nothing payable) or ``pending`` (a confirmation or release still owed: not final). A month is
stated the same whenever it is asked, so a month already cleared is not changed by what comes after it.

A confirmed item reversed in a LATER month (the institution's 2103/2208/2305 or 2601 after the month it
was settled in) stays confirmed in its own month and comes back in the month of its reversal as a
``reversed`` item with its funds negative: the insured platform gets back what it paid for it when that
month is cleared. That month is the one of the reversal as the treating platform dated it (its reversal's
``setl_time``, sent with the release and kept by the insured platform as ``reversed_at``), so both
statements put it in the same month; until the release is answered the treating side states it pending.

The reconciliation compares one platform's ``treated`` with the other's ``insured`` (and the reverse),
reservation by reservation: matched (same status, same amount), released on both, only here, only there,
amount differences, pending. A direction is reconciled when nothing payable differs and nothing is
pending (an item on one side only with nothing payable, e.g. a reservation whose reserve answer was lost
and which timed out, is listed and does not stop it). The fund ledger books the clearing of a reconciled
direction from this platform's side (``books``: the matched confirmed items per region, scheme and fund)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from settlement.interplatform.models import PeerSettlement, Reservation
from settlement.settlements.models import Settlement, SettlementFund
from shared.clock import CHINA_TZ
from shared.contracts.v1.interplatform import (
    ClearingLine,
    DirectionReport,
    ItemDifference,
    Reconciliation,
    ReservedFund,
    Statement,
    StatementItem,
)

#: The treating side's peer settlement status -> the statement's.
_TREATED_STATUS = {
    "confirmed": "confirmed",
    "reserved": "pending",
    "releasing": "released",
    "released": "released",
    # The peer released the hold and this platform could not reverse its settlement (the alert): the
    # peer does not pay it.
    "expired": "released",
}
_INSURED_STATUS = {"confirmed": "confirmed", "reserved": "pending", "released": "released"}
RELEASING, RELEASED = "releasing", "released"
#: ``reservations.VOIDED``: a void's row under a msgid no reserve used (kept out of every statement).
VOIDED = "voided"


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """``yyyy-mm`` (validated by the request model) -> its first instant and the next month's, China time."""
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1, tzinfo=CHINA_TZ)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=CHINA_TZ)
    return start, end


async def statement(session: AsyncSession, platform: str, peer: str, month: str) -> Statement:
    """This platform's statement of ``month`` with ``peer`` (the module's docstring)."""
    start, end = month_bounds(month)
    reversal = aliased(Settlement)
    treated_rows = (
        await session.execute(
            select(PeerSettlement, Settlement, reversal.setl_time)
            .join(Settlement, col(Settlement.setl_id) == col(PeerSettlement.setl_id))
            .outerjoin(reversal, col(reversal.setl_id) == col(PeerSettlement.reversal_setl_id))
            .where(
                PeerSettlement.peer == peer,
                # The month's items, and the confirmed items of earlier months reversed in it.
                (col(PeerSettlement.expires_at) >= start) & (col(PeerSettlement.expires_at) < end)
                | (col(PeerSettlement.expires_at) < start)
                & col(PeerSettlement.confirmed_at).is_not(None)
                & (col(reversal.setl_time) >= start)
                & (col(reversal.setl_time) < end),
            )
            .order_by(col(PeerSettlement.id))
        )
    ).all()
    funds: dict[str, list[ReservedFund]] = {}
    setl_ids = [row.setl_id for row, _, _ in treated_rows]
    if setl_ids:
        for fund in await session.scalars(
            select(SettlementFund).where(col(SettlementFund.setl_id).in_(setl_ids))
        ):
            funds.setdefault(fund.setl_id, []).append(
                ReservedFund(fund_pay_type=fund.fund_pay_type, paid_fen=fund.paid_fen)
            )
    treated = [
        _item(
            row.reservation_id,
            row.setl_id,
            settlement.mdtrtarea_admvs,
            settlement.insutype,
            _treated_status(row, reversed_at, start, end),
            funds.get(row.setl_id, []),
        )
        for row, settlement, reversed_at in treated_rows
    ]
    reservations = await session.scalars(
        select(Reservation)
        .where(
            Reservation.platform == peer,
            Reservation.status != VOIDED,  # a void's row: nothing was ever held
            (col(Reservation.expires_at) >= start) & (col(Reservation.expires_at) < end)
            | (col(Reservation.expires_at) < start)
            & col(Reservation.confirmed_at).is_not(None)
            & (col(Reservation.reversed_at) >= start)
            & (col(Reservation.reversed_at) < end),
        )
        .order_by(col(Reservation.id))
    )
    insured = [
        _item(
            r.reservation_id,
            r.treating_setl_id,
            r.result["insuplc_admdvs"],
            r.insutype,
            _insured_status(r, start, end),
            [
                ReservedFund(fund_pay_type=f["fund_pay_type"], paid_fen=f["paid_fen"])
                for f in r.result["funds"]
            ],
        )
        for r in reservations
    ]
    return Statement(platform=platform, peer=peer, month=month, treated=treated, insured=insured)


def _treated_status(row: PeerSettlement, reversed_at: datetime | None, start: datetime, end: datetime) -> str:
    """A treating side's item as at the month's end, or its reversal in the month (the module's docstring)."""
    reversed_later = row.confirmed_at is not None and reversed_at is not None and reversed_at >= end
    if row.expires_at < start:  # an earlier month's confirmed item, reversed in this one
        return "reversed" if row.status == RELEASED else "pending"
    if row.status in (RELEASING, RELEASED) and row.release_reason == "reversal" and reversed_later:
        return "confirmed"
    return _TREATED_STATUS[row.status]


def _insured_status(row: Reservation, start: datetime, end: datetime) -> str:
    """An insured side's item as at the month's end, or its reversal in the month."""
    if row.expires_at < start:
        return "reversed"
    reversed_later = row.confirmed_at is not None and row.reversed_at is not None and row.reversed_at >= end
    if row.status == RELEASED and reversed_later:
        return "confirmed"
    return _INSURED_STATUS[row.status]


def _item(
    reservation_id: str,
    treating_setl_id: str | None,
    admdvs: str,
    insutype: str,
    status: Any,
    funds: list[ReservedFund],
) -> StatementItem:
    if status == "confirmed":
        payable = [f for f in funds if f.paid_fen]
    elif status == "reversed":  # what was paid comes back
        payable = [
            ReservedFund(fund_pay_type=f.fund_pay_type, paid_fen=-f.paid_fen) for f in funds if f.paid_fen
        ]
    else:
        payable = []
    return StatementItem(
        reservation_id=reservation_id,
        treating_setl_id=treating_setl_id,
        admdvs=admdvs,
        insutype=insutype,
        status=status,
        funds=payable,
        fund_paid_total_fen=sum(f.paid_fen for f in payable),
    )


def _difference(here: StatementItem | None, there: StatementItem | None) -> ItemDifference:
    known = here or there
    assert known is not None
    return ItemDifference(
        reservation_id=known.reservation_id,
        treating_setl_id=(here and here.treating_setl_id) or (there and there.treating_setl_id),
        here_status=here.status if here else None,
        there_status=there.status if there else None,
        here_fen=here.fund_paid_total_fen if here else 0,
        there_fen=there.fund_paid_total_fen if there else 0,
    )


def compare(
    here: Iterable[StatementItem], there: Iterable[StatementItem], treating: str, insured: str
) -> DirectionReport:
    """One direction: this platform's items against the peer's, by reservation."""
    mine = {i.reservation_id: i for i in here}
    theirs = {i.reservation_id: i for i in there}
    report = DirectionReport(
        treating_platform=treating,
        insured_platform=insured,
        here_fen=sum(i.fund_paid_total_fen for i in mine.values()),
        there_fen=sum(i.fund_paid_total_fen for i in theirs.values()),
        matched=0,
        matched_fen=0,
        released=0,
        only_here=[],
        only_there=[],
        amount_differences=[],
        pending=[],
        reconciled=False,
        books=[],
    )
    books: dict[tuple[str, str, str], int] = {}
    for key in sorted(mine.keys() | theirs.keys()):
        a, b = mine.get(key), theirs.get(key)
        if (a is not None and a.status == "pending") or (b is not None and b.status == "pending"):
            report.pending.append(_difference(a, b))
        elif a is None:
            report.only_there.append(_difference(a, b))
        elif b is None:
            report.only_here.append(_difference(a, b))
        elif a.status != b.status or sorted((f.fund_pay_type, f.paid_fen) for f in a.funds) != sorted(
            (f.fund_pay_type, f.paid_fen) for f in b.funds
        ):
            report.amount_differences.append(_difference(a, b))
        elif a.status == "released":
            report.released += 1
        else:
            report.matched += 1
            report.matched_fen += a.fund_paid_total_fen
            for fund in a.funds:
                line = (a.admdvs, a.insutype, fund.fund_pay_type)
                books[line] = books.get(line, 0) + fund.paid_fen
    one_sided = report.only_here + report.only_there
    report.reconciled = not (
        report.pending or report.amount_differences or any(d.here_fen or d.there_fen for d in one_sided)
    )
    report.books = [
        ClearingLine(admdvs=admdvs, insutype=insutype, fund_pay_type=fund, amount_fen=amount)
        for (admdvs, insutype, fund), amount in sorted(books.items())
        if amount
    ]
    return report


def reconcile(own: Statement, theirs: Statement) -> Reconciliation:
    """Both directions of a month between this platform (``own``) and its peer (``theirs``)."""
    return Reconciliation(
        platform=own.platform,
        peer=own.peer,
        month=own.month,
        receivable=compare(own.treated, theirs.insured, own.platform, own.peer),
        payable=compare(own.insured, theirs.treated, own.peer, own.platform),
    )
