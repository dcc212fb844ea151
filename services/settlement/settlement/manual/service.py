"""Manual reimbursement (零星报销), in three steps by at least two people: a clerk enters the bills and sees
the benefit the engine computes (the same ``adjudicate`` as at the counter, with the person's year-to-date
totals); a second person approves - the amounts are computed again under the person's accumulator lock,
the accumulator moves and ``ManualReimbursementApproved`` goes out through the outbox (the ledger books the
fund's debt to the person); the payment to the person's account is recorded and ``ManualReimbursementPaid``
goes out (the ledger pays the debt from the expenditure account).

Who did each step is the authenticated caller (``shared.auth.Principal``: the bearer token's subject, kept
with its roles), never a name in the request, and the four-eyes rule compares those subjects: the clerk
who entered a claim can neither decide it nor record its payment."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement.adjudication.engine import (
    Adjudication,
    Encounter,
    FeeLine,
    NotEligible,
    YearToDate,
    adjudicate,
)
from settlement.catalogue import service as catalogue
from settlement.db import infra
from settlement.eligibility import service as eligibility
from settlement.manual.models import ManualReimbursement
from settlement.manual.schemas import Decision, ManualClaimCreate, Payment
from settlement.policy import service as policies
from settlement.schemes import service as schemes
from settlement.settlements.claims import MAX_CLOCK_SKEW
from settlement.supervision import service as supervision
from shared.auth import Principal
from shared.clock import CHINA_TZ, now_china
from shared.db import flush_unique
from shared.errors import Conflict, DomainError, NotFound, Unprocessable
from shared.events import FundPayment, ManualReimbursementApproved, ManualReimbursementPaid
from shared.money import fen_to_yuan, round_half_up_fen
from shared.outbox import enqueue

PRODUCER = "settlement"
YTD_FIELDS = eligibility.TOTAL_COLUMNS
#: Clearing type of the expenditure a claim is booked to, by kind of care.
CLR_TYPE_BY_KIND = {
    "pharmacy": "41",
    "outpatient": "11",
    "chronic": "11",
    "inpatient": "21",
    "maternity": "21",
}


@dataclass(frozen=True)
class Assessed:
    insutype: str
    policy_id: int
    result: Adjudication


def _check_amounts(data: ManualClaimCreate) -> None:
    for line in data.lines:
        expected = round_half_up_fen(line.cnt * line.pric * 100)
        if abs(expected - line.amount_fen) > 1:
            raise Unprocessable(
                f"票据明细 {line.feedetl_sn} 金额 {fen_to_yuan(line.amount_fen)} 与数量×单价 不符",
                code="LINE_AMOUNT_MISMATCH",
            )
    total = sum(x.amount_fen for x in data.lines)
    if total != data.medfee_sumamt_fen:
        raise Unprocessable(
            f"票据总额 {fen_to_yuan(data.medfee_sumamt_fen)} 与明细合计 {fen_to_yuan(total)} 不符",
            code="TOTAL_MISMATCH",
        )


async def _assess(session: AsyncSession, data: ManualClaimCreate, totals: eligibility.Totals) -> Assessed:
    """The engine on the bills, as a counter settlement on the day of care would have computed it."""
    day = data.begntime.astimezone(CHINA_TZ).date()
    coverage, effective = await schemes.resolve(session, data.psn_no, data.insutype, day)
    person = await eligibility.covered(session, data.psn_no, coverage, day)
    if person.insuplc_admdvs != data.insuplc_admdvs:
        raise Unprocessable(
            f"参保地区划 {data.insuplc_admdvs} 与人员参保地 {person.insuplc_admdvs} 不符",
            code="ADMDVS_MISMATCH",
        )
    policy = await policies.in_force(session, person.insuplc_admdvs, effective, day)
    entries = await catalogue.find_entries(session, {x.med_list_codg for x in data.lines}, day)
    ytd = YearToDate(*(getattr(totals, name) for name in YTD_FIELDS))
    try:
        result = adjudicate(
            [
                FeeLine(x.feedetl_sn, x.med_list_codg, x.cnt, x.pric, x.amount_fen, x.hosp_appr_flag)
                for x in data.lines
            ],
            entries,
            Encounter(
                kind=data.encounter_kind,
                service_date=day,
                institution_level=data.institution_level,
                admission_sequence=ytd.admissions + 1,
                out_of_area=data.out_of_area,
                filed=data.filed,
                delivery_type=data.delivery_type,
                chronic_disease=data.chronic_disease,
            ),
            eligibility.identities_on(person, day),
            policies.document_of(policy),
            ytd,
        )
    except NotEligible as exc:
        raise DomainError(str(exc), code="NOT_ELIGIBLE", status_code=422) from exc
    assert policy.id is not None
    return Assessed(effective, policy.id, result)


def _apply(claim: ManualReimbursement, assessed: Assessed) -> None:
    r = assessed.result
    claim.insutype = assessed.insutype
    claim.policy_id = assessed.policy_id
    claim.policy_range_fen = r.policy_range_fen
    claim.deductible_fen = r.deductible_fen
    claim.pool_ratio = r.pool_ratio
    claim.pooled_fund_paid_fen = r.pooled_fen
    claim.catastrophic_paid_fen = r.catastrophic_fen
    claim.assistance_paid_fen = r.assistance_fen
    claim.fund_paid_total_fen = r.fund_paid_total_fen
    claim.personal_burden_fen = r.personal_burden_fen
    claim.funds = [
        {"fund_pay_type": f.fund_pay_type, "paid_fen": f.paid_fen, "calc_trace": f.trace} for f in r.funds
    ]
    claim.calc_trace = "\n".join(r.trace)


def _request_of(claim: ManualReimbursement) -> ManualClaimCreate:
    return ManualClaimCreate.model_validate(
        {
            "psn_no": claim.psn_no,
            "insutype": claim.extra.get("requested_insutype", claim.insutype),
            "insuplc_admdvs": claim.insuplc_admdvs,
            "reason": claim.reason,
            "fixmedins_code": claim.fixmedins_code,
            "fixmedins_name": claim.fixmedins_name,
            "institution_level": claim.institution_level,
            "encounter_kind": claim.encounter_kind,
            "out_of_area": claim.out_of_area,
            "filed": claim.filed,
            "invono": claim.invono,
            "begntime": claim.begntime,
            "endtime": claim.endtime,
            "medfee_sumamt_fen": claim.medfee_sumamt_fen,
            "delivery_type": claim.extra.get("delivery_type"),
            "chronic_disease": claim.extra.get("chronic_disease"),
            "lines": claim.lines,
        }
    )


async def enter(session: AsyncSession, data: ManualClaimCreate, clerk: Principal) -> ManualReimbursement:
    """Step 1, the clerk: the bills and the benefit as the engine computes it now (nothing moves yet)."""
    if data.begntime - now_china() > MAX_CLOCK_SKEW:
        raise Unprocessable("就诊时间晚于当前时间", code="FUTURE_TIME")
    _check_amounts(data)
    day = data.begntime.astimezone(CHINA_TZ).date()
    # Only care during a full self-advance sanction is claimed on that ground (art. 45).
    if (
        data.reason == "full_self_advance"
        and await supervision.in_force(session, supervision.FULL_SELF_ADVANCE, data.psn_no, day) is None
    ):
        raise Unprocessable("该参保人就诊日不在全额垫付期内，不能按全额垫付报销", code="NOT_ON_SELF_ADVANCE")
    effective = (await schemes.resolve(session, data.psn_no, data.insutype, day))[1]
    totals = await eligibility.peek_accumulator(session, data.psn_no, day.year, effective)
    assessed = await _assess(session, data, totals)
    now = now_china()
    claim = ManualReimbursement(
        claim_no=f"Z{data.insuplc_admdvs}{now:%Y%m%d}{secrets.randbelow(10**15):015d}",
        psn_no=data.psn_no,
        insutype=data.insutype,
        insuplc_admdvs=data.insuplc_admdvs,
        reason=data.reason,
        fixmedins_code=data.fixmedins_code,
        fixmedins_name=data.fixmedins_name,
        institution_level=data.institution_level,
        encounter_kind=data.encounter_kind,
        clr_type=CLR_TYPE_BY_KIND[data.encounter_kind],
        out_of_area=data.out_of_area,
        filed=data.filed,
        invono=data.invono,
        begntime=data.begntime,
        endtime=data.endtime,
        medfee_sumamt_fen=data.medfee_sumamt_fen,
        lines=[x.model_dump(mode="json") for x in data.lines],
        extra={
            "requested_insutype": data.insutype,
            "delivery_type": data.delivery_type,
            "chronic_disease": data.chronic_disease,
        },
        status="entered",
        entered_by=clerk.subject,
        entered_roles=clerk.roles_text,
        entered_at=now,
        policy_id=0,
        policy_range_fen=0,
        deductible_fen=0,
        pool_ratio=Decimal(0),
        pooled_fund_paid_fen=0,
        catastrophic_paid_fen=0,
        assistance_paid_fen=0,
        fund_paid_total_fen=0,
        personal_burden_fen=0,
        calc_trace="",
    )
    _apply(claim, assessed)
    session.add(claim)
    await flush_unique(
        session, Conflict(f"票据号 {data.invono} 已申请过零星报销", code="INVOICE_ALREADY_CLAIMED")
    )
    return claim


async def get(session: AsyncSession, claim_no: str, *, lock: bool = False) -> ManualReimbursement:
    query = select(ManualReimbursement).where(ManualReimbursement.claim_no == claim_no)
    claim = await session.scalar(query.with_for_update() if lock else query)
    if claim is None:
        raise NotFound(f"零星报销申请不存在: {claim_no}", code="CLAIM_NOT_FOUND")
    return claim


async def list_claims(
    session: AsyncSession, status: str | None, psn_no: str | None
) -> list[ManualReimbursement]:
    query = select(ManualReimbursement).order_by(col(ManualReimbursement.id))
    if status:
        query = query.where(ManualReimbursement.status == status)
    if psn_no:
        query = query.where(ManualReimbursement.psn_no == psn_no)
    return list(await session.scalars(query))


def _four_eyes(claim: ManualReimbursement, actor: Principal, act: str) -> None:
    """四眼原则: the token subject that entered a claim may not decide it or record its payment."""
    if actor.subject == claim.entered_by:
        raise DomainError(
            f"{act}人不能与录入人相同（双人复核）: {actor.subject} 录入了零星报销申请 {claim.claim_no}",
            code="FOUR_EYES",
            status_code=403,
        )


async def decide(
    session: AsyncSession, claim_no: str, data: Decision, reviewer: Principal
) -> ManualReimbursement:
    """Step 2, a second person (四眼原则: never the subject that entered it). Approval recomputes under the
    person's accumulator lock, so the year's limits hold against counter settlements made meanwhile."""
    claim = await get(session, claim_no, lock=True)
    _four_eyes(claim, reviewer, "审核")
    if claim.status != "entered":
        raise Conflict(f"零星报销申请 {claim_no} 已{_STATUS[claim.status]}", code="CLAIM_ALREADY_DECIDED")
    now = now_china()
    claim.decided_by, claim.decided_roles = reviewer.subject, reviewer.roles_text
    claim.decided_at, claim.decision_note = now, data.note
    if data.decision == "reject":
        claim.status = "rejected"
        await session.flush()
        return claim
    day = claim.begntime.astimezone(CHINA_TZ).date()
    request = _request_of(claim)
    coverage_scheme = (await schemes.resolve(session, claim.psn_no, request.insutype, day))[1]
    totals = await eligibility.lock_accumulator(session, claim.psn_no, day.year, coverage_scheme)
    assessed = await _assess(session, request, totals)
    _apply(claim, assessed)
    delta = assessed.result.delta
    claim.ytd_delta = {name: int(getattr(delta, name)) for name in YTD_FIELDS}
    totals.move(claim.ytd_delta, +1)
    await eligibility.save_accumulator(session, totals)
    claim.status = "approved"
    await enqueue(
        session,
        infra,
        ManualReimbursementApproved(
            claim_no=claim.claim_no,
            psn_no=claim.psn_no,
            insutype=claim.insutype,
            insuplc_admdvs=claim.insuplc_admdvs,
            clr_type=CLR_TYPE_BY_KIND[claim.encounter_kind],
            reason=claim.reason,
            approved_at=now,
            medfee_sumamt_fen=claim.medfee_sumamt_fen,
            fund_pay_sumamt_fen=claim.fund_paid_total_fen,
            fund_payments=_payments(claim),
        ),
        PRODUCER,
    )
    await session.flush()
    return claim


async def pay(session: AsyncSession, claim_no: str, data: Payment, payer: Principal) -> ManualReimbursement:
    """Step 3: the approved amount was transferred to the person; the ledger pays the debt. Recorded by
    someone other than the clerk who entered the claim (the approver may)."""
    claim = await get(session, claim_no, lock=True)
    _four_eyes(claim, payer, "支付")
    if claim.status != "approved":
        raise Conflict(
            f"零星报销申请 {claim_no} 状态为{_STATUS[claim.status]}，不能支付", code="CLAIM_NOT_APPROVED"
        )
    now = now_china()
    claim.status, claim.paid_by, claim.paid_roles = "paid", payer.subject, payer.roles_text
    claim.paid_at, claim.payment_ref = now, data.payment_ref
    await enqueue(
        session,
        infra,
        ManualReimbursementPaid(
            claim_no=claim.claim_no,
            psn_no=claim.psn_no,
            insutype=claim.insutype,
            insuplc_admdvs=claim.insuplc_admdvs,
            paid_at=now,
            payment_ref=data.payment_ref,
            fund_payments=_payments(claim),
        ),
        PRODUCER,
    )
    await session.flush()
    return claim


def _payments(claim: ManualReimbursement) -> list[FundPayment]:
    return [FundPayment(fund_pay_type=f["fund_pay_type"], amount_fen=int(f["paid_fen"])) for f in claim.funds]


_STATUS = {"entered": "录入待审", "approved": "审核通过", "rejected": "审核不通过", "paid": "已支付"}
