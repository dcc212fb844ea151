from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from enrollment.cards import service as cards
from enrollment.deps import TodayDep
from enrollment.enrollments import service
from enrollment.enrollments.rules import age_on
from enrollment.enrollments.schemas import (
    CoverageOnDate,
    EnrollmentCreate,
    LegacyEnrollmentIn,
    PaymentIn,
    PaymentOut,
    TerminationIn,
)
from enrollment.persons import service as persons
from enrollment.persons.schemas import EmployeeImport, EmployeeImportResult
from shared.contracts.v1.enrollment import CardOut, EnrollmentOut, IdentityOut, PersonCoverage, PersonOut
from shared.errors import DomainError
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/enrollments", tags=["enrollments"])
#: A person's coverage (1101's lookup, the history, coverage on a date, ending it), under /persons: served
#: here, over the persons' and cards' services, so that these stay below enrollments. Included before the
#: persons' router, whose /persons/{psn_no} would otherwise take /persons/lookup.
person_router = APIRouter(prefix="/api/v1", tags=["persons"])


@router.post("", status_code=201, response_model=EnrollmentOut)
async def enroll(body: EnrollmentCreate, runtime: RuntimeDep, today: TodayDep) -> EnrollmentOut:
    """Enrol a person for an insurance year at the region's standard (pending until fully
    paid). Refused: 404 PERSON_NOT_FOUND or REGION_NOT_FOUND; 409 ALREADY_ENROLLED or
    EMPLOYEE_INSURED; 422 OUTSIDE_COLLECTION_PERIOD, NO_STANDARD or OVERPAYMENT."""
    async with runtime.transaction() as session:
        return await service.describe(session, await service.enroll(session, body, today))


@router.get("/{enrollment_id}", response_model=EnrollmentOut)
async def get_enrollment(enrollment_id: int, runtime: RuntimeDep) -> EnrollmentOut:
    """One enrollment with its status, amounts due and paid. Refused: 404
    ENROLLMENT_NOT_FOUND."""
    async with runtime.db.session() as session:
        return await service.describe(session, await service.get(session, enrollment_id))


@router.post("/{enrollment_id}/payments", status_code=201, response_model=PaymentOut)
async def pay(enrollment_id: int, body: PaymentIn, runtime: RuntimeDep, today: TodayDep) -> PaymentOut:
    """Record a payment towards an enrollment (several payers may pay parts); the enrollment
    activates when fully paid. Refused: 404 ENROLLMENT_NOT_FOUND; 409 NOT_PENDING or
    RECEIPT_EXISTS; 422 OVERPAYMENT or FUTURE_DATE."""
    async with runtime.transaction() as session:
        enrollment = await service.get(session, enrollment_id, for_update=True)
        return PaymentOut.model_validate(await service.pay(session, enrollment, body, today))


@router.get("/{enrollment_id}/payments", response_model=list[PaymentOut])
async def payments(enrollment_id: int, runtime: RuntimeDep) -> list[PaymentOut]:
    """The payments recorded for an enrollment, oldest first. Refused: 404
    ENROLLMENT_NOT_FOUND."""
    async with runtime.db.session() as session:
        await service.get(session, enrollment_id)
        return [PaymentOut.model_validate(p) for p in await service.payments_of(session, enrollment_id)]


@router.post("/{enrollment_id}/termination", response_model=EnrollmentOut)
async def terminate(enrollment_id: int, body: TerminationIn, runtime: RuntimeDep) -> EnrollmentOut:
    """End an enrollment (death, moving away, employee insurance...) from a date. Refused:
    404 ENROLLMENT_NOT_FOUND; 409 ALREADY_TERMINATED; 422 INVALID_DATE."""
    async with runtime.transaction() as session:
        enrollment = await service.get(session, enrollment_id, for_update=True)
        await service.terminate(session, enrollment, body.reason, body.effective_date)
        return await service.describe(session, enrollment)


