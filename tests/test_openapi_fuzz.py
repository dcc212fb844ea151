"""schemathesis against every service's OpenAPI: generated requests to every operation, sent with an
administrator's token (so that they reach the handlers) to the real app on a real database. No answer may be
a 500, and every answer the schema describes must match it. The number of cases that ran is printed
(``-s``) and checked to cover every operation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from enrollment.config import EnrollmentSettings
from enrollment.main import create_app as create_enrollment
from fastapi import FastAPI
from fastapi.testclient import TestClient
from fund_ledger.config import LedgerSettings
from fund_ledger.main import create_app as create_ledger
from gateway.config import GatewaySettings
from gateway.main import create_app as create_gateway
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance
from settlement.config import SettlementSettings
from settlement.main import create_app as create_settlement

from tests.conftest import DatabaseFactory
from tests.support.apps import ADMIN_TOKEN, build

APPS: dict[str, tuple[Callable[[Any], FastAPI], type, str]] = {
    "gateway": (create_gateway, GatewaySettings, "gateway"),
    "enrollment": (create_enrollment, EnrollmentSettings, "enrollment"),
    "settlement": (create_settlement, SettlementSettings, "settlement"),
    "ledger": (create_ledger, LedgerSettings, "fund_ledger"),
}
EXAMPLES_PER_OPERATION = 25
CASES_RUN: dict[str, int] = {}


@pytest.mark.parametrize("service", sorted(APPS))
def test_no_server_errors_and_no_schema_violations(
    service: str, databases: DatabaseFactory, broker: str
) -> None:
    create, settings_cls, package = APPS[service]
    app = build(
        create,
        settings_cls,
        database_url=databases.migrated(package),
        run_background_workers=False,
        kafka_bootstrap=broker,
        # Nothing listens there: the gateway's and the ledger's calls to other services fail fast.
        **(
            {"settlement_url": "http://127.0.0.1:9", "enrollment_url": "http://127.0.0.1:9"}
            if service == "gateway"
            else {"settlement_url": "http://127.0.0.1:9"}
            if service == "ledger"
            else {}
        ),
    )
    schema = schemathesis.openapi.from_dict(app.openapi())
    # /readyz takes no input and answers 503 by design while a dependency (here the other services) is
    # down; it is tested in tests/shared/test_service_endpoints.py.
    results = list(schema.get_all_operations())
    assert all(isinstance(r, Ok) for r in results), "the OpenAPI document has operations it cannot read"
    operations = [r.ok() for r in results if isinstance(r, Ok) and r.ok().path != "/readyz"]
    assert operations
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ran = 0
    with TestClient(app, raise_server_exceptions=False) as client:
        for operation in operations:

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            @given(case=operation.as_strategy())
            def check(case: Any) -> None:
                nonlocal ran
                ran += 1
                kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
                request = {
                    k: v
                    for k, v in kwargs.items()
                    if k in ("method", "url", "headers", "params", "json", "content", "data", "cookies")
                }
                if "data" in request:
                    request["content"] = request.pop("data")
                response = client.request(**request)
                # 500 is a fault of ours; 502/503 say "the service behind me is down" (the ledger's
                # reconciliation and the gateway here, by design), which is the truthful answer.
                assert response.status_code != 500, (case.method, case.path, response.text)
                case.validate_response(response, checks=[response_schema_conformance], headers=headers)

            check()
    CASES_RUN[service] = ran
    print(f"schemathesis {service}: {len(operations)} operations, {ran} cases")
    assert ran >= len(operations)
