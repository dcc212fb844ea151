"""Households and schools register their members in one request, all or nothing: when any member is
refused, nothing is written and the answer lists every refused member with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from enrollment.enrollments import service as enrollments
from enrollment.enrollments.models import Enrollment
from enrollment.enrollments.schemas import EnrollmentCreate, PaymentIn
from enrollment.households.models import Household, School, SchoolStudent
from enrollment.households.schemas import (
    ClassRegistration,
    HouseholdOut,
    HouseholdRegistration,
    MemberStatus,
    SchoolIn,
)
from enrollment.persons import service as persons
from enrollment.persons.models import Person
from enrollment.persons.schemas import PersonCreate
from enrollment.regions import service as regions
from shared.contracts.v1.enrollment import EnrollmentOut, PersonOut
from shared.db import flush_unique
from shared.errors import Conflict, DomainError, NotFound


class BatchRefused(DomainError):
    status_code = 422
    code = "BATCH_REFUSED"


@dataclass
class Batch:
    """Members processed one by one; a member's failure is noted and the batch goes on to find the
    others', then the whole transaction is rolled back."""

    errors: list[dict[str, Any]] = field(default_factory=list)
    persons: list[Person] = field(default_factory=list)
    enrollments: list[Enrollment] = field(default_factory=list)

    def fail(self, index: int, certno: str, exc: DomainError) -> None:
        self.errors.append({"index": index, "certno": certno, "code": exc.code, "message": exc.message})

    def raise_if_failed(self, what: str) -> None:
        if self.errors:
            raise BatchRefused(
                f"{what}有 {len(self.errors)} 人不符合条件，整批未登记: "
                + "; ".join(f"{e['certno']} {e['message']}" for e in self.errors[:5]),
                details=self.errors,
            )


async def _person_for(
    session: AsyncSession,
    certno: str,
    name: str,
    admdvs: str,
    today: date,
    household_no: str | None,
    relation: str | None,
) -> Person:
    person = await persons.find_by_certno(session, certno)
    if person is None:
        return await persons.create_person(
            session,
            PersonCreate(certno=certno, psn_name=name, admdvs=admdvs),
            today=today,
            household_no=household_no,
            relation=relation,
            check_existing=False,
        )
    if person.psn_name != name:
        raise DomainError(f"姓名与已登记的 {person.psn_name} 不一致", code="NAME_MISMATCH", status_code=422)
    if household_no is not None:
        if person.household_no not in (None, household_no):
            raise Conflict(f"已登记在户 {person.household_no}", code="IN_OTHER_HOUSEHOLD")
        person.household_no, person.relation = household_no, relation
    return person


async def _settle_payment(
    session: AsyncSession, batch: Batch, payment: PaymentIn | None, today: date
) -> None:
    """One payment for the whole batch must equal what its members owe (medical assistance already paid
    for the subsidised ones); it is recorded against each enrollment with the same receipt."""
    if payment is None:
        return
    owed = [e for e in batch.enrollments if e.status == "pending"]
    due = sum(e.due_fen - e.paid_fen for e in owed)
    if payment.amount_fen != due:
        enrollments._wrong_amount(payment.amount_fen, due)
    for e in owed:
        await enrollments.pay(
            session, e, payment.model_copy(update={"amount_fen": e.due_fen - e.paid_fen}), today
        )


async def register_household(session: AsyncSession, data: HouseholdRegistration, today: date) -> Batch:
    await regions.get_region(session, data.admdvs)
    if await session.scalar(select(Household).where(Household.household_no == data.household_no)):
        raise Conflict(f"户号 {data.household_no} 已存在", code="HOUSEHOLD_EXISTS")
    batch = Batch()
    for index, member in enumerate(data.members):
        try:
            async with session.begin_nested():
                person = await _person_for(
                    session,
                    member.certno,
                    member.psn_name,
                    data.admdvs,
                    today,
                    data.household_no,
                    member.relation,
                )
                batch.persons.append(person)
                if data.enroll is not None:
                    batch.enrollments.append(
                        await enrollments.enroll(
                            session,
                            EnrollmentCreate(
                                psn_no=person.psn_no,
                                year=data.enroll.year,
                                insuplc_admdvs=data.admdvs,
                                tier=data.enroll.adult_tier,
                            ),
                            today,
                        )
                    )
        except DomainError as exc:
            batch.fail(index, member.certno, exc)
    batch.raise_if_failed(f"户 {data.household_no} ")
    head = next(p for p, m in zip(batch.persons, data.members, strict=True) if m.relation == "head")
    session.add(
        Household(
            household_no=data.household_no, admdvs=data.admdvs, address=data.address, head_psn_no=head.psn_no
        )
    )
    await flush_unique(session, Conflict(f"户号 {data.household_no} 已存在", code="HOUSEHOLD_EXISTS"))
    if data.enroll is not None:
        await _settle_payment(session, batch, data.enroll.payment, today)
    return batch


