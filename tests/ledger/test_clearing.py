"""Sweeps (income account -> special account) and clearing batches (special account -> expenditure account ->
institution, less the quality deposit), with hand-computed amounts, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from fund_ledger.books.bank import InsufficientFunds, post_guarded_entry
from fund_ledger.books.chart import EXPENDITURE_ACCOUNT_DEPOSIT, FISCAL_SPECIAL_ACCOUNT_DEPOSIT, POOLED_FUND
from fund_ledger.books.models import JournalEntry
from fund_ledger.books.service import (
    Leg,
    account_for,
    post_payment_received,
    post_settlement_completed,
)
from fund_ledger.config import LedgerSettings
from pydantic import ValidationError
from sqlalchemy import func, select

from shared.db import Database
from shared.events import PaymentReceived, SettlementCompleted
from tests.ledger.builders import completed, payment

Ledger = tuple[httpx.AsyncClient, Database]
HOSPITAL = "H34152400001"


async def book(
    db: Database, event: PaymentReceived | SettlementCompleted, at: datetime | None = None
) -> None:
    """Post one event; a payment is dated ``at`` (a settlement carries its own setl_time)."""
    envelope = event.envelope("test")
    if at is not None:
        envelope = envelope.model_copy(update={"occurred_at": at})
    async with db.transaction() as session:
        if isinstance(event, PaymentReceived):
            await post_payment_received(session, envelope)
        else:
            await post_settlement_completed(session, envelope)


async def entry_count(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(JournalEntry)) or 0)


async def balances(client: httpx.AsyncClient, as_of: str | None = None) -> dict[tuple[str, str], int]:
    params = {"as_of": as_of} if as_of else {}
    rows = (await client.get("/api/v1/accounts/balances", params=params)).json()
    return {(a["code"], a["counterparty"]): a["balance_fen"] for a in rows if a["balance_fen"] != 0}


def batch_body(batch_id: str, period_from: str, period_to: str) -> dict[str, str]:
    return {
        "batch_id": batch_id,
        "admdvs": "341524",
        "insutype": "390",
        "fixmedins_code": HOSPITAL,
        "period_from": period_from,
        "period_to": period_to,
    }


async def fund(db: Database, client: httpx.AsyncClient, amount_fen: int, day: int = 8) -> None:
    """A contribution on 2026-10-<day> 10:00 Beijing time, swept to the special account as of 31 October."""
    await book(db, payment(day, amount_fen), datetime(2026, 10, day, 2, 0, tzinfo=UTC))
    response = await client.post(
        "/api/v1/sweeps", json={"admdvs": "341524", "insutype": "390", "as_of": "2026-10-31"}
    )
    assert response.status_code == 201, response.text


async def test_sweep_moves_income_account_to_special_account_once(ledger: Ledger) -> None:
    client, db = ledger
    await book(db, payment(1, 3000), datetime(2026, 10, 8, 2, 0, tzinfo=UTC))
    await book(db, payment(2, 6000, payer="medical_assistance"), datetime(2026, 10, 9, 2, 0, tzinfo=UTC))
    # Arrives on 1 November (Beijing): after the sweep's cut-off, stays on the income account.
    await book(db, payment(3, 3000), datetime(2026, 10, 31, 16, 0, tzinfo=UTC))

    body = {"admdvs": "341524", "insutype": "390", "as_of": "2026-10-31"}
    first = await client.post("/api/v1/sweeps", json=body)
    assert first.status_code == 201, first.text
    swept = first.json()
    assert swept["sweep_id"] == "sweep-341524-390-2026-10-31"
    assert swept["amount_fen"] == 9000  # 30.00 + 60.00
    assert swept["replayed"] is False
    entry = (await client.get(f"/api/v1/journal/{swept['entry_id']}")).json()
    assert entry["source_type"] == "sweep"
    assert [(p["account_code"], p["debit_fen"], p["credit_fen"]) for p in entry["postings"]] == [
        ("1002", 9000, 0),
        ("1001", 0, 9000),
    ]
    assert await balances(client) == {
        ("1001", ""): 3000,
        ("1002", ""): 9000,
        ("4001", ""): 6000,
        ("4002", ""): 6000,
    }

    count = await entry_count(db)
    again = await client.post("/api/v1/sweeps", json=body)
    assert again.status_code == 200
    assert again.json() == {**swept, "replayed": True}
    assert await entry_count(db) == count

    # A later sweep takes only what is left; an earlier date finds nothing left to move.
    later = (await client.post("/api/v1/sweeps", json={**body, "as_of": "2026-11-01"})).json()
    assert later["amount_fen"] == 3000
    earlier = (await client.post("/api/v1/sweeps", json={**body, "as_of": "2026-10-20"})).json()
    assert earlier["amount_fen"] == 0
    assert earlier["entry_id"] is None
    assert (await balances(client))[("1002", "")] == 12000
    assert ("1001", "") not in await balances(client)

    future = await client.post("/api/v1/sweeps", json={**body, "as_of": "2999-01-01"})
    assert future.status_code == 422
    assert future.json()["error"]["code"] == "SWEEP_IN_FUTURE"
    assert (await client.post("/api/v1/sweeps", json={**body, "insutype": "999"})).status_code == 422


async def test_fully_funded_clearing_pays_owed_less_deposit(ledger: Ledger) -> None:
    client, db = ledger
    await fund(db, client, 120000)  # 1,200.00 in the special account
    await book(
        db, completed("S1", 100000, institution=HOSPITAL, setl_time=datetime(2026, 11, 20, 2, tzinfo=UTC))
    )
    # Outside the period (December): not cleared by the November batch.
    await book(
        db, completed("S2", 7000, institution=HOSPITAL, setl_time=datetime(2026, 11, 30, 16, tzinfo=UTC))
    )

    response = await client.post(
        "/api/v1/clearing-batches", json=batch_body("B2026-11", "2026-11-01", "2026-11-30")
    )
    assert response.status_code == 201, response.text
    batch = response.json()
    # Owed 1,000.00; deposit 5 % = 50.00; paid 950.00; nothing carried forward.
    assert {k: batch[k] for k in ("brought_forward_fen", "period_owed_fen", "owed_fen", "deposit_fen")} == {
        "brought_forward_fen": 0,
        "period_owed_fen": 100000,
        "owed_fen": 100000,
        "deposit_fen": 5000,
    }
    assert (batch["available_fen"], batch["paid_fen"], batch["carried_forward_fen"]) == (120000, 95000, 0)
    assert batch["deposit_ratio"] == "0.05"
    assert batch["replayed"] is False

    transfer = (await client.get(f"/api/v1/journal/{batch['transfer_entry_id']}")).json()
    assert [(p["account_code"], p["debit_fen"], p["credit_fen"]) for p in transfer["postings"]] == [
        ("1003", 95000, 0),
        ("1002", 0, 95000),
    ]
    clearing = (await client.get(f"/api/v1/journal/{batch['clearing_entry_id']}")).json()
    assert [
        (p["account_code"], p["counterparty"], p["debit_fen"], p["credit_fen"]) for p in clearing["postings"]
    ] == [
        ("2101", HOSPITAL, 95000, 0),
        ("1003", "", 0, 95000),
        ("2101", HOSPITAL, 5000, 0),
        ("2102", HOSPITAL, 0, 5000),
    ]
    now = await balances(client)
    assert now[("1002", "")] == 25000  # 1,200.00 - 950.00
    assert ("1003", "") not in now  # paid straight out again
    assert now[("2101", HOSPITAL)] == 7000  # only December's claim is still owed
    assert now[("2102", HOSPITAL)] == 5000
    trial = (await client.get("/api/v1/trial-balance")).json()
    assert trial["imbalance_fen"] == 0
    assert (await client.get("/api/v1/chain/verify")).json()["ok"] is True

    # Re-running the batch returns the stored result and posts nothing.
    count = await entry_count(db)
    again = await client.post(
        "/api/v1/clearing-batches", json=batch_body("B2026-11", "2026-11-01", "2026-11-30")
    )
    assert again.status_code == 200
    assert again.json() == {**batch, "replayed": True}
    assert await entry_count(db) == count
    assert await balances(client) == now
    assert (await client.get("/api/v1/clearing-batches/B2026-11")).json()["paid_fen"] == 95000
    assert (await client.get("/api/v1/clearing-batches/nope")).status_code == 404

    # The same id for another clearing, or another id for a cleared period, is refused.
    reused = await client.post(
        "/api/v1/clearing-batches", json=batch_body("B2026-11", "2026-11-01", "2026-11-29")
    )
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "BATCH_ID_REUSED"
    overlap = await client.post(
        "/api/v1/clearing-batches", json=batch_body("B-other", "2026-11-15", "2026-12-31")
    )
    assert overlap.status_code == 409
    assert overlap.json()["error"]["code"] == "PERIOD_ALREADY_CLEARED"
    assert await entry_count(db) == count
    backwards = await client.post(
        "/api/v1/clearing-batches", json=batch_body("B-x", "2026-12-31", "2026-12-01")
    )
    assert backwards.status_code == 422


async def test_underfunded_clearing_pays_what_it_can_and_carries_the_rest(ledger: Ledger) -> None:
    client, db = ledger
    await fund(db, client, 60000)  # the special account holds 600.00
    await book(
        db, completed("S1", 100000, institution=HOSPITAL, setl_time=datetime(2026, 11, 20, 2, tzinfo=UTC))
    )

    batch = (
        await client.post("/api/v1/clearing-batches", json=batch_body("B2026-11", "2026-11-01", "2026-11-30"))
    ).json()
    # Owed 1,000.00, deposit 50.00, payable 950.00, available 600.00: paid 600.00, carried 350.00.
    assert (batch["owed_fen"], batch["deposit_fen"], batch["available_fen"]) == (100000, 5000, 60000)
    assert (batch["paid_fen"], batch["carried_forward_fen"]) == (60000, 35000)
    now = await balances(client)
    assert ("1002", "") not in now  # emptied, never below zero
    assert now[("2101", HOSPITAL)] == 35000  # carried forward, visibly
    assert now[("2102", HOSPITAL)] == 5000

    # December: 500.00 more income, a 200.00 claim. Brought forward 350.00 + 200.00 = 550.00 owed; the
    # deposit is on December's claim only (10.00); 540.00 payable, 500.00 available.
    await book(db, payment(20, 50000), datetime(2026, 11, 1, 2, 0, tzinfo=UTC))
    assert (
        await client.post(
            "/api/v1/sweeps", json={"admdvs": "341524", "insutype": "390", "as_of": "2026-11-01"}
        )
    ).json()["amount_fen"] == 50000
    await book(
        db, completed("S2", 20000, institution=HOSPITAL, setl_time=datetime(2026, 12, 3, 2, tzinfo=UTC))
    )
    december = (
        await client.post("/api/v1/clearing-batches", json=batch_body("B2026-12", "2026-12-01", "2026-12-31"))
    ).json()
    assert {
        k: december[k]
        for k in (
            "brought_forward_fen",
            "period_owed_fen",
            "owed_fen",
            "deposit_fen",
            "available_fen",
            "paid_fen",
            "carried_forward_fen",
        )
    } == {
        "brought_forward_fen": 35000,
        "period_owed_fen": 20000,
        "owed_fen": 55000,
        "deposit_fen": 1000,
        "available_fen": 50000,
        "paid_fen": 50000,
        "carried_forward_fen": 4000,
    }
    after = await balances(client)
    assert after[("2101", HOSPITAL)] == 4000
    assert after[("2102", HOSPITAL)] == 6000
    assert ("1002", "") not in after


async def test_clearing_with_an_empty_special_account_posts_only_the_deposit(ledger: Ledger) -> None:
    client, db = ledger
    await book(
        db, completed("S1", 1999, institution=HOSPITAL, setl_time=datetime(2026, 11, 20, 2, tzinfo=UTC))
    )
    batch = (
        await client.post("/api/v1/clearing-batches", json=batch_body("B1", "2026-11-01", "2026-11-30"))
    ).json()
    # 19.99 x 5 % = 0.9995 -> 1.00 (half-up); nothing to pay with: 18.99 carried forward.
    assert (batch["deposit_fen"], batch["paid_fen"], batch["carried_forward_fen"]) == (100, 0, 1899)
    assert batch["transfer_entry_id"] is None
    assert batch["clearing_entry_id"] is not None


async def test_bank_accounts_never_go_below_zero(ledger: Ledger) -> None:
    client, db = ledger
    await fund(db, client, 60000)
    count = await entry_count(db)
    async with db.transaction() as session:
        special = await account_for(session, FISCAL_SPECIAL_ACCOUNT_DEPOSIT, "341524", "390", POOLED_FUND)
        expenditure = await account_for(session, EXPENDITURE_ACCOUNT_DEPOSIT, "341524", "390", POOLED_FUND)
        await post_guarded_entry(
            session,
            source_type="clearing_transfer",
            source_id="ok",
            description="exactly the balance",
            admdvs="341524",
            insutype="390",
            legs=[Leg(expenditure, debit_fen=60000), Leg(special, credit_fen=60000)],
        )
    for amount, account in ((1, special), (60001, expenditure)):
        with pytest.raises(InsufficientFunds, match="不得透支"):
            async with db.transaction() as session:
                other = expenditure if account == special else special
                await post_guarded_entry(
                    session,
                    source_type="clearing_transfer",
                    source_id=f"overdraw-{amount}",
                    description="overdraft",
                    admdvs="341524",
                    insutype="390",
                    legs=[Leg(other, debit_fen=amount), Leg(account, credit_fen=amount)],
                )
    assert await entry_count(db) == count + 1
    # Backdating cannot overdraw either: the income account was empty before the contribution arrived.
    with pytest.raises(InsufficientFunds):
        async with db.transaction() as session:
            await post_guarded_entry(
                session,
                source_type="clearing_transfer",
                source_id="backdated",
                description="backdated",
                admdvs="341524",
                insutype="390",
                legs=[Leg(special, debit_fen=1), Leg(expenditure, credit_fen=1)],
                posted_at=datetime(2026, 10, 1, tzinfo=UTC),
            )


def test_settings_validate_thresholds_and_ratio() -> None:
    with pytest.raises(ValidationError):
        LedgerSettings(fund_risk_warning_months=2, fund_risk_danger_months=3)
    with pytest.raises(ValidationError):
        LedgerSettings(quality_deposit_ratio=1)
