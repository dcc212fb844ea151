"""Filings (备案) stored and read (docs/domain.md, "Filings"): a 门慢门特 registration names the disease from
the policy's chronic list and the dates it is valid; a designated facility, a referral / out-of-area filing
and an injury filing likewise; a revocation ends one from its day on (today or later, Beijing time); a
person's filings are listed, and those in force on a day are what the engine reads (``standing``). Only an
insured person files: covered by a scheme on the filing's first day."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement.adjudication.filings import InjuryFiling, Standing
from settlement.eligibility import service as eligibility
from settlement.eligibility.models import Eligibility
from settlement.filings.models import Filing
from settlement.filings.schemas import (
    ChronicFilingCreate,
    DesignatedFilingCreate,
    FilingRevoke,
    InjuryFilingCreate,
    ReferralFilingCreate,
)
from settlement.institutions.models import Institution
from settlement.policy import service as policies
from shared.clock import CHINA_TZ, now_china
from shared.contracts.v1.filings import REFERRED_DCLA_TYPE
from shared.errors import Conflict, DomainError, NotFound

CHRONIC = "chronic"
DESIGNATED = "designated"
REFERRAL = "referral"
INJURY = "injury"


def today() -> date:
    """Today in Beijing time: what "today" means for every filing date."""
    return now_china().date()


def _dates_in_order(begndate: date, enddate: date | None) -> None:
    if enddate is not None and enddate < begndate:
        raise DomainError(f"结束日期 {enddate} 早于开始日期 {begndate}", code="FILING_DATES", status_code=422)


async def insured(session: AsyncSession, psn_no: str, insutype: str | None, on: date) -> Eligibility:
    """The person's coverage on ``on`` (of ``insutype``, or of the scheme they are covered by then): only an
    insured person files, under the scheme they are insured by."""
    if insutype is not None:
        return await eligibility.covered(session, psn_no, insutype, on)
    rows = await session.scalars(
        select(Eligibility)
        .where(Eligibility.psn_no == psn_no, Eligibility.year == on.year)
        .order_by(col(Eligibility.insutype))
    )
    for row in rows:
        if row.coverage_begin <= on <= row.coverage_end:
            return row
    raise DomainError(f"人员 {psn_no} 在 {on} 未参保，不能办理备案", code="NOT_COVERED", status_code=422)


def _new(data: Any, kind: str, person: Eligibility, **fields: Any) -> Filing:
    return Filing(
        trt_dcla_detl_sn=new_sn(data.insuplc_admdvs, today()),
        kind=kind,
        psn_no=data.psn_no,
        insutype=person.insutype,
        insuplc_admdvs=data.insuplc_admdvs,
        fixmedins_code=data.fixmedins_code,
        begndate=data.begndate,
        enddate=data.enddate,
        memo=data.memo,
        **fields,
    )


async def _stored(session: AsyncSession, filing: Filing) -> Filing:
    session.add(filing)
    # 15 random digits per day and region: a collision is a unique-key error, not a wrong answer.
    await session.flush()
    return filing


def new_sn(admdvs: str, on: date) -> str:
    """A 待遇申报明细流水号: "B" + admdvs(6) + yyyymmdd(8) + 15 random digits = 30 characters."""
    return f"B{admdvs}{on:%Y%m%d}{secrets.randbelow(10**15):015d}"


async def file_chronic(session: AsyncSession, data: ChronicFilingCreate) -> Filing:
    _dates_in_order(data.begndate, data.enddate)
    person = await insured(session, data.psn_no, data.insutype, data.begndate)
    _, document = await policies.in_force_with_document(
        session, data.insuplc_admdvs, data.insutype, data.begndate
    )
    diseases = document.chronic.diseases if document.chronic is not None else []
    if data.opsp_dise_code not in diseases:
        raise DomainError(
            f"病种 {data.opsp_dise_code} 不是参保地政策的门慢门特病种", code="FILING_DISEASE", status_code=422
        )
    return await _stored(
        session,
        _new(data, CHRONIC, person, opsp_dise_code=data.opsp_dise_code, opsp_dise_name=data.opsp_dise_name),
    )


async def file_designated(session: AsyncSession, data: DesignatedFilingCreate) -> Filing:
    """The facility must be a designated institution under agreement, and the person a registered chronic
    patient (a chronic filing of theirs in force on ``begndate``), filed under the scheme they are covered
    by then."""
    _dates_in_order(data.begndate, data.enddate)
    person = await insured(session, data.psn_no, data.insutype, data.begndate)
    institution = await session.scalar(
        select(Institution).where(Institution.fixmedins_code == data.designated_fixmedins_code)
    )
    if institution is None or institution.status != "active":
        raise DomainError(
            f"定点医药机构 {data.designated_fixmedins_code} 不存在或协议未生效",
            code="FILING_FACILITY",
            status_code=422,
        )
    if not any(in_force(f, data.begndate) for f in await of_person(session, data.psn_no, CHRONIC)):
        raise DomainError(
            f"人员 {data.psn_no} 在 {data.begndate} 没有有效的门慢门特病种备案，不能办理定点备案",
            code="FILING_NOT_CHRONIC",
            status_code=422,
        )
    filing = _new(
        data,
        DESIGNATED,
        person,
        designated_fixmedins_code=institution.fixmedins_code,
        designated_fixmedins_name=institution.fixmedins_name,
        fix_srt_no=data.fix_srt_no,
        biz_appy_type=data.biz_appy_type,
    )
    return await _stored(session, filing)


async def file_referral(session: AsyncSession, data: ReferralFilingCreate) -> Filing:
    """2501 / 2501A 转院备案: care in ``mdtrtarea_admdvs`` (or at ``reflin_medins_no``) is filed from
    ``begndate``, of its 异地就医备案类别 (``dcla_type``, 04 异地转诊 if not named); the transfer date,
    if given, is inside the filing's dates."""
    _dates_in_order(data.begndate, data.enddate)
    if data.refl_date is not None and not (
        data.begndate <= data.refl_date and (data.enddate is None or data.refl_date <= data.enddate)
    ):
        raise DomainError(
            f"转院日期 {data.refl_date} 不在备案有效期 {data.begndate} 至 {data.enddate or '长期'} 内",
            code="FILING_DATES",
            status_code=422,
        )
    person = await insured(session, data.psn_no, data.insutype, data.begndate)
    fields = data.model_dump(
        include={
            "mdtrtarea_admdvs", "reflin_medins_no", "reflin_medins_name", "refl_type", "refl_date",
            "refl_rea", "refl_opnn", "hosp_agre_refl_flag", "refl_old_mdtrt_id", "diag_code", "diag_name",
        }
    )  # fmt: skip
    fields["dcla_type"] = data.dcla_type or REFERRED_DCLA_TYPE
    return await _stored(session, _new(data, REFERRAL, person, **fields))


