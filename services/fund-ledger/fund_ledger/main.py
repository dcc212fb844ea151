"""Fund ledger service app: ``uvicorn fund_ledger.main:app``."""

from __future__ import annotations

from fastapi import FastAPI

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
from fund_ledger.clearing.endpoints import router as clearing_router
from fund_ledger.config import LedgerSettings
from fund_ledger.db import audit, infra
from fund_ledger.merger.endpoints import router as merger_router
from fund_ledger.pooling.endpoints import router as pooling_router
from fund_ledger.reconciliation.endpoints import router as reconciliation_router
from fund_ledger.schedule import LedgerScheduler
from fund_ledger.statements.endpoints import router as statements_router
from shared.auth import AUDITOR, FUND_ACCOUNTANT, SERVICE, access, guarded
from shared.config import ServiceSettings
from shared.consumer import Subscription
from shared.events import (
    ENROLLMENT_TOPIC,
    SETTLEMENT_TOPIC,
    ManualReimbursementApproved,
    ManualReimbursementPaid,
    PaymentReceived,
    SettlementCompleted,
    SettlementReversed,
    SubsidyAllocated,
)
from shared.service import ServiceRuntime, create_service_app

#: Fund accountants keep the books (sweeps, clearing, reconciliation repairs); auditors read everything.
ACCOUNTANTS = access(read={FUND_ACCOUNTANT, AUDITOR}, write={FUND_ACCOUNTANT})
#: The statements are read by the settlement service too (its public report includes the disclosure).
STATEMENTS = access(read={FUND_ACCOUNTANT, AUDITOR, SERVICE}, write={FUND_ACCOUNTANT})


def build_runtime(settings: ServiceSettings) -> ServiceRuntime:
    assert isinstance(settings, LedgerSettings)
    runtime = ServiceRuntime(
        settings,
        infra,
        consumes=[ENROLLMENT_TOPIC, SETTLEMENT_TOPIC],
        subscriptions={
            PaymentReceived.event_type: Subscription(post_payment_received),
            SubsidyAllocated.event_type: Subscription(post_subsidy_allocated),
            SettlementCompleted.event_type: Subscription(post_settlement_completed),
            SettlementReversed.event_type: Subscription(post_settlement_reversed),
            ManualReimbursementApproved.event_type: Subscription(post_manual_reimbursement_approved),
            ManualReimbursementPaid.event_type: Subscription(post_manual_reimbursement_paid),
        },
        consumer_group=settings.consumer_group,
        batch_scope=batch_scope,
        workers=[lambda stop: LedgerScheduler(runtime.db, settings).run(stop)],
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
            guarded(reconciliation_router, ACCOUNTANTS),
            guarded(clearing_router, ACCOUNTANTS),
            guarded(statements_router, STATEMENTS),
            guarded(merger_router, ACCOUNTANTS),
            guarded(pooling_router, ACCOUNTANTS),
        ],
        audit_table=audit,
    )


app = create_app()
