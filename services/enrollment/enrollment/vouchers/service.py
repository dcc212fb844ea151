"""E-vouchers (医保电子凭证): issued to an insured person by an operator or an API standing in for the
national app, revocable, resolved for the gateway (docs/interface.md, "E-voucher")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from enrollment.db import infra
from enrollment.persons import service as persons
from enrollment.vouchers.models import Voucher
from shared import voucher as tokens
from shared.contracts.v1.enrollment import VoucherOut
from shared.db import utcnow
from shared.errors import Conflict, NotFound
from shared.events import VoucherRevoked
from shared.outbox import enqueue

PRODUCER = "enrollment"


async def issue(session: AsyncSession, psn_no: str, ttl_s: int) -> Voucher:
    """A new token for the person, valid ``ttl_s`` seconds (to the minute)."""
    person = await persons.get_person(session, psn_no)
    issued = tokens.issue(person.psn_no, tokens.lifetime(ttl_s, utcnow()))
    row = Voucher(token=issued.token, psn_no=person.psn_no, expires_at=issued.expires_at)
    session.add(row)
    await session.flush()
    return row


async def _find(session: AsyncSession, token: str, *, for_update: bool = False) -> Voucher:
    query = select(Voucher).where(Voucher.token == token.strip().upper())
    if for_update:
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None:
        raise NotFound("医保电子凭证不存在：不是本平台签发的凭证", code="VOUCHER_NOT_FOUND")
    return row


async def revoke(session: AsyncSession, token: str) -> Voucher:
    """Revoked from now on (the person's phone lost, the code seen by someone else...); once. The
    revocation and its ``enrollment.voucher_revoked`` event commit together: the settlement service
    refuses the token from its own record of revocations
    (docs/architecture.md, "E-voucher revocation")."""
    row = await _find(session, token, for_update=True)
    if row.revoked_at is not None:
        raise Conflict("医保电子凭证已撤销", code="VOUCHER_REVOKED")
    row.revoked_at = utcnow()
    session.add(row)
    event = VoucherRevoked(
        psn_no=row.psn_no,
        voucher_digest=tokens.digest(row.token),
        revoked_at=row.revoked_at,
        expires_at=row.expires_at,
    )
    await enqueue(session, infra, event, PRODUCER)
    return row


def status(row: Voucher, now: datetime) -> str:
    if row.revoked_at is not None:
        return "revoked"
    return "expired" if now >= row.expires_at else "valid"


async def resolve(session: AsyncSession, token: str) -> VoucherOut:
    """Whose the token is and whether it may be used now (the gateway asks at each use)."""
    row = await _find(session, token)
    person = await persons.get_person(session, row.psn_no)
    return VoucherOut(
        token=row.token,
        psn_no=row.psn_no,
        certno=person.certno,
        psn_name=person.psn_name,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        status=status(row, utcnow()),
    )
