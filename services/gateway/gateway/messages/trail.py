"""The gateway's part of the transaction trail (``shared.contracts.v1.trail``): the final answer each
msgid got, from the message log, with its 2601 void mark; names and ID numbers masked. Read by auditors
and fund accountants; every read is written to the audit log (``shared.audit.audited_read``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlmodel import col, select

from gateway.messages.models import MessageLog, VoidedMessage
from shared.audit import audited_read
from shared.contracts.v1.trail import GatewayTrail, TrailMessage, TrailVoid
from shared.masking import mask_fields
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/trail", tags=["trail"], dependencies=[Depends(audited_read)])

#: The most msgids one request may name.
MAX_MSGIDS = 100


def _answer(text: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
    except ValueError:
        return {"unreadable": True}
    return mask_fields(parsed) if isinstance(parsed, dict) else {"value": mask_fields(parsed)}


@router.get(
    "/messages",
    response_model=GatewayTrail,
    responses={
        401: {"description": "No valid bearer token."},
        403: {"description": "The token's roles may not read the trail."},
    },
)
async def messages(
    runtime: RuntimeDep,
    msgid: Annotated[list[str], Query(min_length=1, max_length=MAX_MSGIDS)],
) -> GatewayTrail:
    """The answers the message log holds for these msgids (the institution's answer, masked), with the
    2601 void of each that was voided; ``not_found`` names the msgids it holds no final answer for."""
    wanted = sorted({m for m in msgid if 0 < len(m) <= 30})
    async with runtime.db.session() as session:
        logged = list(await session.scalars(select(MessageLog).where(col(MessageLog.msgid).in_(wanted))))
        voids = {
            v.msgid: v
            for v in await session.scalars(select(VoidedMessage).where(col(VoidedMessage.msgid).in_(wanted)))
        }
    found = []
    for row in sorted(logged, key=lambda r: (r.created_at, r.msgid)):
        void = voids.get(row.msgid)
        found.append(
            TrailMessage(
                msgid=row.msgid,
                infno=row.infno,
                fixmedins_code=row.fixmedins_code,
                infcode=row.infcode,
                created_at=row.created_at,
                answer=_answer(row.response),
                voided=None
                if void is None
                else TrailVoid(
                    outcome=void.outcome,
                    reversal_setl_id=void.reversal_setl_id,
                    void_msgid=void.void_msgid,
                    created_at=void.created_at,
                ),
            )
        )
    held = {row.msgid for row in logged}
    return GatewayTrail(messages=found, not_found=[m for m in sorted(set(msgid)) if m not in held])
