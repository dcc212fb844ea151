"""Money-moving transactions that a concurrent request with the same msgid may beat to the commit."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from settlement import metrics, trail
from shared.errors import DomainError
from shared.service import ServiceRuntime

T = TypeVar("T")


async def once(
    runtime: ServiceRuntime,
    work: Callable[[AsyncSession], Awaitable[T]],
    operation: str = "settle",
    *,
    fixmedins_code: str | None = None,
    msgid: str | None = None,
) -> T:
    """Run ``work`` in a transaction; if a concurrent request with the same msgid committed first (a
    unique key refused this one), run it again, which then answers with that first result instead of
    acting twice. A refusal is counted under ``operation``. The decision, made or refused, is logged as
    one trail line (``settlement.trail``) once the transaction is over; ``fixmedins_code`` and ``msgid``
    (the request's) go on it."""
    started = time.perf_counter()
    try:
        try:
            async with runtime.transaction() as session:
                result = await work(session)
        except IntegrityError:
            async with runtime.transaction() as session:
                result = await work(session)
    except DomainError as refused:
        metrics.record_refusal(operation, refused.code)
        trail.decision(
            operation,
            time.perf_counter() - started,
            code=refused.code,
            fixmedins_code=fixmedins_code,
            msgid=msgid,
        )
        raise
    trail.decision(
        operation, time.perf_counter() - started, result=result, fixmedins_code=fixmedins_code, msgid=msgid
    )
    return result
