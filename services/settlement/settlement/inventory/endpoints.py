"""Inventory movements for the gateway's 3501-3507 (docs/interface.md, "Inventory"), each once per msgid."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from sqlalchemy.ext.asyncio import AsyncSession

from settlement import replay
from settlement.inventory import service
from shared.contracts.v1.inventory import BatchOut, DeletionIn, DeletionOut, MovementIn, MovementOut
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/inventory", tags=["inventory"])

Msgid = Annotated[str | None, Header(alias="x-msgid", min_length=1, max_length=30)]


@router.post("/movements", response_model=MovementOut)
async def record(body: MovementIn, runtime: RuntimeDep, msgid: Msgid = None) -> MovementOut:
    """3501-3506 inventory movements of a drug batch (stock-take, change, purchase and its return, sale
    and its return); once per msgid. Refused: 404 INV_BATCH_NOT_FOUND; 422 INV_CHANGE_TYPE,
    INV_STOCK_SHORT, INV_TRACE_CODE or INV_BATCH_DRUG."""

    async def work(session: AsyncSession) -> MovementOut:
        return await service.record(session, body)

    return await replay.once(
        runtime,
        msgid=msgid,
        fixmedins_code=body.fixmedins_code,
        operation="inventory",
        key=body.fixmedins_bchno,
        request=body,
        out=MovementOut,
        work=work,
    )


@router.post("/deletions", response_model=DeletionOut)
async def delete(body: DeletionIn, runtime: RuntimeDep, msgid: Msgid = None) -> DeletionOut:
    """3507 商品信息删除: delete inventory movements recorded earlier; once per msgid.
    Refused: 404 INV_BATCH_NOT_FOUND; 422 TRACE_CODE_NOT_HELD."""

    async def work(session: AsyncSession) -> DeletionOut:
        return await service.delete(session, body)

    return await replay.once(
        runtime,
        msgid=msgid,
        fixmedins_code=body.fixmedins_code,
        operation="inventory_delete",
        key=body.fixmedins_bchno,
        request=body,
        out=DeletionOut,
        work=work,
    )


@router.get("/batches/{fixmedins_bchno}", response_model=BatchOut)
async def batch(
    fixmedins_bchno: str,
    runtime: RuntimeDep,
    fixmedins_code: Annotated[str, Query(min_length=1, max_length=30)],
) -> BatchOut:
    """One drug batch of an institution with its stock and the trace codes it holds. Refused: 404
    INV_BATCH_NOT_FOUND."""
    async with runtime.db.session() as session:
        return await service.get_batch(session, fixmedins_code, fixmedins_bchno)
