"""What the gateway writes and reads before it acts on an envelope whose signature it has verified: the
request's nonce is used up (once, on every replica: the primary key of ``his_nonce`` decides), and the
message log, the void marks and the sign-ins are read for its msgid and sign_no, with the signer's registry
row as it is now (the signature was checked against the row the process last read:
``HisSecurity.confirm``). On PostgreSQL that is one statement (the insert is a data-modifying CTE of the
select); on SQLite two."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy
from sqlalchemy import bindparam, func, insert, literal
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from gateway.messages.models import MessageLog, VoidedMessage
from gateway.messages.service import Stored
from gateway.protocol.errors import Refusal
from gateway.security.models import Institution, SeenNonce, SignIn
from gateway.security.service import Registered, Signer
from shared.db import Statements, utcnow


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
    #: The signer's registry row, read in the same statement (None: no longer registered).
    registered: Registered | None


def nonce_reused() -> Refusal:
    return Refusal("E_NONCE_REUSED", "请求随机数 x-tif-nonce 已使用过（疑似重放），请重新签名")


_nonce = SeenNonce.__table__  # type: ignore[attr-defined]
_log = MessageLog.__table__  # type: ignore[attr-defined]
_void = VoidedMessage.__table__  # type: ignore[attr-defined]
_sign_in = SignIn.__table__  # type: ignore[attr-defined]
_registry = Institution.__table__  # type: ignore[attr-defined]
_NONCE_VALUES: dict[str, Any] = {
    "paasid": bindparam("paasid"),
    "nonce": bindparam("nonce"),
    "seen_at": bindparam("at"),
}
_INSERT_NONCE = insert(_nonce).values(**_NONCE_VALUES)
_probe = sqlalchemy.select(literal(1).label("one")).subquery("probe")
#: The stored answer, the void mark (both by msgid), the sign-in (by sign_no) and the registry row (by
#: paasid), each found or NULL, from one snapshot.
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
    _registry.c.fixmedins_code.label("registered_code"),
    _registry.c.secret.label("registered_secret"),
    _registry.c.active.label("registered_active"),
    _registry.c.rate_limit_per_minute.label("registered_rate"),
    _registry.c.envelope_crypto.label("registered_crypto"),
).select_from(
    _probe.outerjoin(_log, _log.c.msgid == bindparam("msgid"))
    .outerjoin(_void, _void.c.msgid == bindparam("msgid"))
    .outerjoin(_sign_in, _sign_in.c.sign_no == bindparam("sign_no"))
    .outerjoin(_registry, _registry.c.paasid == bindparam("paasid"))
)
#: PostgreSQL: the nonce insert rides along; ``fresh`` is 0 when the key was taken (by a request on any
#: replica; a concurrent one with the same nonce waits for the first to commit and then counts 0).
_used = (
    postgresql.insert(_nonce)
    .values(**_NONCE_VALUES)
    .on_conflict_do_nothing()
    .returning(literal(1).label("one"))
    .cte("used")
)
_USE_AND_LOOK_UP = _LOOKUP.add_columns(
    sqlalchemy.select(func.count()).select_from(_used).scalar_subquery().label("fresh")
)


async def use_nonce(conn: Statements, signer: Signer) -> None:
    """Use up the request's nonce; refused if it was used before."""
    try:
        await conn.execute(_INSERT_NONCE, _nonce_params(signer))
    except IntegrityError:
        raise nonce_reused() from None


async def use_nonce_and_look_up(conn: Statements, signer: Signer, msgid: str, sign_no: str | None) -> Lookup:
    """``use_nonce``, then the answer stored for ``msgid``, whether a 2601 has voided it, the sign-in
    ``sign_no`` names and the signer's registry row."""
    params = {**_nonce_params(signer), "msgid": msgid, "sign_no": sign_no}
    if conn.conn.dialect.name == "postgresql":
        row: Row | None = (await conn.run(_USE_AND_LOOK_UP, params)).first()
        assert row is not None  # the probe row is always there
        if not row.fresh:
            raise nonce_reused()
    else:
        await use_nonce(conn, signer)
        row = (await conn.execute(_LOOKUP, params)).first()
        assert row is not None
    earlier = None if row.msgid is None else Stored(row.infno, row.request_sha256, row.infcode, row.response)
    sign_in = (
        None
        if row.sign_no is None
        else SignInRow(row.fixmedins_code, row.opter, row.signed_in_at, row.signed_out_at)
    )
    registered = None
    if row.registered_code is not None:
        registered = Registered(
            row.registered_code,
            row.registered_secret,
            row.registered_active,
            row.registered_rate,
            row.registered_crypto,
        )
    return Lookup(earlier, row.voided_msgid is not None, sign_in, registered)


def _nonce_params(signer: Signer) -> dict[str, object]:
    return {"paasid": signer.paasid, "nonce": signer.nonce, "at": utcnow()}
