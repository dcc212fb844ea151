"""Sweeps (收入户 -> 财政专户) and clearing batches (财政专户 -> 支出户 -> 定点机构)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from fund_ledger.clearing import service
from fund_ledger.clearing.models import ClearingBatch
from fund_ledger.clearing.schemas import (
    ClearingBatchIn,
    ClearingBatchOut,
    SubsidyReceiptIn,
    SubsidyReceiptOut,
    SweepIn,
    SweepOut,
)
from fund_ledger.config import LedgerSettings
from shared.clock import now_china
from shared.errors import NotFound
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["clearing"])


def _batch_out(batch: ClearingBatch, *, replayed: bool) -> ClearingBatchOut:
    # The stored ratio reads back at the column's scale (0.050000): answer the same figure either way.
    ratio = batch.deposit_ratio.normalize()
    return ClearingBatchOut.model_validate(
        {**batch.model_dump(), "deposit_ratio": ratio, "replayed": replayed}
    )


@router.post("/sweeps", response_model=SweepOut, status_code=201)
async def sweep(body: SweepIn, runtime: RuntimeDep, response: Response) -> SweepOut:
    """Move the income account's balance as of ``as_of`` to the special account. Running the same
    (admdvs, insutype, as_of) again answers 200 with the first result and posts nothing."""
    async with runtime.db.transaction() as session:
        result = await service.run_sweep(
            session, admdvs=body.admdvs, insutype=body.insutype, as_of=body.as_of, today=now_china().date()
        )
    if result.replayed:
        response.status_code = 200
    return SweepOut(
        sweep_id=result.sweep_id,
        admdvs=result.admdvs,
        insutype=result.insutype,
        as_of=result.as_of,
        amount_fen=result.amount_fen,
        entry_id=result.entry_id,
        replayed=result.replayed,
    )


@router.post("/clearing-batches", response_model=ClearingBatchOut, status_code=201)
async def create_clearing_batch(
    body: ClearingBatchIn, runtime: RuntimeDep, response: Response
) -> ClearingBatchOut:
    """Pay an institution what the fund owes it for a period, less the quality deposit, as far as the
    special account allows; the rest is carried forward. The same batch_id again answers 200 with the
    stored batch and posts nothing."""
    settings = runtime.settings
    assert isinstance(settings, LedgerSettings)
    request = service.ClearingRequest(
        batch_id=body.batch_id,
        admdvs=body.admdvs,
        insutype=body.insutype,
        fund_pay_type=body.fund_pay_type,
        fixmedins_code=body.fixmedins_code,
        period_from=body.period_from,
        period_to=body.period_to,
    )
    async with runtime.db.transaction() as session:
        batch, created = await service.run_clearing(
            session, request, deposit_ratio=settings.quality_deposit_ratio
        )
    assert batch is not None  # only the scheduler asks to skip a batch with nothing owed
    if not created:
        response.status_code = 200
    return _batch_out(batch, replayed=not created)


@router.get("/clearing-batches/{batch_id}", response_model=ClearingBatchOut)
async def get_clearing_batch(
    batch_id: Annotated[str, Path(max_length=40)], runtime: RuntimeDep
) -> ClearingBatchOut:
    """One clearing batch with its lines per institution. Refused: 404 BATCH_NOT_FOUND."""
    async with runtime.db.session() as session:
        batch = await service.get_batch(session, batch_id)
    if batch is None:
        raise NotFound(f"清算批次不存在: {batch_id}", code="BATCH_NOT_FOUND")
    return _batch_out(batch, replayed=True)


@router.post("/subsidy-receipts", response_model=SubsidyReceiptOut, status_code=201)
async def subsidy_receipt(
    body: SubsidyReceiptIn, runtime: RuntimeDep, response: Response
) -> SubsidyReceiptOut:
    """Book government subsidy money received into the fiscal special account against what enrolment
    subsidies made receivable from that level (Dr 1002 / Cr 1201). The same receipt again answers 200 with
    the first entry and posts nothing."""
    receipt = service.SubsidyReceipt(
        receipt_id=body.receipt_id,
        admdvs=body.admdvs,
        insutype=body.insutype,
        level=body.level,
        amount_fen=body.amount_fen,
        received_on=body.received_on,
    )
    async with runtime.db.transaction() as session:
        result = await service.receive_subsidy(session, receipt, today=now_china().date())
    if result.replayed:
        response.status_code = 200
    return SubsidyReceiptOut(
        receipt_id=body.receipt_id,
        entry_id=result.entry_id,
        amount_fen=body.amount_fen,
        receivable_left_fen=result.receivable_left_fen,
        replayed=result.replayed,
    )
