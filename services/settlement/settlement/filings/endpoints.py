"""Filings over REST: the gateway's 2501-2507 / 5301 / 5302 / 2001 calls, and the same for a clerk taking a
phone filing (docs/interface.md, "Filings"). Every filing and revocation is answered once per msgid."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, TypeVar

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from settlement import replay
from settlement.filings import entitlement, service
from settlement.filings.models import Filing
from settlement.filings.schemas import (
    ChronicFilingCreate,
    DesignatedFilingCreate,
    Entitlement,
    FilingList,
    FilingOut,
    FilingRevoke,
    InjuryFilingCreate,
    ReferralFilingCreate,
)
from shared.service import RuntimeDep, ServiceRuntime

router = APIRouter(prefix="/api/v1/filings", tags=["filings"])

Msgid = Annotated[str | None, Header(alias="x-msgid", min_length=1, max_length=30)]
Body = TypeVar("Body", ChronicFilingCreate, DesignatedFilingCreate, ReferralFilingCreate, InjuryFilingCreate)


async def _once(
    runtime: ServiceRuntime,
    msgid: str | None,
    operation: str,
    key: str | None,
    body: BaseModel,
    fixmedins_code: str,
    work: Callable[[AsyncSession], Awaitable[Filing]],
) -> FilingOut:
    async def answer(session: AsyncSession) -> FilingOut:
        return FilingOut.of(await work(session))

    return await replay.once(
        runtime,
        msgid=msgid,
        fixmedins_code=fixmedins_code,
        operation=operation,
        key=key,
        request=body,
        out=FilingOut,
        work=answer,
    )


@router.post("/chronic", response_model=FilingOut, status_code=201)
async def file_chronic(body: ChronicFilingCreate, runtime: RuntimeDep, msgid: Msgid = None) -> FilingOut:
    """2503 门慢门特备案: register a person's chronic or special disease for a period; once per msgid.
    Refused: 422 FILING_DISEASE or FILING_DATES."""
    return await _once(
        runtime, msgid, "filing_chronic", None, body, body.fixmedins_code,
        lambda session: service.file_chronic(session, body),
    )  # fmt: skip


@router.post("/designated", response_model=FilingOut, status_code=201)
async def file_designated(
    body: DesignatedFilingCreate, runtime: RuntimeDep, msgid: Msgid = None
) -> FilingOut:
    """2505 人员定点备案: register the facility a chronic patient is designated to for a period; once per
    msgid. Refused: 422 FILING_FACILITY, FILING_DATES or FILING_NOT_CHRONIC."""
    return await _once(
        runtime, msgid, "filing_designated", None, body, body.fixmedins_code,
        lambda session: service.file_designated(session, body),
    )  # fmt: skip


@router.post("/referral", response_model=FilingOut, status_code=201)
async def file_referral(body: ReferralFilingCreate, runtime: RuntimeDep, msgid: Msgid = None) -> FilingOut:
    """2501 / 2501A 转院备案: file referred or out-of-area care for a region (and institution) from a day;
    once per msgid. Refused: 422 FILING_DATES."""
    return await _once(
        runtime, msgid, "filing_referral", None, body, body.fixmedins_code,
        lambda session: service.file_referral(session, body),
    )  # fmt: skip


@router.post("/injury", response_model=FilingOut, status_code=201)
async def file_injury(body: InjuryFilingCreate, runtime: RuntimeDep, msgid: Msgid = None) -> FilingOut:
    """2507 意外伤害备案: file an injury with the declaration of third-party liability or work injury; once
    per msgid. Refused: 422 FILING_DATES."""
    return await _once(
        runtime, msgid, "filing_injury", None, body, body.fixmedins_code,
        lambda session: service.file_injury(session, body),
    )  # fmt: skip


@router.post("/{trt_dcla_detl_sn}/revocation", response_model=FilingOut)
async def revoke(
    trt_dcla_detl_sn: str, body: FilingRevoke, runtime: RuntimeDep, msgid: Msgid = None
) -> FilingOut:
    """2502 / 2504 / 2506: revoke a filing from a day; once per msgid. Refused: 404 FILING_NOT_FOUND;
    409 FILING_REVOKED; 422 FILING_PSN_MISMATCH or FILING_BACKDATED."""
    return await _once(
        runtime, msgid, "filing_revoke", trt_dcla_detl_sn, body, body.fixmedins_code,
        lambda session: service.revoke(session, trt_dcla_detl_sn, body),
    )  # fmt: skip


@router.get("/persons/{psn_no}", response_model=FilingList)
async def of_person(psn_no: str, runtime: RuntimeDep, kind: str | None = None) -> FilingList:
    """5301 / 5302: every filing of the person (of one kind if given), revoked ones too."""
    async with runtime.db.session() as session:
        return FilingList(filings=[FilingOut.of(f) for f in await service.of_person(session, psn_no, kind)])


@router.get("/persons/{psn_no}/entitlement", response_model=Entitlement)
async def entitled(
    psn_no: str,
    runtime: RuntimeDep,
    insutype: Annotated[str, Query(min_length=1, max_length=6)],
    med_type: Annotated[str, Query(min_length=1, max_length=6)],
    fixmedins_code: Annotated[str, Query(min_length=1, max_length=30)],
    on: date | None = None,
    dise_codg: Annotated[str | None, Query(max_length=30)] = None,
) -> Entitlement:
    """2001: what the person may draw on ``on`` (today, Beijing time, if not given) for this care."""
    async with runtime.db.session() as session:
        return await entitlement.check(
            session, psn_no, insutype, med_type, fixmedins_code, on or service.today(), dise_codg
        )
