"""Persons, their subsidised identities and the employee-insurance exclusion list."""

from __future__ import annotations

import secrets
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from enrollment.db import infra
from enrollment.persons.models import EmployeeInsured, IdentityCategory, Person
from enrollment.persons.schemas import IdentityCreate, PersonCreate
from shared.db import flush_unique
from shared.errors import Conflict, DomainError, NotFound
from shared.events import IdentityCategoriesChanged, PersonRegistered
from shared.events import IdentityCategory as IdentityCategoryEvent
from shared.idcard import InvalidIdNumber, parse_id_number
from shared.outbox import enqueue

PRODUCER = "enrollment"


def _new_psn_no(admdvs: str) -> str:
    return f"{admdvs}{secrets.randbelow(10**16):016d}"


async def create_person(
    session: AsyncSession,
    data: PersonCreate,
    *,
    today: date | None = None,
    household_no: str | None = None,
    relation: str | None = None,
    check_existing: bool = True,
) -> Person:
    """Register a person. ``check_existing=False`` when the caller has just looked the ID number up (the
    unique constraint still refuses a duplicate)."""
    try:
        idno = parse_id_number(data.certno, today=today)
    except InvalidIdNumber as exc:
        raise DomainError(str(exc), code="INVALID_ID_NUMBER", status_code=422) from exc
    if check_existing:
        existing = await session.scalar(select(Person).where(Person.certno == idno.value))
        if existing is not None:
            raise Conflict(f"该身份证号已登记, 人员编号 {existing.psn_no}", code="PERSON_EXISTS")
    person = Person(
        psn_no=_new_psn_no(idno.admdvs),
        certno=idno.value,
        psn_name=data.psn_name,
        gend=idno.gend,
        brdy=idno.birth_date,
        naty=data.naty,
        admdvs=data.admdvs or idno.admdvs,
        household_no=household_no,
        relation=relation,
    )
    session.add(person)
    await flush_unique(session, Conflict("该身份证号已登记", code="PERSON_EXISTS"))
    await enqueue(
        session,
        infra,
        PersonRegistered(
            psn_no=person.psn_no,
            gend=person.gend,
            admdvs=person.admdvs,
            household_no=household_no,
        ),
        PRODUCER,
    )
    return person


async def get_person(session: AsyncSession, psn_no: str, *, for_update: bool = False) -> Person:
    query = select(Person).where(Person.psn_no == psn_no)
    if for_update:
        query = query.with_for_update()
    person = await session.scalar(query)
    if person is None:
        raise NotFound(f"人员不存在: {psn_no}", code="PERSON_NOT_FOUND")
    return person


async def find_by_certno(session: AsyncSession, certno: str) -> Person | None:
    return await session.scalar(select(Person).where(Person.certno == certno.strip().upper()))


async def require_by_certno(session: AsyncSession, certno: str) -> Person:
    person = await find_by_certno(session, certno)
    if person is None:
        raise NotFound("未查询到该身份证号的参保人员信息", code="PERSON_NOT_FOUND")
    return person


async def list_identities(session: AsyncSession, psn_no: str) -> list[IdentityCategory]:
    rows = await session.scalars(
        select(IdentityCategory)
        .where(IdentityCategory.psn_no == psn_no)
        .order_by(col(IdentityCategory.begin_date), col(IdentityCategory.id))
    )
    return list(rows)


def identity_events(identities: list[IdentityCategory]) -> list[IdentityCategoryEvent]:
    return [
        IdentityCategoryEvent(psn_idet_type=i.psn_idet_type, begin_date=i.begin_date, end_date=i.end_date)
        for i in identities
    ]


def subsidised_on(identities: list[IdentityCategory], day: date) -> IdentityCategory | None:
    """The identity, if any, under which medical assistance pays the personal contribution on ``day``."""
    for identity in identities:
        if identity.begin_date <= day and (identity.end_date is None or day <= identity.end_date):
            return identity
    return None


async def add_identity(session: AsyncSession, psn_no: str, data: IdentityCreate) -> IdentityCategory:
    await get_person(session, psn_no)
    for other in await list_identities(session, psn_no):
        overlaps = data.begin_date <= (other.end_date or date.max) and other.begin_date <= (
            data.end_date or date.max
        )
        if other.psn_idet_type == data.psn_idet_type and overlaps:
            if (other.begin_date, other.end_date) == (data.begin_date, data.end_date):
                return other  # the same fact again (e.g. a re-run import): nothing to change
            raise Conflict("该人员已有有效期重叠的同类身份", code="IDENTITY_OVERLAP")
    record = IdentityCategory(psn_no=psn_no, **data.model_dump())
    session.add(record)
    await session.flush()
    await _identities_changed(session, psn_no)
    return record


async def end_identity(
    session: AsyncSession, psn_no: str, psn_idet_type: str, end_date: date
) -> IdentityCategory:
    current = [
        i
        for i in await list_identities(session, psn_no)
        if i.psn_idet_type == psn_idet_type and (i.end_date is None or i.end_date >= end_date)
    ]
    if not current:
        raise NotFound(f"该人员没有有效的身份类别 {psn_idet_type}", code="IDENTITY_NOT_FOUND")
    identity = current[-1]
    if end_date < identity.begin_date:
        raise DomainError("身份结束日期早于开始日期", code="INVALID_PERIOD", status_code=422)
    identity.end_date = end_date
    await session.flush()
    await _identities_changed(session, psn_no)
    return identity


async def _identities_changed(session: AsyncSession, psn_no: str) -> None:
    identities = await list_identities(session, psn_no)
    await enqueue(
        session,
        infra,
        IdentityCategoriesChanged(psn_no=psn_no, identities=identity_events(identities)),
        PRODUCER,
    )


async def employee_insured_since(session: AsyncSession, certno: str) -> date | None:
    row = await session.scalar(select(EmployeeInsured).where(EmployeeInsured.certno == certno))
    return row.insured_since if row is not None else None


async def record_employee_insured(session: AsyncSession, certno: str, insured_since: date) -> bool:
    """Upsert one entry of the employee-insurance list; True when it is new or changed."""
    row = await session.scalar(select(EmployeeInsured).where(EmployeeInsured.certno == certno))
    if row is None:
        session.add(EmployeeInsured(certno=certno, insured_since=insured_since))
        return True
    if row.insured_since != insured_since:
        row.insured_since = insured_since
        return True
    return False
