"""Scheme switch-over per pooling region (双轨运行 until ``unified_from``, then 390)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from settlement.schemes import service
from settlement.schemes.schemas import SwitchoverIn, SwitchoverOut
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/scheme-switchovers", tags=["schemes"])


@router.post("", status_code=201, response_model=SwitchoverOut)
async def record_switchover(body: SwitchoverIn, runtime: RuntimeDep, response: Response) -> SwitchoverOut:
    """Record when a region leaves the legacy schemes. The same request again answers 200."""
    async with runtime.transaction() as session:
        switchover, created = await service.record(
            session, body.admdvs, body.unified_from, body.approved_by, body.document_ref
        )
        out = SwitchoverOut.model_validate(switchover)
    if not created:
        response.status_code = 200
    return out


@router.get("", response_model=list[SwitchoverOut])
async def list_switchovers(runtime: RuntimeDep) -> list[SwitchoverOut]:
    """The dates each region left its legacy schemes (新农合 / 城镇居民) for the unified scheme."""
    async with runtime.db.session() as session:
        return [SwitchoverOut.model_validate(s) for s in await service.list_all(session)]