@person_router.get("/persons/lookup", response_model=PersonCoverage)
async def lookup_person(
    runtime: RuntimeDep,
    today: TodayDep,
    certno: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
    card_no: Annotated[str | None, Query(min_length=1, max_length=30)] = None,
    card_sn: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
) -> PersonCoverage:
    """A person with enrollments, identities and (when looked up by card) the card: what 1101 answers."""
    if (certno is None) == (card_no is None):
        raise DomainError("请提供身份证号 certno 或社保卡号 card_no 之一", code="BAD_LOOKUP", status_code=422)
    async with runtime.db.session() as session:
        card = None
        if card_no is not None:
            card = await cards.usable(session, card_no, card_sn)
            person = await persons.get_person(session, card.psn_no)
        else:
            assert certno is not None
            person = await persons.require_by_certno(session, certno)
        history = await service.list_for_person(session, person.psn_no)
        return PersonCoverage(
            person=PersonOut.model_validate(person),
            age=age_on(person.brdy, today),
            enrollments=service.with_continuity(history),
            identities=[
                IdentityOut.model_validate(i) for i in await persons.list_identities(session, person.psn_no)
            ],
            card=CardOut.model_validate(card) if card is not None else None,
        )


@person_router.get("/persons/{psn_no}/enrollments", response_model=list[EnrollmentOut])
async def coverage_history(psn_no: str, runtime: RuntimeDep) -> list[EnrollmentOut]:
    """Every enrollment year of the person, legacy schemes included, with continuity."""
    async with runtime.db.session() as session:
        await persons.get_person(session, psn_no)
        return service.with_continuity(await service.list_for_person(session, psn_no))


@person_router.get("/persons/{psn_no}/coverage", response_model=CoverageOnDate)
async def coverage_on(psn_no: str, on: date, runtime: RuntimeDep) -> CoverageOnDate:
    """Whether the person was covered on a given date, and why not (not enrolled that year,
    pending payment, terminated). Refused: 404 PERSON_NOT_FOUND."""
    async with runtime.db.session() as session:
        await persons.get_person(session, psn_no)
        history = await service.list_for_person(session, psn_no)
        found = service.covering(history, on)
        if found is not None:
            return CoverageOnDate(
                psn_no=psn_no,
                on=on,
                covered=True,
                reason="正常参保",
                enrollment=await service.describe(session, found),
            )
        same_year = [e for e in history if e.year == on.year and e.insutype == "390"]
        if not same_year:
            reason = f"{on.year} 年度未参保"
        elif same_year[0].status == "pending":
            reason = f"{on.year} 年度已登记但未缴足个人缴费"
        elif same_year[0].status == "terminated":
            reason = f"已于 {same_year[0].terminated_on} 终止参保"
        else:
            reason = f"待遇期为 {same_year[0].coverage_begin} 至 {same_year[0].coverage_end}"
        enrollment = await service.describe(session, same_year[0]) if same_year else None
        return CoverageOnDate(psn_no=psn_no, on=on, covered=False, reason=reason, enrollment=enrollment)


@person_router.post("/persons/{psn_no}/termination", response_model=list[EnrollmentOut])
async def terminate_person(psn_no: str, body: TerminationIn, runtime: RuntimeDep) -> list[EnrollmentOut]:
    """Death, moving away or joining employee insurance: every running enrollment ends on the date."""
    async with runtime.transaction() as session:
        ended = await service.terminate_person(session, psn_no, body.reason, body.effective_date)
        return [await service.describe(session, e) for e in ended]


@person_router.post("/persons/{psn_no}/legacy-enrollments", status_code=201, response_model=EnrollmentOut)
async def record_legacy(
    psn_no: str, body: LegacyEnrollmentIn, runtime: RuntimeDep, today: TodayDep
) -> EnrollmentOut:
    """Record a year the person was insured under a legacy scheme (新农合 / 城镇居民), for
    continuity. Refused: 404 PERSON_NOT_FOUND; 409 ALREADY_ENROLLED; 422 INVALID_YEAR."""
    async with runtime.transaction() as session:
        return await service.describe(session, await service.record_legacy(session, psn_no, body, today))


@person_router.post("/employee-insured", response_model=EmployeeImportResult)
async def import_employee_insured(body: EmployeeImport, runtime: RuntimeDep) -> EmployeeImportResult:
    """Import the employee-insurance list. Anyone on it loses resident cover from the date they joined."""
    terminated = 0
    imported = 0
    async with runtime.transaction() as session:
        for entry in body.entries:
            if await persons.record_employee_insured(session, entry.certno, entry.insured_since):
                imported += 1
            person = await persons.find_by_certno(session, entry.certno)
            if person is None:
                continue
            for enrollment in await service.list_for_person(session, person.psn_no):
                running = enrollment.status != "terminated" and enrollment.kind != "legacy"
                if running and enrollment.coverage_end >= entry.insured_since:
                    await service.terminate(session, enrollment, "employee_insurance", entry.insured_since)
                    terminated += 1
    return EmployeeImportResult(imported=imported, terminated_enrollments=terminated)
