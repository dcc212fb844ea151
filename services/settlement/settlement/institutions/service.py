from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from settlement import reference
from settlement.institutions.models import Institution
from settlement.institutions.schemas import InstitutionCreate
from settlement.supervision import service as supervision
from shared.db import flush_unique
from shared.errors import Conflict, DomainError, NotFound


async def create(session: AsyncSession, data: InstitutionCreate) -> Institution:
    institution = Institution(**data.model_dump())
    session.add(institution)
    await flush_unique(
        session, Conflict(f"定点医药机构已存在: {data.fixmedins_code}", code="INSTITUTION_EXISTS")
    )
    return institution


async def get(session: AsyncSession, code: str) -> Institution:
    found = await session.scalar(select(Institution).where(Institution.fixmedins_code == code))
    if found is None:
        raise NotFound(f"定点医药机构不存在: {code}", code="INSTITUTION_NOT_FOUND")
    return found


async def settling(session: AsyncSession, code: str) -> Institution:
    """``get`` for the settlement paths, from the reference cache: read-only (never change what it gives)."""
    found = await reference.cached(
        session,
        ("institution", code),
        lambda: session.scalar(select(Institution).where(Institution.fixmedins_code == code)),
    )
    if found is None:
        raise NotFound(f"定点医药机构不存在: {code}", code="INSTITUTION_NOT_FOUND")
    return found


async def list_all(session: AsyncSession) -> list[Institution]:
    return list(await session.scalars(select(Institution).order_by(Institution.fixmedins_code)))


def require_can_settle(institution: Institution, on: date) -> None:
    """Only an institution whose agreement is active on the day of care may settle."""
    if institution.status != "active":
        raise DomainError(
            f"定点医药机构协议状态为 {institution.status}，不能结算",
            code="INSTITUTION_NOT_ACTIVE",
            status_code=403,
        )
    if on < institution.agreement_begin or (institution.agreement_end and on > institution.agreement_end):
        raise DomainError(
            "定点医药机构协议不在有效期内，不能结算", code="INSTITUTION_NOT_ACTIVE", status_code=403
        )


async def require_can_settle_on(session: AsyncSession, institution: Institution, on: date) -> None:
    """The agreement check, and no suspension (a dated, reasoned sanction, ``settlement.supervision``) in
    force on the day of care."""
    require_can_settle(institution, on)
    await supervision.require_not_suspended(session, institution.fixmedins_code, on)
