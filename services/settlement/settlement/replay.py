"""A state-changing encounter call answered once per msgid. The gateway remembers every answer it gave, but
an answer lost between here and the gateway (a timeout after this service committed) is not in its log:
the HIS repeats the msgid and the call arrives again. Settlements are idempotent by msgid in their own
table; the encounter calls (registration, fee lines, discharge...) are made so here, by keeping the answer
of each with the effect, in the same transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from settlement.encounters.models import EncounterMessage
from shared.errors import Conflict, DomainError
from shared.service import ServiceRuntime

Out = TypeVar("Out", bound=BaseModel)


def request_digest(operation: str, mdtrt_id: str | None, request: BaseModel | None) -> str:
    body = request.model_dump(mode="json") if request is not None else None
    text = json.dumps([operation, mdtrt_id, body], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


async def _earlier(
    session: AsyncSession, fixmedins_code: str, msgid: str, operation: str
) -> EncounterMessage | None:
    return await session.scalar(
        select(EncounterMessage).where(
            EncounterMessage.fixmedins_code == fixmedins_code,
            EncounterMessage.msgid == msgid,
            EncounterMessage.operation == operation,
        )
    )


def _replayed(earlier: EncounterMessage, digest: str, out: type[Out]) -> Out:
    if earlier.request_sha256 != digest:
        raise Conflict(f"报文ID {earlier.msgid} 已被另一笔不同内容的请求使用", code="MSGID_REUSED")
    return out.model_validate_json(earlier.response)


async def once(
    runtime: ServiceRuntime,
    *,
    msgid: str | None,
    fixmedins_code: str,
    operation: str,
    key: str | None,
    request: BaseModel | None,
    out: type[Out],
    work: Callable[[AsyncSession], Awaitable[Out]],
) -> Out:
    """``work`` in a transaction, its answer kept under (institution, msgid, operation); a repeat is answered
    with the kept answer, a different request (``operation``, its ``key`` such as the mdtrt_id, and body)
    under the same msgid is refused MSGID_REUSED. Without a msgid (a caller other than the gateway) the
    call simply acts.

    Two copies of one msgid at once: the second either reads the first's answer, or collides with its
    effect (a refusal such as FEE_LINE_EXISTS, or the unique key here) and then reads it."""
    if msgid is None:
        async with runtime.transaction() as session:
            return await work(session)
    digest = request_digest(operation, key, request)
    try:
        async with runtime.transaction() as session:
            earlier = await _earlier(session, fixmedins_code, msgid, operation)
            if earlier is not None:
                return _replayed(earlier, digest, out)
            answer = await work(session)
            session.add(
                EncounterMessage(
                    fixmedins_code=fixmedins_code,
                    msgid=msgid,
                    operation=operation,
                    request_sha256=digest,
                    response=answer.model_dump_json(),
                )
            )
            await session.flush()
            return answer
    except (DomainError, IntegrityError):
        async with runtime.db.session() as session:
            earlier = await _earlier(session, fixmedins_code, msgid, operation)
        if earlier is None:
            raise
        return _replayed(earlier, digest, out)
