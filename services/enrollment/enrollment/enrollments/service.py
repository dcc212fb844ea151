"""Enrollment years: registering, paying, activating (with the subsidy split), terminating, continuity.
Every state change commits with its outbox event."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from enrollment import metrics
from enrollment.db import infra
from enrollment.enrollments import rules
from enrollment.enrollments.models import Enrollment, Payment, SubsidyAllocation
from enrollment.enrollments.schemas import EnrollmentCreate, LegacyEnrollmentIn, PaymentIn
from enrollment.households.models import School, SchoolStudent
from enrollment.persons import service as persons
from enrollment.persons.models import Person
from enrollment.regions import service as regions
from shared.contracts.v1.enrollment import EnrollmentOut
from shared.db import flush_unique
from shared.errors import Conflict, DomainError, NotFound
from shared.events import (
    CoverageActivated,
    EnrollmentTerminated,
    PaymentReceived,
    PersonIdentity,
    SubsidyAllocated,
    SubsidyShare,
)
from shared.outbox import enqueue

PRODUCER = "enrollment"
PAID_STATUSES = ("active", "terminated")
SCHEMES = ("390", "391", "380")


class EmployeeInsuredRefused(DomainError):
    status_code = 409
    code = "EMPLOYEE_INSURED"


async def _school_kind(session: AsyncSession, psn_no: str, year: int) -> str | None:
    row = await session.execute(
        select(School.kind)
        .join(SchoolStudent, col(SchoolStudent.school_code) == col(School.school_code))
        .where(SchoolStudent.psn_no == psn_no, SchoolStudent.year == year)
    )
    found = row.first()
    return str(found[0]) if found else None


async def check_not_employee_insured(session: AsyncSession, person: Person, on: date) -> None:
    """A person may not hold employee and resident insurance at the same time (docs/domain.md)."""
    since = await persons.employee_insured_since(session, person.certno)
    if since is not None and since <= on:
        raise EmployeeInsuredRefused(
            f"{person.psn_name}（{person.certno}）自 {since} 起参加职工基本医疗保险，不能同时参加城乡居民医保"
        )


async def find(session: AsyncSession, psn_no: str, year: int, insutype: str) -> Enrollment | None:
    return await session.scalar(
        select(Enrollment).where(
            Enrollment.psn_no == psn_no, Enrollment.year == year, Enrollment.insutype == insutype
        )
    )


async def enroll(session: AsyncSession, data: EnrollmentCreate, today: date) -> Enrollment:
    """Register a person for insurance year ``data.year``; active at once when nothing is left to pay."""
    person = await persons.get_person(session, data.psn_no, for_update=True)
    admdvs = data.insuplc_admdvs or person.admdvs
    region = await regions.get_region(session, admdvs)
    if await find(session, person.psn_no, data.year, data.insutype) is not None:
        raise Conflict(f"{person.psn_name} {data.year} 年度已登记参保", code="ALREADY_ENROLLED")
    start = rules.cover_start(rules.period_rules(region), data.year, today, person.brdy)
    await check_not_employee_insured(session, person, start.begin)
    psn_type = rules.person_type(
        person.brdy, start.begin, await _school_kind(session, person.psn_no, data.year)
    )
    category = rules.standard_category(psn_type)
    standard = await regions.standard_for(session, admdvs, data.year, category, data.tier)
    enrollment = Enrollment(
        psn_no=person.psn_no,
        year=data.year,
        insutype=data.insutype,
        psn_type=psn_type,
        tier=standard.tier,
        insuplc_admdvs=admdvs,
        status="pending",
        kind=start.kind,
        coverage_begin=start.begin,
        coverage_end=date(data.year, 12, 31),
        due_fen=standard.personal_fen,
        subsidy_fen=standard.subsidy_fen,
        enrolled_on=today,
    )
    session.add(enrollment)
    await flush_unique(
        session, Conflict(f"{person.psn_name} {data.year} 年度已登记参保", code="ALREADY_ENROLLED")
    )
    metrics.record_enrollment(session, admdvs, data.insutype, start.kind)

    identities = await persons.list_identities(session, person.psn_no)
    subsidised = persons.subsidised_on(identities, start.begin)
    if subsidised is not None and enrollment.due_fen > 0:
        # 特困、低保…: the personal contribution is paid by the medical assistance fund.
        if data.payment is not None:
            raise DomainError(
                f"{person.psn_name} 属资助参保对象，个人缴费由医疗救助基金代缴，不应再收取个人缴费",
                code="OVERPAYMENT",
                status_code=422,
            )
        await pay(
            session,
            enrollment,
            PaymentIn(
                payer="medical_assistance",
                amount_fen=enrollment.due_fen,
                receipt_no=f"MA{data.year}{enrollment.id}",
                paid_on=today,
            ),
            today,
        )
    elif data.payment is not None:
        if data.payment.amount_fen != enrollment.due_fen:
            _wrong_amount(data.payment.amount_fen, enrollment.due_fen)
        await pay(session, enrollment, data.payment, today)
    elif enrollment.due_fen == 0:
        await _activate(session, enrollment, today)
    return enrollment


def _wrong_amount(paid: int, due: int) -> None:
    code = "UNDERPAYMENT" if paid < due else "OVERPAYMENT"
    raise DomainError(
        f"缴费金额 {paid / 100:.2f} 元与应缴金额 {due / 100:.2f} 元不符", code=code, status_code=422
    )


async def get(session: AsyncSession, enrollment_id: int, *, for_update: bool = False) -> Enrollment:
    query = select(Enrollment).where(Enrollment.id == enrollment_id)
    if for_update:
        query = query.with_for_update()
    enrollment = await session.scalar(query)
    if enrollment is None:
        raise NotFound(f"参保登记不存在: {enrollment_id}", code="ENROLLMENT_NOT_FOUND")
    return enrollment


async def pay(session: AsyncSession, enrollment: Enrollment, data: PaymentIn, today: date) -> Payment:
    """Record one payment; the enrollment becomes active when the contribution is paid in full."""
    if enrollment.status != "pending":
        raise Conflict(f"该参保登记状态为 {enrollment.status}，不能再缴费", code="NOT_PENDING")
    if data.paid_on > today:
        raise DomainError("缴费日期不能晚于今天", code="FUTURE_DATE", status_code=422)
    outstanding = enrollment.due_fen - enrollment.paid_fen
    if data.amount_fen > outstanding:
        raise DomainError(
            f"缴费金额 {data.amount_fen / 100:.2f} 元超过尚欠金额 {outstanding / 100:.2f} 元",
            code="OVERPAYMENT",
            status_code=422,
        )
    assert enrollment.id is not None
    payment = Payment(
        enrollment_id=enrollment.id,
        payer=data.payer,
        amount_fen=data.amount_fen,
        receipt_no=data.receipt_no,
        paid_on=data.paid_on,
    )
    session.add(payment)
    await flush_unique(session, Conflict(f"收据号 {data.receipt_no} 已用于该参保登记", code="RECEIPT_EXISTS"))
    enrollment.paid_fen += data.amount_fen
    metrics.record_payment(session, enrollment.insuplc_admdvs, data.payer, data.amount_fen)
    assert payment.id is not None
    await enqueue(
        session,
        infra,
        PaymentReceived(
            psn_no=enrollment.psn_no,
            enrollment_id=enrollment.id,
            payment_id=payment.id,
            year=enrollment.year,
            insutype=enrollment.insutype,
            admdvs=enrollment.insuplc_admdvs,
            payer=data.payer,
            amount_fen=data.amount_fen,
            receipt_no=data.receipt_no,
            paid_on=data.paid_on,
        ),
        PRODUCER,
    )
    if enrollment.paid_fen == enrollment.due_fen:
        await _activate(session, enrollment, today)
    return payment


async def _activate(session: AsyncSession, enrollment: Enrollment, today: date) -> None:
    """Fully paid: the person is covered, and the government subsidy for them is allocated by level."""
    assert enrollment.id is not None
    enrollment.status = "active"
    enrollment.activated_on = today
    person = await persons.get_person(session, enrollment.psn_no)
    region = await regions.get_region(session, enrollment.insuplc_admdvs)
    shares = rules.split_subsidy(enrollment.subsidy_fen, regions.subsidy_ratios(region))
    for level, amount in shares.items():
        session.add(SubsidyAllocation(enrollment_id=enrollment.id, level=level, amount_fen=amount))
    await session.flush()
    metrics.record_activation(session, enrollment.insuplc_admdvs, enrollment.insutype, shares)
    history = await list_for_person(session, enrollment.psn_no)
    continuity = continuity_by_year(history)
    run, since = continuity.get(enrollment.year, (1, enrollment.coverage_begin))
    identities = await persons.list_identities(session, enrollment.psn_no)
    # Who the person is goes on the restricted topic (settlement only); the cover on enrollment.events
    # (docs/architecture.md, "Personal data on the bus").
    await enqueue(
        session,
        infra,
        PersonIdentity(
            psn_no=person.psn_no,
            certno=person.certno,
            psn_name=person.psn_name,
            gend=person.gend,
            brdy=person.brdy,
            naty=person.naty,
        ),
        PRODUCER,
    )
    await enqueue(
        session,
        infra,
        CoverageActivated(
            enrollment_id=enrollment.id,
            psn_no=person.psn_no,
            insutype=enrollment.insutype,
            psn_type=enrollment.psn_type,
            insuplc_admdvs=enrollment.insuplc_admdvs,
            year=enrollment.year,
            coverage_begin=enrollment.coverage_begin,
            coverage_end=enrollment.coverage_end,
            identities=persons.identity_events(identities),
            continuous_years=run,
            psn_insu_date=since,
        ),
        PRODUCER,
    )
    await enqueue(
        session,
        infra,
        SubsidyAllocated(
            psn_no=enrollment.psn_no,
            enrollment_id=enrollment.id,
            year=enrollment.year,
            insutype=enrollment.insutype,
            admdvs=enrollment.insuplc_admdvs,
            total_fen=enrollment.subsidy_fen,
            shares=[SubsidyShare(level=level, amount_fen=amount) for level, amount in shares.items()],
        ),
        PRODUCER,
    )


async def record_legacy(
    session: AsyncSession, psn_no: str, data: LegacyEnrollmentIn, today: date
) -> Enrollment:
    """A year of cover under URBMI/NCMS before the merger: history for continuity, no cover today."""
    await persons.get_person(session, psn_no)
    if await find(session, psn_no, data.year, data.insutype) is not None:
        raise Conflict(f"该人员 {data.year} 年度 {data.insutype} 参保记录已存在", code="ALREADY_ENROLLED")
    if await find(session, psn_no, data.year, "390") is not None:
        raise Conflict(f"该人员 {data.year} 年度已参加城乡居民医保", code="ALREADY_ENROLLED")
    if data.year > today.year:
        raise DomainError("原制度参保记录不能是未来年度", code="INVALID_YEAR", status_code=422)
    enrollment = Enrollment(
        psn_no=psn_no,
        year=data.year,
        insutype=data.insutype,
        psn_type="",
        tier="-",
        insuplc_admdvs=data.insuplc_admdvs,
        status="active",
        kind="legacy",
        coverage_begin=date(data.year, 1, 1),
        coverage_end=date(data.year, 12, 31),
        due_fen=data.paid_fen,
        paid_fen=data.paid_fen,
        enrolled_on=today,
        activated_on=today,
    )
    session.add(enrollment)
    await flush_unique(session, Conflict("该年度原制度参保记录已存在", code="ALREADY_ENROLLED"))
    return enrollment


async def terminate(
    session: AsyncSession, enrollment: Enrollment, reason: str, effective_date: date
) -> Enrollment:
    """Cover ends: not covered from ``effective_date`` on (death, moving away, joining employee insurance)."""
    if enrollment.status == "terminated":
        raise Conflict(f"该参保登记已于 {enrollment.terminated_on} 终止", code="ALREADY_TERMINATED")
    if effective_date > enrollment.coverage_end + timedelta(days=1):
        raise DomainError(
            f"终止日期 {effective_date} 晚于该年度待遇期结束日 {enrollment.coverage_end}",
            code="INVALID_DATE",
            status_code=422,
        )
    assert enrollment.id is not None
    enrollment.status = "terminated"
    enrollment.terminated_on = effective_date
    enrollment.termination_reason = reason
    enrollment.coverage_end = min(enrollment.coverage_end, effective_date - timedelta(days=1))
    await session.flush()
    metrics.record_termination(session, enrollment.insuplc_admdvs, enrollment.insutype, reason)
    await enqueue(
        session,
        infra,
        EnrollmentTerminated(
            psn_no=enrollment.psn_no,
            enrollment_id=enrollment.id,
            year=enrollment.year,
            insutype=enrollment.insutype,
            reason=reason,
            effective_date=effective_date,
        ),
        PRODUCER,
    )
    return enrollment


async def terminate_person(
    session: AsyncSession, psn_no: str, reason: str, effective_date: date
) -> list[Enrollment]:
    """End every resident enrollment of the person still running on or after ``effective_date``."""
    await persons.get_person(session, psn_no, for_update=True)
    running = [
        e
        for e in await list_for_person(session, psn_no)
        if e.kind != "legacy" and e.status != "terminated" and e.coverage_end >= effective_date
    ]
    if not running:
        raise DomainError(
            f"该人员在 {effective_date} 及以后没有可终止的参保登记",
            code="NOTHING_TO_TERMINATE",
            status_code=422,
        )
    return [await terminate(session, e, reason, effective_date) for e in running]


async def list_for_person(session: AsyncSession, psn_no: str) -> list[Enrollment]:
    rows = await session.scalars(
        select(Enrollment)
        .where(Enrollment.psn_no == psn_no)
        .order_by(col(Enrollment.year), col(Enrollment.insutype))
    )
    return list(rows)


def continuity_by_year(enrollments: Sequence[Enrollment]) -> dict[int, tuple[int, date]]:
    """For each paid year: (continuous years up to it, first day of that run of cover).

    Years under URBMI (391), NCMS (380) and the unified scheme (390) count together (参保年限合并计算)."""
    paid = {e.year: e for e in enrollments if e.status in PAID_STATUSES and e.insutype in SCHEMES}
    result: dict[int, tuple[int, date]] = {}
    for year in paid:
        run = rules.continuous_run(paid, year)
        result[year] = (run, paid[year - run + 1].coverage_begin)
    return result


def with_continuity(enrollments: Sequence[Enrollment]) -> list[EnrollmentOut]:
    continuity = continuity_by_year(enrollments)
    out = []
    for e in enrollments:
        item = EnrollmentOut.model_validate(e)
        if e.year in continuity:
            item.continuous_years, item.psn_insu_date = continuity[e.year]
        out.append(item)
    return out


async def describe(session: AsyncSession, enrollment: Enrollment) -> EnrollmentOut:
    """The enrollment as operators and 1101 see it, with its continuity."""
    for item in with_continuity(await list_for_person(session, enrollment.psn_no)):
        if item.id == enrollment.id:
            return item
    raise NotFound(f"参保登记不存在: {enrollment.id}", code="ENROLLMENT_NOT_FOUND")


def covering(enrollments: Sequence[Enrollment], on: date) -> Enrollment | None:
    for e in enrollments:
        if e.status in PAID_STATUSES and e.kind != "legacy" and e.coverage_begin <= on <= e.coverage_end:
            return e
    return None


async def payments_of(session: AsyncSession, enrollment_id: int) -> list[Payment]:
    return list(
        await session.scalars(
            select(Payment).where(Payment.enrollment_id == enrollment_id).order_by(col(Payment.id))
        )
    )
