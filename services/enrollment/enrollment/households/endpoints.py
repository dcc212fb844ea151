from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from enrollment.deps import TodayDep
from enrollment.households import service
from enrollment.households.schemas import (
    BatchResult,
    ClassRegistration,
    HouseholdOut,
    HouseholdRegistration,
    SchoolIn,
    SchoolOut,
)
from enrollment.households.service import Batch
from shared.contracts.v1.enrollment import EnrollmentOut, PersonOut
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["households and schools"])


def _result(batch: Batch) -> BatchResult:
    return BatchResult(
        persons=[PersonOut.model_validate(p) for p in batch.persons],
        enrollments=[EnrollmentOut.model_validate(e) for e in batch.enrollments],
    )


@router.post("/households", status_code=201, response_model=BatchResult)
async def register_household(
    body: HouseholdRegistration, runtime: RuntimeDep, today: TodayDep
) -> BatchResult:
    """Register a household and its members (and optionally enrol and pay for all of them): all or nothing."""
    async with runtime.transaction() as session:
        return _result(await service.register_household(session, body, today))


@router.get("/residences", response_model=list[dict[str, str]])
async def residences(
    runtime: RuntimeDep, admdvs: Annotated[str, Query(pattern=r"^\d{6}$")]
) -> list[dict[str, str]]:
    """Each household member of the region with the household's address (village or community), for the
    publicity list of compensations (settlement's reporting)."""
    async with runtime.db.session() as session:
        return [
            {"psn_no": p, "household_no": h, "address": a}
            for p, h, a in await service.residences(session, admdvs)
        ]


@router.get("/households/{household_no}", response_model=HouseholdOut)
async def household_status(
    household_no: str, runtime: RuntimeDep, year: Annotated[int | None, Query(ge=2000, le=2100)] = None
) -> HouseholdOut:
    """A household's members and their enrollment status for a year (default: the current
    one). Refused: 404 HOUSEHOLD_NOT_FOUND."""
    async with runtime.db.session() as session:
        return await service.household_status(session, household_no, year)


@router.post("/schools", status_code=201, response_model=SchoolOut)
async def add_school(body: SchoolIn, runtime: RuntimeDep) -> SchoolOut:
    """Register a school whose classes enrol their students together. Refused: 409 SCHOOL_EXISTS."""
    async with runtime.transaction() as session:
        return SchoolOut.model_validate(await service.add_school(session, body))


@router.post("/schools/{school_code}/classes", status_code=201, response_model=BatchResult)
async def register_class(
    school_code: str, body: ClassRegistration, runtime: RuntimeDep, today: TodayDep
) -> BatchResult:
    """Register and enrol a school class for a year: all or nothing."""
    async with runtime.transaction() as session:
        return _result(await service.register_class(session, school_code, body, today))
