"""Pre-checks for the gateway's 3101/3102 and feedback for 3103 (docs/interface.md, "Pre-checks")."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header
from sqlalchemy.ext.asyncio import AsyncSession

from settlement import replay
from settlement.prechecks import service
from shared.contracts.v1.prechecks import FeedbackOut, FeedbackRequest, PrecheckOut, PrecheckRequest
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/prechecks", tags=["prechecks"])

Msgid = Annotated[str | None, Header(alias="x-msgid", min_length=1, max_length=30)]


@router.post("", response_model=PrecheckOut)
async def precheck(body: PrecheckRequest, runtime: RuntimeDep) -> PrecheckOut:
    """The supervision rules on a proposed order; nothing is written (the proposal is rolled back)."""
    async with runtime.db.session() as session:
        try:
            return await service.precheck(session, body)
        finally:
            await session.rollback()


@router.post("/feedback", response_model=FeedbackOut)
async def feedback(body: FeedbackRequest, runtime: RuntimeDep, msgid: Msgid = None) -> FeedbackOut:
    """3103: once per msgid (a repeat after a lost answer gets the first answer)."""

    async def work(session: AsyncSession) -> FeedbackOut:
        return await service.record_feedback(session, body, msgid or uuid.uuid4().hex[:30])

    return await replay.once(
        runtime,
        msgid=msgid,
        fixmedins_code=body.fixmedins_code,
        operation="precheck_feedback",
        key=None,
        request=body,
        out=FeedbackOut,
        work=work,
    )