async def find_household(session: AsyncSession, household_no: str) -> Household | None:
    return await session.scalar(select(Household).where(Household.household_no == household_no))


async def get_household(session: AsyncSession, household_no: str) -> Household:
    household = await find_household(session, household_no)
    if household is None:
        raise NotFound(f"户号不存在: {household_no}", code="HOUSEHOLD_NOT_FOUND")
    return household


async def members_of(session: AsyncSession, household_no: str) -> list[Person]:
    return list(
        await session.scalars(
            select(Person).where(Person.household_no == household_no).order_by(col(Person.id))
        )
    )


async def household_status(session: AsyncSession, household_no: str, year: int | None) -> HouseholdOut:
    household = await get_household(session, household_no)
    members: list[MemberStatus] = []
    due = paid = 0
    for person in await members_of(session, household_no):
        enrollment: EnrollmentOut | None = None
        if year is not None:
            history = await enrollments.list_for_person(session, person.psn_no)
            this_year = [
                e for e in enrollments.with_continuity(history) if e.year == year and e.insutype == "390"
            ]
            if this_year:
                enrollment = this_year[0]
                due += enrollment.due_fen
                paid += enrollment.paid_fen
        members.append(MemberStatus(person=PersonOut.model_validate(person), enrollment=enrollment))
    return HouseholdOut(
        household_no=household.household_no,
        admdvs=household.admdvs,
        address=household.address,
        head_psn_no=household.head_psn_no,
        year=year,
        members=members,
        due_fen=due,
        paid_fen=paid,
    )


async def add_school(session: AsyncSession, data: SchoolIn) -> School:
    school = School(**data.model_dump())
    session.add(school)
    await flush_unique(session, Conflict(f"学校代码已存在: {data.school_code}", code="SCHOOL_EXISTS"))
    return school


async def get_school(session: AsyncSession, school_code: str) -> School:
    school = await session.scalar(select(School).where(School.school_code == school_code))
    if school is None:
        raise NotFound(f"学校不存在: {school_code}", code="SCHOOL_NOT_FOUND")
    return school


async def register_class(
    session: AsyncSession, school_code: str, data: ClassRegistration, today: date
) -> Batch:
    school = await get_school(session, school_code)
    await regions.get_region(session, school.admdvs)
    batch = Batch()
    for index, student in enumerate(data.students):
        try:
            async with session.begin_nested():
                person = await _person_for(
                    session, student.certno, student.psn_name, school.admdvs, today, None, None
                )
                batch.persons.append(person)
                registered = await session.scalar(
                    select(SchoolStudent).where(
                        SchoolStudent.psn_no == person.psn_no, SchoolStudent.year == data.year
                    )
                )
                if registered is not None and registered.school_code != school_code:
                    raise Conflict(
                        f"{data.year} 年度已在学校 {registered.school_code} 登记", code="IN_OTHER_SCHOOL"
                    )
                if registered is None:
                    session.add(
                        SchoolStudent(
                            school_code=school_code,
                            psn_no=person.psn_no,
                            year=data.year,
                            class_name=data.class_name,
                        )
                    )
                    await session.flush()
                batch.enrollments.append(
                    await enrollments.enroll(
                        session,
                        EnrollmentCreate(psn_no=person.psn_no, year=data.year, insuplc_admdvs=school.admdvs),
                        today,
                    )
                )
        except DomainError as exc:
            batch.fail(index, student.certno, exc)
    batch.raise_if_failed(f"{school.name} {data.class_name} ")
    await _settle_payment(session, batch, data.payment, today)
    return batch


async def residences(session: AsyncSession, admdvs: str) -> list[tuple[str, str, str]]:
    """(psn_no, household_no, address) of every household member registered in the region: the village or
    community the monthly compensation publicity list is posted in (Jinzhai: per village)."""
    rows = await session.execute(
        select(Person.psn_no, Household.household_no, Household.address)
        .join(Household, col(Household.household_no) == col(Person.household_no))
        .where(Household.admdvs == admdvs)
        .order_by(col(Person.psn_no))
    )
    return [(p, h, a) for p, h, a in rows.all()]
