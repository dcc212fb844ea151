"""Settlement service app: ``uvicorn settlement.main:app``."""

from __future__ import annotations

from fastapi import FastAPI

from settlement.catalogue.endpoints import router as catalogue_router
from settlement.config import SettlementSettings
from settlement.db import infra
from settlement.eligibility.endpoints import router as eligibility_router
from settlement.eligibility.service import (
    apply_card_status_changed,
    apply_coverage_activated,
    apply_enrollment_terminated,
    apply_identities_changed,
)
from settlement.encounters.endpoints import router as encounters_router
from settlement.institutions.endpoints import router as institutions_router
from settlement.manual.endpoints import router as manual_router
from settlement.policy.endpoints import router as policy_router
from settlement.reconciliation.endpoints import router as reconciliation_router
from settlement.reporting.endpoints import router as reporting_router
from settlement.schemes.endpoints import router as schemes_router
from settlement.settlements.endpoints import router as settlements_router
from settlement.supervision.endpoints import router as supervision_router
from shared.config import ServiceSettings
from shared.consumer import Subscription
from shared.events import (
    ENROLLMENT_TOPIC,
    CardStatusChanged,
    CoverageActivated,
    EnrollmentTerminated,
    IdentityCategoriesChanged,
)
from shared.service import ServiceRuntime, create_service_app

#: The enrollment events settlement keeps read models of; the other types on the topic are not its concern.
SUBSCRIPTIONS = {
    CoverageActivated.event_type: Subscription(apply_coverage_activated),
    EnrollmentTerminated.event_type: Subscription(apply_enrollment_terminated),
    IdentityCategoriesChanged.event_type: Subscription(apply_identities_changed),
    CardStatusChanged.event_type: Subscription(apply_card_status_changed),
}


def build_runtime(settings: ServiceSettings) -> ServiceRuntime:
    assert isinstance(settings, SettlementSettings)
    return ServiceRuntime(
        settings,
        infra,
        publishes=True,
        consumes=[ENROLLMENT_TOPIC],
        subscriptions=SUBSCRIPTIONS,
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
            encounters_router,
            institutions_router,
            catalogue_router,
            policy_router,
            eligibility_router,
            reconciliation_router,
            schemes_router,
            supervision_router,
            manual_router,
            reporting_router,
        ],
    )


app = create_app()
