from __future__ import annotations

from fastapi import APIRouter

from enrollment.deps import TodayDep
from enrollment.enrollments import service
from enrollment.enrollments.schemas import (
    EnrollmentCreate,
    EnrollmentOut,
    PaymentIn,
    PaymentOut,
    TerminationIn,
)
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/enrollments", tags=["enrollments"])


@router.post("", status_code=201, response_model=EnrollmentOut)
async def enroll(body: EnrollmentCreate, runtime: RuntimeDep, today: TodayDep) -> EnrollmentOut:
    async with runtime.transaction() as session:
        return await service.describe(session, await service.enroll(session, body, today))


@router.get("/{enrollment_id}", response_model=EnrollmentOut)
async def get_enrollment(enrollment_id: int, runtime: RuntimeDep) -> EnrollmentOut:
    async with runtime.db.session() as session:
        return await service.describe(session, await service.get(session, enrollment_id))


@router.post("/{enrollment_id}/payments", status_code=201, response_model=PaymentOut)
async def pay(enrollment_id: int, body: PaymentIn, runtime: RuntimeDep, today: TodayDep) -> PaymentOut:
    async with runtime.transaction() as session:
        enrollment = await service.get(session, enrollment_id, for_update=True)
        return PaymentOut.model_validate(await service.pay(session, enrollment, body, today))


@router.get("/{enrollment_id}/payments", response_model=list[PaymentOut])
async def payments(enrollment_id: int, runtime: RuntimeDep) -> list[PaymentOut]:
    async with runtime.db.session() as session:
        await service.get(session, enrollment_id)
        return [PaymentOut.model_validate(p) for p in await service.payments_of(session, enrollment_id)]


@router.post("/{enrollment_id}/termination", response_model=EnrollmentOut)
async def terminate(enrollment_id: int, body: TerminationIn, runtime: RuntimeDep) -> EnrollmentOut:
    async with runtime.transaction() as session:
        enrollment = await service.get(session, enrollment_id, for_update=True)
        await service.terminate(session, enrollment, body.reason, body.effective_date)
        return await service.describe(session, enrollment)