async def file_injury(session: AsyncSession, data: InjuryFilingCreate) -> Filing:
    """2507 意外伤害备案: stored as declared, a liable third party or a work injury included (the engine
    then refuses the stay with that reason, Tianjin art. 18); the injury is not after the filing starts
    covering care, nor in the future."""
    _dates_in_order(data.begndate, data.enddate)
    when = data.trum_time if data.trum_time.tzinfo else data.trum_time.replace(tzinfo=CHINA_TZ)
    injured_on = when.astimezone(CHINA_TZ).date()
    if injured_on > today() or (data.enddate is not None and injured_on > data.enddate):
        raise DomainError(
            f"受伤时间 {data.trum_time} 晚于当前日期或备案结束日期", code="FILING_DATES", status_code=422
        )
    person = await insured(session, data.psn_no, data.insutype, data.begndate)
    fields = data.model_dump(
        include={"mdtrtarea_admdvs", "trum_site", "trum_rea", "thrd_pty_resp_flag", "wrk_inj_flag"}
    )
    fields["trum_time"] = when
    return await _stored(session, _new(data, INJURY, person, **fields))


async def revoke(session: AsyncSession, sn: str, data: FilingRevoke) -> Filing:
    """Ends the filing from ``revoked_on``: today or later (a filing is never revoked for days already
    past: settlements of those days were made under it), never before its first day; not given, today (its
    first day for one not begun yet). Only the person's own, still active filing can be revoked; another
    person's is refused as if it did not exist beside the caller's person."""
    filing = await session.scalar(select(Filing).where(Filing.trt_dcla_detl_sn == sn).with_for_update())
    if filing is None or (data.kind is not None and filing.kind != data.kind):
        raise NotFound(f"备案 {sn} 不存在", code="FILING_NOT_FOUND")
    if filing.psn_no != data.psn_no:
        raise DomainError(f"备案 {sn} 不属于人员 {data.psn_no}", code="FILING_PSN_MISMATCH", status_code=422)
    if filing.status != "active":
        raise Conflict(f"备案 {sn} 已撤销", code="FILING_REVOKED")
    if data.revoked_on is None:
        on = max(today(), filing.begndate)
    elif data.revoked_on < today():
        raise DomainError(
            f"撤销日期 {data.revoked_on} 早于今天 {today()}：备案不能追溯撤销",
            code="FILING_BACKDATED",
            status_code=422,
        )
    elif data.revoked_on < filing.begndate:
        raise DomainError(
            f"撤销日期 {data.revoked_on} 早于备案开始日期 {filing.begndate}",
            code="FILING_DATES",
            status_code=422,
        )
    else:
        on = data.revoked_on
    filing.status = "revoked"
    filing.revoked_on = on
    filing.revoke_memo = data.memo
    filing.revoked_at = now_china()
    await session.flush()
    return filing


