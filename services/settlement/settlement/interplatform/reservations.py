"""The insured side's reservations (docs/interface.md, "Between platforms"): reserve computes this
platform's policy (参保地政策) on the lines a treating platform classified (就医地目录) and holds the
person's yearly totals for it under the accumulator lock; confirm makes the hold final; release (a
reversal, the treating side's failure, or the hold's time running out) gives the totals back. Each call
is answered once per (platform, msgid); a repeat gets the answer of the reservation's state.

A void (the treating platform's 2601 found nothing settled under a reserve's msgid) releases the
reservation made under it, or, none made, leaves a voided row under that msgid so that a reserve arriving
later is refused and holds nothing.

A confirmation writes a ``settlement.completed`` event naming the treating platform (``treating_platform``)
and a release of a confirmed reservation a ``settlement.reversed``, in the same transaction: the ledger
books this platform's fund payment against what it owes the treating platform (2106). The treating side
is ``settlement.interplatform.treating``."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement.adjudication.engine import (
    Adjudication,
    Encounter,
    FeeLine,
    LineResult,
    Lines,
    NotEligible,
    YearToDate,
    adjudicate_counted,
)
from settlement.db import infra
from settlement.eligibility import service as eligibility
from settlement.eligibility.models import Eligibility
from settlement.filings import service as filings
from settlement.interplatform import records
from settlement.interplatform.models import Reservation
from settlement.policy import service as policies
from settlement.schemes import service as schemes
from shared.clock import CHINA_TZ
from shared.contracts.v1.interplatform import (
    ConfirmRequest,
    ReleaseRequest,
    ReservationOut,
    ReservationRequest,
    ReservationVoid,
    ReservationVoidOut,
)
from shared.db import flush_unique
from shared.errors import Conflict, DomainError, NotFound
from shared.events import FundPayment, SettlementCompleted, SettlementReversed
from shared.outbox import enqueue

RESERVED, CONFIRMED, RELEASED = "reserved", "confirmed", "released"
#: A void that found no reservation: the msgid taken, nothing held, no answer but a refusal.
VOIDED = "voided"
#: A preview's status: nothing held.
PREVIEW = "preview"


class InFlight(Conflict):
    """A reserve of the same (platform, msgid) committed while this one was computing (the treating platform
    sent it again before the first was answered): run again, this call finds that reservation and answers it
    like any repeat (``endpoints.reserve``)."""


def _kind(med_type: str) -> str:
    return {"11": "outpatient", "41": "pharmacy"}.get(med_type, "inpatient")


def _digest(body: ReservationRequest) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


def answer(row: Reservation, *, replayed: bool = False) -> ReservationOut:
    return ReservationOut(
        **row.result,
        reservation_id=row.reservation_id,
        status=row.status,
        platform=row.platform,
        psn_no=row.psn_no,
        insutype=row.insutype,
        expires_at=row.expires_at,
        treating_setl_id=row.treating_setl_id,
        release_reason=row.release_reason,
        replayed=replayed,
    )


def _counted(body: ReservationRequest) -> Lines:
    results = [
        LineResult(
            FeeLine(x.feedetl_sn, "", Decimal(1), Decimal(x.amount_fen) / 100, x.amount_fen),
            "",
            Decimal(0),
            None,
            "",
            x.fully_self_paid_fen,
            x.over_price_cap_fen,
            x.self_pay_first_fen,
            x.policy_range_fen,
            "就医地目录分类",
        )
        for x in body.lines
    ]
    return Lines(
        results,
        sum(x.amount_fen for x in body.lines),
        sum(x.fully_self_paid_fen for x in body.lines),
        sum(x.over_price_cap_fen for x in body.lines),
        sum(x.self_pay_first_fen for x in body.lines),
        sum(x.policy_range_fen for x in body.lines),
    )


@dataclass(frozen=True)
class _Calculated:
    person: Eligibility
    #: The scheme settled under (``schemes.resolve``).
    insutype: str
    totals: eligibility.Totals
    result: Adjudication

    def delta(self) -> dict[str, int]:
        return {name: int(getattr(self.result.delta, name)) for name in eligibility.TOTAL_COLUMNS}

    def answer_fields(self) -> dict[str, object]:
        result = self.result
        return {
            "insuplc_admdvs": self.person.insuplc_admdvs,
            "medfee_sumamt_fen": result.medfee_sumamt_fen,
            "policy_range_fen": result.policy_range_fen,
            "deductible_fen": result.deductible_fen,
            "pool_ratio": str(result.pool_ratio),
            "funds": [{"fund_pay_type": f.fund_pay_type, "paid_fen": f.paid_fen} for f in result.funds],
            "fund_paid_total_fen": result.fund_paid_total_fen,
            "cash_paid_fen": result.cash_paid_fen,
            "calc_trace": "\n".join(result.trace),
        }


async def _calculate(session: AsyncSession, body: ReservationRequest, *, hold: bool) -> _Calculated:
    """This platform's policy on the classified lines, on the person's totals: locked (``hold``, a
    reservation) or as they stand (a preview)."""
    day = body.begntime.astimezone(CHINA_TZ).date()
    if hold:
        rows, locked = await eligibility.coverage_and_lock(session, body.psn_no, day.year, body.insutype)
    else:
        rows, locked = await schemes.year_coverage(session, body.psn_no, day.year), None
    coverage, effective = await schemes.resolve(session, body.psn_no, body.insutype, day, rows)
    person = await eligibility.covered(session, body.psn_no, coverage, day, rows)
    if not hold:
        totals = await eligibility.peek_accumulator(session, body.psn_no, day.year, effective)
    elif effective != body.insutype or locked is None:
        totals = await eligibility.lock_accumulator(
            session, body.psn_no, day.year, effective, absent=effective == body.insutype
        )
    else:
        totals = locked
    _, document = await policies.in_force_with_document(session, person.insuplc_admdvs, effective, day)
    encounter = Encounter(
        kind=_kind(body.med_type),  # type: ignore[arg-type]
        service_date=day,
        institution_level=body.hosp_lv,
        admission_sequence=totals.admissions + 1,
        out_of_area=True,
        standing=await filings.standing(session, body.psn_no, day),
        med_type=body.med_type,
        fixmedins_code=body.fixmedins_code,
        mdtrtarea_admdvs=body.mdtrtarea_admvs,
    )
    ytd = YearToDate(*(getattr(totals, name) for name in eligibility.TOTAL_COLUMNS))
    try:
        result = adjudicate_counted(
            _counted(body), encounter, eligibility.identities_on(person, day), document, ytd
        )
    except NotEligible as exc:
        raise DomainError(str(exc), code="NOT_ELIGIBLE", status_code=422) from exc
    return _Calculated(person, effective, totals, result)


async def preview(session: AsyncSession, body: ReservationRequest, now: datetime) -> ReservationOut:
    """What a reservation of ``body`` would pay now (the treating side's pre-settlement, 2101/2206/2303):
    the same calculation on the totals as they stand; nothing is held or written, and nothing is kept
    under the msgid (a preview may be asked again)."""
    calculated = await _calculate(session, body, hold=False)
    return ReservationOut(
        **calculated.answer_fields(),
        reservation_id="",
        status=PREVIEW,
        platform=body.platform,
        psn_no=body.psn_no,
        insutype=calculated.insutype,
        expires_at=now,
    )


async def reserve(session: AsyncSession, body: ReservationRequest, now: datetime) -> ReservationOut:
    digest = _digest(body)
    existing = await session.scalar(
        select(Reservation).where(Reservation.platform == body.platform, Reservation.msgid == body.msgid)
    )
    if existing is not None:
        if existing.status == VOIDED:
            raise _voided(body.msgid)
        if existing.request_sha256 != digest:
            raise Conflict(f"报文ID {body.msgid} 已用于另一笔预留", code="MSGID_REUSED")
        return answer(existing, replayed=True)
    calculated = await _calculate(session, body, hold=True)
    delta, totals = calculated.delta(), calculated.totals
    totals.move(delta, 1)
    totals.settlement_count += 1
    await eligibility.save_accumulator(session, totals)
    row = Reservation(
        reservation_id=f"R{uuid.uuid4().hex[:24].upper()}",
        platform=body.platform,
        msgid=body.msgid,
        request_sha256=digest,
        psn_no=body.psn_no,
        insutype=calculated.insutype,
        year=body.begntime.astimezone(CHINA_TZ).year,
        status=RESERVED,
        fixmedins_code=body.fixmedins_code,
        hosp_lv=body.hosp_lv,
        mdtrtarea_admvs=body.mdtrtarea_admvs,
        med_type=body.med_type,
        begntime=body.begntime,
        expires_at=now + timedelta(seconds=body.hold_s),
        ytd_delta=delta,
        result=calculated.answer_fields(),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await flush_unique(session, InFlight(f"报文ID {body.msgid} 的预留正在处理", code="MSGID_REUSED"))
    return answer(row)


async def _row(session: AsyncSession, reservation_id: str, platform: str) -> Reservation:
    row = await session.scalar(
        select(Reservation).where(Reservation.reservation_id == reservation_id).with_for_update()
    )
    # Another platform's reservation is answered as one that does not exist; so is a void's row.
    if row is None or row.platform != platform or row.status == VOIDED:
        raise NotFound(f"跨平台预留 {reservation_id} 不存在", code="RESERVATION_NOT_FOUND")
    return row


async def _give_back(
    session: AsyncSession, row: Reservation, reason: str, msgid: str | None, now: datetime
) -> None:
    """The reservation's totals taken back from the person's year (under the accumulator lock)."""
    totals = await eligibility.lock_accumulator(session, row.psn_no, row.year, row.insutype)
    totals.move(row.ytd_delta, -1)
    totals.settlement_count -= 1
    await eligibility.save_accumulator(session, totals)
    if row.status == CONFIRMED:  # booked at the confirmation: the ledger takes it back
        await enqueue(session, infra, _reversed(row, msgid, now), PRODUCER)
    row.status, row.release_reason, row.release_msgid, row.updated_at = RELEASED, reason, msgid, now
    row.released_at = now


async def confirm(
    session: AsyncSession, reservation_id: str, body: ConfirmRequest, now: datetime
) -> tuple[ReservationOut | None, DomainError | None]:
    """The confirmed reservation, or the refusal to raise once this transaction has committed (a hold whose
    time ran out is released here first: its totals given back, whatever the caller does next)."""
    row = await _row(session, reservation_id, body.platform)
    if row.status == CONFIRMED:
        return answer(row, replayed=True), None
    if row.status == RELEASED:
        code = "RESERVATION_EXPIRED" if row.release_reason == "timeout" else "RESERVATION_RELEASED"
        return None, Conflict(
            f"跨平台预留 {reservation_id} 已释放 ({row.release_reason})，不能确认", code=code
        )
    if now >= row.expires_at:
        await _give_back(session, row, "timeout", None, now)
        return None, Conflict(f"跨平台预留 {reservation_id} 已超时释放，不能确认", code="RESERVATION_EXPIRED")
    row.status, row.treating_setl_id, row.confirm_msgid, row.updated_at = (
        CONFIRMED,
        body.treating_setl_id,
        body.msgid,
        now,
    )
    row.confirmed_at = now
    await enqueue(session, infra, _completed(row, now), PRODUCER)
    return answer(row), None


PRODUCER = "settlement"


def _completed(row: Reservation, now: datetime) -> SettlementCompleted:
    """The confirmed reservation as a settlement of this platform's fund, owed to the treating platform:
    ``setl_id`` the reservation's id, ``mdtrt_id`` the treating platform's settlement id."""
    result = row.result
    return SettlementCompleted(
        setl_id=row.reservation_id,
        mdtrt_id=row.treating_setl_id or "",
        msgid=row.confirm_msgid or row.msgid,
        psn_no=row.psn_no,
        fixmedins_code=row.fixmedins_code or "",
        institution_level=row.hosp_lv or "",
        insutype=row.insutype,
        insuplc_admdvs=result["insuplc_admdvs"],
        mdtrtarea_admvs=row.mdtrtarea_admvs or "",
        med_type=row.med_type or "",
        clr_type=records.clr_type(row.med_type),
        setl_time=now,
        medfee_sumamt_fen=result["medfee_sumamt_fen"],
        fund_pay_sumamt_fen=result["fund_paid_total_fen"],
        psn_cash_pay_fen=result["cash_paid_fen"],
        fund_payments=[
            FundPayment(fund_pay_type=f["fund_pay_type"], amount_fen=f["paid_fen"]) for f in result["funds"]
        ],
        treating_platform=row.platform,
    )


def _reversed(row: Reservation, msgid: str | None, now: datetime) -> SettlementReversed:
    """The release of a confirmed reservation: the confirmation's event negated."""
    done = _completed(row, now)
    return SettlementReversed(
        setl_id=f"{row.reservation_id}X",
        original_setl_id=row.reservation_id,
        mdtrt_id=done.mdtrt_id,
        msgid=msgid or f"X{row.reservation_id}",
        psn_no=row.psn_no,
        fixmedins_code=done.fixmedins_code,
        insutype=row.insutype,
        insuplc_admdvs=done.insuplc_admdvs,
        mdtrtarea_admvs=done.mdtrtarea_admvs,
        clr_type=done.clr_type,
        med_type=done.med_type,
        setl_time=now,
        medfee_sumamt_fen=-done.medfee_sumamt_fen,
        fund_pay_sumamt_fen=-done.fund_pay_sumamt_fen,
        psn_cash_pay_fen=-done.psn_cash_pay_fen,
        fund_payments=[
            FundPayment(fund_pay_type=f.fund_pay_type, amount_fen=-f.amount_fen) for f in done.fund_payments
        ],
        treating_platform=row.platform,
    )


async def release(
    session: AsyncSession, reservation_id: str, body: ReleaseRequest, now: datetime
) -> ReservationOut:
    row = await _row(session, reservation_id, body.platform)
    if row.status == RELEASED:
        return answer(row, replayed=True)
    if row.status == CONFIRMED:  # a settlement reversed: dated as the treating platform dated it
        row.reversed_at = body.reversed_at or now
    await _give_back(session, row, body.reason, body.msgid, now)
    return answer(row)


def _voided(msgid: str) -> Conflict:
    return Conflict(f"报文ID {msgid} 已冲正，不能预留", code="RESERVATION_VOIDED")


async def void(session: AsyncSession, body: ReservationVoid, now: datetime) -> ReservationVoidOut:
    """The treating platform's 2601 found nothing settled under ``body.reserve_msgid``: a reservation made
    under it is released (its answer never reached the treating platform, which will not confirm it); none
    made, the msgid is taken by a voided row, so a reserve arriving later is refused
    (``RESERVATION_VOIDED``). A confirmed one is refused (``RESERVATION_CONFIRMED``: the treating platform
    settled it, and reverses it with a release instead)."""
    row = await session.scalar(
        select(Reservation)
        .where(Reservation.platform == body.platform, Reservation.msgid == body.reserve_msgid)
        .with_for_update()
    )
    if row is None:
        session.add(
            Reservation(
                reservation_id=f"V{uuid.uuid4().hex[:24].upper()}",
                platform=body.platform,
                msgid=body.reserve_msgid,
                request_sha256="",
                psn_no=body.psn_no or "",
                insutype="",
                year=0,
                status=VOIDED,
                expires_at=now,
                release_reason="void",
                release_msgid=body.msgid,
                created_at=now,
                updated_at=now,
            )
        )
        await flush_unique(
            session, InFlight(f"报文ID {body.reserve_msgid} 的预留正在处理", code="MSGID_REUSED")
        )
        return ReservationVoidOut(reserve_msgid=body.reserve_msgid, outcome="voided")
    if row.status == VOIDED:
        return ReservationVoidOut(reserve_msgid=body.reserve_msgid, outcome="voided", replayed=True)
    if row.status == CONFIRMED:
        raise Conflict(
            f"跨平台预留 {row.reservation_id} 已确认，不能冲正：请撤销结算", code="RESERVATION_CONFIRMED"
        )
    if row.status == RELEASED:
        again = row.release_reason == "void" and row.release_msgid == body.msgid
        outcome = "released" if again else "released_before"
        return ReservationVoidOut(
            reserve_msgid=body.reserve_msgid,
            outcome=outcome,
            reservation_id=row.reservation_id,
            replayed=again,
        )
    await _give_back(session, row, "void", body.msgid, now)
    return ReservationVoidOut(
        reserve_msgid=body.reserve_msgid, outcome="released", reservation_id=row.reservation_id
    )


async def release_expired(session: AsyncSession, now: datetime) -> int:
    """Release every reservation whose hold ran out unconfirmed (its totals given back); how many."""
    rows = await session.scalars(
        select(Reservation)
        .where(Reservation.status == RESERVED, col(Reservation.expires_at) <= now)
        .order_by(col(Reservation.id))
        .with_for_update()
    )
    count = 0
    for row in list(rows):
        await _give_back(session, row, "timeout", None, now)
        count += 1
    return count
