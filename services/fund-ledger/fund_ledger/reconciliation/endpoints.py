"""Reconciliation of the books against settlement (docs/architecture.md, "Reconciliation")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, Query, Request

from fund_ledger.config import LedgerSettings
from fund_ledger.reconciliation import service
from fund_ledger.reconciliation.schemas import ReconciliationOut, RepairOut
from shared.auth import authenticator
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/reconciliation", tags=["reconciliation"])


async def settlement_client(runtime: RuntimeDep, request: Request) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the settlement service at ``LEDGER_SETTLEMENT_URL`` (overridable in tests),
    carrying the ledger's service credential."""
    settings = runtime.settings
    assert isinstance(settings, LedgerSettings)
    async with httpx.AsyncClient(
        base_url=settings.settlement_url.rstrip("/"),
        headers=authenticator(request).service_headers(),
        timeout=httpx.Timeout(settings.settlement_timeout_s, connect=min(2.0, settings.settlement_timeout_s)),
    ) as client:
        yield client


SettlementClient = Annotated[httpx.AsyncClient, Depends(settlement_client)]


async def filters(
    date_from: Annotated[date, Query(description="First Beijing calendar day (yyyy-MM-dd)")],
    date_to: Annotated[date, Query(description="Last Beijing calendar day, inclusive")],
    fixmedins_code: Annotated[str | None, Query(max_length=30)] = None,
    insutype: Annotated[str | None, Query(max_length=6)] = None,
    clr_type: Annotated[str | None, Query(max_length=6)] = None,
) -> service.Filters:
    return service.Filters(date_from, date_to, fixmedins_code or None, insutype or None, clr_type or None)


FiltersDep = Annotated[service.Filters, Depends(filters)]


@router.get("", response_model=ReconciliationOut)
async def reconcile(runtime: RuntimeDep, client: SettlementClient, f: FiltersDep) -> ReconciliationOut:
    """Settlement's fund payments of the period against the ledger's settlement entries, every difference
    down to the setl_id ("missing in ledger", "amount differs", "not in settlement"). A settlement the funds
    paid nothing for has no entry by design and is not a difference."""
    async with runtime.db.session() as session:
        return await service.reconcile(session, client, f)


@router.post("/repair", response_model=RepairOut)
async def repair(runtime: RuntimeDep, client: SettlementClient, f: FiltersDep) -> RepairOut:
    """Ask settlement to publish again the events of the settlements missing in the ledger (from its outbox,
    same event ids). The books catch up asynchronously, through the broker and the ledger's idempotent
    consumer: call ``GET /api/v1/reconciliation`` again to see them balanced."""
    async with runtime.db.session() as session:
        return await service.repair(session, client, f)
