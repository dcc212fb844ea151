from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from enrollment.persons import service
from enrollment.persons.schemas import (
    EnrollmentCreate,
    EnrollmentOut,
    IdentityCreate,
    IdentityOut,
    PersonCoverage,
    PersonCreate,
    PersonOut,
)
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["persons"])


@router.post("/persons", status_code=201, response_model=PersonOut)
async def create_person(body: PersonCreate, runtime: RuntimeDep) -> PersonOut:
    async with runtime.transaction() as session:
        person = await service.create_person(session, body)
        return PersonOut.model_validate(person)


@router.get("/persons/lookup", response_model=PersonCoverage)
async def lookup_person(
    runtime: RuntimeDep, certno: Annotated[str, Query(min_length=1, max_length=50)]
) -> PersonCoverage:
    async with runtime.db.session() as session:
        person = await service.find_by_certno(session, certno)
        enrollments = await service.list_enrollments(session, person.psn_no)
        identities = await service.list_identities(session, person.psn_no)
        return PersonCoverage(
            person=PersonOut.model_validate(person),
            age=service.age_on(person.brdy, date.today()),
            enrollments=[EnrollmentOut.model_validate(e) for e in enrollments],
            identities=[IdentityOut.model_validate(i) for i in identities],
        )


@router.get("/persons/{psn_no}", response_model=PersonOut)
async def get_person(psn_no: str, runtime: RuntimeDep) -> PersonOut:
    async with runtime.db.session() as session:
        return PersonOut.model_validate(await service.get_person(session, psn_no))


@router.post("/persons/{psn_no}/identities", status_code=201, response_model=IdentityOut)
async def add_identity(psn_no: str, body: IdentityCreate, runtime: RuntimeDep) -> IdentityOut:
    async with runtime.transaction() as session:
        return IdentityOut.model_validate(await service.add_identity(session, psn_no, body))


@router.post("/enrollments", status_code=201, response_model=EnrollmentOut)
async def enroll(body: EnrollmentCreate, runtime: RuntimeDep) -> EnrollmentOut:
    async with runtime.transaction() as session:
        return EnrollmentOut.model_validate(await service.enroll(session, body))
