"""Settlement lists for the gateway's 4101/4101A/4102/4103, and the overdue report for operators
(docs/interface.md, "Settlement lists")."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query
from sqlalchemy.ext.asyncio import AsyncSession

from settlement import replay
from settlement.config import SettlementSettings
from settlement.setl_lists import service
from shared.clock import now_china
from shared.contracts.v1.setl_lists import (
    OverdueReport,
    SettlementListOut,
    SettlementListUpload,
    StatusChange,
)
from shared.db import Database
from shared.service import RuntimeDep

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/settlement-lists", tags=["settlement lists"])
#: For the fund's staff: the lists still missing.
report_router = APIRouter(prefix="/api/v1/settlement-list-deadlines", tags=["settlement lists"])

Msgid = Annotated[str | None, Header(alias="x-msgid", min_length=1, max_length=30)]
Code = Annotated[str, Query(min_length=1, max_length=30)]


@router.post("", response_model=SettlementListOut)
async def upload(body: SettlementListUpload, runtime: RuntimeDep, msgid: Msgid = None) -> SettlementListOut:
    """4101 / 4101A: once per msgid."""

    async def work(session: AsyncSession) -> SettlementListOut:
        return await service.upload(session, body)

    return await replay.once(
        runtime,
        msgid=msgid,
        fixmedins_code=body.fixmedins_code,
        operation="setl_list",
        key=body.setl_id,
        request=body,
        out=SettlementListOut,
        work=work,
    )


@router.get("/{setl_id}", response_model=SettlementListOut)
async def get(setl_id: str, runtime: RuntimeDep, fixmedins_code: Code, psn_no: Code) -> SettlementListOut:
    """4103 结算清单信息查询: the settlement list uploaded for a settlement, of the asking institution
    and person. Refused: 404 SETTLEMENT_NOT_FOUND or SETL_LIST_NOT_FOUND; 403 NOT_YOUR_SETTLEMENT; 422
    PSN_MISMATCH."""
    async with runtime.db.session() as session:
        return await service.get(session, setl_id, fixmedins_code, psn_no)


@router.post("/{setl_id}/status", response_model=SettlementListOut)
async def change_status(
    setl_id: str, body: StatusChange, runtime: RuntimeDep, msgid: Msgid = None
) -> SettlementListOut:
    """4102: once per msgid."""

    async def work(session: AsyncSession) -> SettlementListOut:
        return await service.change_status(session, setl_id, body)

    return await replay.once(
        runtime,
        msgid=msgid,
        fixmedins_code=body.fixmedins_code,
        operation="setl_list_status",
        key=setl_id,
        request=body,
        out=SettlementListOut,
        work=work,
    )


@report_router.get("/overdue", response_model=OverdueReport)
async def overdue(
    runtime: RuntimeDep,
    days: Annotated[int | None, Query(ge=0, le=366)] = None,
    as_of: datetime | None = None,
    fixmedins_code: Annotated[str | None, Query(max_length=30)] = None,
) -> OverdueReport:
    """Inpatient settlements whose list is not uploaded ``days`` (default: the setting) after discharge."""
    settings = runtime.settings
    assert isinstance(settings, SettlementSettings)
    deadline = settings.settlement_list_deadline_days if days is None else days
    async with runtime.db.session() as session:
        return await service.overdue(session, deadline, as_of or now_china(), fixmedins_code or None)


async def watch_overdue(db: Database, settings: SettlementSettings, stop: asyncio.Event) -> None:
    """Keeps the ``settlement_lists_overdue`` gauge current between reports."""
    interval = settings.settlement_list_check_interval_s
    while interval > 0 and not stop.is_set():
        try:
            async with db.session() as session:
                await service.overdue(session, settings.settlement_list_deadline_days, now_china())
        except Exception:
            log.exception("settlement-list deadline check failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
