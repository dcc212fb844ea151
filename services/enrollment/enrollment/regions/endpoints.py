from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from enrollment.regions import service
from enrollment.regions.schemas import EnrollmentRate, RegionIn, RegionOut, StandardIn, StandardOut, TargetIn
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/regions", tags=["regions"])
Admdvs = Annotated[str, Path(pattern=r"^\d{6}$")]
Year = Annotated[int, Path(ge=2000, le=2100)]


@router.put("/{admdvs}", response_model=RegionOut)
async def put_region(admdvs: Admdvs, body: RegionIn, runtime: RuntimeDep) -> RegionOut:
    """Create or change a region's enrollment rules."""
    if body.admdvs != admdvs:
        from shared.errors import DomainError

        raise DomainError("路径与请求体中的统筹区编码不一致", code="ADMDVS_MISMATCH", status_code=422)
    async with runtime.transaction() as session:
        return RegionOut.model_validate(await service.upsert_region(session, body))


@router.get("/{admdvs}", response_model=RegionOut)
async def get_region(admdvs: Admdvs, runtime: RuntimeDep) -> RegionOut:
    """One pooling region's enrollment rules (collection period, late payment, newborns).
    Refused: 404 REGION_NOT_FOUND."""
    async with runtime.db.session() as session:
        return RegionOut.model_validate(await service.get_region(session, admdvs))


@router.post("/{admdvs}/standards", status_code=201, response_model=StandardOut)
async def add_standard(admdvs: Admdvs, body: StandardIn, runtime: RuntimeDep) -> StandardOut:
    """Set a contribution standard (personal part and subsidies by level) of a region for a
    year. Refused: 404 REGION_NOT_FOUND; 409 STANDARD_EXISTS."""
    async with runtime.transaction() as session:
        return StandardOut.model_validate(await service.add_standard(session, admdvs, body))


@router.get("/{admdvs}/standards", response_model=list[StandardOut])
async def list_standards(
    admdvs: Admdvs, runtime: RuntimeDep, year: Annotated[int | None, Query(ge=2000, le=2100)] = None
) -> list[StandardOut]:
    """A region's contribution standards, for one year or all. Refused: 404 REGION_NOT_FOUND."""
    async with runtime.db.session() as session:
        return [StandardOut.model_validate(s) for s in await service.list_standards(session, admdvs, year)]


@router.put("/{admdvs}/targets/{year}")
async def set_target(admdvs: Admdvs, year: Year, body: TargetIn, runtime: RuntimeDep) -> dict[str, int | str]:
    """Set how many residents a region should enrol in a year (the denominator of the
    enrollment rate). Refused: 404 REGION_NOT_FOUND."""
    async with runtime.transaction() as session:
        target = await service.set_target(session, admdvs, year, body.population)
        return {"admdvs": target.admdvs, "year": target.year, "population": target.population}


@router.get("/{admdvs}/enrollment-rate", response_model=EnrollmentRate)
async def enrollment_rate(
    admdvs: Admdvs, runtime: RuntimeDep, year: Annotated[int, Query(ge=2000, le=2100)]
) -> EnrollmentRate:
    """A region's enrollment rate for a year: active enrollments against the target
    population. Refused: 404 REGION_NOT_FOUND or TARGET_NOT_FOUND."""
    async with runtime.db.session() as session:
        return await service.enrollment_rate(session, admdvs, year)
