from __future__ import annotations

from fastapi import APIRouter, Query, Response

from settlement.idempotency import once
from settlement.settlements import group, service
from settlement.settlements.schemas import (
    PharmacySettlementRequest,
    ReversalRequest,
    SettlementOut,
    VoidOut,
    VoidRequest,
)
from shared.errors import DomainError
from shared.service import RuntimeDep, model_response

router = APIRouter(prefix="/api/v1", tags=["settlements"])


@router.post("/pharmacy-settlements", response_model=SettlementOut)
async def settle_pharmacy(body: PharmacySettlementRequest, runtime: RuntimeDep) -> Response:
    """Settle a pharmacy purchase (2102). Repeating the same msgid with the same body returns the first
    settlement; with a different body it is refused."""
    claim = service.pharmacy_claim(body)
    grouped = group.for_runtime(runtime)
    if grouped is not None:  # with other persons' settlements in one transaction (PostgreSQL, when set)
        settled = await grouped.settle(claim, fixmedins_code=body.fixmedins_code, msgid=body.msgid)
        return model_response(settled)
    settled = await once(
        runtime,
        lambda session: service.settle(session, claim),
        fixmedins_code=body.fixmedins_code,
        msgid=body.msgid,
    )
    return model_response(settled)


@router.post("/pharmacy-settlements/preview", response_model=SettlementOut)
async def presettle_pharmacy(body: PharmacySettlementRequest, runtime: RuntimeDep) -> SettlementOut:
    """Pre-settle a pharmacy purchase (2101): the same calculation, nothing written."""
    async with runtime.db.session() as session:
        return await service.presettle(session, service.pharmacy_claim(body))


@router.get("/settlements/{setl_id}", response_model=SettlementOut)
async def get_settlement(
    setl_id: str,
    runtime: RuntimeDep,
    fixmedins_code: str | None = Query(default=None, max_length=30),
) -> SettlementOut:
    """``fixmedins_code``: asked on behalf of this institution (the gateway always says), which may see
    its own settlements only."""
    async with runtime.db.session() as session:
        found = await service.load(session, setl_id)
    if fixmedins_code is not None and found.fixmedins_code != fixmedins_code:
        raise DomainError("只能查询本机构的结算", code="NOT_YOUR_SETTLEMENT", status_code=403)
    return found


@router.post("/settlements/{setl_id}/reversal", response_model=SettlementOut)
async def reverse(setl_id: str, body: ReversalRequest, runtime: RuntimeDep) -> SettlementOut:
    """Undo a settlement (2103/2208/2305) with its own record of negated amounts."""
    return await once(
        runtime,
        lambda session: service.reverse(session, setl_id, body.fixmedins_code, body.msgid, body.psn_no),
        "reverse",
        fixmedins_code=body.fixmedins_code,
        msgid=body.msgid,
    )


@router.post("/voids", response_model=VoidOut)
async def void(body: VoidRequest, runtime: RuntimeDep) -> VoidOut:
    """2601 冲正: reverse what the unanswered message settled, or make sure it never settles."""
    reversal = await once(
        runtime,
        lambda session: service.void_message(
            session, body.omsgid, body.fixmedins_code, body.msgid, body.psn_no
        ),
        "void",
        fixmedins_code=body.fixmedins_code,
        msgid=body.msgid,
    )
    return VoidOut(outcome="voided" if reversal is None else "reversed", reversal=reversal)
