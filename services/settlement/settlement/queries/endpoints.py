"""Read-back queries for the gateway's 5201-5206 (docs/interface.md, "Queries"). ``fixmedins_code`` is the
institution asking: visits and fee lines are its own only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from settlement.queries import service
from shared.contracts.v1.queries import AccumulationList, DiagnosisList, FeeDetailList, VisitList
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/queries", tags=["queries"])

Code = Annotated[str, Query(min_length=1, max_length=30)]
OptionalCode = Annotated[str | None, Query(max_length=30)]


@router.get("/visits", response_model=VisitList)
async def visits(
    runtime: RuntimeDep,
    psn_no: Code,
    fixmedins_code: Code,
    begntime: datetime | None = None,
    endtime: datetime | None = None,
    med_type: Annotated[str | None, Query(max_length=6)] = None,
    mdtrt_id: OptionalCode = None,
) -> VisitList:
    """5201: the institution's visits of the person begun between ``begntime`` and ``endtime``."""
    f = service.VisitFilter(psn_no, fixmedins_code, begntime, endtime, med_type or None, mdtrt_id or None)
    async with runtime.db.session() as session:
        return VisitList(visits=await service.visits(session, f))


@router.get("/diagnoses", response_model=DiagnosisList)
async def diagnoses(runtime: RuntimeDep, psn_no: Code, fixmedins_code: Code, mdtrt_id: Code) -> DiagnosisList:
    """5202: every diagnosis of one of the institution's visits of the person. Refused: 404
    ENCOUNTER_NOT_FOUND (not a visit of this institution and person)."""
    async with runtime.db.session() as session:
        return DiagnosisList(diagnoses=await service.diagnoses(session, psn_no, fixmedins_code, mdtrt_id))


@router.get("/fee-details", response_model=FeeDetailList)
async def fee_details(
    runtime: RuntimeDep, psn_no: Code, fixmedins_code: Code, mdtrt_id: Code, setl_id: OptionalCode = None
) -> FeeDetailList:
    """5204: the settled lines of one of the institution's visits."""
    async with runtime.db.session() as session:
        lines = await service.fee_details(session, psn_no, fixmedins_code, mdtrt_id, setl_id or None)
    return FeeDetailList(lines=lines)


@router.get("/chronic-drugs", response_model=FeeDetailList)
async def chronic_drugs(
    runtime: RuntimeDep, psn_no: Code, begntime: datetime, endtime: datetime | None = None
) -> FeeDetailList:
    """5205: the person's chronic-disease drug records at any institution."""
    async with runtime.db.session() as session:
        return FeeDetailList(lines=await service.chronic_drugs(session, psn_no, begntime, endtime))


@router.get("/accumulations", response_model=AccumulationList)
async def accumulations(
    runtime: RuntimeDep, psn_no: Code, year: Annotated[int, Query(ge=2000, le=2100)]
) -> AccumulationList:
    """5206: the person's year-to-date totals."""
    async with runtime.db.session() as session:
        return AccumulationList(accumulations=await service.accumulations(session, psn_no, year))
