"""Settlement service app: ``uvicorn settlement.main:app``."""

from __future__ import annotations

from fastapi import FastAPI

from settlement.catalogue.endpoints import downloads_router as catalogue_downloads_router
from settlement.catalogue.endpoints import mappings_router as catalogue_mappings_router
from settlement.catalogue.endpoints import router as catalogue_router
from settlement.config import SettlementSettings
from settlement.db import audit, infra
from settlement.eligibility.endpoints import router as eligibility_router
from settlement.eligibility.service import (
    apply_card_status_changed,
    apply_coverage_activated,
    apply_enrollment_terminated,
    apply_identities_changed,
    apply_person_identity,
    apply_voucher_revoked,
)
from settlement.encounters.endpoints import router as encounters_router
from settlement.filings.endpoints import router as filings_router
from settlement.institutions.endpoints import router as institutions_router
from settlement.interplatform.endpoints import router as interplatform_router
from settlement.interplatform.endpoints import watch_expired
from settlement.interplatform.peers import Peers
from settlement.interplatform.treating import Treating, watch_owed
from settlement.inventory.endpoints import router as inventory_router
from settlement.manual.endpoints import router as manual_router
from settlement.operations.trail import router as trail_router
from settlement.policy.endpoints import router as policy_router
from settlement.prechecks.endpoints import router as prechecks_router
from settlement.queries.endpoints import router as queries_router
from settlement.reconciliation.endpoints import router as reconciliation_router
from settlement.reporting.endpoints import router as reporting_router
from settlement.schemes.endpoints import router as schemes_router
from settlement.setl_lists.endpoints import report_router as setl_list_report_router
from settlement.setl_lists.endpoints import router as setl_lists_router
from settlement.setl_lists.endpoints import watch_overdue
from settlement.settlements.endpoints import router as settlements_router
from settlement.supervision.endpoints import router as supervision_router
from shared import outbox_feed
from shared.auth import (
    AUDITOR,
    ENROLLMENT_CLERK,
    FUND_ACCOUNTANT,
    SERVICE,
    access,
    guarded,
)
from shared.config import ServiceSettings
from shared.consumer import Subscription
from shared.events import (
    ENROLLMENT_TOPIC,
    IDENTITY_TOPIC,
    CardStatusChanged,
    CoverageActivated,
    EnrollmentTerminated,
    IdentityCategoriesChanged,
    PersonIdentity,
    VoucherRevoked,
)
from shared.service import ServiceRuntime, create_service_app

#: The enrollment events settlement keeps read models of; the other types on the topic are not its concern.
#: ``coverage_activated`` is version 2 (no identity); version 1 is still read during the rollout.
#: ``person_identity`` comes on the restricted topic ``enrollment.identity``, which only settlement reads.
SUBSCRIPTIONS = {
    CoverageActivated.event_type: Subscription(
        apply_coverage_activated, version=CoverageActivated.event_version, older=frozenset({1})
    ),
    PersonIdentity.event_type: Subscription(apply_person_identity),
    EnrollmentTerminated.event_type: Subscription(apply_enrollment_terminated),
    IdentityCategoriesChanged.event_type: Subscription(apply_identities_changed),
    CardStatusChanged.event_type: Subscription(apply_card_status_changed),
    VoucherRevoked.event_type: Subscription(apply_voucher_revoked),
}


