"""Filings over REST: the gateway's 2503/2504/5301 calls, and the same for a clerk taking a phone filing
(docs/interface.md, "Filings")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from sqlalchemy.ext.asyncio import AsyncSession

from settlement import replay
from settlement.filings import service
from settlement.filings.schemas import (
    ChronicFilingCreate,
    DesignatedFilingCreate,
    FilingList,
    FilingOut,
    FilingRevoke,
)
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/filings", tags=["filings"])

Msgid = Annotated[str | None, Header(alias="x-msgid", min_length=1, max_length=30)]


@router.post("/chronic", response_model=FilingOut, status_code=201)
async def file_chronic(body: ChronicFilingCreate, runtime: RuntimeDep, msgid: Msgid = None) -> FilingOut:
    """2503 门慢门特备案: register a person's chronic or special disease for a period; once per
    msgid. Refused: 422 FILING_DISEASE or FILING_DATES."""

    async def work(session: AsyncSession) -> FilingOut:
        return FilingOut.of(await service.file_chronic(session, body))

    return await replay.once(
        runtime,
        msgid=msgid,
        fixmedins_code=body.fixmedins_code,
        operation="filing_chronic",
        digest=replay.request_digest("filing_chronic", None, body),
        out=FilingOut,
        work=work,
    )


@router.post("/designated", response_model=FilingOut, status_code=201)
async def file_designated(
    body: DesignatedFilingCreate, runtime: RuntimeDep, msgid: Msgid = None
) -> FilingOut:
    """2505 定点备案: register the facility a person is designated to for a period; once per
    msgid. Refused: 422 FILING_FACILITY, FILING_DATES or FILING_NOT_CHRONIC."""

    async def work(session: AsyncSession) -> FilingOut:
        return FilingOut.of(await service.file_designated(session, body))

    return await replay.once(
        runtime,
        msgid=msgid,
        fixmedins_code=body.fixmedins_code,
        operation="filing_designated",
        digest=replay.request_digest("filing_designated", None, body),
        out=FilingOut,
        work=work,
    )


@router.post("/{trt_dcla_detl_sn}/revocation", response_model=FilingOut)
async def revoke(
    trt_dcla_detl_sn: str, body: FilingRevoke, runtime: RuntimeDep, msgid: Msgid = None
) -> FilingOut:
    """2504 / 2506: revoke a filing; once per msgid. Refused: 404 FILING_NOT_FOUND; 409
    FILING_REVOKED; 422 FILING_PSN_MISMATCH."""

    async def work(session: AsyncSession) -> FilingOut:
        return FilingOut.of(await service.revoke(session, trt_dcla_detl_sn, body))

    return await replay.once(
        runtime,
        msgid=msgid,
        fixmedins_code=body.fixmedins_code,
        operation="filing_revoke",
        digest=replay.request_digest("filing_revoke", trt_dcla_detl_sn, body),
        out=FilingOut,
        work=work,
    )


@router.get("/persons/{psn_no}", response_model=FilingList)
async def of_person(psn_no: str, runtime: RuntimeDep, kind: str | None = None) -> FilingList:
    """5301: every filing of a person (revoked ones too), optionally of one kind (chronic,
    designated)."""
    async with runtime.db.session() as session:
        return FilingList(filings=[FilingOut.of(f) for f in await service.of_person(session, psn_no, kind)])
