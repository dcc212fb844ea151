"""跨省 care between platforms in the books (docs/architecture.md, "Out-of-area care"), from the events
themselves, both backends. Platform A treats a person insured on platform B at its pharmacy; B's fund pays
21.88 (tests/gateway/test_cross_platform.py: 53.75 in range − 10.00 deductible = 43.75 × 50 % = 21.875 →
21.88).

- A's ledger (``insured_platform`` B on A's event): A's region Dr 1303 due from platform B / Cr 2101 payable
  to its pharmacy; no expenditure of A's fund, nothing in B's region's books.
- B's ledger (``treating_platform`` A on the event of B's confirmed reservation): B's region Dr 5103 pharmacy
  expenditure / Cr 2106 due to platform A; nothing owed to an institution.
A reversal (A's 2103, B's release of the confirmed reservation) mirrors each entry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from fund_ledger.books.service import post_settlement_completed, post_settlement_reversed
from sqlalchemy.ext.asyncio import AsyncSession

from shared.consumer import EventRejected
from shared.db import Database
from shared.events import EventEnvelope
from tests.ledger.builders import completed, reversed_event

Ledger = tuple[httpx.AsyncClient, Database]
A_REGION, B_REGION = "341524", "110105"
A_PHARMACY = "P34152400001"


async def trial(client: httpx.AsyncClient, admdvs: str) -> dict[tuple[str, str], int]:
    rows = (await client.get("/api/v1/accounts/balances", params={"admdvs": admdvs})).json()
    return {(a["code"], a["counterparty"]): a["balance_fen"] for a in rows if a["balance_fen"] != 0}


async def post(
    db: Database,
    handler: Callable[[AsyncSession, EventEnvelope], Awaitable[None]],
    envelope: EventEnvelope,
) -> None:
    async with db.transaction() as session:
        await handler(session, envelope)


async def test_the_treating_platform_books_a_receivable_from_the_peer(ledger: Ledger) -> None:
    client, db = ledger
    event = completed("S1", 21_88, institution=A_PHARMACY, admdvs=B_REGION)
    event = event.model_copy(update={"mdtrtarea_admvs": A_REGION, "insured_platform": "B"})
    envelope = event.envelope("test")
    await post(db, post_settlement_completed, envelope)
    assert await trial(client, A_REGION) == {("1303", "B"): 21_88, ("2101", A_PHARMACY): 21_88}
    assert await trial(client, B_REGION) == {}
    # The same settlement again under another event: refused (the consumer skips a redelivered event by
    # its id before the handler), booked once.
    with pytest.raises(EventRejected):
        await post(db, post_settlement_completed, event.envelope("test"))
    assert await trial(client, A_REGION) == {("1303", "B"): 21_88, ("2101", A_PHARMACY): 21_88}
    reversal = reversed_event("S1", "S1R", 21_88, A_PHARMACY, admdvs=B_REGION)
    reversal = reversal.model_copy(update={"mdtrtarea_admvs": A_REGION, "insured_platform": "B"})
    await post(db, post_settlement_reversed, reversal.envelope("test"))
    assert await trial(client, A_REGION) == {}


async def test_the_insured_platform_books_its_fund_payment_owed_to_the_treating_platform(
    ledger: Ledger,
) -> None:
    client, db = ledger
    event = completed("RSV1", 21_88, institution=A_PHARMACY, admdvs=B_REGION)
    event = event.model_copy(update={"mdtrtarea_admvs": A_REGION, "treating_platform": "A"})
    await post(db, post_settlement_completed, event.envelope("test"))
    assert await trial(client, B_REGION) == {("5103", ""): 21_88, ("2106", "A"): 21_88}
    assert await trial(client, A_REGION) == {}
    reversal = reversed_event("RSV1", "RSV1X", 21_88, A_PHARMACY, admdvs=B_REGION, med_type="41")
    reversal = reversal.model_copy(update={"mdtrtarea_admvs": A_REGION, "treating_platform": "A"})
    await post(db, post_settlement_reversed, reversal.envelope("test"))
    assert await trial(client, B_REGION) == {}