#: Settling and encounters are the gateway's (service credential) on behalf of an authenticated institution;
#: auditors read them. Reconciliation serves the ledger and fund accountants. Catalogue, policies and the
#: institution list are reference data every role reads and only administrators change.
HIS_BACKEND = access(read={SERVICE, AUDITOR}, write={SERVICE})
RECONCILIATION = access(read={SERVICE, AUDITOR, FUND_ACCOUNTANT}, write={SERVICE, FUND_ACCOUNTANT})
#: 3301/3302 come from the gateway; operators (fund accountants, auditors) list and audit them.
MAPPINGS = access(read={SERVICE, AUDITOR, FUND_ACCOUNTANT}, write={SERVICE})
REFERENCE = access(read={SERVICE, AUDITOR, FUND_ACCOUNTANT, ENROLLMENT_CLERK}, write=set())
#: Fraud signals, their review and sanctions: the fund's supervisors (auditors) act, accountants read.
SUPERVISION = access(read={AUDITOR, FUND_ACCOUNTANT}, write={AUDITOR})
#: Manual reimbursement (零星报销): the fund's staff enter and, as a second person, approve (four eyes).
MANUAL_REIMBURSEMENT = access(read={FUND_ACCOUNTANT, AUDITOR}, write={FUND_ACCOUNTANT})
REPORTING = access(read={AUDITOR, FUND_ACCOUNTANT, ENROLLMENT_CLERK}, write=set())
#: The transaction trail (one settlement's or one person's records, with the calculation): auditors and
#: fund accountants read it, and each read is audited.
TRAIL = access(read={AUDITOR, FUND_ACCOUNTANT}, write=set())
#: Filings (备案): the gateway files for an institution (2503/2504); the office's clerks take a filing by
#: telephone (docs/interface.md, "Filings"); auditors and accountants read.
FILINGS = access(
    read={SERVICE, AUDITOR, FUND_ACCOUNTANT, ENROLLMENT_CLERK},
    write={SERVICE, ENROLLMENT_CLERK, FUND_ACCOUNTANT},
)
ELIGIBILITY = access(read={SERVICE, AUDITOR, ENROLLMENT_CLERK}, write=set())
#: The inter-platform protocol (docs/interface.md, "Between platforms"): a treating platform's service token.
INTERPLATFORM = access(read={SERVICE, AUDITOR}, write={SERVICE})


def build_runtime(settings: ServiceSettings, treating: Treating | None = None) -> ServiceRuntime:
    assert isinstance(settings, SettlementSettings)
    peers = treating.peers if treating is not None else Peers(settings)
    runtime = ServiceRuntime(
        settings,
        infra,
        publishes=True,
        consumes=[ENROLLMENT_TOPIC, IDENTITY_TOPIC],
        subscriptions=SUBSCRIPTIONS,
        consumer_group=settings.consumer_group,
        workers=[
            lambda stop: watch_overdue(runtime.db, settings, stop),
            lambda stop: watch_expired(runtime.db, settings.interplatform_expiry_interval_s, stop),
            lambda stop: watch_owed(runtime.db, peers, settings.interplatform_retry_interval_s, stop),
        ],
    )
    return runtime


def create_app(settings: SettlementSettings | None = None) -> FastAPI:
    settings = settings or SettlementSettings()
    # The treating side of the inter-platform protocol (docs/interface.md, "Between platforms").
    treating = Treating(Peers(settings))
    app = create_service_app(
        settings,
        title="Settlement service",
        description="Catalogue, benefit policies, designated institutions, eligibility and settlements.",
        runtime_factory=lambda given: build_runtime(given, treating),
        routers=[
            guarded(settlements_router, HIS_BACKEND),
            guarded(encounters_router, HIS_BACKEND),
            guarded(queries_router, HIS_BACKEND),
            guarded(prechecks_router, HIS_BACKEND),
            guarded(setl_lists_router, HIS_BACKEND),
            guarded(inventory_router, HIS_BACKEND),
            guarded(setl_list_report_router, RECONCILIATION),
            guarded(filings_router, FILINGS),
            guarded(institutions_router, REFERENCE),
            guarded(catalogue_router, REFERENCE),
            guarded(catalogue_downloads_router, REFERENCE),
            guarded(catalogue_mappings_router, MAPPINGS),
            guarded(policy_router, REFERENCE),
            guarded(eligibility_router, ELIGIBILITY),
            guarded(interplatform_router, INTERPLATFORM),
            guarded(reconciliation_router, RECONCILIATION),
            guarded(schemes_router, REFERENCE),
            guarded(supervision_router, SUPERVISION),
            guarded(manual_router, MANUAL_REIMBURSEMENT),
            guarded(reporting_router, REPORTING),
            guarded(trail_router, TRAIL),
            guarded(outbox_feed.router, outbox_feed.FEED_ACCESS),
        ],
        audit_table=audit,
    )
    app.state.peer_route = treating
    return app


app = create_app()
