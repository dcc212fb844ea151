"""Fund ledger service app: ``uvicorn fund_ledger.main:app``."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from fund_ledger.applications.endpoints import clearing_router as application_clearing_router
from fund_ledger.applications.endpoints import router as applications_router
from fund_ledger.books.endpoints import router as books_router
from fund_ledger.books.journal import batch_scope
from fund_ledger.books.service import (
    post_manual_reimbursement_approved,
    post_manual_reimbursement_paid,
    post_payment_received,
    post_settlement_completed,
    post_settlement_reversed,
    post_subsidy_allocated,
)
from fund_ledger.books.trail import router as trail_router
from fund_ledger.clearing.endpoints import router as clearing_router
from fund_ledger.config import LedgerSettings
from fund_ledger.db import audit, feed_watermarks, infra
from fund_ledger.interplatform.endpoints import router as interplatform_router
from fund_ledger.interregion.endpoints import router as interregion_router
from fund_ledger.merger.endpoints import router as merger_router
from fund_ledger.pooling.endpoints import router as pooling_router
from fund_ledger.reconciliation.endpoints import router as reconciliation_router
from fund_ledger.schedule import LedgerScheduler
from fund_ledger.statements.endpoints import router as statements_router
from shared.auth import AUDITOR, FUND_ACCOUNTANT, SERVICE, Authenticator, access, guarded
from shared.config import ServiceSettings
from shared.consumer import Handler, Subscription
from shared.events import (
    ENROLLMENT_TOPIC,
    SETTLEMENT_TOPIC,
    EventData,
    ManualReimbursementApproved,
    ManualReimbursementPaid,
    PaymentReceived,
    SettlementCompleted,
    SettlementReversed,
    SubsidyAllocated,
)
from shared.gapwatch import EventGapWatcher, WatermarkStore
from shared.service import ServiceRuntime, create_service_app

#: Fund accountants keep the books (sweeps, clearing, reconciliation repairs); auditors read everything.
ACCOUNTANTS = access(read={FUND_ACCOUNTANT, AUDITOR}, write={FUND_ACCOUNTANT})
#: The statements are read by the settlement service too (its public report includes the disclosure).
#: Clearing applications: the gateway applies and revokes for an institution; accountants read them.
APPLICATIONS = access(read={SERVICE, FUND_ACCOUNTANT, AUDITOR}, write={SERVICE})
STATEMENTS = access(read={FUND_ACCOUNTANT, AUDITOR, SERVICE}, write={FUND_ACCOUNTANT})


HANDLERS: dict[type[EventData], Handler] = {
    PaymentReceived: post_payment_received,
    SubsidyAllocated: post_subsidy_allocated,
    SettlementCompleted: post_settlement_completed,
    SettlementReversed: post_settlement_reversed,
    ManualReimbursementApproved: post_manual_reimbursement_approved,
    ManualReimbursementPaid: post_manual_reimbursement_paid,
}
#: The producer of each topic the ledger books from (the service whose outbox the gap check reads).
PRODUCERS = {ENROLLMENT_TOPIC: "enrollment", SETTLEMENT_TOPIC: "settlement"}


def gap_watchers(runtime: ServiceRuntime, settings: LedgerSettings) -> list[EventGapWatcher]:
    """One gap check per producer: its outbox against the ledger's processed events (``shared.gapwatch``)."""
    assert runtime.consumer is not None
    auth = Authenticator(settings.auth_secret.get_secret_value(), settings.service_name)
    urls = {"enrollment": settings.enrollment_url, "settlement": settings.settlement_url}
    store = WatermarkStore(runtime.db, feed_watermarks)
    return [
        EventGapWatcher(
            service=settings.service_name,
            producer=producer,
            base_url=urls[producer],
            headers=auth.service_headers,
            event_types=[kind.event_type for kind in HANDLERS if kind.topic == topic],
            consumer=runtime.consumer,
            store=store,
            interval_s=settings.gap_check_interval_s,
            grace_s=settings.gap_grace_s,
            commit_grace_s=settings.gap_commit_grace_s,
            unsent_grace_s=settings.gap_unsent_grace_s,
        )
        for topic, producer in PRODUCERS.items()
    ]


def build_runtime(settings: ServiceSettings) -> ServiceRuntime:
    assert isinstance(settings, LedgerSettings)

    async def check_gaps(stop: asyncio.Event) -> None:
        if settings.gap_check_interval_s > 0:
            await asyncio.gather(*(watcher.run(stop) for watcher in gap_watchers(runtime, settings)))

    runtime = ServiceRuntime(
        settings,
        infra,
        consumes=list(PRODUCERS),
        subscriptions={kind.event_type: Subscription(handler) for kind, handler in HANDLERS.items()},
        consumer_group=settings.consumer_group,
        batch_scope=batch_scope,
        workers=[lambda stop: LedgerScheduler(runtime.db, settings).run(stop), check_gaps],
    )
    return runtime


def create_app(settings: LedgerSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or LedgerSettings(),
        title="Fund ledger service",
        description="Double-entry books of the residents' medical insurance funds.",
        runtime_factory=build_runtime,
        routers=[
            guarded(books_router, ACCOUNTANTS),
            guarded(trail_router, ACCOUNTANTS),
            guarded(reconciliation_router, ACCOUNTANTS),
            guarded(clearing_router, ACCOUNTANTS),
            guarded(interregion_router, ACCOUNTANTS),
            guarded(interplatform_router, ACCOUNTANTS),
            guarded(application_clearing_router, ACCOUNTANTS),
            guarded(applications_router, APPLICATIONS),
            guarded(statements_router, STATEMENTS),
            guarded(merger_router, ACCOUNTANTS),
            guarded(pooling_router, ACCOUNTANTS),
        ],
        audit_table=audit,
    )


app = create_app()
