"""What the gateway forwards, and what anyone may send to a service's API directly: a NUL or another control
character, an unpaired surrogate, NaN / Infinity, a number no column holds. Every service refuses it with
422 naming the field before its database sees it (a NUL used to settle on SQLite and come back from
PostgreSQL as a 422 quoting the database's error and SQL); no error body carries the database's text. The
gateway's HIS entry point answers such a request with an envelope, never a 422."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from enrollment.config import EnrollmentSettings
from enrollment.main import create_app as create_enrollment
from gateway.config import GatewaySettings
from gateway.main import create_app as create_gateway
from settlement.config import SettlementSettings
from settlement.main import create_app as create_settlement

from platformctl import examples
from platformctl.demo import REGION_RULES
from shared.db import Database
from shared.inputs import BAD_TEXT
from tests.conftest import DatabaseFactory
from tests.support.apps import build, running
from tests.support.his import SignedHttp, register_demo_institutions

MARK = "__VALUE__"
#: What a database's or driver's message looks like; none of it may reach a caller.
DATABASE_WORDS = ("SQL", "asyncpg", "sqlite", "0x00", "INSERT", "SELECT", "UTF8", "Python int")


def purchase(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "msgid": "P34152400001202611201000000001",
        "fixmedins_code": "P34152400001",
        "mdtrtarea_admvs": "341524",
        "insuplc_admdvs": "341524",
        "psn_no": "3415240000000001",
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": "34152419850312013X",
        "begntime": "2026-11-20T10:00:00+08:00",
        "medfee_sumamt_fen": 3000,
        "insutype": "390",
        "med_type": "41",
        "lines": [
            {
                "feedetl_sn": "1",
                "med_list_codg": "A",
                "medins_list_codg": "H1",
                "cnt": "60",
                "pric": "0.5",
                "amount_fen": 3000,
            }
        ],
    }
    body.update(changes)
    return body


def as_json(body: dict[str, Any], token: str | None = None) -> bytes:
    """ASCII JSON (a NUL or an unpaired surrogate goes as its \\u escape); ``token`` replaces ``MARK``."""
    text = json.dumps(body)
    if token is not None:
        assert f'"{MARK}"' in text
        text = text.replace(f'"{MARK}"', token)
    return text.encode()


def refused(response: httpx.Response, field: str, message: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"] == [{"field": field, "message": error["details"][0]["message"]}]
    assert message in error["details"][0]["message"]
    assert not any(word in response.text for word in DATABASE_WORDS), response.text


@pytest.fixture
async def settlement(databases: DatabaseFactory) -> AsyncIterator[httpx.AsyncClient]:
    url = databases.migrated("settlement")
    app = build(create_settlement, SettlementSettings, database_url=url, run_background_workers=False)
    async with running(app) as client:
        yield client


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (as_json(purchase(invono="a\x00b")), "invono", BAD_TEXT),
        (as_json(purchase(msgid="P3415240000\x001")), "msgid", BAD_TEXT),
        (
            as_json(purchase(lines=[{**purchase()["lines"][0], "med_list_codg": "A\ud800"}])),
            "lines[0].med_list_codg",
            BAD_TEXT,
        ),
        (as_json(purchase(psn_no="\x1b[31m")), "psn_no", BAD_TEXT),
        (as_json(purchase(**{"note\x00": "x"})), "(字段名)", BAD_TEXT),
        (as_json(purchase(medfee_sumamt_fen=MARK), "NaN"), "body", "NaN 不是合法的 JSON 数值"),
        (as_json(purchase(medfee_sumamt_fen=MARK), "-Infinity"), "body", "-Infinity 不是合法的 JSON 数值"),
        (as_json(purchase(medfee_sumamt_fen=MARK), "1" + "0" * 30), "body", "数值超出允许范围"),
        (as_json(purchase(medfee_sumamt_fen=MARK), "1e999999"), "body", "数值超出允许范围"),
        (as_json(purchase(medfee_sumamt_fen=MARK), "1" * 400 + ".5"), "body", "数值超出允许范围"),
        (as_json(purchase(medfee_sumamt_fen=MARK), "\n\t -1E+400"), "body", "数值超出允许范围"),
        (as_json(purchase(lines=[MARK]), "[\n  -99999999999999999999 ]"), "body", "数值超出允许范围"),
    ],
)
async def test_settlement_refuses_what_no_database_should_be_handed(
    settlement: httpx.AsyncClient, body: bytes, field: str, message: str
) -> None:
    response = await settlement.post(
        "/api/v1/pharmacy-settlements", content=body, headers={"content-type": "application/json"}
    )
    refused(response, field, message)


async def test_settlement_refuses_it_in_a_path_or_a_query(settlement: httpx.AsyncClient) -> None:
    refused(await settlement.get("/api/v1/settlements/S%00x?fixmedins_code=P34152400001"), "path", BAD_TEXT)
    refused(await settlement.get("/api/v1/settlements/Sx?fixmedins_code=P%00"), "fixmedins_code", BAD_TEXT)
    refused(
        await settlement.get("/api/v1/settlements/Sx?fixmedins_code=P%ED%A0%80%01"),
        "fixmedins_code",
        BAD_TEXT,
    )


async def test_what_the_guard_lets_through_reaches_the_service(settlement: httpx.AsyncClient) -> None:
    """Tab and line ends in a text, a proper surrogate pair, digits in strings, numbers in range: the
    request reaches settlement, which answers it on its own terms (no such institution here)."""
    body = as_json(purchase(invono="a\tb\nc 𠀀 12345678901234567890123", medfee_sumamt_fen=MARK), "3000")
    assert b"\\t" in body and b"\\ud840\\udc00" in body
    response = await settlement.post(
        "/api/v1/pharmacy-settlements", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code != 422 or response.json()["error"]["code"] != "VALIDATION_ERROR", (
        response.text
    )
    found = await settlement.get("/api/v1/settlements/S1?fixmedins_code=P%E8%8D%AF")  # percent-encoded UTF-8
    assert found.status_code == 404, found.text


async def test_enrollment_refuses_it_and_never_quotes_its_database(databases: DatabaseFactory) -> None:
    url = databases.migrated("enrollment")
    app = build(create_enrollment, EnrollmentSettings, database_url=url, run_background_workers=False)
    async with running(app) as client:
        response = await client.put(
            "/api/v1/regions/341524",
            content=as_json({**REGION_RULES, "name": "金寨\x00县"}),
            headers={"content-type": "application/json"},
        )
        refused(response, "name", BAD_TEXT)
        refused(await client.get("/api/v1/persons/%00"), "path", BAD_TEXT)
        # A number past what the database holds, in a path: refused as out of range, in our words only.
        response = await client.get(f"/api/v1/enrollments/{2**64}")
        assert response.status_code == 422, response.text
        assert response.json()["error"] == {
            "code": "OUT_OF_RANGE",
            "message": "参数超出允许范围 (value out of range)",
        }


async def test_the_gateway_guards_its_api_and_answers_his_requests_with_an_envelope(
    databases: DatabaseFactory,
) -> None:
    url = databases.migrated("gateway")
    app = build(create_gateway, GatewaySettings, database_url=url)
    db = Database(url)
    await register_demo_institutions(db)
    try:
        async with running(app) as client:
            response = await client.put(
                "/api/v1/institutions/P34152400009",
                content=as_json({"fixmedins_name": "药房\x00", "paasid": "p9", "secret": "s" * 32}),
                headers={"content-type": "application/json"},
            )
            refused(response, "fixmedins_name", BAD_TEXT)
            his = SignedHttp(client)
            body = examples.example_1101("34152419850312013X")
            body["input"]["data"]["psn_name"] = "张\x00三"
            answer = await his.post(body)
            assert answer.status_code == 200
            assert answer.json()["infcode"] == -1
            assert answer.json()["err_msg"] == f"[E_INPUT] input.data.psn_name: {BAD_TEXT}"
    finally:
        await db.dispose()
