"""The catalogue version (``catalogue_list_version``): one counter for every list the 13xx downloads serve
(docs/interface.md, "13xx catalogue downloads"). A change to a catalogue item, a national code or a
benefit policy's chronic disease list (1309) takes the next number in its transaction and announces it
with ``catalogue.changed``; so does a change to an institution's catalogue mapping (3301/3302, downloaded
with 1317), announced with ``catalogue.mapping_changed``. A download names the newest number, which the
institution sends next time.

Below the domain packages (catalogue, policy) so that each can take a version for what it changes."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from settlement.catalogue.models import catalogue_list_version
from settlement.db import infra
from shared.contracts.v1.events import CatalogueChanged
from shared.db import utcnow
from shared.outbox import enqueue

#: The codes a ``catalogue.changed`` event names at most (its ``count`` says how many changed).
EVENT_CODES = 1000


async def next_version(session: AsyncSession) -> int:
    """The next catalogue version, taken in the caller's transaction: the counter row stays locked until
    it commits, so versions become visible in the order they were taken (a download that saw version n
    never misses a change numbered below n)."""
    table = catalogue_list_version
    result = await session.execute(update(table).where(table.c.id == 1).values(ver=table.c.ver + 1))
    if not getattr(result, "rowcount", 0):  # a database made without the migration's first row
        await session.execute(insert(table).values(id=1, ver=1))
        return 1
    return int(await session.scalar(select(table.c.ver).where(table.c.id == 1)) or 0)


async def newest_version(session: AsyncSession) -> int:
    table = catalogue_list_version
    return int(await session.scalar(select(table.c.ver).where(table.c.id == 1)) or 0)


async def publish_change(session: AsyncSession, ver: int, list_kind: str, codes: list[str]) -> None:
    """``catalogue.changed`` for version ``ver``, in the transaction that made it (the outbox)."""
    event = CatalogueChanged(
        ver=ver, list_kind=list_kind, codes=codes[:EVENT_CODES], count=len(codes), changed_at=utcnow()
    )
    await enqueue(session, infra, event, "settlement")
