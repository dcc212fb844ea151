from __future__ import annotations

from fastapi import APIRouter, Query, Response

from settlement.encounters import service
from settlement.encounters.schemas import (
    DiagnosisUpdate,
    Discharge,
    EncounterOpen,
    EncounterOut,
    EncounterSettle,
    FeesCancel,
    FeesOut,
    FeesUpload,
)
from settlement.idempotency import once
from settlement.settlements import service as settlements
from settlement.settlements.schemas import SettlementOut
from shared.service import RuntimeDep, model_response

router = APIRouter(prefix="/api/v1/encounters", tags=["encounters"])


@router.post("", response_model=EncounterOut)
async def open_encounter(body: EncounterOpen, runtime: RuntimeDep) -> EncounterOut:
    """2201 门诊挂号 / 2401 入院办理."""
    async with runtime.transaction() as session:
        return EncounterOut.model_validate(await service.open_encounter(session, body))


@router.get("/{mdtrt_id}", response_model=EncounterOut)
async def get_encounter(
    mdtrt_id: str, runtime: RuntimeDep, fixmedins_code: str = Query(max_length=30)
) -> EncounterOut:
    async with runtime.db.session() as session:
        return EncounterOut.model_validate(await service.get_encounter(session, mdtrt_id, fixmedins_code))


@router.post("/{mdtrt_id}/cancellation", response_model=EncounterOut)
async def cancel(
    mdtrt_id: str, runtime: RuntimeDep, fixmedins_code: str = Query(max_length=30)
) -> EncounterOut:
    """2202 门诊挂号撤销 / 2404 入院撤销."""
    async with runtime.transaction() as session:
        return EncounterOut.model_validate(await service.cancel_encounter(session, mdtrt_id, fixmedins_code))


@router.post("/{mdtrt_id}/diagnosis", response_model=EncounterOut)
async def diagnosis(mdtrt_id: str, body: DiagnosisUpdate, runtime: RuntimeDep) -> EncounterOut:
    """2203 就诊信息上传 / 2403 住院信息变更."""
    async with runtime.transaction() as session:
        return EncounterOut.model_validate(await service.update_diagnosis(session, mdtrt_id, body))


@router.post("/{mdtrt_id}/fees", response_model=FeesOut)
async def upload_fees(mdtrt_id: str, body: FeesUpload, runtime: RuntimeDep) -> FeesOut:
    """2204 / 2301: store the lines and return their classification."""
    async with runtime.transaction() as session:
        return FeesOut(mdtrt_id=mdtrt_id, lines=await service.upload_fees(session, mdtrt_id, body))


@router.post("/{mdtrt_id}/fees/cancellation")
async def cancel_fees(mdtrt_id: str, body: FeesCancel, runtime: RuntimeDep) -> dict[str, int]:
    """2205 / 2302: withdraw unsettled lines."""
    async with runtime.transaction() as session:
        return {"cancelled": await service.cancel_fees(session, mdtrt_id, body)}


@router.post("/{mdtrt_id}/discharge", response_model=EncounterOut)
async def discharge(mdtrt_id: str, body: Discharge, runtime: RuntimeDep) -> EncounterOut:
    """2402 出院办理."""
    async with runtime.transaction() as session:
        return EncounterOut.model_validate(await service.discharge(session, mdtrt_id, body))


@router.post("/{mdtrt_id}/discharge/cancellation", response_model=EncounterOut)
async def undo_discharge(
    mdtrt_id: str, runtime: RuntimeDep, fixmedins_code: str = Query(max_length=30)
) -> EncounterOut:
    """2405 出院撤销."""
    async with runtime.transaction() as session:
        return EncounterOut.model_validate(await service.undo_discharge(session, mdtrt_id, fixmedins_code))


@router.post("/{mdtrt_id}/settlement/preview", response_model=SettlementOut)
async def presettle(mdtrt_id: str, body: EncounterSettle, runtime: RuntimeDep) -> SettlementOut:
    """2206 门诊预结算 / 2303 住院预结算: nothing is written."""
    async with runtime.db.session() as session:
        return await settlements.presettle(session, await service.claim_for(session, mdtrt_id, body))


@router.post("/{mdtrt_id}/settlement", response_model=SettlementOut)
async def settle(mdtrt_id: str, body: EncounterSettle, runtime: RuntimeDep) -> Response:
    """2207 门诊结算 / 2304 住院结算."""
    return model_response(await once(runtime, lambda session: service.settle(session, mdtrt_id, body)))
