"""The real settlement app (seeded as in the settlement tests) and the real ledger app, in-process, with the
ledger's HTTP client to settlement going to the settlement app over an ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fund_ledger.books.service import post_settlement_completed, post_settlement_reversed
from fund_ledger.config import LedgerSettings
from fund_ledger.main import create_app as create_ledger_app
from fund_ledger.reconciliation.endpoints import settlement_client
from settlement.config import SettlementSettings
from settlement.db import infra
from settlement.main import create_app as create_settlement_app
from sqlalchemy import select, update

from shared.auth import SERVICE
from shared.clock import CHINA_TZ
from shared.db import Database
from shared.events import EventEnvelope, SettlementCompleted
from tests.conftest import DatabaseFactory
from tests.settlement.conftest import PHARMACY, SettlementApi, new_person, purchase, seed_reference_data
from tests.support.apps import bearer, build, running

URL = "/api/v1/pharmacy-settlements"


@dataclass
class Platform:
    settlement: SettlementApi
    ledger: httpx.AsyncClient
    ledger_db: Database
    ledger_app: FastAPI
    settlement_app: FastAPI

    async def buy(self, lines: list[tuple[str, str, str, int]], sequence: int) -> dict[str, Any]:
        """A purchase by a new person (each person pays their own deductible: easy to compute by hand)."""
        psn_no, certno = new_person(sequence)
        await self.settlement.cover(psn_no, certno, enrollment_id=sequence)
        response = await self.settlement.post(URL, purchase(psn_no, certno, lines))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def reverse(self, settled: dict[str, Any], msgid: str) -> dict[str, Any]:
        response = await self.settlement.post(
            f"/api/v1/settlements/{settled['setl_id']}/reversal",
            {"msgid": msgid, "fixmedins_code": settled["fixmedins_code"]},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def outbox(self) -> list[tuple[int, EventEnvelope, datetime | None]]:
        async with self.settlement.db.session() as session:
            rows = (
                await session.execute(
                    select(infra.outbox.c.id, infra.outbox.c.payload, infra.outbox.c.sent_at)
                    .where(infra.outbox.c.topic == "settlement.events")  # not catalogue.events
                    .order_by(infra.outbox.c.id)
                )
            ).all()
        return [(int(i), EventEnvelope.model_validate_json(p), s) for i, p, s in rows]

    async def mark_all_sent(self) -> None:
        """What the relay does once the broker acknowledged the rows."""
        async with self.settlement.db.transaction() as session:
            await session.execute(update(infra.outbox).values(sent_at=datetime.now(UTC)))

    async def deliver(self, envelope: EventEnvelope) -> None:
        """Post one settlement event to the ledger as its consumer's handler does."""
        handler = (
            post_settlement_completed
            if envelope.type == SettlementCompleted.event_type
            else post_settlement_reversed
        )
        async with self.ledger_db.transaction() as session:
            await handler(session, envelope)


def setl_id_of(envelope: EventEnvelope) -> str:
    return str(envelope.data["setl_id"])


def period() -> dict[str, str]:
    """Yesterday to tomorrow in Beijing time: the settlements made by the test, whatever the hour."""
    today = datetime.now(CHINA_TZ).date()
    return {
        "date_from": (today - timedelta(days=1)).isoformat(),
        "date_to": (today + timedelta(days=1)).isoformat(),
    }


def today() -> date:
    return datetime.now(CHINA_TZ).date()


@pytest.fixture
async def platform(databases: DatabaseFactory) -> AsyncIterator[Platform]:
    settlement_url = databases.migrated("settlement")
    ledger_url = databases.migrated("fund_ledger")
    settlement_app = build(
        create_settlement_app, SettlementSettings, database_url=settlement_url, run_background_workers=False
    )
    ledger_app = build(
        create_ledger_app,
        LedgerSettings,
        database_url=ledger_url,
        run_background_workers=False,
        settlement_url="http://settlement.invalid",
    )
    settlement_db = Database(settlement_url)
    ledger_db = Database(ledger_url)
    async with running(settlement_app) as settlement_client_, running(ledger_app) as ledger_client:

        async def to_settlement() -> AsyncIterator[httpx.AsyncClient]:
            # The ledger's service-to-service client, talking to the real settlement app in-process.
            transport = httpx.ASGITransport(app=settlement_app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://settlement", headers=bearer(SERVICE, subject="ledger")
            ) as client:
                yield client

        ledger_app.dependency_overrides[settlement_client] = to_settlement
        api = SettlementApi(settlement_client_, settlement_db)
        await seed_reference_data(api)
        yield Platform(api, ledger_client, ledger_db, ledger_app, settlement_app)
    await settlement_db.dispose()
    await ledger_db.dispose()


__all__ = ["PHARMACY", "Platform", "period", "setl_id_of", "today"]
