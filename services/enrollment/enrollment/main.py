"""Enrollment service app: ``uvicorn enrollment.main:app``."""

from __future__ import annotations

from fastapi import FastAPI

from enrollment.cards.endpoints import router as cards_router
from enrollment.config import EnrollmentSettings
from enrollment.db import infra
from enrollment.enrollments.endpoints import router as enrollments_router
from enrollment.households.endpoints import router as households_router
from enrollment.persons.endpoints import router as persons_router
from enrollment.regions.endpoints import router as regions_router
from shared.config import ServiceSettings
from shared.service import ServiceRuntime, create_service_app


def build_runtime(settings: ServiceSettings) -> ServiceRuntime:
    return ServiceRuntime(settings, infra, publishes=True)


def create_app(settings: EnrollmentSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or EnrollmentSettings(),
        title="Enrollment service",
        description="Residents, households, schools, enrollment years, contributions, subsidies and cards.",
        runtime_factory=build_runtime,
        routers=[persons_router, enrollments_router, households_router, cards_router, regions_router],
    )


app = create_app()
