"""The treating side of the inter-platform protocol (docs/interface.md, "Between platforms"): a person
insured on a peer platform (their ``insuplc_admdvs`` is one the peer hosts) settles at one of this
platform's institutions, pay_loc 4 (跨省异地).

就医地目录、就医地管理 are this platform's: the institution's checks, the catalogue's classification of the
lines, the supervision rules. 参保地政策 is the peer's: it answers eligibility and reserves its policy
result on the classified lines, holding the person's yearly totals. The settlement record here carries the
peer's fund shares as the peer answered them and its outbox event, written in one transaction with the
``PeerSettlement`` that says the confirmation is owed; the confirmation is sent after the commit (and sent
again by ``send_owed`` until answered). A reversal owes the peer a release the same way.

A reserve whose answer does not arrive is outcome-unknown: nothing is written here, the HIS gets
``E_OUTCOME_UNKNOWN`` and its repeat of the msgid reserves again under the same msgid (the peer answers
with its first reservation). Its 2601 instead (nothing settled here) owes the peer a void under the
reserve's msgid (``PeerVoid``, sent after the commit and again by ``send_voids`` until answered): the peer
gives back a hold it made for that msgid, or, none made, refuses a reserve that arrives later; a
reservation nobody confirms or voids is released by the peer when its hold runs out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from prometheus_client import Gauge
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement import metrics
from settlement.adjudication import lines as classification
from settlement.adjudication.engine import (
    ASSISTANCE_FUND,
    CATASTROPHIC_FUND,
    POOLED_FUND,
    FeeLine,
    flag_columns,
)
from settlement.catalogue import service as catalogue
from settlement.config import PeerPlatform
from settlement.eligibility import service as eligibility
from settlement.institutions.models import Institution
from settlement.interplatform.models import PeerSettlement, PeerVoid
from settlement.interplatform.peers import Peers
from settlement.settlements.answers import PAY_LOC_CROSS_PLATFORM, answer
from settlement.settlements.calculation import settling_institution
from settlement.settlements.claims import MAX_CLOCK_SKEW, Claim, PeerAdmission, check_line_amounts, new_id
from settlement.settlements.models import Settlement, SettlementFund
from settlement.settlements.reverse import reverse
from settlement.settlements.schemas import SettlementOut
from settlement.settlements.store import NewSettlement, StayLines
from settlement.settlements.stores import store_for
from settlement.supervision import service as supervision
from shared.clock import CHINA_TZ, now_china
from shared.contracts.v1.interplatform import (
    RESERVABLE_MED_TYPE,
    ClassifiedLine,
    ConfirmRequest,
    EligibilityAnswer,
    EligibilityQuery,
    PeerPersonQuery,
    PersonAnswer,
    PersonQuery,
    ReleaseRequest,
    ReservationOut,
    ReservationRequest,
    ReservationVoid,
)
from shared.db import Database
from shared.errors import Conflict, DomainError, NotFound
from shared.events import FundPayment, SettlementCompleted

log = logging.getLogger(__name__)

UNKNOWN_PAST_WINDOW = Gauge(
    "settlement_interplatform_unknown_past_window",
    "Peer (跨省) settlements whose confirmation or release is still unanswered past the reservation's "
    "window, or whose hold the peer released before the confirmation, and 2601 voids still owed to a peer "
    "a window after the 2601 (the inter-platform alert)",
)

RESERVED, CONFIRMED, RELEASING, RELEASED, EXPIRED = (
    "reserved",
    "confirmed",
    "releasing",
    "released",
    "expired",
)
#: A void owed to a peer (``PeerVoid``): not yet answered, or answered.
OWED, SENT = "owed", "sent"
#: The kinds of care the peer reserves for (``RESERVABLE_MED_TYPE``): chronic care and deliveries need the
#: insured side's own data.
_RESERVABLE_KINDS = ("pharmacy", "outpatient", "inpatient")


#: The most fee lines one reservation carries (``ReservationRequest.lines``).
MAX_RESERVED_LINES = 5000


def _require_reservable(med_type: str, kind: str) -> None:
    """Chronic care and deliveries need the insured side's own data (its chronic filings, the delivery
    rules), and the reservation takes the ordinary kinds only (``RESERVABLE_MED_TYPE``)."""
    if kind not in _RESERVABLE_KINDS or not re.fullmatch(RESERVABLE_MED_TYPE, med_type):
        raise DomainError(
            f"跨省异地就医不支持医疗类别 {med_type} 的直接结算（门诊慢特病、生育需参保地数据）",
            code="NOT_ELIGIBLE",
            status_code=422,
        )


def _kind_of_admission(admission: PeerAdmission) -> str:
    if admission.med_type.startswith("52"):
        return "maternity"
    if admission.med_type.startswith("14"):
        return "chronic"
    return "inpatient" if admission.med_type.startswith("2") else "outpatient"


async def _eligible(peers: Peers, peer: PeerPlatform, asked: PeerAdmission) -> EligibilityAnswer:
    """The person as the peer covers them on the day, or the refusal: not covered, another insured
    region, or a certificate the treating side cannot check (only the ID number, against the peer's)."""
    person = await peers.eligibility(
        peer,
        EligibilityQuery(
            msgid=asked.msgid, platform=peers.platform_id, psn_no=asked.psn_no, insutype=asked.insutype,
            begntime=asked.begntime,
        ),
    )  # fmt: skip
    if not person.covered:
        raise DomainError(
            f"参保地平台 {peer.id}: {person.reason or '该人员未参保'}", code="NOT_COVERED", status_code=422
        )
    if person.insuplc_admdvs != asked.insuplc_admdvs:
        raise DomainError(
            f"参保地区划 {asked.insuplc_admdvs} 与人员参保地 {person.insuplc_admdvs} 不符",
            code="ADMDVS_MISMATCH",
            status_code=422,
        )
    # The ID number is checked against the insured platform's; a card or e-voucher of another platform
    # cannot be checked here (docs/interface.md, "Between platforms").
    if asked.mdtrt_cert_type != "02" or asked.mdtrt_cert_no.strip().upper() != (person.certno or ""):
        raise DomainError(
            "跨省异地就医请以居民身份证(02)结算，且证件号须与参保地登记一致",
            code="CERT_MISMATCH",
            status_code=422,
        )
    return person


class Treating:
    """The ``PeerRoute`` the settlement paths are given (``settlement.settlements.settle``)."""

    def __init__(self, peers: Peers) -> None:
        self.peers = peers

    def hosts(self, insuplc_admdvs: str) -> bool:
        return self.peers.hosting(insuplc_admdvs) is not None

    async def admit(self, admission: PeerAdmission) -> str:
        peer = self.peers.hosting(admission.insuplc_admdvs)
        assert peer is not None
        _require_reservable(admission.med_type, _kind_of_admission(admission))
        person = await _eligible(self.peers, peer, admission)
        return person.insutype or admission.insutype

    async def presettle(self, session: AsyncSession, claim: Claim) -> SettlementOut:
        return await presettle(session, claim, self.peers)

    async def settle(
        self, session: AsyncSession, claim: Claim, stay: StayLines | None = None
    ) -> SettlementOut:
        return await settle(session, claim, self.peers, stay)

    async def person(self, query: PeerPersonQuery) -> PersonAnswer:
        """The person as the peer hosting ``insuplc_admdvs`` knows them (1101 of a peer's insured); 404
        ``NO_PEER_FOR_REGION`` when no peer hosts it (the region is this platform's, or unknown)."""
        peer = self.peers.hosting(query.insuplc_admdvs)
        if peer is None:
            raise NotFound(f"参保地区划 {query.insuplc_admdvs} 不属于任何对端平台", code="NO_PEER_FOR_REGION")
        asked = PersonQuery(
            msgid=query.msgid, platform=self.peers.platform_id, certno=query.certno,
            card_no=query.card_no, card_sn=query.card_sn,
        )  # fmt: skip
        return await self.peers.person(peer, asked)

    async def send_owed(self, db: Database, setl_id: str | None = None) -> int:
        return await send_owed(db, self.peers, setl_id)

    async def owe_void(
        self, session: AsyncSession, insuplc_admdvs: str, msgid: str, psn_no: str | None
    ) -> None:
        """A 2601 of ``msgid`` found nothing settled here (in the 2601's transaction): the peer hosting the
        region is owed a void of any reservation under it."""
        peer = self.peers.hosting(insuplc_admdvs)
        assert peer is not None
        await owe_void(session, peer.id, msgid, psn_no)

    async def send_voids(self, db: Database, msgid: str | None = None) -> int:
        return await send_voids(db, self.peers, msgid)


@dataclass(frozen=True)
class _Priced:
    """A claim of a peer's insured checked and classified here, and the request the peer computes on."""

    peer: PeerPlatform
    institution: Institution
    person: EligibilityAnswer
    counted: classification.Lines
    request: ReservationRequest


async def _priced(session: AsyncSession, claim: Claim, peers: Peers, stay: StayLines | None) -> _Priced:
    """就医地目录、就医地管理: the institution's checks, the peer's eligibility, this platform's catalogue
    classification of the lines; the reservation request for the peer's policy."""
    peer = peers.hosting(claim.insuplc_admdvs)
    assert peer is not None
    _require_reservable(claim.med_type, claim.kind)
    if claim.kind == "inpatient" and (claim.continuing_stay or (stay is not None and not stay.close)):
        # The peer's reservation is one admission's result on its whole bill: a stay settled in parts
        # would count the admission (its deductible, its place in the year) once per part there.
        raise DomainError(
            "跨省异地就医住院不支持中途结算，请办理出院(2402)后结算", code="NOT_DISCHARGED", status_code=409
        )
    if len(claim.lines) > MAX_RESERVED_LINES:
        refused = f"跨省异地就医一次结算最多 {MAX_RESERVED_LINES} 条费用明细"
        raise DomainError(refused, code="TOO_MANY_LINES", status_code=422)
    if claim.begntime - now_china() > MAX_CLOCK_SKEW:
        raise DomainError("就诊/购药时间晚于当前时间", code="FUTURE_TIME", status_code=422)
    check_line_amounts(claim)
    care_day = claim.begntime.astimezone(CHINA_TZ).date()
    institution = await settling_institution(session, claim, care_day)
    person = await _eligible(
        peers,
        peer,
        PeerAdmission(
            msgid=claim.msgid, psn_no=claim.psn_no, insutype=claim.insutype,
            insuplc_admdvs=claim.insuplc_admdvs, begntime=claim.begntime, med_type=claim.med_type,
            mdtrt_cert_type=claim.mdtrt_cert_type, mdtrt_cert_no=claim.mdtrt_cert_no,
        ),
    )  # fmt: skip
    entries = await catalogue.find_entries(session, {line.med_list_codg for line in claim.lines}, care_day)
    counted = classification.classify(
        [
            FeeLine(x.feedetl_sn, x.med_list_codg, x.cnt, x.pric, x.amount_fen, x.hosp_appr_flag)
            for x in claim.lines
        ],
        entries,
        institution.hosp_lv,
        institution.admdvs,
    )
    request = ReservationRequest(
        msgid=claim.msgid,
        platform=peers.platform_id,
        psn_no=claim.psn_no,
        insutype=claim.insutype,
        begntime=claim.begntime,
        med_type=claim.med_type,
        fixmedins_code=institution.fixmedins_code,
        mdtrtarea_admvs=institution.admdvs,
        hosp_lv=institution.hosp_lv,
        lines=[
            ClassifiedLine(
                feedetl_sn=r.line.feedetl_sn,
                amount_fen=r.line.amount_fen,
                fully_self_paid_fen=r.fully_self_paid_fen,
                over_price_cap_fen=r.over_price_cap_fen,
                self_pay_first_fen=r.self_pay_first_fen,
                policy_range_fen=r.policy_range_fen,
            )
            for r in counted.results
        ],
        hold_s=peers.hold_s,
    )
    return _Priced(peer, institution, person, counted, request)


def _shown(priced: _Priced, claim: Claim, reservation: ReservationOut, now: datetime) -> PeerSettlement:
    """The peer settlement row: owed its confirmation (written with a binding settlement), or only the
    person as the peer names them (a preview's answer; not written)."""
    person = priced.person
    return PeerSettlement(
        setl_id="",
        peer=priced.peer.id,
        msgid=claim.msgid,
        reservation_id=reservation.reservation_id,
        status=RESERVED,
        expires_at=reservation.expires_at,
        psn_name=person.psn_name or "",
        certno=person.certno or "",
        gend=person.gend or "",
        brdy=person.brdy or claim.begntime.astimezone(CHINA_TZ).date(),
        naty=person.naty or "",
        created_at=now,
        updated_at=now,
    )


async def presettle(session: AsyncSession, claim: Claim, peers: Peers) -> SettlementOut:
    """2101/2206/2303 of a peer's insured: the peer's preview of its policy on the lines classified here;
    nothing is written on either side."""
    priced = await _priced(session, claim, peers, None)
    previewed = await peers.preview(priced.peer, priced.request)
    now = now_china()
    settlement, funds, rows = _records(
        priced, claim, previewed, setl_id="", mdtrt_id=claim.mdtrt_id or "", now=now, status="preview"
    )
    return answer(settlement, funds, rows, None, peer=_shown(priced, claim, previewed, now))


async def settle(
    session: AsyncSession, claim: Claim, peers: Peers, stay: StayLines | None = None
) -> SettlementOut:
    """A binding settlement of a peer's insured (the caller claimed the msgid in this transaction): a
    purchase (2102), or an encounter's uploaded lines (``stay``: a visit's batch, 2207, or a stay at
    discharge, 2304)."""
    priced = await _priced(session, claim, peers, stay)
    peer, institution = priced.peer, priced.institution
    reserved = await peers.reserve(peer, priced.request)
    if reserved.status != RESERVED:
        # A repeat of a msgid whose reservation the peer released meanwhile (its hold ran out).
        raise Conflict(
            f"参保地平台 {peer.id} 的预留 {reserved.reservation_id} 已释放，请重新结算",
            code="RESERVATION_EXPIRED",
        )
    now = now_china()
    setl_id = new_id("S", claim.mdtrtarea_admvs, now)
    mdtrt_id = claim.mdtrt_id or new_id("M", claim.mdtrtarea_admvs, now)
    settlement, funds, rows = _records(
        priced, claim, reserved, setl_id=setl_id, mdtrt_id=mdtrt_id, now=now, status="settled"
    )
    care_day = claim.begntime.astimezone(CHINA_TZ).date()
    # The accumulator row here only serialises this person's settlements on this platform (nothing moves).
    totals = await eligibility.lock_accumulator(session, claim.psn_no, care_day.year, reserved.insutype)
    completed = SettlementCompleted(
        setl_id=setl_id,
        mdtrt_id=mdtrt_id,
        msgid=claim.msgid,
        psn_no=claim.psn_no,
        fixmedins_code=institution.fixmedins_code,
        institution_level=institution.hosp_lv,
        insutype=reserved.insutype,
        insuplc_admdvs=reserved.insuplc_admdvs,
        mdtrtarea_admvs=claim.mdtrtarea_admvs,
        med_type=claim.med_type,
        clr_type=claim.clr_type,
        setl_time=now,
        medfee_sumamt_fen=settlement.medfee_sumamt_fen,
        fund_pay_sumamt_fen=reserved.fund_paid_total_fen,
        psn_cash_pay_fen=reserved.cash_paid_fen,
        fund_payments=[
            FundPayment(fund_pay_type=f.fund_pay_type, amount_fen=f.paid_fen) for f in reserved.funds
        ],
        insured_platform=peer.id,
    )
    probes = await supervision.settlement_probes(session, settlement, [x["med_list_codg"] for x in rows])
    probed = await store_for(session).write_settlement(
        session, NewSettlement(settlement, funds, rows, totals, completed, stay), probes
    )
    await supervision.evaluate_settlement(session, probes, probed)
    owed = _shown(priced, claim, reserved, now)
    owed.setl_id = setl_id
    session.add(owed)
    await session.flush()
    metrics.record_out_of_area(
        session,
        insuplc_admdvs=settlement.insuplc_admdvs,
        mdtrtarea_admvs=settlement.mdtrtarea_admvs,
        fund_fen=reserved.fund_paid_total_fen,
        operation="settle",
        pay_loc=PAY_LOC_CROSS_PLATFORM,
    )
    return answer(settlement, funds, rows, None, peer=owed)


def _records(
    priced: _Priced,
    claim: Claim,
    reserved: ReservationOut,
    *,
    setl_id: str,
    mdtrt_id: str,
    now: datetime,
    status: str,
) -> tuple[Settlement, list[SettlementFund], list[dict[str, Any]]]:
    """The settlement, its funds and lines: the peer's fund shares and deductible as it answered, this
    platform's classification of the lines."""
    peer, institution, person, counted = priced.peer, priced.institution, priced.person, priced.counted
    paid = {f.fund_pay_type: f.paid_fen for f in reserved.funds}
    settlement = Settlement(
        setl_id=setl_id,
        mdtrt_id=mdtrt_id,
        msgid=claim.msgid,
        request_sha256=claim.digest,
        fixmedins_code=institution.fixmedins_code,
        institution_level=institution.hosp_lv,
        psn_no=claim.psn_no,
        insutype=reserved.insutype,
        psn_type=person.psn_type or "",
        insuplc_admdvs=reserved.insuplc_admdvs,
        mdtrtarea_admvs=claim.mdtrtarea_admvs,
        med_type=claim.med_type,
        clr_type=claim.clr_type,
        mdtrt_cert_type=claim.mdtrt_cert_type,
        invono=claim.invono,
        policy_id=0,  # the peer's policy: not one of this platform's
        begntime=claim.begntime,
        setl_time=now,
        medfee_sumamt_fen=counted.total_fen,
        fully_self_paid_fen=counted.fully_self_paid_fen,
        over_price_cap_fen=counted.over_price_cap_fen,
        self_pay_first_fen=counted.self_pay_first_fen,
        policy_range_fen=counted.policy_range_fen,
        deductible_fen=reserved.deductible_fen,
        pool_ratio=Decimal(reserved.pool_ratio),
        pooled_fund_paid_fen=paid.get(POOLED_FUND, 0),
        catastrophic_paid_fen=paid.get(CATASTROPHIC_FUND, 0),
        assistance_paid_fen=paid.get(ASSISTANCE_FUND, 0),
        fund_paid_total_fen=reserved.fund_paid_total_fen,
        personal_burden_fen=counted.total_fen - reserved.fund_paid_total_fen,
        account_paid_fen=0,
        cash_paid_fen=reserved.cash_paid_fen,
        calc_trace=f"跨省异地就医：参保地平台 {peer.id} 预留 {reserved.reservation_id}\n"
        + reserved.calc_trace,
        encounter_kind=claim.kind,
        status=status,
        # The person's yearly totals are the peer's (held by its reservation): none move here.
        ytd_delta={},
        layers={},
    )
    funds = [
        SettlementFund(
            setl_id=setl_id,
            fund_pay_type=f.fund_pay_type,
            policy_range_fen=reserved.policy_range_fen,
            payable_limit_fen=0,
            paid_fen=f.paid_fen,
            calc_trace=f"参保地平台 {peer.id} 预留 {reserved.reservation_id}",
        )
        for f in reserved.funds
    ]
    return settlement, funds, _line_rows(setl_id, claim, counted)


def _line_rows(setl_id: str, claim: Claim, counted: classification.Lines) -> list[dict[str, Any]]:
    wire = {x.feedetl_sn: x for x in claim.lines}
    return [
        {
            "setl_id": setl_id,
            "feedetl_sn": r.line.feedetl_sn,
            "med_list_codg": r.line.med_list_codg,
            "medins_list_codg": wire[r.line.feedetl_sn].medins_list_codg,
            "cnt": r.line.cnt,
            "pric": r.line.pric,
            "amount_fen": r.line.amount_fen,
            "price_cap": r.price_cap,
            "selfpay_prop": r.selfpay_prop,
            "chrgitm_lv": r.chrgitm_lv,
            "med_chrgitm_type": r.med_chrgitm_type,
            "fully_self_paid_fen": r.fully_self_paid_fen,
            "over_price_cap_fen": r.over_price_cap_fen,
            "self_pay_first_fen": r.self_pay_first_fen,
            "policy_range_fen": r.policy_range_fen,
            "memo": r.memo[:200],
            **flag_columns(r.flags),
            "prd_days": wire[r.line.feedetl_sn].prd_days,
        }
        for r in counted.results
    ]


async def of_settlement(session: AsyncSession, setl_id: str) -> PeerSettlement | None:
    return await session.scalar(select(PeerSettlement).where(PeerSettlement.setl_id == setl_id))


async def send_owed(db: Database, peers: Peers, setl_id: str | None = None) -> int:
    """Send the confirmations and releases still owed to peers (of one settlement, or all); how many were
    answered. A call without an answer stays owed (sent again later, same msgid)."""
    async with db.session() as session:
        query = select(PeerSettlement).where(col(PeerSettlement.status).in_((RESERVED, RELEASING)))
        if setl_id is not None:
            query = query.where(PeerSettlement.setl_id == setl_id)
        owed = list(await session.scalars(query.order_by(col(PeerSettlement.id))))
        reversals = [row.reversal_setl_id for row in owed if row.status == RELEASING and row.reversal_setl_id]
        # When each was reversed here: the release names it, and both platforms' statements date it so.
        reversed_at: dict[str, datetime] = {}
        if reversals:
            times = await session.execute(
                select(Settlement.setl_id, Settlement.setl_time).where(col(Settlement.setl_id).in_(reversals))
            )
            reversed_at = {setl_id: at for setl_id, at in times.all()}
    answered = 0
    for row in owed:
        peer = peers.by_id.get(row.peer)
        if peer is None:
            continue
        try:
            if row.status == RESERVED:
                await peers.confirm(
                    peer, row.reservation_id,
                    ConfirmRequest(
                        msgid=f"C{row.msgid}", platform=peers.platform_id, treating_setl_id=row.setl_id
                    ),
                )  # fmt: skip
                status = CONFIRMED
            else:
                await peers.release(
                    peer, row.reservation_id,
                    ReleaseRequest(
                        msgid=f"R{row.msgid}",
                        platform=peers.platform_id,
                        reason="reversal",
                        reversed_at=reversed_at.get(row.reversal_setl_id or ""),
                    ),
                )  # fmt: skip
                status = RELEASED
        except DomainError as refused:
            if refused.code in ("RESERVATION_EXPIRED", "RESERVATION_RELEASED") and row.status == RESERVED:
                # The peer released the hold (its time ran out) before the confirmation arrived: the
                # settlement is reversed here, then the release (answered as it stands) is sent.
                if await reverse_expired(db, row.id):
                    answered += 1
                    answered += await send_owed(db, peers, row.setl_id)
                    continue
                status = EXPIRED  # could not be reversed: it stays in the alert
            else:
                log.warning(
                    "inter-platform call still owed", extra={"setl_id": row.setl_id, "code": refused.code}
                )
                continue
        async with db.transaction() as session:
            current = await session.get(PeerSettlement, row.id, with_for_update=True)
            if current is not None and current.status == row.status:
                current.status, current.updated_at = status, now_china()
                if status == CONFIRMED:
                    current.confirmed_at = current.updated_at
        answered += 1
    return answered


async def owe_void(session: AsyncSession, peer: str, msgid: str, psn_no: str | None) -> None:
    """The void of ``msgid`` owed to ``peer``, once (a second 2601 of the same msgid owes nothing more)."""
    owed = await session.scalar(select(PeerVoid).where(PeerVoid.peer == peer, PeerVoid.msgid == msgid))
    if owed is None:
        now = now_china()
        session.add(
            PeerVoid(peer=peer, msgid=msgid, psn_no=psn_no, status=OWED, created_at=now, updated_at=now)
        )
        await session.flush()


async def send_voids(db: Database, peers: Peers, msgid: str | None = None) -> int:
    """Send the voids still owed to peers (of one msgid, or all); how many were answered. A call without
    an answer stays owed; a refusal because the peer confirmed the reservation (it cannot be: a
    confirmation follows a settlement here) is kept as ``confirmed`` and logged for the operators."""
    async with db.session() as session:
        query = select(PeerVoid).where(PeerVoid.status == OWED)
        if msgid is not None:
            query = query.where(PeerVoid.msgid == msgid)
        owed = list(await session.scalars(query.order_by(col(PeerVoid.id))))
    answered = 0
    for row in owed:
        peer = peers.by_id.get(row.peer)
        if peer is None:
            continue
        body = ReservationVoid(
            msgid=f"V{row.msgid}", platform=peers.platform_id, reserve_msgid=row.msgid, psn_no=row.psn_no
        )
        outcome: str
        try:
            outcome = (await peers.void(peer, body)).outcome
        except DomainError as refused:
            if refused.code != "RESERVATION_CONFIRMED":
                log.warning(
                    "inter-platform void still owed", extra={"msgid": row.msgid, "code": refused.code}
                )
                continue
            log.error("a peer confirmed a reservation of a msgid voided here", extra={"msgid": row.msgid})
            outcome = CONFIRMED
        async with db.transaction() as session:
            current = await session.get(PeerVoid, row.id, with_for_update=True)
            if current is not None and current.status == OWED:
                current.status, current.outcome, current.updated_at = SENT, outcome, now_china()
        answered += 1
    return answered


async def reverse_expired(db: Database, peer_settlement_id: int | None) -> bool:
    """Reverse a peer settlement whose reservation the peer released before the confirmation arrived
    (``RESERVATION_EXPIRED``): the insured platform will not pay it, so it must not stand here as money owed
    to the institution. The reversal is an ordinary one (its record, its ``settlement.reversed`` event; the
    ledger takes back 1303 / 2101) under the msgid ``E`` + the settlement id without its ``S``, and the row's
    ``release_reason`` is ``timeout``, so operators and the cashier's queries see why. False when the
    settlement cannot be reversed (left ``expired``, in the alert)."""
    try:
        async with db.transaction() as session:
            # Locked in the order of every reversal (``reverse``): the settlement, then its peer row. The
            # other way round, a 2103 or 2601 of the same settlement at that moment (holding the settlement,
            # waiting for the peer row) deadlocked with this (holding the peer row, waiting for the
            # settlement). Under both locks: a reversal that committed first left nothing to do here.
            setl_id = await session.scalar(
                select(PeerSettlement.setl_id).where(PeerSettlement.id == peer_settlement_id)
            )
            if setl_id is None:
                return False
            settlement = await store_for(session).lock_settlement(session, setl_id)
            row = await session.get(PeerSettlement, peer_settlement_id, with_for_update=True)
            if row is None or row.status != RESERVED or settlement is None or settlement.status != "settled":
                return False
            row.release_reason = "timeout"
            # The reversal's msgid: E + the settlement id without its S (30 characters, like a HIS msgid).
            msgid = f"E{row.setl_id[1:]}"
            await reverse(session, row.setl_id, settlement.fixmedins_code, msgid, any_msgid=True)
    except DomainError as refused:
        log.error(
            "inter-platform settlement whose hold ran out could not be reversed",
            extra={"peer_settlement": peer_settlement_id, "code": refused.code},
        )
        return False
    log.warning(
        "inter-platform settlement reversed: the peer released its hold before the confirmation",
        extra={"setl_id": settlement.setl_id, "peer": row.peer, "reservation_id": row.reservation_id},
    )
    return True


async def unknown_past_window(session: AsyncSession, now: datetime, *, hold_s: float) -> int:
    """Peer settlements whose confirmation or release is still owed past the reservation's window, or
    whose hold the peer released before the confirmation, and 2601 voids still owed to a peer ``hold_s``
    (a reservation's window) after the 2601: the alert's gauge. A void unanswered that long means the peer
    has been unreachable for a whole window; its hold has run out by itself, the call is still sent."""
    late = col(PeerSettlement.status).in_((RESERVED, RELEASING)) & (col(PeerSettlement.expires_at) <= now)
    count = await session.scalar(
        select(func.count()).select_from(PeerSettlement).where(late | (col(PeerSettlement.status) == EXPIRED))
    )
    voids = await session.scalar(
        select(func.count())
        .select_from(PeerVoid)
        .where(col(PeerVoid.status) == OWED, col(PeerVoid.created_at) <= now - timedelta(seconds=hold_s))
    )
    return int(count or 0) + int(voids or 0)


async def watch_owed(db: Database, peers: Peers, interval_s: float, stop: asyncio.Event) -> None:
    """Every ``interval_s``: send the confirmations and releases still owed to peers again, then set the
    ``settlement_interplatform_unknown_past_window`` gauge."""
    while interval_s > 0 and not stop.is_set():
        try:
            if peers.by_id:
                await send_owed(db, peers)
                await send_voids(db, peers)
            async with db.session() as session:
                UNKNOWN_PAST_WINDOW.set(await unknown_past_window(session, now_china(), hold_s=peers.hold_s))
        except Exception:
            log.exception("inter-platform owed calls failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
