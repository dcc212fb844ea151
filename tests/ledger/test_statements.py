"""Balances as of a past date, the income and expenditure statement, the balance sheet and the fund risk
indicator (months of payment), with hand-computed figures, on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
from fund_ledger.books.service import post_subsidy_allocated
from fund_ledger.statements.service import fund_risk
from prometheus_client import REGISTRY

from shared.clock import now_china
from shared.db import Database
from tests.ledger.builders import completed, payment, subsidy
from tests.ledger.test_clearing import HOSPITAL, balances, batch_body, book

Ledger = tuple[httpx.AsyncClient, Database]


async def books_for_statements(client: httpx.AsyncClient, db: Database) -> None:
    """1,200.00 contributions and a 20.00 subsidy in October, swept; a 1,000.00 claim in November, cleared
    (50.00 deposit withheld, 950.00 paid); a 70.00 claim in December."""
    await book(db, payment(1, 90000), datetime(2026, 10, 8, 2, 0, tzinfo=UTC))
    await book(db, payment(2, 30000, payer="medical_assistance"), datetime(2026, 10, 9, 2, 0, tzinfo=UTC))
    envelope = subsidy(1, 1000, 300, 200, 500).envelope("test")
    async with db.transaction() as session:
        await post_subsidy_allocated(
            session, envelope.model_copy(update={"occurred_at": datetime(2026, 10, 10, 2, tzinfo=UTC)})
        )
    sweep = {"admdvs": "341524", "insutype": "390", "as_of": "2026-10-31"}
    assert (await client.post("/api/v1/sweeps", json=sweep)).json()["amount_fen"] == 120000
    await book(
        db,
        completed("S1", 100000, institution=HOSPITAL, setl_time=datetime(2026, 11, 20, 2, tzinfo=UTC)),
    )
    await book(
        db,
        completed("S2", 7000, institution=HOSPITAL, setl_time=datetime(2026, 12, 2, 2, tzinfo=UTC)),
    )
    response = await client.post(
        "/api/v1/clearing-batches", json=batch_body("B2026-11", "2026-11-01", "2026-11-30")
    )
    assert response.json()["paid_fen"] == 95000


async def test_balances_as_of_a_past_date(ledger: Ledger) -> None:
    client, db = ledger
    await books_for_statements(client, db)
    # 8 October: only the first contribution (10:00 Beijing time).
    assert await balances(client, "2026-10-08") == {("1001", ""): 90000, ("4001", ""): 90000}
    # 30 October: contributions and subsidy, not yet swept.
    assert await balances(client, "2026-10-30") == {
        ("1001", ""): 120000,
        ("1201", "central"): 1000,
        ("1201", "city"): 200,
        ("1201", "county"): 500,
        ("1201", "provincial"): 300,
        ("4001", ""): 90000,
        ("4002", ""): 30000,
        ("4101", ""): 1000,
        ("4102", ""): 300,
        ("4103", ""): 200,
        ("4104", ""): 500,
    }
    # 31 October: swept at the end of the day.
    october = await balances(client, "2026-10-31")
    assert ("1001", "") not in october
    assert october[("1002", "")] == 120000
    # 21 November: the claim is owed, the clearing (run today) has not happened yet.
    november = await balances(client, "2026-11-21")
    assert (november[("1002", "")], november[("2101", HOSPITAL)], november[("5103", "")]) == (
        120000,
        100000,
        100000,
    )
    assert await balances(client, "2026-01-01") == {}
    assert (await client.get("/api/v1/accounts/balances", params={"as_of": "someday"})).status_code == 422


async def test_income_expenditure_statement(ledger: Ledger) -> None:
    client, db = ledger
    await books_for_statements(client, db)
    params = {"admdvs": "341524", "insutype": "390", "date_from": "2026-10-01", "date_to": "2026-11-30"}
    statement = (await client.get("/api/v1/statements/income-expenditure", params=params)).json()
    assert [(line["code"], line["amount_fen"]) for line in statement["income"]] == [
        ("4001", 90000),
        ("4002", 30000),
        ("4101", 1000),
        ("4102", 300),
        ("4103", 200),
        ("4104", 500),
    ]
    assert [(line["code"], line["amount_fen"]) for line in statement["expenditure"]] == [("5103", 100000)]
    # 1,220.00 income - 1,000.00 benefit = 220.00 surplus; December's 70.00 is outside the period.
    assert (statement["income_total_fen"], statement["expenditure_total_fen"], statement["surplus_fen"]) == (
        122000,
        100000,
        22000,
    )
    december = (
        await client.get(
            "/api/v1/statements/income-expenditure",
            params={**params, "date_from": "2026-12-01", "date_to": "2026-12-31"},
        )
    ).json()
    assert (december["income_total_fen"], december["surplus_fen"]) == (0, -7000)
    other = (
        await client.get("/api/v1/statements/income-expenditure", params={**params, "insutype": "391"})
    ).json()
    assert other["income"] == other["expenditure"] == []
    backwards = {**params, "date_from": "2026-12-01"}
    assert (await client.get("/api/v1/statements/income-expenditure", params=backwards)).status_code == 422


async def test_balance_sheet_fund_balance_equals_cumulative_surplus(ledger: Ledger) -> None:
    client, db = ledger
    await books_for_statements(client, db)
    # After everything: December's claim and the clearing (dated when it ran, today).
    as_of = max(now_china().date(), date(2026, 12, 31)).isoformat()
    params = {"admdvs": "341524", "insutype": "390", "as_of": as_of}
    sheet = (await client.get("/api/v1/statements/balance-sheet", params=params)).json()
    assets = {line["code"]: line["amount_fen"] for line in sheet["assets"]}
    liabilities = {line["code"]: line["amount_fen"] for line in sheet["liabilities"]}
    # Special account 1,200.00 - 950.00 = 250.00; 20.00 subsidy receivable; the expenditure account passed
    # the 950.00 straight on.
    assert assets == {"1001": 0, "1002": 25000, "1003": 0, "1201": 2000}
    # December's 70.00 still owed; 50.00 deposit withheld.
    assert liabilities == {"2101": 7000, "2102": 5000}
    assert (sheet["assets_total_fen"], sheet["liabilities_total_fen"], sheet["fund_balance_fen"]) == (
        27000,
        12000,
        15000,
    )
    # 1,220.00 income - 1,070.00 expenditure = 150.00 = the fund balance.
    assert (sheet["cumulative_income_fen"], sheet["cumulative_expenditure_fen"]) == (122000, 107000)
    assert sheet["opening_fund_balance_fen"] == 0
    assert sheet["balanced"] is True

    october = (
        await client.get("/api/v1/statements/balance-sheet", params={**params, "as_of": "2026-10-31"})
    ).json()
    assert (october["assets_total_fen"], october["liabilities_total_fen"], october["fund_balance_fen"]) == (
        122000,
        0,
        122000,
    )
    assert october["balanced"] is True


async def test_months_of_payment_with_thresholds(ledger: Ledger) -> None:
    client, db = ledger
    await book(db, payment(1, 120000), datetime(2026, 10, 8, 2, 0, tzinfo=UTC))
    # In the 12 months up to 30 November 2026 (1 Dec 2025 - 30 Nov 2026 Beijing time): 300.00 + 150.00.
    await book(db, completed("S1", 30000, setl_time=datetime(2026, 11, 20, 2, tzinfo=UTC)))
    await book(db, completed("S2", 15000, setl_time=datetime(2025, 11, 30, 16, 0, tzinfo=UTC)))
    # 30 November 2025 23:59 Beijing time: just outside the window.
    await book(db, completed("S3", 99900, setl_time=datetime(2025, 11, 30, 15, 59, tzinfo=UTC)))

    params = {"admdvs": "341524", "insutype": "390", "as_of": "2026-11-30"}
    risk = (await client.get("/api/v1/statements/fund-risk", params=params)).json()
    # Bank balance 1,200.00; 450.00 spent in 12 months = 37.50 a month; 1,200.00 / 37.50 = 32 months.
    assert risk["bank_balance_fen"] == 120000
    assert (risk["window_from"], risk["window_to"]) == ("2025-12-01", "2026-11-30")
    assert (risk["expenditure_12m_fen"], risk["average_monthly_expenditure_fen"]) == (45000, 3750)
    assert risk["months_of_payment"] == "32.00"
    assert risk["status"] == "ok"
    assert (risk["warning_months"], risk["danger_months"]) == ("6", "3")
    gauge = REGISTRY.get_sample_value(
        "ledger_fund_months_of_payment", {"admdvs": "341524", "insutype": "390"}
    )
    assert gauge == 32.0

    async with db.session() as session:
        kwargs = {"warning_months": Decimal("40"), "danger_months": Decimal("10")}
        warning = await fund_risk(session, "341524", "390", date(2026, 11, 30), **kwargs)
        assert (warning.months_of_payment, warning.status) == (Decimal("32.00"), "warning")
        danger = await fund_risk(
            session,
            "341524",
            "390",
            date(2026, 11, 30),
            warning_months=Decimal(40),
            danger_months=Decimal(33),
        )
        assert danger.status == "danger"
        # As of 30 November 2025 only S3's 999.00 counts (and nothing in the bank): 0 months.
        empty = await fund_risk(
            session, "341524", "390", date(2025, 11, 30), warning_months=Decimal(6), danger_months=Decimal(3)
        )
        assert (empty.bank_balance_fen, empty.expenditure_12m_fen, empty.months_of_payment) == (0, 99900, 0)
        assert empty.status == "danger"

    none = (await client.get("/api/v1/statements/fund-risk", params={**params, "admdvs": "341525"})).json()
    assert (none["months_of_payment"], none["status"], none["average_monthly_expenditure_fen"]) == (
        None,
        "no spending",
        0,
    )
    assert (
        await client.get("/api/v1/statements/fund-risk", params={**params, "as_of": "x"})
    ).status_code == 422
