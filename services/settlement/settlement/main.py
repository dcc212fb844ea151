"""Settlement service app: ``uvicorn settlement.main:app``."""

from __future__ import annotations

from fastapi import FastAPI

from settlement.catalogue.endpoints import router as catalogue_router
from settlement.config import SettlementSettings
from settlement.db import infra
from settlement.eligibility.endpoints import router as eligibility_router
from settlement.eligibility.service import apply_coverage_activated
from settlement.institutions.endpoints import router as institutions_router
from settlement.policy.endpoints import router as policy_router
from settlement.settlements.endpoints import router as settlements_router
from shared.config import ServiceSettings
from shared.consumer import Subscription
from shared.events import ENROLLMENT_TOPIC, CoverageActivated
from shared.service import ServiceRuntime, create_service_app


def build_runtime(settings: ServiceSettings) -> ServiceRuntime:
    assert isinstance(settings, SettlementSettings)
    return ServiceRuntime(
        settings,
        infra,
        publishes=True,
        consumes=[ENROLLMENT_TOPIC],
        subscriptions={CoverageActivated.event_type: Subscription(apply_coverage_activated)},
        consumer_group=settings.consumer_group,
    )


def create_app(settings: SettlementSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or SettlementSettings(),
        title="Settlement service",
        description="Catalogue, benefit policies, designated institutions, eligibility and settlements.",
        runtime_factory=build_runtime,
        routers=[
            settlements_router,
            institutions_router,
            catalogue_router,
            policy_router,
            eligibility_router,
        ],
    )


app = create_app()
