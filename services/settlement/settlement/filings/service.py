"""Filings (备案) stored and read (docs/domain.md, "Filings"): a 门慢门特 registration names the disease from
the policy's chronic list and the dates it is valid; a revocation ends it from its day on; a person's filings
are listed, and the one in force on a day is what the engine reads."""

from __future__ import annotations

import secrets
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement.filings.models import Filing
from settlement.filings.schemas import ChronicFilingCreate, DesignatedFilingCreate, FilingRevoke
from settlement.institutions.models import Institution
from settlement.policy import service as policies
from shared.clock import now_china
from shared.errors import Conflict, DomainError, NotFound

CHRONIC = "chronic"
DESIGNATED = "designated"


def new_sn(admdvs: str, on: date) -> str:
    """A 待遇申报明细流水号: "B" + admdvs(6) + yyyymmdd(8) + 15 random digits = 30 characters."""
    return f"B{admdvs}{on:%Y%m%d}{secrets.randbelow(10**15):015d}"


async def file_chronic(session: AsyncSession, data: ChronicFilingCreate) -> Filing:
    if data.enddate is not None and data.enddate < data.begndate:
        raise DomainError(
            f"结束日期 {data.enddate} 早于开始日期 {data.begndate}", code="FILING_DATES", status_code=422
        )
    _, document = await policies.in_force_with_document(
        session, data.insuplc_admdvs, data.insutype, data.begndate
    )
    diseases = document.chronic.diseases if document.chronic is not None else []
    if data.opsp_dise_code not in diseases:
        raise DomainError(
            f"病种 {data.opsp_dise_code} 不是参保地政策的门慢门特病种", code="FILING_DISEASE", status_code=422
        )
    filing = Filing(
        trt_dcla_detl_sn=new_sn(data.insuplc_admdvs, now_china().date()),
        kind=CHRONIC,
        psn_no=data.psn_no,
        insutype=data.insutype,
        insuplc_admdvs=data.insuplc_admdvs,
        fixmedins_code=data.fixmedins_code,
        opsp_dise_code=data.opsp_dise_code,
        opsp_dise_name=data.opsp_dise_name,
        begndate=data.begndate,
        enddate=data.enddate,
        memo=data.memo,
    )
    session.add(filing)
    # 15 random digits per day and region: a collision is a unique-key error, not a wrong answer.
    await session.flush()
    return filing


async def file_designated(session: AsyncSession, data: DesignatedFilingCreate) -> Filing:
    """The facility must be a designated institution under agreement, and the person a registered chronic
    patient (a chronic filing of theirs in force on ``begndate``)."""
    if data.enddate is not None and data.enddate < data.begndate:
        raise DomainError(
            f"结束日期 {data.enddate} 早于开始日期 {data.begndate}", code="FILING_DATES", status_code=422
        )
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
    filing = Filing(
        trt_dcla_detl_sn=new_sn(data.insuplc_admdvs, now_china().date()),
        kind=DESIGNATED,
        psn_no=data.psn_no,
        insutype=data.insutype,
        insuplc_admdvs=data.insuplc_admdvs,
        fixmedins_code=data.fixmedins_code,
        designated_fixmedins_code=institution.fixmedins_code,
        designated_fixmedins_name=institution.fixmedins_name,
        fix_srt_no=data.fix_srt_no,
        biz_appy_type=data.biz_appy_type,
        begndate=data.begndate,
        enddate=data.enddate,
        memo=data.memo,
    )
    session.add(filing)
    await session.flush()
    return filing


async def revoke(session: AsyncSession, sn: str, data: FilingRevoke) -> Filing:
    """Ends the filing from ``revoked_on`` (today if not given). Only the person's own, still active filing
    can be revoked; another person's is refused as if it did not exist beside the caller's person."""
    filing = await session.scalar(select(Filing).where(Filing.trt_dcla_detl_sn == sn).with_for_update())
    if filing is None or (data.kind is not None and filing.kind != data.kind):
        raise NotFound(f"备案 {sn} 不存在", code="FILING_NOT_FOUND")
    if filing.psn_no != data.psn_no:
        raise DomainError(f"备案 {sn} 不属于人员 {data.psn_no}", code="FILING_PSN_MISMATCH", status_code=422)
    if filing.status != "active":
        raise Conflict(f"备案 {sn} 已撤销", code="FILING_REVOKED")
    on = data.revoked_on or now_china().date()
    if on < filing.begndate:
        on = filing.begndate
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
