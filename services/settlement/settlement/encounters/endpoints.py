from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from settlement import replay
from settlement.encounters import service
from settlement.encounters.schemas import (
    DiagnosisUpdate,
    Discharge,
    EncounterOpen,
    EncounterOut,
    EncounterSettle,
    FeesCancel,
    FeesCancelled,
    FeesOut,
    FeesUpload,
)
from settlement.idempotency import once
from settlement.settlements import service as settlements
from settlement.settlements.endpoints import peer_route, send_owed
from settlement.settlements.schemas import SettlementOut
from shared.service import RuntimeDep, ServiceRuntime, model_response

Out = TypeVar("Out", bound=BaseModel)

router = APIRouter(prefix="/api/v1/encounters", tags=["encounters"])

#: The envelope's msgid, sent by the gateway with every call: a state-changing call repeated under it (its
#: answer was lost) is answered with its first answer (``replay``).
Msgid = Annotated[str | None, Header(alias="x-msgid", min_length=1, max_length=30)]

#: ``lines=false``: the answer without its lines (``lines`` is []; they are classified and written all the
#: same). 2206/2207 and 2303/2304 answer ``setlinfo`` and ``setldetail`` only, and a stay's lines are most
#: of the answer: encoding them here and decoding them in the gateway was a third of a 2304's CPU.
WithLines = Annotated[bool, Query(alias="lines")]


def _without_lines(settled: SettlementOut, with_lines: bool) -> SettlementOut:
    """A repeat's or a peer's answer, built with its lines, as asked."""
    return settled if with_lines or not settled.lines else settled.model_copy(update={"lines": []})


@router.post("", response_model=EncounterOut)
async def open_encounter(
    body: EncounterOpen, runtime: RuntimeDep, request: Request, msgid: Msgid = None
) -> EncounterOut:
    """2201 门诊挂号 / 2401 入院办理 (a peer platform's insured: admitted as the peer covers them)."""
    peers = peer_route(request)

    async def work(session: AsyncSession) -> EncounterOut:
        return EncounterOut.model_validate(await service.open_encounter(session, body, peers))

    return await _once(runtime, msgid, body.fixmedins_code, "open", None, body, EncounterOut, work)


@router.get("/{mdtrt_id}", response_model=EncounterOut)
async def get_encounter(
    mdtrt_id: str, runtime: RuntimeDep, fixmedins_code: str = Query(max_length=30)
) -> EncounterOut:
    """One encounter (visit or stay) of the asking institution with its fee lines and status.
    Refused: 404 ENCOUNTER_NOT_FOUND; 403 NOT_YOUR_ENCOUNTER."""
    async with runtime.db.session() as session:
        return EncounterOut.model_validate(await service.get_encounter(session, mdtrt_id, fixmedins_code))


@router.post("/{mdtrt_id}/cancellation", response_model=EncounterOut)
async def cancel(
    mdtrt_id: str, runtime: RuntimeDep, fixmedins_code: str = Query(max_length=30), msgid: Msgid = None
) -> EncounterOut:
    """2202 门诊挂号撤销 / 2404 入院撤销."""

    async def work(session: AsyncSession) -> EncounterOut:
        return EncounterOut.model_validate(await service.cancel_encounter(session, mdtrt_id, fixmedins_code))

    return await _once(runtime, msgid, fixmedins_code, "cancel", mdtrt_id, None, EncounterOut, work)


@router.post("/{mdtrt_id}/diagnosis", response_model=EncounterOut)
async def diagnosis(
    mdtrt_id: str, body: DiagnosisUpdate, runtime: RuntimeDep, msgid: Msgid = None
) -> EncounterOut:
    """2203 就诊信息上传 / 2403 住院信息变更 (and the maternity fields of 2402)."""

    async def work(session: AsyncSession) -> EncounterOut:
        return EncounterOut.model_validate(await service.update_diagnosis(session, mdtrt_id, body))

    return await _once(runtime, msgid, body.fixmedins_code, "diagnosis", mdtrt_id, body, EncounterOut, work)


@router.post("/{mdtrt_id}/fees", response_model=FeesOut)
async def upload_fees(
    mdtrt_id: str, body: FeesUpload, runtime: RuntimeDep, request: Request, msgid: Msgid = None
) -> FeesOut:
    """2204 / 2301: store the lines and return their classification."""
    peers = peer_route(request)

    async def work(session: AsyncSession) -> FeesOut:
        return FeesOut(mdtrt_id=mdtrt_id, lines=await service.upload_fees(session, mdtrt_id, body, peers))

    return await _once(runtime, msgid, body.fixmedins_code, "fees", mdtrt_id, body, FeesOut, work)


