"""The insured side's settlement records of peer settlements (docs/interface.md, "Between platforms"): a
reservation a treating platform confirmed is a settlement of this platform's fund, and its release after
the confirmation (the treating side reversed) is that settlement's reversal. They are read from
``interplatform_reservations``, never copied into ``settlements``: the person's yearly totals were moved
once, by the reservation's hold (and given back once, by the release), and the ledger booked them once,
from the confirmation's and the release's events. A record carries what those events carry: ``setl_id``
the reservation id (the reversal's with ``X``), ``mdtrt_id`` the treating platform's setl_id, ``setl_time``
the confirmation's (the release's) time, the treating institution and its region, the fund split.

Read by the reconciliation figures (``settlement.reconciliation.service``: what the ledger and 3201-style
totals compare) and the monthly publicity report (``settlement.reporting.service``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, or_, select

from settlement.interplatform.models import Reservation

SETTLED, REVERSAL = "settled", "reversal"


@dataclass(frozen=True, slots=True)
class PeerRecord:
    """A settlement (or reversal) record of a peer settlement, under the names of ``Settlement``'s columns
    that reconciliation and reports read."""

    setl_id: str
    #: ``settled`` for the confirmation (``reversed`` once released, as a reversed settlement is),
    #: ``reversal`` for the release.
    status: str
    reversal_of: str | None
    psn_no: str
    insutype: str
    insuplc_admdvs: str
    fixmedins_code: str
    mdtrtarea_admvs: str
    clr_type: str
    encounter_kind: str
    mdtrt_id: str
    setl_time: datetime
    begntime: datetime
    medfee_sumamt_fen: int
    fund_paid_total_fen: int
    #: Residents have no personal account.
    account_paid_fen: int = 0
    funds: dict[str, int] = field(default_factory=dict)
    treating_platform: str = ""


def clr_type(med_type: str | None) -> str:
    """清算类别 of the kind of care (41 pharmacy, 11 outpatient, 21 inpatient)."""
    return {"41": "41", "11": "11"}.get(med_type or "", "21")


def _kind(med_type: str | None) -> str:
    return {"41": "pharmacy", "11": "outpatient"}.get(med_type or "", "inpatient")


def settlement_of(row: Reservation) -> PeerRecord:
    """The confirmed reservation ``row`` as a settlement record (the confirmation's event, as stored)."""
    assert row.confirmed_at is not None
    result = row.result
    return PeerRecord(
        setl_id=row.reservation_id,
        status="reversed" if row.released_at is not None else SETTLED,
        reversal_of=None,
        psn_no=row.psn_no,
        insutype=row.insutype,
        insuplc_admdvs=result["insuplc_admdvs"],
        fixmedins_code=row.fixmedins_code or "",
        mdtrtarea_admvs=row.mdtrtarea_admvs or "",
        clr_type=clr_type(row.med_type),
        encounter_kind=_kind(row.med_type),
        mdtrt_id=row.treating_setl_id or "",
        setl_time=row.confirmed_at,
        begntime=row.begntime or row.created_at,
        medfee_sumamt_fen=result["medfee_sumamt_fen"],
        fund_paid_total_fen=result["fund_paid_total_fen"],
        funds={f["fund_pay_type"]: f["paid_fen"] for f in result["funds"] if f["paid_fen"]},
        treating_platform=row.platform,
    )


def reversal_of(row: Reservation) -> PeerRecord:
    """The release of the confirmed reservation ``row``: its settlement record negated, at the release."""
    assert row.released_at is not None
    done = settlement_of(row)
    return PeerRecord(
        setl_id=f"{row.reservation_id}X",
        status=REVERSAL,
        reversal_of=row.reservation_id,
        psn_no=done.psn_no,
        insutype=done.insutype,
        insuplc_admdvs=done.insuplc_admdvs,
        fixmedins_code=done.fixmedins_code,
        mdtrtarea_admvs=done.mdtrtarea_admvs,
        clr_type=done.clr_type,
        encounter_kind=done.encounter_kind,
        mdtrt_id=done.mdtrt_id,
        setl_time=row.released_at,
        begntime=done.begntime,
        medfee_sumamt_fen=-done.medfee_sumamt_fen,
        fund_paid_total_fen=-done.fund_paid_total_fen,
        funds={k: -v for k, v in done.funds.items()},
        treating_platform=done.treating_platform,
    )


async def in_period(session: AsyncSession, start: datetime, end: datetime) -> list[PeerRecord]:
    """Every settlement record (a confirmation) and reversal record (a release after one) whose setl_time
    is in [``start``, ``end``), by setl_time."""
    confirmed = col(Reservation.confirmed_at)
    released = col(Reservation.released_at)
    rows = await session.scalars(
        select(Reservation).where(
            confirmed.is_not(None),
            or_(
                (confirmed >= start) & (confirmed < end),
                released.is_not(None) & (released >= start) & (released < end),
            ),
        )
    )
    records: list[PeerRecord] = []
    for row in rows:
        assert row.confirmed_at is not None
        if start <= row.confirmed_at < end:
            records.append(settlement_of(row))
        if row.released_at is not None and start <= row.released_at < end:
            records.append(reversal_of(row))
    return sorted(records, key=lambda r: (r.setl_time, r.setl_id))
