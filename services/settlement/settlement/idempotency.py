"""Money-moving transactions that a concurrent request with the same msgid may beat to the commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from settlement import metrics
from shared.errors import DomainError
from shared.service import ServiceRuntime

T = TypeVar("T")


async def once(
    runtime: ServiceRuntime, work: Callable[[AsyncSession], Awaitable[T]], operation: str = "settle"
) -> T:
    """Run ``work`` in a transaction; if a concurrent request with the same msgid committed first (a
    unique key refused this one), run it again, which then answers with that first result instead of
    acting twice. A refusal is counted under ``operation``."""
    try:
        try:
            async with runtime.transaction() as session:
                return await work(session)
        except IntegrityError:
            async with runtime.transaction() as session:
                return await work(session)
    except DomainError as refused:
        metrics.record_refusal(operation, refused.code)
        raise
