from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
from enrollment.config import EnrollmentSettings
from enrollment.db import infra
from enrollment.main import create_app
from sqlalchemy import select

from shared.db import Database
from tests.conftest import DatabaseFactory
from tests.support.apps import build, running

REGION = "341524"
#: Jinzhai-like rules: collection 1 Sep - 31 Dec of the year before, late payment until 31 March with a
#: 30-day wait, newborns within 90 days, subsidy split 10:3:2:5.
REGION_RULES = {
    "admdvs": REGION,
    "name": "金寨县",
    "late_until_month": 3,
    "late_until_day": 31,
    "late_waiting_days": 30,
    "newborn_grace_days": 90,
    "subsidy_central": 10,
    "subsidy_provincial": 3,
    "subsidy_city": 2,
    "subsidy_county": 5,
}
#: 30 yuan personal + 20 yuan government (Jinzhai urban residents 2006); adults may choose 60 + 20.
STANDARDS = [
    {"year": 2027, "category": "minor", "tier": "1", "personal_fen": 3000, "subsidy_fen": 2000},
    {"year": 2027, "category": "adult", "tier": "1", "personal_fen": 3000, "subsidy_fen": 2000},
    {"year": 2027, "category": "adult", "tier": "2", "personal_fen": 6000, "subsidy_fen": 2000},
]


@dataclass
class Office:
    """An enrollment office on a given day, over one database."""

    client: httpx.AsyncClient
    db: Database

    async def ok(self, method: str, url: str, body: Any = None, status: int = 200) -> Any:
        response = await self.client.request(method, url, json=body)
        assert response.status_code == status, response.text
        return response.json()

    async def refused(self, method: str, url: str, body: Any, status: int, code: str) -> dict[str, Any]:
        response = await self.client.request(method, url, json=body)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), response.text
        error: dict[str, Any] = response.json()["error"]
        return error

    async def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        async with self.db.session() as session:
            rows = (await session.execute(select(infra.outbox).order_by(infra.outbox.c.id))).all()
        events = [json.loads(r.payload) for r in rows]
        return [e for e in events if event_type is None or e["type"] == event_type]

    async def person(self, certno: str, name: str = "张三") -> str:
        body = await self.ok("POST", "/api/v1/persons", {"certno": certno, "psn_name": name}, 201)
        psn_no: str = body["psn_no"]
        return psn_no


OfficeFactory = Callable[[date], AbstractAsyncContextManager[Office]]


@pytest.fixture
async def office_on(databases: DatabaseFactory) -> AsyncIterator[OfficeFactory]:
    """``async with office_on(date(...)) as office``: the same database seen on different days."""
    url = databases.migrated("enrollment")
    db = Database(url)
    seeded = False

    @asynccontextmanager
    async def on(today: date) -> AsyncIterator[Office]:
        nonlocal seeded
        app = build(
            create_app, EnrollmentSettings, database_url=url, run_background_workers=False, fixed_today=today
        )
        async with running(app) as client:
            office = Office(client, db)
            if not seeded:
                await office.ok("PUT", f"/api/v1/regions/{REGION}", REGION_RULES)
                for standard in STANDARDS:
                    await office.ok("POST", f"/api/v1/regions/{REGION}/standards", standard, 201)
                seeded = True
            yield office

    yield on
    await db.dispose()
