"""Enrollment API on a real database: persons, enrollment years, and the coverage event in the outbox."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
from enrollment.config import EnrollmentSettings
from enrollment.db import infra
from enrollment.main import create_app
from sqlalchemy import select

from shared.db import Database
from shared.idcard import make_id_number
from tests.conftest import DatabaseFactory
from tests.support.apps import build, running

ADULT = make_id_number("341524", date(1985, 3, 12), 13)
CHILD = make_id_number("341524", date(2015, 9, 30), 35)
ELDER = make_id_number("341524", date(1958, 7, 1), 24)


@pytest.fixture
async def api(databases: DatabaseFactory) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    url = databases.migrated("enrollment")
    app = build(create_app, EnrollmentSettings, database_url=url, run_background_workers=False)
    db = Database(url)
    async with running(app) as client:
        yield client, db
    await db.dispose()


async def _person(client: httpx.AsyncClient, certno: str, name: str = "张三") -> dict:
    response = await client.post("/api/v1/persons", json={"certno": certno, "psn_name": name})
    assert response.status_code == 201, response.text
    return response.json()


async def test_register_person_derives_birth_and_sex(api: tuple[httpx.AsyncClient, Database]) -> None:
    client, _ = api
    person = await _person(client, ADULT.lower() if ADULT.endswith("X") else ADULT)
    assert person["certno"] == ADULT
    assert person["brdy"] == "1985-03-12"
    assert person["gend"] == "1"
    assert person["psn_no"].startswith("341524")
    again = await client.post("/api/v1/persons", json={"certno": ADULT, "psn_name": "张三"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "PERSON_EXISTS"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"certno": "341524198503120131", "psn_name": "张三"}, "校验位"),
        ({"certno": "34152419850312", "psn_name": "张三"}, "18位"),
        ({"certno": ADULT, "psn_name": "   "}, "姓名"),
        ({"certno": ADULT}, "psn_name"),
        ({"certno": ADULT, "psn_name": "张三", "unexpected": 1}, "unexpected"),
    ],
)
async def test_bad_person_is_refused_with_reason(
    api: tuple[httpx.AsyncClient, Database], body: dict, fragment: str
) -> None:
    client, db = api
    response = await client.post("/api/v1/persons", json=body)
    assert response.status_code == 422
    assert fragment in response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    async with db.session() as session:
        assert (await session.execute(select(infra.outbox))).first() is None


async def test_enrollment_writes_coverage_event_in_same_transaction(
    api: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = api
    people = {certno: await _person(client, certno) for certno in (ADULT, CHILD, ELDER)}
    for certno, person in people.items():
        response = await client.post(
            "/api/v1/enrollments",
            json={
                "psn_no": person["psn_no"],
                "year": 2026,
                "insuplc_admdvs": "341524",
                "contribution_fen": 40000,
                "receipt_no": f"R-{certno[-4:]}",
            },
        )
        assert response.status_code == 201, response.text
    async with db.session() as session:
        rows = (await session.execute(select(infra.outbox).order_by(infra.outbox.c.id))).all()
    assert len(rows) == 3
    events = [json.loads(r.payload) for r in rows]
    assert all(e["type"] == "enrollment.coverage_activated" and e["version"] == 1 for e in events)
    by_certno = {e["data"]["certno"]: e["data"] for e in events}
    # Ages on 1 Jan 2026: 40 (adult, 1501), 10 (school age, 1403), 67 (elderly, 1601).
    assert by_certno[ADULT]["psn_type"] == "1501"
    assert by_certno[CHILD]["psn_type"] == "1403"
    assert by_certno[ELDER]["psn_type"] == "1601"
    assert by_certno[ADULT]["coverage_begin"] == "2026-01-01"
    assert by_certno[ADULT]["coverage_end"] == "2026-12-31"
    assert {r.event_key for r in rows} == {p["psn_no"] for p in people.values()}

    duplicate = await client.post(
        "/api/v1/enrollments",
        json={
            "psn_no": people[ADULT]["psn_no"],
            "year": 2026,
            "insuplc_admdvs": "341524",
            "contribution_fen": 40000,
            "receipt_no": "R-dup",
        },
    )
    assert duplicate.status_code == 409
    async with db.session() as session:
        assert len((await session.execute(select(infra.outbox))).all()) == 3


async def test_lookup_by_id_number(api: tuple[httpx.AsyncClient, Database]) -> None:
    client, _ = api
    person = await _person(client, ADULT)
    await client.post(
        f"/api/v1/persons/{person['psn_no']}/identities",
        json={"psn_idet_type": "2102", "begin_date": "2026-01-01"},
    )
    await client.post(
        "/api/v1/enrollments",
        json={
            "psn_no": person["psn_no"],
            "year": 2026,
            "insuplc_admdvs": "341524",
            "contribution_fen": 40000,
            "receipt_no": "R1",
        },
    )
    found = await client.get("/api/v1/persons/lookup", params={"certno": ADULT})
    assert found.status_code == 200
    body = found.json()
    assert body["person"]["psn_no"] == person["psn_no"]
    assert [e["year"] for e in body["enrollments"]] == [2026]
    assert body["identities"] == [{"psn_idet_type": "2102", "begin_date": "2026-01-01", "end_date": None}]
    missing = await client.get("/api/v1/persons/lookup", params={"certno": CHILD})
    assert missing.status_code == 404
    bad_identity = await client.post(
        f"/api/v1/persons/{person['psn_no']}/identities",
        json={"psn_idet_type": "9999", "begin_date": "2026-01-01"},
    )
    assert bad_identity.status_code == 422


async def test_enrolling_unknown_person_is_404(api: tuple[httpx.AsyncClient, Database]) -> None:
    client, _ = api
    response = await client.post(
        "/api/v1/enrollments",
        json={
            "psn_no": "nobody",
            "year": 2026,
            "insuplc_admdvs": "341524",
            "contribution_fen": 0,
            "receipt_no": "R",
        },
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "PERSON_NOT_FOUND"
