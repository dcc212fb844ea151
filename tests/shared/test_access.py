"""Nothing is open by default: every route of every service but the health, metrics, docs and HIS entry
points refuses a request without a bearer token (401) and a role it does not allow (403), in the error
envelope; changes through operator endpoints are audited (who, when, what); personal data is masked in
logs; settlement itself keeps an institution to its own settlements."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pytest
from enrollment.config import EnrollmentSettings
from enrollment.db import audit as enrollment_audit
from enrollment.main import create_app as create_enrollment
from fastapi import FastAPI
from fund_ledger.config import LedgerSettings
from fund_ledger.main import create_app as create_ledger
from gateway.config import GatewaySettings
from gateway.main import create_app as create_gateway
from settlement.config import SettlementSettings
from settlement.main import create_app as create_settlement
from sqlalchemy import select

from shared.auth import (
    ADMINISTRATOR,
    AUDITOR,
    DEV_AUTH_SECRET,
    ENROLLMENT_CLERK,
    FUND_ACCOUNTANT,
    Unauthenticated,
    issue_token,
    verify_token,
)
from shared.db import Database
from shared.masking import MaskingFilter, mask
from tests.conftest import DatabaseFactory
from tests.support.apps import bearer, build, running

OPEN = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}

APPS: dict[str, tuple[Callable[[Any], FastAPI], type, str]] = {
    "gateway": (create_gateway, GatewaySettings, "gateway"),
    "enrollment": (create_enrollment, EnrollmentSettings, "enrollment"),
    "settlement": (create_settlement, SettlementSettings, "settlement"),
    "ledger": (create_ledger, LedgerSettings, "fund_ledger"),
}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "X1", path)


@pytest.mark.parametrize("service", sorted(APPS))
async def test_every_operator_route_needs_a_token_with_a_role(
    service: str, databases: DatabaseFactory
) -> None:
    create, settings_cls, package = APPS[service]
    app = build(create, settings_cls, database_url=databases.migrated(package), run_background_workers=False)
    routes = [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path not in OPEN and not path.startswith("/fsi/")  # HIS addresses: signed
        for method in operations
    ]
    assert routes, "a service without operator routes?"
    expired = issue_token(DEV_AUTH_SECRET, "old", [ADMINISTRATOR], ttl_s=-10)
    forged = issue_token("another-secret-entirely", "mallory", [ADMINISTRATOR])
    async with running(app, token=None) as client:
        for method, path in routes:
            url = _concrete(path)
            for headers in (
                {},
                {"Authorization": f"Bearer {expired}"},
                {"Authorization": f"Bearer {forged}"},
            ):
                response = await client.request(method, url, headers=headers, json={})
                assert response.status_code == 401, (method, path, headers, response.text)
                assert response.json()["error"]["code"] == "UNAUTHENTICATED"
            # A role that this service does not serve at all.
            stranger = FUND_ACCOUNTANT if service in ("enrollment", "gateway") else ENROLLMENT_CLERK
            if service == "settlement" and method == "GET":
                stranger = "nobody"
            elif service == "settlement" and path.startswith("/api/v1/filings"):
                stranger = AUDITOR  # a clerk takes a telephone filing; an auditor only reads them
            if stranger != "nobody":
                response = await client.request(method, url, headers=bearer(stranger), json={})
                assert response.status_code == 403, (method, path, stranger, response.text)
                assert response.json()["error"]["code"] == "FORBIDDEN"
        for path in ("/healthz", "/metrics"):
            assert (await client.get(path)).status_code == 200


async def test_roles_read_and_change_what_they_should(databases: DatabaseFactory) -> None:
    url = databases.migrated("enrollment")
    app = build(create_enrollment, EnrollmentSettings, database_url=url, run_background_workers=False)
    region = {"admdvs": "341524", "name": "金寨县"}
    async with running(app, token=None) as client:
        # Region rules are policy: a clerk reads them, only an administrator changes them.
        assert (
            await client.put("/api/v1/regions/341524", json=region, headers=bearer(ENROLLMENT_CLERK))
        ).status_code == 403
        changed = await client.put(
            "/api/v1/regions/341524", json=region, headers=bearer(ADMINISTRATOR, subject="wang")
        )
        assert changed.status_code == 200, changed.text
        assert (
            await client.get("/api/v1/regions/341524", headers=bearer(ENROLLMENT_CLERK))
        ).status_code == 200
        assert (await client.get("/api/v1/regions/341524", headers=bearer(AUDITOR))).status_code == 200
        # An auditor reads the registers and changes nothing.
        person = {"certno": "34152419850312013X", "psn_name": "张三"}
        assert (await client.post("/api/v1/persons", json=person, headers=bearer(AUDITOR))).status_code == 403
        created = await client.post(
            "/api/v1/persons", json=person, headers=bearer(ENROLLMENT_CLERK, subject="li")
        )
        assert created.status_code == 201, created.text
    db = Database(url)
    try:
        async with db.session() as session:
            rows = (await session.execute(select(enrollment_audit).order_by(enrollment_audit.c.id))).all()
    finally:
        await db.dispose()
    # Who, when, what: every changing request with a valid token, the refused attempts included.
    assert [(r.subject, r.roles, r.method, r.path, r.status) for r in rows] == [
        ("tester", ENROLLMENT_CLERK, "PUT", "/api/v1/regions/341524", 403),
        ("wang", ADMINISTRATOR, "PUT", "/api/v1/regions/341524", 200),
        ("tester", AUDITOR, "POST", "/api/v1/persons", 403),
        ("li", ENROLLMENT_CLERK, "POST", "/api/v1/persons", 201),
    ]
    assert "34152419850312013X" in rows[-1].body and all(r.at is not None for r in rows)


def test_tokens_carry_subject_roles_and_expiry() -> None:
    token = issue_token("k" * 32, "zhao", [FUND_ACCOUNTANT, AUDITOR], ttl_s=60)
    principal = verify_token("k" * 32, token)
    assert principal.subject == "zhao" and principal.roles == {FUND_ACCOUNTANT, AUDITOR}
    head, payload, signature = token.split(".")
    with pytest.raises(Unauthenticated):
        verify_token("k" * 32, f"{head}.{payload}x.{signature}")
    with pytest.raises(Unauthenticated):
        verify_token("k" * 32, token, now=10**12)
    with pytest.raises(ValueError):
        issue_token("k" * 32, "x", ["superuser"])


def test_id_numbers_card_numbers_and_names_are_masked_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    assert mask("lookup certno=34152419850312013X done") == "lookup certno=34************013X done"
    assert mask("身份证 34152419850312013X 查询") == "身份证 341524********013X 查询"
    assert (
        mask('{"card_no": "J34152400013", "psn_name": "张三"}')
        == '{"card_no": "J3******0013", "psn_name": "张*"}'
    )
    assert mask("GET /api/v1/persons/lookup?card_no=J34152400013&card_sn=SN00000013") == (
        "GET /api/v1/persons/lookup?card_no=J3******0013&card_sn=SN****0013"
    )
    assert mask("setl_id S34152420261120000000000000001 amount 32.00") == (
        "setl_id S34152420261120000000000000001 amount 32.00"
    )
    logger = logging.getLogger("tests.masking")
    handler_filter = MaskingFilter()
    caplog.handler.addFilter(handler_filter)
    try:
        with caplog.at_level(logging.INFO, logger="tests.masking"):
            logger.info("person %s (%s) not covered", "34152419850312013X", {"psn_name": "李秀英"})
    finally:
        caplog.handler.removeFilter(handler_filter)
    assert "34152419850312013X" not in caplog.text and "李秀英" not in caplog.text
    assert "341524********013X" in caplog.text and "李**" in caplog.text
