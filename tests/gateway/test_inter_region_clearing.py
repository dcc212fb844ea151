"""Out-of-area care in the books and the monthly inter-region clearing (docs/architecture.md,
"Out-of-area care"): stays of persons insured in region A (341524) at a level-2 hospital of region B
(341502) go through the gateway to the real settlement service; settlement's events are booked by the
ledger's own handlers (the broker is not under test here); the month is reconciled and cleared over the
ledger's REST API. Both backends.

The stays are those of ``test_out_of_area`` (a bill of 5,120.00, 4,600.00 in the policy range, A's level-2
deductible 300.00): unfiled (4,600.00 − 300.00) × 50 % = 2,150.00 and filed × 60 % = 2,580.00 from A's
pooled fund, for care on 2026-11-20; a settlement is dated when it is made (now), so the month cleared is
the current one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from fund_ledger.books.models import JournalEntry
from fund_ledger.books.service import (
    post_payment_received,
    post_settlement_completed,
    post_settlement_reversed,
)
from fund_ledger.config import LedgerSettings
from fund_ledger.main import create_app as create_ledger_app
from settlement.db import infra
from sqlmodel import col, select

from platformctl import interregion
from shared.clock import now_china
from shared.db import Database
from shared.events import EventEnvelope, SettlementCompleted, SettlementReversed
from tests.conftest import DatabaseFactory
from tests.gateway.office import Office, opened
from tests.gateway.test_filed_care import referral
from tests.gateway.test_out_of_area import AWAY_HOSPITAL, AWAY_REGION, Counter, away, region_b
from tests.ledger.builders import payment
from tests.settlement.conftest import HOSPITAL, REGION
from tests.support.apps import build, running

Books = tuple[Office, httpx.AsyncClient, Database]


@pytest.fixture
async def books(databases: DatabaseFactory) -> AsyncIterator[Books]:
    ledger_url = databases.migrated("fund_ledger")
    app = build(create_ledger_app, LedgerSettings, database_url=ledger_url, run_background_workers=False)
    ledger_db = Database(ledger_url)
    async with opened(databases) as office, running(app) as ledger:
        yield office, ledger, ledger_db
    await ledger_db.dispose()


async def book_settlement_events(office: Office, ledger_db: Database, done: set[str]) -> None:
    """What the ledger's consumer does with settlement's events not booked yet, in outbox order."""
    async with office.db.session() as session:
        rows = (await session.execute(select(infra.outbox.c.payload).order_by(infra.outbox.c.id))).scalars()
        payloads = list(rows)
    for payload in payloads:
        envelope = EventEnvelope.model_validate_json(payload)
        if str(envelope.event_id) in done:
            continue
        done.add(str(envelope.event_id))
        handler = {
            SettlementCompleted.event_type: post_settlement_completed,
            SettlementReversed.event_type: post_settlement_reversed,
        }.get(envelope.type)
        if handler is not None:
            async with ledger_db.transaction() as session:
                await handler(session, envelope)


async def fund_region_a(ledger: httpx.AsyncClient, ledger_db: Database, amount_fen: int) -> None:
    """A's contributions of 2026-10-08, swept to A's special account (1002) as of 31 October."""
    envelope = payment(1, amount_fen).envelope("test")
    envelope = envelope.model_copy(update={"occurred_at": datetime(2026, 10, 8, 2, tzinfo=UTC)})
    async with ledger_db.transaction() as session:
        await post_payment_received(session, envelope)
    body = {"admdvs": REGION, "insutype": "390", "as_of": "2026-10-31"}
    assert (await ledger.post("/api/v1/sweeps", json=body)).status_code == 201


async def balances(ledger: httpx.AsyncClient, admdvs: str) -> dict[tuple[str, str], int]:
    rows = (await ledger.get("/api/v1/accounts/balances", params={"admdvs": admdvs})).json()
    return {(a["code"], a["counterparty"]): a["balance_fen"] for a in rows if a["balance_fen"] != 0}


def pair_of(report: dict[str, Any]) -> dict[str, Any]:
    [pair] = report["pairs"]
    assert (pair["insured_admdvs"], pair["treating_admdvs"], pair["fund_pay_type"]) == (
        REGION,
        AWAY_REGION,
        "390100",
    )
    return pair


def this_and_next_month() -> tuple[str, str]:
    """The Beijing month settlements made now are dated in (a settlement is dated when made), and the next."""
    today = now_china().date()
    following = date(today.year + today.month // 12, today.month % 12 + 1, 1)
    return f"{today:%Y-%m}", f"{following:%Y-%m}"


async def test_out_of_area_stays_are_booked_through_clearing_accounts_and_cleared_monthly(
    books: Books,
) -> None:
    office, ledger, ledger_db = books
    month, next_month = this_and_next_month()
    await region_b(office)
    await fund_region_a(ledger, ledger_db, 3_000_00)  # A's special account: 3,000.00
    booked: set[str] = set()
    unfiled, filed = await office.person(), await office.person(14)
    assert (await office.send("2501", referral(filed)))["infcode"] == 0
    counter = away(office)
    unfiled_stay, first = await counter.stay(unfiled)
    _, second = await counter.stay(filed)
    assert (first["infcode"], second["infcode"]) == (0, 0), (first, second)
    await book_settlement_events(office, ledger_db, booked)

    # A's books: Dr 5102 inpatient expenditure 2,150.00 + 2,580.00 = 4,730.00 / Cr 2105 due to B 4,730.00;
    # nothing payable to B's hospital in A's books. B's books: Dr 1302 due from A 4,730.00 / Cr 2101 payable
    # to its hospital 4,730.00. (A's 1002 holds the 3,000.00 swept.)
    assert await balances(ledger, REGION) == {
        ("5102", ""): 4_730_00,
        ("2105", AWAY_REGION): 4_730_00,
        ("1002", ""): 3_000_00,
        ("4001", ""): 3_000_00,
    }
    assert await balances(ledger, AWAY_REGION) == {
        ("1302", REGION): 4_730_00,
        ("2101", AWAY_HOSPITAL): 4_730_00,
    }
    async with ledger_db.session() as session:
        treated = await session.scalars(
            select(JournalEntry.admdvs).where(col(JournalEntry.source_type) == "settlement_treated")
        )
        # One treating-region entry per out-of-area settlement, in B's books only.
        assert list(treated) == [AWAY_REGION, AWAY_REGION]

    # A reversal (2305) of the unfiled stay: its mirror in both books. 4,730.00 − 2,150.00 = 2,580.00 owed.
    setl_id = first["output"]["setlinfo"]["setl_id"]
    undone = await counter.reverse(unfiled, unfiled_stay, setl_id)
    assert undone["infcode"] == 0, undone["err_msg"]
    await book_settlement_events(office, ledger_db, booked)
    assert (await balances(ledger, REGION))[("2105", AWAY_REGION)] == 2_580_00
    assert await balances(ledger, AWAY_REGION) == {
        ("1302", REGION): 2_580_00,
        ("2101", AWAY_HOSPITAL): 2_580_00,
    }

    # The month's report before clearing: both books say 2,150.00 + 2,580.00 − 2,150.00 = 2,580.00 for two
    # settlements and one reversal; open, 2,580.00 owed.
    report = await ledger.get(f"/api/v1/inter-region-clearings/{month}")
    assert report.status_code == 200, report.text
    assert (report.json()["cleared"], report.json()["reconciled"]) == (False, True)
    pair = pair_of(report.json())
    assert (pair["period_owed_fen"], pair["treating_period_fen"], pair["agrees"]) == (
        2_580_00,
        2_580_00,
        True,
    )
    assert (pair["settlements"], pair["reversals"], pair["status"], pair["owed_fen"]) == (
        2,
        1,
        "open",
        2_580_00,
    )

    # Clearing the month (as platformctl does): A holds 3,000.00 and owes 2,580.00: it pays 2,580.00 in
    # full, nothing carried forward.
    run = await interregion.fetch(ledger, month, "390", run=True)
    table = interregion.render(run).splitlines()
    assert table[0] == f"异地就医区域间清算 {month} 险种 390: 已清算, 双方账目一致"
    assert table[2].split("\t") == [
        REGION, AWAY_REGION, "390100", "2", "1", "0.00", "2580.00", "2580.00", "一致", "2580.00", "2580.00",
        "0.00", "cleared",
    ]  # fmt: skip
    cleared = await ledger.get(f"/api/v1/inter-region-clearings/{month}")
    assert cleared.status_code == 200, cleared.text
    assert cleared.json() == {**run, "replayed": False}
    pair = pair_of(cleared.json())
    assert (pair["status"], pair["owed_fen"], pair["available_fen"]) == ("cleared", 2_580_00, 3_000_00)
    assert (pair["paid_fen"], pair["carried_forward_fen"]) == (2_580_00, 0)
    assert (pair["insured_balance_fen"], pair["treating_balance_fen"]) == (0, 0)
    # A: Dr 2105 2,580.00 / Cr 1002 2,580.00 (3,000.00 − 2,580.00 = 420.00 left); B: Dr 1002 2,580.00 /
    # Cr 1302 2,580.00. Two entries, each in one region's books.
    assert await balances(ledger, REGION) == {
        ("5102", ""): 2_580_00,
        ("1002", ""): 420_00,
        ("4001", ""): 3_000_00,
    }
    assert await balances(ledger, AWAY_REGION) == {("2101", AWAY_HOSPITAL): 2_580_00, ("1002", ""): 2_580_00}
    again = await ledger.post("/api/v1/inter-region-clearings", json={"month": month})
    assert again.status_code == 200
    assert again.json() == {**run, "replayed": True}
    assert (await balances(ledger, REGION))[("1002", "")] == 420_00

    # The next month: nothing brought forward, nothing settled: no pair to clear.
    following = await ledger.post("/api/v1/inter-region-clearings", json={"month": next_month})
    assert following.status_code == 201, following.text
    assert following.json()["pairs"] == []
    assert (await ledger.get("/api/v1/chain/verify")).json()["ok"] is True


async def test_what_a_region_cannot_pay_is_carried_to_the_next_month(books: Books) -> None:
    office, ledger, ledger_db = books
    month, next_month = this_and_next_month()
    await region_b(office)
    await fund_region_a(ledger, ledger_db, 2_000_00)  # A's special account: 2,000.00
    _, settled = await away(office).stay(await office.person())
    assert settled["infcode"] == 0, settled["err_msg"]
    await book_settlement_events(office, ledger_db, set())
    # Owed 2,150.00 (the unfiled stay), 2,000.00 available: 2,000.00 paid, 150.00 carried forward.
    pair = pair_of((await ledger.post("/api/v1/inter-region-clearings", json={"month": month})).json())
    assert (pair["owed_fen"], pair["paid_fen"], pair["carried_forward_fen"]) == (2_150_00, 2_000_00, 150_00)
    assert (pair["insured_balance_fen"], pair["treating_balance_fen"]) == (150_00, 150_00)
    # A second 1,000.00 of contributions reaches A's special account; the next month brings the 150.00
    # forward and pays it: 1,000.00 − 150.00 = 850.00 left.
    envelope = payment(2, 1_000_00).envelope("test")
    async with ledger_db.transaction() as session:
        await post_payment_received(session, envelope)
    today = now_china().date().isoformat()
    body = {"admdvs": REGION, "insutype": "390", "as_of": today}
    assert (await ledger.post("/api/v1/sweeps", json=body)).status_code == 201
    pair = pair_of((await ledger.post("/api/v1/inter-region-clearings", json={"month": next_month})).json())
    assert (pair["brought_forward_fen"], pair["period_owed_fen"], pair["owed_fen"]) == (150_00, 0, 150_00)
    assert (pair["status"], pair["paid_fen"], pair["carried_forward_fen"]) == ("cleared", 150_00, 0)
    assert (await balances(ledger, REGION))[("1002", "")] == 850_00
    assert (await balances(ledger, AWAY_REGION))[("1002", "")] == 2_150_00


async def test_local_care_books_no_inter_region_balance_and_bad_months_are_refused(books: Books) -> None:
    office, ledger, ledger_db = books
    await region_b(office)
    psn_no = await office.person()
    _, home = await Counter(office, HOSPITAL, REGION, sign_as=None).stay(psn_no)
    assert home["infcode"] == 0, home["err_msg"]
    await book_settlement_events(office, ledger_db, set())
    # (4,600.00 − 300.00) × 60 % = 2,580.00 payable to A's own hospital; nothing between regions.
    assert await balances(ledger, REGION) == {("5102", ""): 2_580_00, ("2101", HOSPITAL): 2_580_00}
    report = (await ledger.get("/api/v1/inter-region-clearings/2026-11")).json()
    assert (report["pairs"], report["cleared"]) == ([], False)
    for body in ({"month": "2026-13"}, {"month": "202611"}, {"month": "2026-11", "insutype": "999"}):
        refused = await ledger.post("/api/v1/inter-region-clearings", json=body)
        assert refused.status_code == 422, body
    for month in ("2026-1x", "9999-12", "0000-01", "2026-11-01"):
        bad = await ledger.get(f"/api/v1/inter-region-clearings/{month}")
        assert (bad.status_code, bad.json()["error"]["code"]) == (422, "BAD_PERIOD"), month
    beyond = await ledger.post("/api/v1/inter-region-clearings", json={"month": "9999-12"})
    assert (beyond.status_code, beyond.json()["error"]["code"]) == (422, "BAD_PERIOD")
