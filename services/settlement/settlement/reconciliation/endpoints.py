"""Reconciliation API of the settlement service: its totals and per-settlement amounts for a period (the
ledger and the gateway's 3201 compare against them), and re-publishing settlement events from the outbox."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from settlement.reconciliation import service
from settlement.reconciliation.schemas import RepublishOut, RepublishRequest, SettlementsOut, TotalsOut
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/reconciliation", tags=["reconciliation"])


async def filters(
    date_from: Annotated[date, Query(description="First Beijing calendar day (yyyy-MM-dd)")],
    date_to: Annotated[date, Query(description="Last Beijing calendar day, inclusive")],
    fixmedins_code: Annotated[str | None, Query(max_length=30)] = None,
    insutype: Annotated[str | None, Query(max_length=6)] = None,
    clr_type: Annotated[str | None, Query(max_length=6)] = None,
) -> service.Filters:
    return service.Filters(date_from, date_to, fixmedins_code or None, insutype or None, clr_type or None)


FiltersDep = Annotated[service.Filters, Depends(filters)]


@router.get("/totals", response_model=TotalsOut)
async def totals(runtime: RuntimeDep, f: FiltersDep) -> TotalsOut:
    """Totals per (fixmedins_code, insutype, clr_type, Beijing day): counts of originals and reversals and
    the net count, net medfee_sumamt / fund_pay_sumamt / acct_pay in fen (reversals negative)."""
    async with runtime.db.session() as session:
        return TotalsOut(rows=await service.totals(session, f))


@router.get("/settlements", response_model=SettlementsOut)
async def settlements(runtime: RuntimeDep, f: FiltersDep) -> SettlementsOut:
    """Every settlement and reversal record of the period with its amounts, for a detail comparison."""
    async with runtime.db.session() as session:
        return SettlementsOut(settlements=await service.settlement_amounts(session, f))


@router.post("/republish", response_model=RepublishOut)
async def republish(body: RepublishRequest, runtime: RuntimeDep) -> RepublishOut:
    """Mark the outbox rows of the given settlements (or of an outbox id range) unsent again: the relay
    publishes them once more with their original event ids, and the ledger's idempotent consumer posts only
    what it lacks. Answers how many rows were marked."""
    async with runtime.transaction() as session:
        return await service.republish(session, body)
