"""Binding settlements. One transaction: lock the person's accumulator, classify the lines against the
catalogue, run the policy, write the settlement with its fund detail and lines, move the accumulator and
write the outbox event (architecture.md, flow 3)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement.adjudication.outpatient import (
    POOLED_FUND,
    FeeLine,
    ListEntry,
    OutpatientPolicy,
    YearToDate,
    adjudicate,
)
from settlement.catalogue import service as catalogue
from settlement.db import infra
from settlement.eligibility import service as eligibility
from settlement.eligibility.models import Eligibility
from settlement.institutions import service as institutions
from settlement.policy import service as policies
from settlement.settlements.models import Settlement, SettlementFund, SettlementLine
from settlement.settlements.schemas import (
    FundOut,
    LineOut,
    PersonSnapshot,
    PharmacySettlementRequest,
    SettlementOut,
)
from shared.clock import CHINA_TZ, now_china
from shared.errors import Conflict, DomainError, NotFound
from shared.events import FundPayment, SettlementCompleted
from shared.money import fen_to_yuan, round_half_up_fen
from shared.outbox import enqueue

PRODUCER = "settlement"
PHARMACY_CLR_TYPE = "41"
OUTPATIENT_POOL = "outpatient_pool"
#: A purchase may not be dated in the future beyond this clock skew between HIS and platform.
MAX_CLOCK_SKEW = timedelta(minutes=10)


def request_digest(request: PharmacySettlementRequest) -> str:
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()


def _new_id(prefix: str, admdvs: str, at: datetime) -> str:
    # prefix(1) + admdvs(6) + yyyymmdd(8) + 15 random digits = 30 characters, the NHSA field length.
    return f"{prefix}{admdvs}{at.astimezone(CHINA_TZ):%Y%m%d}{secrets.randbelow(10**15):015d}"


def _check_line_amounts(request: PharmacySettlementRequest) -> None:
    for line in request.lines:
        expected = round_half_up_fen(line.cnt * line.pric * 100)
        # One fen of tolerance: HIS systems round unit prices differently before multiplying.
        if abs(expected - line.amount_fen) > 1:
            raise DomainError(
                f"费用明细 {line.feedetl_sn} 金额 {fen_to_yuan(line.amount_fen)} 与数量×单价 "
                f"{line.cnt}×{line.pric}={fen_to_yuan(expected)} 不符",
                code="LINE_AMOUNT_MISMATCH",
                status_code=422,
            )
    total = sum(line.amount_fen for line in request.lines)
    if total != request.medfee_sumamt_fen:
        raise DomainError(
            f"医疗费总额 {fen_to_yuan(request.medfee_sumamt_fen)} 与明细合计 {fen_to_yuan(total)} 不符",
            code="TOTAL_MISMATCH",
            status_code=422,
        )


async def settle_pharmacy(session: AsyncSession, request: PharmacySettlementRequest) -> SettlementOut:
    digest = request_digest(request)
    earlier = await session.scalar(select(Settlement).where(Settlement.msgid == request.msgid))
    if earlier is not None:
        if earlier.request_sha256 != digest:
            raise Conflict(f"报文ID {request.msgid} 已用于另一笔不同内容的结算", code="MSGID_REUSED")
        return await load(session, earlier.setl_id, replayed=True)

    now = now_china()
    if request.begntime - now > MAX_CLOCK_SKEW:
        raise DomainError("购药时间晚于当前时间", code="FUTURE_TIME", status_code=422)
    _check_line_amounts(request)
    care_day = request.begntime.astimezone(CHINA_TZ).date()

    institution = await institutions.get(session, request.fixmedins_code)
    if institution.fixmedins_type != "2":
        raise DomainError("药店结算(2102)只适用于定点零售药店", code="NOT_A_PHARMACY", status_code=422)
    if institution.admdvs != request.mdtrtarea_admvs:
        raise DomainError(
            f"就医地区划 {request.mdtrtarea_admvs} 与机构所在区划 {institution.admdvs} 不符",
            code="ADMVS_MISMATCH",
            status_code=422,
        )
    institutions.require_can_settle(institution, care_day)

    person = await eligibility.covered(session, request.psn_no, request.insutype, care_day)
    await _check_certificate(session, request, person)
    if person.insuplc_admdvs != request.insuplc_admdvs:
        raise DomainError(
            f"参保地区划 {request.insuplc_admdvs} 与人员参保地 {person.insuplc_admdvs} 不符",
            code="ADMDVS_MISMATCH",
            status_code=422,
        )
    policy = await policies.in_force(session, person.insuplc_admdvs, request.insutype, care_day)
    items = await catalogue.find_many(session, {line.med_list_codg for line in request.lines})
    accumulator = await eligibility.lock_accumulator(
        session, person.psn_no, care_day.year, request.insutype, OUTPATIENT_POOL
    )

    result = adjudicate(
        [
            FeeLine(line.feedetl_sn, line.med_list_codg, line.cnt, line.pric, line.amount_fen)
            for line in request.lines
        ],
        {
            code: ListEntry(item.chrgitm_lv, item.selfpay_prop, item.pric_uplmt, item.med_chrgitm_type)
            for code, item in items.items()
        },
        OutpatientPolicy(
            policy.outpatient_deductible_fen, policy.outpatient_pool_ratio, policy.outpatient_annual_cap_fen
        ),
        YearToDate(accumulator.deductible_used_fen, accumulator.fund_paid_fen),
    )

    setl_id = _new_id("S", request.mdtrtarea_admvs, now)
    mdtrt_id = _new_id("M", request.mdtrtarea_admvs, now)
    assert policy.id is not None
    settlement = Settlement(
        setl_id=setl_id,
        mdtrt_id=mdtrt_id,
        msgid=request.msgid,
        request_sha256=digest,
        fixmedins_code=institution.fixmedins_code,
        institution_level=institution.hosp_lv,
        psn_no=person.psn_no,
        insutype=request.insutype,
        psn_type=person.psn_type,
        insuplc_admdvs=person.insuplc_admdvs,
        mdtrtarea_admvs=request.mdtrtarea_admvs,
        med_type=request.med_type,
        clr_type=PHARMACY_CLR_TYPE,
        mdtrt_cert_type=request.mdtrt_cert_type,
        invono=request.invono,
        policy_id=policy.id,
        begntime=request.begntime,
        setl_time=now,
        medfee_sumamt_fen=result.medfee_sumamt_fen,
        fully_self_paid_fen=result.fully_self_paid_fen,
        over_price_cap_fen=result.over_price_cap_fen,
        self_pay_first_fen=result.self_pay_first_fen,
        policy_range_fen=result.policy_range_fen,
        deductible_fen=result.deductible_fen,
        pool_ratio=result.pool_ratio,
        pooled_fund_paid_fen=result.pooled_fund_paid_fen,
        fund_paid_total_fen=result.fund_paid_total_fen,
        personal_burden_fen=result.personal_burden_fen,
        account_paid_fen=0,
        cash_paid_fen=result.cash_paid_fen,
        calc_trace="\n".join(result.trace),
    )
    session.add(settlement)
    await session.flush()  # the settlement row exists before rows that reference it
    session.add(
        SettlementFund(
            setl_id=setl_id,
            fund_pay_type=POOLED_FUND,
            policy_range_fen=result.policy_range_fen - result.deductible_fen,
            payable_limit_fen=result.cap_remaining_fen,
            paid_fen=result.pooled_fund_paid_fen,
            calc_trace="\n".join(result.trace[1:3]),
        )
    )
    for line in result.lines:
        source = line.line
        wire = next(x for x in request.lines if x.feedetl_sn == source.feedetl_sn)
        session.add(
            SettlementLine(
                setl_id=setl_id,
                feedetl_sn=source.feedetl_sn,
                med_list_codg=source.med_list_codg,
                medins_list_codg=wire.medins_list_codg,
                cnt=source.cnt,
                pric=source.pric,
                amount_fen=source.amount_fen,
                price_cap=line.price_cap,
                selfpay_prop=line.selfpay_prop,
                chrgitm_lv=line.chrgitm_lv,
                med_chrgitm_type=line.med_chrgitm_type,
                fully_self_paid_fen=line.fully_self_paid_fen,
                over_price_cap_fen=line.over_price_cap_fen,
                self_pay_first_fen=line.self_pay_first_fen,
                policy_range_fen=line.policy_range_fen,
                memo=line.memo[:200],
            )
        )
    accumulator.deductible_used_fen = result.year_to_date_after.deductible_used_fen
    accumulator.fund_paid_fen = result.year_to_date_after.fund_paid_fen
    accumulator.settlement_count += 1
    accumulator.updated_at = now

    await enqueue(
        session,
        infra,
        SettlementCompleted(
            setl_id=setl_id,
            mdtrt_id=mdtrt_id,
            msgid=request.msgid,
            psn_no=person.psn_no,
            fixmedins_code=institution.fixmedins_code,
            institution_level=institution.hosp_lv,
            insutype=request.insutype,
            insuplc_admdvs=person.insuplc_admdvs,
            mdtrtarea_admvs=request.mdtrtarea_admvs,
            med_type=request.med_type,
            clr_type=PHARMACY_CLR_TYPE,
            setl_time=now,
            medfee_sumamt_fen=result.medfee_sumamt_fen,
            fund_pay_sumamt_fen=result.fund_paid_total_fen,
            psn_cash_pay_fen=result.cash_paid_fen,
            fund_payments=[FundPayment(fund_pay_type=POOLED_FUND, amount_fen=result.pooled_fund_paid_fen)],
        ),
        PRODUCER,
    )
    await session.flush()
    return await load(session, setl_id)


async def _check_certificate(
    session: AsyncSession, request: PharmacySettlementRequest, person: Eligibility
) -> None:
    """The certificate presented must be the person's: the ID number (02), or a social-security card
    (03) that is registered to them and neither reported lost nor replaced. E-voucher tokens (01) are
    verified by the national e-voucher platform, which is not part of this one."""
    if request.mdtrt_cert_type == "02" and request.mdtrt_cert_no.strip().upper() != person.certno:
        raise DomainError("就诊凭证号与人员身份证号不符", code="CERT_MISMATCH", status_code=422)
    if request.mdtrt_cert_type == "03":
        card_no = request.mdtrt_cert_no.strip()
        card = await eligibility.find_card(session, card_no)
        # A card of someone else is refused like an unknown one: its status is not this cashier's business.
        if card is None or card.psn_no != person.psn_no:
            raise DomainError(
                f"社保卡号 {card_no} 未登记或不属于该人员", code="CERT_MISMATCH", status_code=422
            )
        if card.status != "active":
            raise DomainError("该社保卡已挂失或已换卡，不能结算", code="CARD_NOT_ACTIVE", status_code=422)


async def load(session: AsyncSession, setl_id: str, *, replayed: bool = False) -> SettlementOut:
    settlement = await session.scalar(select(Settlement).where(Settlement.setl_id == setl_id))
    if settlement is None:
        raise NotFound(f"结算记录不存在: {setl_id}", code="SETTLEMENT_NOT_FOUND")
    funds = await session.scalars(
        select(SettlementFund).where(SettlementFund.setl_id == setl_id).order_by(col(SettlementFund.id))
    )
    lines = await session.scalars(
        select(SettlementLine).where(SettlementLine.setl_id == setl_id).order_by(col(SettlementLine.id))
    )
    person = await session.scalar(
        select(Eligibility).where(
            Eligibility.psn_no == settlement.psn_no,
            Eligibility.insutype == settlement.insutype,
            Eligibility.year == settlement.begntime.astimezone(CHINA_TZ).year,
        )
    )
    if person is None:
        raise NotFound(f"结算人员参保信息缺失: {settlement.psn_no}", code="NOT_COVERED")
    on = settlement.setl_time.astimezone(CHINA_TZ).date()
    age = on.year - person.brdy.year - ((on.month, on.day) < (person.brdy.month, person.brdy.day))
    # The stored columns carry the same names as the answer's fields; the rest is assembled here.
    assembled = {"person", "funds", "lines", "replayed"}
    columns = {
        name: getattr(settlement, name) for name in SettlementOut.model_fields if name not in assembled
    }
    return SettlementOut(
        **columns,
        person=PersonSnapshot(
            psn_no=person.psn_no,
            psn_name=person.psn_name,
            certno=person.certno,
            gend=person.gend,
            brdy=person.brdy,
            age=age,
            psn_type=settlement.psn_type,
        ),
        funds=[FundOut.model_validate(f) for f in funds],
        lines=[LineOut.model_validate(line) for line in lines],
        replayed=replayed,
    )
