"""Enrollment service app: ``uvicorn enrollment.main:app``."""

from __future__ import annotations

from fastapi import FastAPI

from enrollment.cards.endpoints import router as cards_router
from enrollment.config import EnrollmentSettings
from enrollment.db import audit, infra
from enrollment.enrollments.endpoints import person_router as person_coverage_router
from enrollment.enrollments.endpoints import router as enrollments_router
from enrollment.households.endpoints import router as households_router
from enrollment.persons.endpoints import router as persons_router
from enrollment.regions.endpoints import router as regions_router
from enrollment.vouchers.endpoints import router as vouchers_router
from shared import outbox_feed
from shared.auth import AUDITOR, ENROLLMENT_CLERK, SERVICE, access, guarded
from shared.config import ServiceSettings
from shared.service import ServiceRuntime, create_service_app

#: Clerks keep the registers; auditors read; the gateway (service) looks persons up for 1101. Region rules
#: and contribution standards are policy: administrators only.
CLERKS = access(read={ENROLLMENT_CLERK, AUDITOR, SERVICE}, write={ENROLLMENT_CLERK})
POLICY = access(read={ENROLLMENT_CLERK, AUDITOR, SERVICE}, write=set())


def build_runtime(settings: ServiceSettings) -> ServiceRuntime:
    return ServiceRuntime(settings, infra, publishes=True)


def create_app(settings: EnrollmentSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or EnrollmentSettings(),
        title="Enrollment service",
        description="Residents, households, schools, enrollment years, contributions, subsidies and cards.",
        runtime_factory=build_runtime,
        routers=[
            guarded(person_coverage_router, CLERKS),
            guarded(persons_router, CLERKS),
            guarded(enrollments_router, CLERKS),
            guarded(households_router, CLERKS),
            guarded(cards_router, CLERKS),
            guarded(vouchers_router, CLERKS),
            guarded(regions_router, POLICY),
            guarded(outbox_feed.router, outbox_feed.FEED_ACCESS),
        ],
        audit_table=audit,
    )


app = create_app()
