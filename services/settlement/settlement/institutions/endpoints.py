from __future__ import annotations

from fastapi import APIRouter

from settlement.institutions import service
from settlement.institutions.schemas import InstitutionCreate, InstitutionOut
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/institutions", tags=["institutions"])


@router.post("", status_code=201, response_model=InstitutionOut)
async def create_institution(body: InstitutionCreate, runtime: RuntimeDep) -> InstitutionOut:
    """Register a designated institution (hospital or pharmacy) with its level and region.
    Refused: 409 INSTITUTION_EXISTS."""
    async with runtime.transaction() as session:
        return InstitutionOut.model_validate(await service.create(session, body))


@router.get("", response_model=list[InstitutionOut])
async def list_institutions(runtime: RuntimeDep) -> list[InstitutionOut]:
    """Every designated institution with its level, region and status."""
    async with runtime.db.session() as session:
        return [InstitutionOut.model_validate(i) for i in await service.list_all(session)]


@router.get("/{code}", response_model=InstitutionOut)
async def get_institution(code: str, runtime: RuntimeDep) -> InstitutionOut:
    """One designated institution. Refused: 404 INSTITUTION_NOT_FOUND."""
    async with runtime.db.session() as session:
        return InstitutionOut.model_validate(await service.get(session, code))
