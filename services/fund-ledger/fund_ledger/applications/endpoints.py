"""Clearing applications: the gateway applies and revokes for an institution (3203/3204); fund accountants
clear them (docs/interface.md, "3203 / 3204 清算申请")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from fund_ledger.applications import service
from fund_ledger.config import LedgerSettings
from shared.contracts.v1.clearing import ApplicationIn, ApplicationOut, RevocationIn
from shared.service import RuntimeDep

#: For the gateway (service credential), on behalf of an institution.
router = APIRouter(prefix="/api/v1/clearing-applications", tags=["clearing applications"])
#: For the fund's accountants: clearing an application books its batch.
clearing_router = APIRouter(prefix="/api/v1/clearing-applications", tags=["clearing applications"])

AppyId = Annotated[str, Path(min_length=1, max_length=30)]


@router.post("", response_model=ApplicationOut, status_code=201)
async def apply(body: ApplicationIn, runtime: RuntimeDep) -> ApplicationOut:
    """3203 清算申请: an institution applies for a month to be cleared (the gateway checked the detail
    reconciliation first). Refused: 422 BAD_PERIOD; 409 CLEARING_APPLIED for a month already applied for."""
    async with runtime.db.transaction() as session:
        return await service.apply(session, body)


@router.get("/{clr_appy_evt_id}", response_model=ApplicationOut)
async def get(
    clr_appy_evt_id: AppyId,
    runtime: RuntimeDep,
    fixmedins_code: Annotated[str | None, Query(max_length=30)] = None,
) -> ApplicationOut:
    """One application and its status (applied, revoked, cleared). Refused: 404
    CLEARING_APPLICATION_NOT_FOUND, also for another institution's."""
    async with runtime.db.session() as session:
        return await service.get(session, clr_appy_evt_id, fixmedins_code)


@router.post("/{clr_appy_evt_id}/revocation", response_model=ApplicationOut)
async def revoke(clr_appy_evt_id: AppyId, body: RevocationIn, runtime: RuntimeDep) -> ApplicationOut:
    """3204 清算申请撤销: withdraw an application not yet cleared. Refused: 404
    CLEARING_APPLICATION_NOT_FOUND; 409 CLEARING_NOT_REVOCABLE once it is cleared."""
    async with runtime.db.transaction() as session:
        return await service.revoke(session, clr_appy_evt_id, body.fixmedins_code)


@clearing_router.post("/{clr_appy_evt_id}/clearing", response_model=ApplicationOut)
async def clear(clr_appy_evt_id: AppyId, runtime: RuntimeDep) -> ApplicationOut:
    """A fund accountant clears an application: the month's clearing batch to the institution is run and
    booked. Refused: 404 CLEARING_APPLICATION_NOT_FOUND; 409 CLEARING_NOT_REVOCABLE if it is revoked."""
    settings = runtime.settings
    assert isinstance(settings, LedgerSettings)
    async with runtime.db.transaction() as session:
        return await service.clear(session, clr_appy_evt_id, settings.quality_deposit_ratio)
