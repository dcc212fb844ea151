"""Persons and their enrollment years. Each state change commits with its outbox event."""

from __future__ import annotations

import secrets
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from enrollment.db import infra
from enrollment.persons.models import Enrollment, IdentityCategory, Person
from enrollment.persons.schemas import EnrollmentCreate, IdentityCreate, PersonCreate
from shared.errors import Conflict, NotFound
from shared.events import CoverageActivated
from shared.events import IdentityCategory as IdentityCategoryEvent
from shared.idcard import parse_id_number
from shared.outbox import enqueue

PRODUCER = "enrollment"


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def derive_psn_type(birth: date, coverage_begin: date) -> str:
    """人员类别 by age at the start of cover (research doc 3.3). Students and college students are refined
    by school registration (issue 3); here age alone decides."""
    age = age_on(birth, coverage_begin)
    if birth.year >= coverage_begin.year - 1 and age < 1:
        return "1401"  # 新生儿
    if age < 6:
        return "1402"  # 学龄前儿童
    if age < 18:
        return "1403"  # 中小学生
    if age >= 60:
        return "1601"  # 居民（老年）[inferred detailed code under top-level 16]
    return "1501"  # 普通居民（成年）


def _new_psn_no(admdvs: str) -> str:
    return f"{admdvs}{secrets.randbelow(10**16):016d}"


async def create_person(session: AsyncSession, data: PersonCreate) -> Person:
    idno = parse_id_number(data.certno)
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
    )
    session.add(person)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("该身份证号已登记", code="PERSON_EXISTS") from exc
    return person


async def get_person(session: AsyncSession, psn_no: str) -> Person:
    person = await session.scalar(select(Person).where(Person.psn_no == psn_no))
    if person is None:
        raise NotFound(f"人员不存在: {psn_no}", code="PERSON_NOT_FOUND")
    return person


async def find_by_certno(session: AsyncSession, certno: str) -> Person:
    person = await session.scalar(select(Person).where(Person.certno == certno.strip().upper()))
    if person is None:
        raise NotFound("未查询到该身份证号的参保人员信息", code="PERSON_NOT_FOUND")
    return person


async def list_enrollments(session: AsyncSession, psn_no: str) -> list[Enrollment]:
    rows = await session.scalars(
        select(Enrollment).where(Enrollment.psn_no == psn_no).order_by(col(Enrollment.year))
    )
    return list(rows)


async def list_identities(session: AsyncSession, psn_no: str) -> list[IdentityCategory]:
    rows = await session.scalars(
        select(IdentityCategory)
        .where(IdentityCategory.psn_no == psn_no)
        .order_by(col(IdentityCategory.begin_date))
    )
    return list(rows)


async def add_identity(session: AsyncSession, psn_no: str, data: IdentityCreate) -> IdentityCategory:
    await get_person(session, psn_no)
    if data.end_date is not None and data.end_date < data.begin_date:
        raise Conflict("身份有效期结束日期早于开始日期", code="INVALID_PERIOD", status_code=422)
    record = IdentityCategory(psn_no=psn_no, **data.model_dump())
    session.add(record)
    await session.flush()
    return record


async def enroll(session: AsyncSession, data: EnrollmentCreate) -> Enrollment:
    """Record a paid enrollment for an insurance year and publish its coverage.

    The spine records the contribution as paid in full; contribution standards, partial payments and
    subsidies arrive with the enrollment issue."""
    person = await get_person(session, data.psn_no)
    duplicate = await session.scalar(
        select(Enrollment).where(
            Enrollment.psn_no == data.psn_no,
            Enrollment.year == data.year,
            Enrollment.insutype == data.insutype,
        )
    )
    if duplicate is not None:
        raise Conflict(f"该人员 {data.year} 年度已参保", code="ALREADY_ENROLLED")
    begin, end = date(data.year, 1, 1), date(data.year, 12, 31)
    coverage_begin = max(begin, person.brdy)
    enrollment = Enrollment(
        psn_no=person.psn_no,
        year=data.year,
        insutype=data.insutype,
        psn_type=derive_psn_type(person.brdy, coverage_begin),
        insuplc_admdvs=data.insuplc_admdvs,
        status="1",
        coverage_begin=coverage_begin,
        coverage_end=end,
        contribution_fen=data.contribution_fen,
        receipt_no=data.receipt_no,
    )
    session.add(enrollment)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"该人员 {data.year} 年度已参保", code="ALREADY_ENROLLED") from exc
    identities = await list_identities(session, person.psn_no)
    assert enrollment.id is not None
    await enqueue(
        session,
        infra,
        CoverageActivated(
            enrollment_id=enrollment.id,
            psn_no=person.psn_no,
            certno=person.certno,
            psn_name=person.psn_name,
            gend=person.gend,
            brdy=person.brdy,
            insutype=enrollment.insutype,
            psn_type=enrollment.psn_type,
            insuplc_admdvs=enrollment.insuplc_admdvs,
            year=enrollment.year,
            coverage_begin=enrollment.coverage_begin,
            coverage_end=enrollment.coverage_end,
            identities=[
                IdentityCategoryEvent(
                    psn_idet_type=i.psn_idet_type, begin_date=i.begin_date, end_date=i.end_date
                )
                for i in identities
            ],
        ),
        PRODUCER,
    )
    return enrollment