async def of_person(session: AsyncSession, psn_no: str, kind: str | None = None) -> list[Filing]:
    query = select(Filing).where(Filing.psn_no == psn_no)
    if kind is not None:
        query = query.where(Filing.kind == kind)
    return list(await session.scalars(query.order_by(col(Filing.begndate), col(Filing.id))))


def in_force(filing: Filing, on: date) -> bool:
    """In force on ``on``: begun, not ended, and not revoked by then (a revocation applies from its day)."""
    if on < filing.begndate or (filing.enddate is not None and on > filing.enddate):
        return False
    return filing.revoked_on is None or on < filing.revoked_on


async def standing(session: AsyncSession, psn_no: str, on: date) -> Standing:
    """What the person's filings in force on ``on`` say: what the engine's filings layer reads."""
    live = [f for f in await of_person(session, psn_no) if in_force(f, on)]
    return Standing(
        on=on,
        chronic_diseases=frozenset(f.opsp_dise_code for f in live if f.kind == CHRONIC and f.opsp_dise_code),
        designated_facilities=frozenset(
            f.designated_fixmedins_code for f in live if f.kind == DESIGNATED and f.designated_fixmedins_code
        ),
        referral_regions=frozenset(
            f.mdtrtarea_admdvs for f in live if f.kind == REFERRAL and f.mdtrtarea_admdvs
        ),
        referral_facilities=frozenset(
            f.reflin_medins_no for f in live if f.kind == REFERRAL and f.reflin_medins_no
        ),
        referral_kinds=frozenset(
            (place, f.dcla_type)
            for f in live
            if f.kind == REFERRAL and f.dcla_type
            for place in (f.mdtrtarea_admdvs, f.reflin_medins_no)
            if place
        ),
        injuries=tuple(
            InjuryFiling(f.trt_dcla_detl_sn, f.thrd_pty_resp_flag == "1", f.wrk_inj_flag == "1")
            for f in live
            if f.kind == INJURY
        ),
    )
