from __future__ import annotations

from fastapi import APIRouter

from settlement.catalogue import service
from settlement.catalogue.schemas import CatalogueItemCreate, CatalogueItemOut
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/catalogue/items", tags=["catalogue"])


@router.post("", status_code=201, response_model=CatalogueItemOut)
async def create_item(body: CatalogueItemCreate, runtime: RuntimeDep) -> CatalogueItemOut:
    async with runtime.transaction() as session:
        return CatalogueItemOut.model_validate(await service.create(session, body))


@router.get("/{code}", response_model=CatalogueItemOut)
async def get_item(code: str, runtime: RuntimeDep) -> CatalogueItemOut:
    async with runtime.db.session() as session:
        return CatalogueItemOut.model_validate(await service.get(session, code))
