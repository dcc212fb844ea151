from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from enrollment.deps import TodayDep
from enrollment.persons import service
from enrollment.persons.schemas import IdentityCreate, PersonCreate
from shared.contracts.v1.enrollment import IdentityOut, PersonOut
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["persons"])


@router.post("/persons", status_code=201, response_model=PersonOut)
async def create_person(body: PersonCreate, runtime: RuntimeDep, today: TodayDep) -> PersonOut:
    """Register a person (ID number checked by its GB 11643 check digit; the psn_no is issued
    here). Refused: 409 PERSON_EXISTS; 422 INVALID_ID_NUMBER."""
    async with runtime.transaction() as session:
        return PersonOut.model_validate(await service.create_person(session, body, today=today))


@router.get("/persons/{psn_no}", response_model=PersonOut)
async def get_person(psn_no: str, runtime: RuntimeDep) -> PersonOut:
    """One person's registration (name, ID number, region, identities). Refused: 404
    PERSON_NOT_FOUND."""
    async with runtime.db.session() as session:
        return PersonOut.model_validate(await service.get_person(session, psn_no))


@router.post("/persons/{psn_no}/identities", status_code=201, response_model=IdentityOut)
async def add_identity(psn_no: str, body: IdentityCreate, runtime: RuntimeDep) -> IdentityOut:
    """Add an identity category (低保, 特困, 残疾...) for a period: it decides subsidies and
    benefits. Refused: 404 PERSON_NOT_FOUND; 409 IDENTITY_OVERLAP; 422 INVALID_PERIOD."""
    async with runtime.transaction() as session:
        return IdentityOut.model_validate(await service.add_identity(session, psn_no, body))


@router.post("/persons/{psn_no}/identities/{psn_idet_type}/end", response_model=IdentityOut)
async def end_identity(psn_no: str, psn_idet_type: str, end_date: date, runtime: RuntimeDep) -> IdentityOut:
    """End an identity category on a date. Refused: 404 IDENTITY_NOT_FOUND; 422 INVALID_PERIOD."""
    async with runtime.transaction() as session:
        return IdentityOut.model_validate(
            await service.end_identity(session, psn_no, psn_idet_type, end_date)
        )
