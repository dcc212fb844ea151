from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from gateway.messages.models import MessageLog, VoidedMessage
from shared.db import Database


async def find(db: Database, msgid: str) -> MessageLog | None:
    async with db.session() as session:
        return await session.scalar(select(MessageLog).where(MessageLog.msgid == msgid))


async def find_with_void(db: Database, msgid: str) -> tuple[MessageLog | None, VoidedMessage | None]:
    """The answer stored for msgid and whether a 2601 has voided msgid, in one session."""
    async with db.session() as session:
        return await find_with_void_in(session, msgid)


async def find_with_void_in(
    session: AsyncSession, msgid: str
) -> tuple[MessageLog | None, VoidedMessage | None]:
    earlier = await session.scalar(select(MessageLog).where(MessageLog.msgid == msgid))
    voided = await session.scalar(select(VoidedMessage).where(VoidedMessage.msgid == msgid))
    return earlier, voided


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


async def record_void(db: Database, entry: VoidedMessage) -> VoidedMessage:
    """Mark a message voided by 2601. The first mark stands: a repeated 2601 (same or another msgid) of the
    same original changes nothing."""
    try:
        async with db.transaction() as session:
            first = await session.scalar(select(VoidedMessage).where(VoidedMessage.msgid == entry.msgid))
            if first is not None:
                return first
            session.add(entry)
    except IntegrityError:
        async with db.session() as session:
            first = await session.scalar(select(VoidedMessage).where(VoidedMessage.msgid == entry.msgid))
        if first is not None:
            return first
        raise
    return entry
