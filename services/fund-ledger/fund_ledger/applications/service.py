"""Clearing applications (3203/3204; docs/domain.md, "Clearing applications"): one standing application per
institution, scheme and period; revoked only before it is cleared; cleared by a clearing batch run from it
(``clearing.service.run_clearing``, the ledger's postings as for any batch)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from fund_ledger.applications.models import ClearingApplication
from fund_ledger.books.chart import POOLED_FUND
from fund_ledger.clearing import service as clearing
from shared.contracts.v1.clearing import ApplicationIn, ApplicationOut
from shared.errors import Conflict, NotFound, Unprocessable

_STATUS_NAMES = {"applied": "已申请", "revoked": "已撤销", "cleared": "已清算"}


def _out(a: ClearingApplication, paid_fen: int | None = None) -> ApplicationOut:
    return ApplicationOut(
        clr_appy_evt_id=a.clr_appy_evt_id,
        fixmedins_code=a.fixmedins_code,
        admdvs=a.admdvs,
        insutype=a.insutype,
        clr_type=a.clr_type,
        period_from=a.period_from,
        period_to=a.period_to,
        status=a.status,
        batch_id=a.batch_id,
        paid_fen=paid_fen,
        applied_at=a.applied_at,
    )


async def apply(session: AsyncSession, req: ApplicationIn) -> ApplicationOut:
    if req.period_from > req.period_to:
        raise Unprocessable("清算期间起始日期不能晚于结束日期", code="BAD_PERIOD")
    standing = await session.scalar(
        select(ClearingApplication.clr_appy_evt_id).where(
            ClearingApplication.fixmedins_code == req.fixmedins_code,
            ClearingApplication.insutype == req.insutype,
            col(ClearingApplication.status).in_(("applied", "cleared")),
            col(ClearingApplication.period_from) <= req.period_to,
            col(ClearingApplication.period_to) >= req.period_from,
        )
    )
    if standing is not None:
        raise Conflict(f"该期间已有清算申请 {standing}，不能重复申请", code="CLEARING_APPLIED")
    application = ClearingApplication(
        clr_appy_evt_id=f"CA{uuid.uuid4().hex[:28]}",
        fixmedins_code=req.fixmedins_code,
        admdvs=req.admdvs,
        insutype=req.insutype,
        clr_type=req.clr_type,
        period_from=req.period_from,
        period_to=req.period_to,
    )
    session.add(application)
    await session.flush()
    return _out(application)


async def _own(
    session: AsyncSession, clr_appy_evt_id: str, fixmedins_code: str | None
) -> ClearingApplication:
    found = await session.scalar(
        select(ClearingApplication)
        .where(ClearingApplication.clr_appy_evt_id == clr_appy_evt_id)
        .with_for_update()
    )
    if found is None or (fixmedins_code is not None and found.fixmedins_code != fixmedins_code):
        raise NotFound(f"清算申请不存在: {clr_appy_evt_id}", code="CLEARING_APPLICATION_NOT_FOUND")
    return found


async def get(session: AsyncSession, clr_appy_evt_id: str, fixmedins_code: str | None) -> ApplicationOut:
    return _out(await _own(session, clr_appy_evt_id, fixmedins_code))


async def revoke(session: AsyncSession, clr_appy_evt_id: str, fixmedins_code: str) -> ApplicationOut:
    """3204: only an application not yet cleared (a cleared one has been paid)."""
    application = await _own(session, clr_appy_evt_id, fixmedins_code)
    if application.status != "applied":
        raise Conflict(
            f"清算申请 {clr_appy_evt_id} {_STATUS_NAMES[application.status]}，不能撤销",
            code="CLEARING_NOT_REVOCABLE",
        )
    application.status = "revoked"
    await session.flush()
    return _out(application)


async def clear(session: AsyncSession, clr_appy_evt_id: str, deposit_ratio: Decimal) -> ApplicationOut:
    """The fund clears an application: a clearing batch for its institution, scheme and period (the pooled
    fund's special account pays), booked as every batch is."""
    application = await _own(session, clr_appy_evt_id, None)
    if application.status != "applied":
        raise Conflict(
            f"清算申请 {clr_appy_evt_id} {_STATUS_NAMES[application.status]}，不能清算",
            code="CLEARING_NOT_REVOCABLE",
        )
    request = clearing.ClearingRequest(
        batch_id=f"APPY-{application.clr_appy_evt_id}",
        admdvs=application.admdvs,
        insutype=application.insutype,
        fund_pay_type=POOLED_FUND,
        fixmedins_code=application.fixmedins_code,
        period_from=application.period_from,
        period_to=application.period_to,
    )
    batch, _ = await clearing.run_clearing(session, request, deposit_ratio=deposit_ratio)
    assert batch is not None
    application.status, application.batch_id = "cleared", batch.batch_id
    await session.flush()
    return _out(application, batch.paid_fen)
