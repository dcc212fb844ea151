from __future__ import annotations

from fastapi import APIRouter

from settlement.institutions import service
from settlement.institutions.schemas import InstitutionCreate, InstitutionOut
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/institutions", tags=["institutions"])


@router.post("", status_code=201, response_model=InstitutionOut)
async def create_institution(body: InstitutionCreate, runtime: RuntimeDep) -> InstitutionOut:
    async with runtime.transaction() as session:
        return InstitutionOut.model_validate(await service.create(session, body))


@router.get("", response_model=list[InstitutionOut])
async def list_institutions(runtime: RuntimeDep) -> list[InstitutionOut]:
    async with runtime.db.session() as session:
        return [InstitutionOut.model_validate(i) for i in await service.list_all(session)]


@router.get("/{code}", response_model=InstitutionOut)
async def get_institution(code: str, runtime: RuntimeDep) -> InstitutionOut:
    async with runtime.db.session() as session:
        return InstitutionOut.model_validate(await service.get(session, code))