@router.post("/{mdtrt_id}/fees/cancellation", response_model=FeesCancelled)
async def cancel_fees(
    mdtrt_id: str, body: FeesCancel, runtime: RuntimeDep, msgid: Msgid = None
) -> FeesCancelled:
    """2205 / 2302: withdraw unsettled lines."""

    async def work(session: AsyncSession) -> FeesCancelled:
        return FeesCancelled(cancelled=await service.cancel_fees(session, mdtrt_id, body))

    return await _once(
        runtime, msgid, body.fixmedins_code, "fees_cancel", mdtrt_id, body, FeesCancelled, work
    )


@router.post("/{mdtrt_id}/discharge", response_model=EncounterOut)
async def discharge(mdtrt_id: str, body: Discharge, runtime: RuntimeDep, msgid: Msgid = None) -> EncounterOut:
    """2402 出院办理: discharge an inpatient stay (date, diagnoses, maternity fields); once per
    msgid. Refused: 404 ENCOUNTER_NOT_FOUND; 403 NOT_YOUR_ENCOUNTER; 409 ENCOUNTER_STATE;
    422 NOT_INPATIENT, NO_DISEASE or FUTURE_TIME."""
    """2402 出院办理."""

    async def work(session: AsyncSession) -> EncounterOut:
        return EncounterOut.model_validate(await service.discharge(session, mdtrt_id, body))

    return await _once(runtime, msgid, body.fixmedins_code, "discharge", mdtrt_id, body, EncounterOut, work)


@router.post("/{mdtrt_id}/discharge/cancellation", response_model=EncounterOut)
async def undo_discharge(
    mdtrt_id: str, runtime: RuntimeDep, fixmedins_code: str = Query(max_length=30), msgid: Msgid = None
) -> EncounterOut:
    """2405 出院撤销: undo a discharge not yet settled; once per msgid. Refused: 404
    ENCOUNTER_NOT_FOUND; 403 NOT_YOUR_ENCOUNTER; 409 NOT_DISCHARGED or HAS_SETTLEMENTS."""
    """2405 出院撤销."""

    async def work(session: AsyncSession) -> EncounterOut:
        return EncounterOut.model_validate(await service.undo_discharge(session, mdtrt_id, fixmedins_code))

    return await _once(runtime, msgid, fixmedins_code, "undo_discharge", mdtrt_id, None, EncounterOut, work)


@router.post("/{mdtrt_id}/settlement/preview", response_model=SettlementOut)
async def presettle(
    mdtrt_id: str, body: EncounterSettle, runtime: RuntimeDep, request: Request, with_lines: WithLines = True
) -> SettlementOut:
    """2206 门诊预结算 / 2303 住院预结算: nothing is written."""
    async with runtime.db.session() as session:
        claim = await service.claim_for(session, mdtrt_id, body)
        return _without_lines(await settlements.presettle(session, claim, peer_route(request)), with_lines)


@router.post("/{mdtrt_id}/settlement", response_model=SettlementOut)
async def settle(
    mdtrt_id: str, body: EncounterSettle, runtime: RuntimeDep, request: Request, with_lines: WithLines = True
) -> Response:
    """2207 门诊结算 / 2304 住院结算 (a peer platform's insured: through the peer, pay_loc 4)."""
    peers = peer_route(request)
    settled = await once(
        runtime,
        lambda session: service.settle(session, mdtrt_id, body, peers, with_lines=with_lines),
        fixmedins_code=body.fixmedins_code,
        msgid=body.msgid,
    )
    await send_owed(request, runtime, settled, settled.setl_id)
    return model_response(_without_lines(settled, with_lines))


async def _once(
    runtime: ServiceRuntime,
    msgid: str | None,
    fixmedins_code: str,
    operation: str,
    mdtrt_id: str | None,
    request: BaseModel | None,
    out: type[Out],
    work: Callable[[AsyncSession], Awaitable[Out]],
) -> Out:
    return await replay.once(
        runtime,
        msgid=msgid,
        fixmedins_code=fixmedins_code,
        operation=operation,
        key=mdtrt_id,
        request=request,
        out=out,
        work=work,
    )
