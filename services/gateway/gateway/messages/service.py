from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy
from sqlalchemy import bindparam, insert, literal
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from gateway.messages.models import MessageLog, VoidedMessage
from gateway.security.models import SignIn
from shared.db import Database, Statements, utcnow


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


@dataclass(frozen=True)
class SignInRow:
    """The columns of the sign-in an envelope names that its check reads."""

    fixmedins_code: str
    opter: str
    signed_in_at: datetime
    signed_out_at: datetime | None


@dataclass(frozen=True)
class Lookup:
    """What the gateway must know of a new envelope before acting on it, read in one statement."""

    earlier: Stored | None
    voided: bool
    sign_in: SignInRow | None


_log = MessageLog.__table__  # type: ignore[attr-defined]
_void = VoidedMessage.__table__  # type: ignore[attr-defined]
_sign_in = SignIn.__table__  # type: ignore[attr-defined]
_probe = sqlalchemy.select(literal(1).label("one")).subquery("probe")
#: One round trip: the stored answer, the void mark (both by msgid) and the sign-in (by sign_no), each
#: found or NULL, from one snapshot.
_LOOKUP = sqlalchemy.select(
    _log.c.msgid,
    _log.c.infno,
    _log.c.request_sha256,
    _log.c.infcode,
    _log.c.response,
    _void.c.msgid.label("voided_msgid"),
    _sign_in.c.sign_no,
    _sign_in.c.fixmedins_code,
    _sign_in.c.opter,
    _sign_in.c.signed_in_at,
    _sign_in.c.signed_out_at,
).select_from(
    _probe.outerjoin(_log, _log.c.msgid == bindparam("msgid"))
    .outerjoin(_void, _void.c.msgid == bindparam("msgid"))
    .outerjoin(_sign_in, _sign_in.c.sign_no == bindparam("sign_no"))
)
_INSERT = insert(_log)


async def lookup(conn: Statements, msgid: str, sign_no: str | None) -> Lookup:
    """The answer stored for ``msgid``, whether a 2601 has voided it, and the sign-in ``sign_no`` names."""
    row: Row | None = (await conn.execute(_LOOKUP, {"msgid": msgid, "sign_no": sign_no})).first()
    assert row is not None  # the probe row is always there
    earlier = None if row.msgid is None else Stored(row.infno, row.request_sha256, row.infcode, row.response)
    sign_in = (
        None
        if row.sign_no is None
        else SignInRow(row.fixmedins_code, row.opter, row.signed_in_at, row.signed_out_at)
    )
    return Lookup(earlier, row.voided_msgid is not None, sign_in)


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
            await conn.execute(
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
