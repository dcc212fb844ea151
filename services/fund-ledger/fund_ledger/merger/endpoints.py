"""Legacy funds' opening balances and their merger into the unified fund (``fund_ledger.merger.service``)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from fund_ledger.merger import service
from fund_ledger.merger.schemas import MergerIn, OpeningBalanceIn, PostedOut
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["merger"])


@router.post("/opening-balances", response_model=PostedOut, status_code=201)
async def opening_balance(body: OpeningBalanceIn, runtime: RuntimeDep, response: Response) -> PostedOut:
    """Book a fund's audited opening position on its sub-ledger, once; the same figures again answer 200."""
    opening = service.OpeningBalance(**body.model_dump())
    async with runtime.db.transaction() as session:
        posted = await service.open_legacy_fund(session, opening)
    if posted.replayed:
        response.status_code = 200
    return PostedOut(
        entry_id=posted.entry_id,
        total_fen=posted.total_fen,
        fund_balance_fen=opening.fund_balance_fen,
        replayed=posted.replayed,
    )


@router.post("/scheme-mergers", response_model=PostedOut, status_code=201)
async def scheme_merger(body: MergerIn, runtime: RuntimeDep, response: Response) -> PostedOut:
    """Merge a legacy scheme's sub-ledger (391 / 380) of a region into 390 by one audited entry. The same
    merger id again answers 200 with the first entry."""
    async with runtime.db.transaction() as session:
        posted = await service.merge_scheme(session, service.Merger(**body.model_dump()))
    if posted.replayed:
        response.status_code = 200
    return PostedOut(entry_id=posted.entry_id, total_fen=posted.total_fen, replayed=posted.replayed)
