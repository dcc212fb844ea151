from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from gateway.messages.models import MessageLog, VoidedMessage
from shared.db import Database, utcnow


async def find(db: Database, msgid: str) -> MessageLog | None:
    async with db.session() as session:
        return await session.scalar(select(MessageLog).where(MessageLog.msgid == msgid))


@dataclass(frozen=True)
class Stored:
    """The answer the message log holds for a msgid."""

    infno: str
    request_sha256: str
    infcode: int
    response: str


_log = MessageLog.__table__  # type: ignore[attr-defined]
#: Every column named, so that the statement is built once and goes to the driver directly
#: (``Statements.run``).
_INSERT = insert(_log).values(
    {
        name: bindparam(name)
        for name in ("msgid", "infno", "fixmedins_code", "request_sha256", "infcode", "response")
    }
    | {"created_at": bindparam("created_at", type_=_log.c.created_at.type)}
)


async def remember(
    db: Database,
    *,
    msgid: str,
    infno: str,
    fixmedins_code: str,
    request_sha256: str,
    infcode: int,
    response: str,
) -> Stored:
    """Store the answer; if a concurrent request stored one first, that first answer wins."""
    entry = Stored(infno, request_sha256, infcode, response)
    try:
        async with db.statements() as conn:
            await conn.run(
                _INSERT,
                {
                    "msgid": msgid,
                    "infno": infno,
                    "fixmedins_code": fixmedins_code,
                    "request_sha256": request_sha256,
                    "infcode": infcode,
                    "response": response,
                    "created_at": utcnow(),
                },
            )
    except IntegrityError:
        first = await find(db, msgid)
        if first is not None:
            return Stored(first.infno, first.request_sha256, first.infcode, first.response)
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
