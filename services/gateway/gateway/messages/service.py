from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from gateway.messages.models import MessageLog
from shared.db import Database


async def find(db: Database, msgid: str) -> MessageLog | None:
    async with db.session() as session:
        return await session.scalar(select(MessageLog).where(MessageLog.msgid == msgid))


async def remember(db: Database, entry: MessageLog) -> MessageLog:
    """Store the answer; if a concurrent request stored one first, that first answer wins."""
    try:
        async with db.transaction() as session:
            session.add(entry)
    except IntegrityError:
        first = await find(db, entry.msgid)
        if first is not None:
            return first
        raise
    return entry
