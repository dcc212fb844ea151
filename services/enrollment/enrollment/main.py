"""Enrollment service app: ``uvicorn enrollment.main:app``."""

from __future__ import annotations

from fastapi import FastAPI

from enrollment.config import EnrollmentSettings
from enrollment.db import infra
from enrollment.persons.endpoints import router as persons_router
from shared.config import ServiceSettings
from shared.service import ServiceRuntime, create_service_app


def build_runtime(settings: ServiceSettings) -> ServiceRuntime:
    return ServiceRuntime(settings, infra, publishes=True)


def create_app(settings: EnrollmentSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or EnrollmentSettings(),
        title="Enrollment service",
        description="Persons, enrollment years and identity categories of the residents' insurance.",
        runtime_factory=build_runtime,
        routers=[persons_router],
    )


app = create_app()
