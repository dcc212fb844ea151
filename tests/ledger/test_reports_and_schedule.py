"""The public disclosure report, the trial balance as of a date, government subsidy received against the
receivable, the kept account balances, and the ledger's own scheduler (daily sweep, monthly clearing,
integrity gauges), with hand-computed figures, on both backends."""

from __future__ import annotations

import csv
import io
import itertools
import math
from datetime import UTC, datetime, time
from typing import Any

import httpx
import pytest
from fund_ledger.books.chart import CHART
from fund_ledger.books.models import JournalEntry
from fund_ledger.books.service import post_settlement_completed, post_settlement_reversed
from fund_ledger.clearing.service import CLEARING_FEN
from fund_ledger.config import LedgerSettings
from fund_ledger.schedule import BALANCE_DRIFT, BANK_BALANCE, LedgerScheduler, auto_clearing_batch_id
from fund_ledger.statements.service import DISCLOSURE_EXPENDITURE_LINES, DISCLOSURE_INCOME_LINES
from prometheus_client import REGISTRY
from sqlalchemy import select, text

from shared.clock import CHINA_TZ
from shared.db import Database
from shared.events import FundPayment
from tests.ledger.builders import completed, payment, reversed_event
from tests.ledger.test_clearing import HOSPITAL, balances, batch_body, book, entry_count
from tests.ledger.test_statements import books_for_statements

Ledger = tuple[httpx.AsyncClient, Database]
REGION = {"admdvs": "341524", "insutype": "390"}


async def disclosure(client: httpx.AsyncClient, date_from: str, date_to: str) -> dict[str, Any]:
    response = await client.get(
        "/api/v1/statements/disclosure", params={**REGION, "date_from": date_from, "date_to": date_to}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_every_income_and_expense_account_is_on_exactly_one_disclosure_line() -> None:
    for kind, lines in (("income", DISCLOSURE_INCOME_LINES), ("expense", DISCLOSURE_EXPENDITURE_LINES)):
        codes = [code for _, group in lines for code in group]
        assert len(codes) == len(set(codes))
        assert set(codes) == {code for code, spec in CHART.items() if spec.kind == kind}


async def test_public_disclosure_of_income_spending_and_balance(ledger: Ledger) -> None:
    client, db = ledger
    await books_for_statements(client, db)
    # October: contributions 900.00 (individual) + 300.00 (medical assistance), subsidy 10+3+2+5 = 20.00.
    october = await disclosure(client, "2026-10-01", "2026-10-31")
    assert october["opening_balance"] == "0.00"
    assert october["income"] == [
        {"item": "个人缴费收入", "amount": "900.00"},
        {"item": "医疗救助资助参保收入", "amount": "300.00"},
        {"item": "集体扶持及单位资助收入", "amount": "0.00"},
        {"item": "财政补助收入", "amount": "20.00"},
        {"item": "利息收入", "amount": "0.00"},
    ]
    assert (october["income_total"], october["expenditure_total"]) == ("1220.00", "0.00")
    assert (october["surplus"], october["closing_balance"], october["settlements"]) == (
        "1220.00",
        "1220.00",
        0,
    )

    # November: the 1,000.00 pharmacy claim. The clearing moves money between bank accounts and the
    # payable: it changes neither income, spending nor the fund balance.
    november = await disclosure(client, "2026-11-01", "2026-11-30")
    assert november["opening_balance"] == "1220.00"
    assert november["expenditure"][1] == {"item": "普通门诊待遇支出（含药店购药）", "amount": "1000.00"}
    assert (november["income_total"], november["expenditure_total"]) == ("0.00", "1000.00")
    assert (november["surplus"], november["closing_balance"], november["settlements"]) == (
        "-1000.00",
        "220.00",
        1,
    )

    # The year: 1,220.00 in, 1,000.00 + 70.00 out, 150.00 left.
    year = await disclosure(client, "2026-01-01", "2026-12-31")
    assert (year["income_total"], year["expenditure_total"], year["surplus"]) == (
        "1220.00",
        "1070.00",
        "150.00",
    )
    assert (year["opening_balance"], year["closing_balance"], year["settlements"]) == ("0.00", "150.00", 2)

    response = await client.get(
        "/api/v1/statements/disclosure",
        params={**REGION, "date_from": "2026-01-01", "date_to": "2026-12-31", "format": "csv"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert ["收入", "收入合计", "1220.00"] in rows
    assert ["支出", "支出合计", "1070.00"] in rows
    assert ["期末", "基金累计结余", "150.00"] in rows

    bad = await client.get(
        "/api/v1/statements/disclosure", params={**REGION, "date_from": "2026-12-01", "date_to": "2026-11-01"}
    )
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "BAD_PERIOD")
    bad_format = await client.get(
        "/api/v1/statements/disclosure",
        params={**REGION, "date_from": "2026-01-01", "date_to": "2026-12-31", "format": "pdf"},
    )
    assert bad_format.status_code == 422


async def test_trial_balance_as_of_a_date(ledger: Ledger) -> None:
    client, db = ledger
    await books_for_statements(client, db)
    first = (await client.get("/api/v1/trial-balance", params={"as_of": "2026-10-08"})).json()
    assert (
        first["entries"],
        first["debit_total_fen"],
        first["credit_total_fen"],
        first["imbalance_fen"],
    ) == (
        1,
        90000,
        90000,
        0,
    )
    # 30 October: 1001 holds 900.00 + 300.00, 1201 the 20.00 subsidy: debits 1,220.00 = credits.
    october = (await client.get("/api/v1/trial-balance", params={"as_of": "2026-10-30"})).json()
    assert (october["entries"], october["debit_total_fen"], october["imbalance_fen"]) == (3, 122000, 0)
    now = (await client.get("/api/v1/trial-balance")).json()
    assert (now["entries"], now["imbalance_fen"]) == (await entry_count(db), 0)
    assert (await client.get("/api/v1/trial-balance", params={"as_of": "yesterday"})).status_code == 422


async def test_subsidy_received_settles_the_receivable(ledger: Ledger) -> None:
    client, db = ledger
    await books_for_statements(client, db)
    before = await balances(client)
    # Special account after November's clearing: 1,200.00 swept - 950.00 paid = 250.00.
    assert (before[("1002", "")], before[("1201", "central")]) == (25000, 1000)
    receipt = {
        **REGION,
        "receipt_id": "GK2026-0001",
        "level": "central",
        "amount_fen": 600,
        "received_on": "2026-11-02",
    }
    response = await client.post("/api/v1/subsidy-receipts", json=receipt)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["amount_fen"], body["receivable_left_fen"], body["replayed"]) == (600, 400, False)
    after = await balances(client)
    assert (after[("1002", "")], after[("1201", "central")]) == (25600, 400)
    assert after[("4101", "")] == before[("4101", "")]  # income was booked at enrolment, not again now

    again = await client.post("/api/v1/subsidy-receipts", json=receipt)
    assert again.status_code == 200
    assert (again.json()["entry_id"], again.json()["replayed"]) == (body["entry_id"], True)
    count = await entry_count(db)

    refused = [
        ({**receipt, "amount_fen": 700}, 409, "RECEIPT_ID_REUSED"),
        ({**receipt, "receipt_id": "GK2026-0002", "amount_fen": 401}, 422, "MORE_THAN_RECEIVABLE"),
        ({**receipt, "receipt_id": "GK2026-0003", "level": "township"}, 422, "VALIDATION_ERROR"),
        ({**receipt, "receipt_id": "GK2026-0004", "received_on": "2099-01-01"}, 422, "RECEIPT_IN_FUTURE"),
        ({**receipt, "receipt_id": "GK2026-0005", "insutype": "310"}, 422, "UNKNOWN_SCHEME"),
        ({**receipt, "receipt_id": "GK2026-0006", "amount_fen": 0}, 422, "VALIDATION_ERROR"),
    ]
    for body_, status, code in refused:
        response = await client.post("/api/v1/subsidy-receipts", json=body_)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), body_
    assert await entry_count(db) == count
    assert (await client.get("/api/v1/trial-balance")).json()["imbalance_fen"] == 0


_fresh_regions = itertools.count(90)


def beijing(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CHINA_TZ)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_scheduler_sweeps_daily_and_clears_monthly_once(ledger: Ledger) -> None:
    client, db = ledger
    # 500.00 paid on 20 November, 300.00 on 22 November (10:00 Beijing time), 100.00 on 23 November.
    await book(db, payment(1, 50000), datetime(2026, 11, 20, 2, tzinfo=UTC))
    await book(db, payment(2, 30000), datetime(2026, 11, 22, 2, tzinfo=UTC))
    await book(db, payment(3, 10000), datetime(2026, 11, 23, 2, tzinfo=UTC))
    await book(
        db, completed("S1", 40000, institution=HOSPITAL, setl_time=datetime(2026, 11, 21, 2, tzinfo=UTC))
    )
    clock = Clock(beijing(2026, 11, 23, 0, 30))
    settings = LedgerSettings(database_url=db.url, auto_clearing_day=5, sweep_after=time(1, 0))
    scheduler = LedgerScheduler(db, settings, clock)

    early = await scheduler.tick(full_integrity=True)
    assert (early.swept, early.cleared, early.failures) == ([], [], [])
    assert (early.imbalance_fen, early.chain_ok, early.drift_accounts) == (0, True, 0)

    # After 01:00 the income account's balance up to the end of 22 November moves: 500.00 + 300.00.
    clock.now = beijing(2026, 11, 23, 1, 5)
    report = await scheduler.tick()
    assert report.swept == [("341524", "390", beijing(2026, 11, 22, 0).date(), 80000)]
    assert (await scheduler.tick()).swept == []
    now = await balances(client)
    assert (now[("1001", "")], now[("1002", "")]) == (10000, 80000)
    assert BANK_BALANCE.labels("341524", "390", "1001")._value.get() == 10000
    assert BANK_BALANCE.labels("341524", "390", "1002")._value.get() == 80000
    paid_before = CLEARING_FEN.labels("341524", "390", "paid")._value.get()
    deposit_before = CLEARING_FEN.labels("341524", "390", "deposit")._value.get()

    # 5 December: November is cleared for the hospital: owed 400.00, 5 % deposit 20.00, 380.00 paid.
    clock.now = beijing(2026, 12, 5, 3, 0)
    december = await scheduler.tick()
    batch_ids = [batch_id for batch_id, _ in december.cleared]
    assert [institution for _, institution in december.cleared] == [HOSPITAL]
    batch = (await client.get(f"/api/v1/clearing-batches/{batch_ids[0]}")).json()
    assert (batch["period_from"], batch["period_to"]) == ("2026-11-01", "2026-11-30")
    assert (batch["owed_fen"], batch["deposit_fen"], batch["paid_fen"], batch["carried_forward_fen"]) == (
        40000,
        2000,
        38000,
        0,
    )
    assert CLEARING_FEN.labels("341524", "390", "paid")._value.get() - paid_before == 38000
    assert CLEARING_FEN.labels("341524", "390", "deposit")._value.get() - deposit_before == 2000
    # The daily sweep of 4 December took the 100.00 of 23 November.
    assert december.swept == [("341524", "390", beijing(2026, 12, 4, 0).date(), 10000)]
    count = await entry_count(db)
    again = await scheduler.tick(full_integrity=True)
    assert (again.swept, again.cleared, again.failures) == ([], [], [])
    assert await entry_count(db) == count
    assert (again.imbalance_fen, again.chain_ok, again.drift_accounts) == (0, True, 0)


async def test_scheduler_leaves_a_month_cleared_by_hand_alone(ledger: Ledger) -> None:
    client, db = ledger
    await book(db, payment(1, 50000), datetime(2026, 10, 20, 2, tzinfo=UTC))
    await book(
        db, completed("S1", 40000, institution=HOSPITAL, setl_time=datetime(2026, 11, 21, 2, tzinfo=UTC))
    )
    sweep = await client.post("/api/v1/sweeps", json={**REGION, "as_of": "2026-10-31"})
    assert sweep.status_code == 201
    by_hand = await client.post(
        "/api/v1/clearing-batches", json=batch_body("HAND-2026-11", "2026-11-01", "2026-11-30")
    )
    assert by_hand.status_code == 201, by_hand.text
    count = await entry_count(db)
    settings = LedgerSettings(database_url=db.url, auto_clearing_day=1, sweep_daily=False)
    report = await LedgerScheduler(db, settings, Clock(beijing(2026, 12, 2, 9))).tick()
    assert (report.cleared, report.failures) == ([], [])
    assert await entry_count(db) == count


async def test_kept_balances_that_drift_from_the_postings_are_reported(ledger: Ledger) -> None:
    _, db = ledger
    await book(db, payment(1, 50000), datetime(2026, 11, 20, 2, tzinfo=UTC))
    settings = LedgerSettings(database_url=db.url, sweep_daily=False)
    scheduler = LedgerScheduler(db, settings, Clock(beijing(2026, 11, 23, 9)))
    assert (await scheduler.tick(full_integrity=True)).drift_accounts == 0
    async with db.transaction() as session:  # someone edits the derived table behind the journal's back
        await session.execute(
            text(
                "UPDATE account_balances SET debit_fen = debit_fen + 1 "
                "WHERE account_id = (SELECT id FROM accounts WHERE code = '1001')"
            )
        )
    report = await scheduler.tick(full_integrity=True)
    assert (report.drift_accounts, report.imbalance_fen, report.chain_ok) == (1, 1, True)
    assert BALANCE_DRIFT._value.get() == 1
    # The postings, and so the chain and the as-of-date balances, are untouched.
    async with db.session() as session:
        assert len(list(await session.scalars(select(JournalEntry)))) == 1


async def test_scheduler_exports_counters_at_zero_before_their_first_increment(ledger: Ledger) -> None:
    """Prometheus's increase() misses the first increment of a series that appears with it: a region's
    clearing counters and a job's failure counter must be exported at 0 before anything happens."""
    _, db = ledger
    region = {"admdvs": f"3415{next(_fresh_regions)}", "insutype": "390"}  # booked by no other test
    await book(db, payment(1, 50000, admdvs=region["admdvs"]), datetime(2026, 11, 20, 2, tzinfo=UTC))

    def sample(name: str, **labels: str) -> float | None:
        return REGISTRY.get_sample_value(name, labels)

    assert sample("ledger_clearing_fen_total", **region, part="paid") is None
    settings = LedgerSettings(database_url=db.url, sweep_daily=False, auto_clearing_day=5)
    scheduler = LedgerScheduler(db, settings, Clock(beijing(2026, 11, 23, 9)))
    for job in ("imbalance", "integrity", "clearing"):
        assert sample("ledger_scheduled_runs_total", task=job, outcome="failed") == 0.0, job
    assert (await scheduler.tick(full_integrity=True)).failures == []
    for part in ("paid", "deposit", "carried_forward"):
        assert sample("ledger_clearing_fen_total", **region, part=part) == 0.0, part
    assert sample("ledger_clearing_batches_total", **region) == 0.0


def test_auto_clearing_batch_ids_fit_and_repeat() -> None:
    from fund_ledger.books.models import Account

    account = Account(
        code="2101",
        name="x",
        kind="liability",
        admdvs="341524",
        insutype="390",
        fund_pay_type="390100",
        counterparty="H" * 30,
    )
    first = auto_clearing_batch_id(beijing(2026, 11, 1, 0).date(), account)
    assert first == auto_clearing_batch_id(beijing(2026, 11, 1, 0).date(), account)
    assert len(first) <= 40 and first.startswith("auto-202611-")
    assert first != auto_clearing_batch_id(beijing(2026, 10, 1, 0).date(), account)


@pytest.mark.parametrize("day", [0, 29])
def test_auto_clearing_day_must_exist_in_every_month(day: int) -> None:
    with pytest.raises(ValueError):
        LedgerSettings(auto_clearing_day=day)


def fund(fund_pay_type: str, amount_fen: int) -> FundPayment:
    return FundPayment(fund_pay_type=fund_pay_type, amount_fen=amount_fen)


async def test_chronic_and_maternity_spending_have_their_own_accounts_and_disclosure_lines(
    ledger: Ledger,
) -> None:
    """Jinzhai (002) reports 慢性病门诊补偿 and 住院分娩补偿 apart from ordinary outpatient and inpatient
    compensation: a chronic visit (med_type 140104, clearing 11) books its pooled payment to 5104, a
    delivery (52, clearing 21) to 5105, an ordinary stay (21) to 5102; catastrophic and assistance keep
    their accounts. A reversal of the chronic visit takes back from 5104."""
    client, db = ledger
    async with db.transaction() as session:
        for setl_id, med_type, clr_type, payments in (
            ("C1", "140104", "11", [fund("390100", 150_00)]),
            ("C2", "140104", "11", [fund("390100", 50_00)]),
            ("M1", "52", "21", [fund("390100", 300_00)]),
            ("I1", "21", "21", [fund("390100", 2_520_00), fund("390200", 1_090_00), fund("610100", 70_00)]),
        ):
            event = completed(setl_id, 0, clr_type=clr_type, med_type=med_type, fund_payments=payments)
            await post_settlement_completed(session, event.envelope("test"))
        undo = reversed_event(
            "C2", "R1", 0, clr_type="11", med_type="140104", fund_payments=[fund("390100", 50_00)]
        )
        await post_settlement_reversed(session, undo.envelope("test"))
    november = await disclosure(client, "2026-11-01", "2026-11-30")
    assert november["expenditure"] == [
        {"item": "住院待遇支出", "amount": "2520.00"},
        {"item": "普通门诊待遇支出（含药店购药）", "amount": "0.00"},
        {"item": "门诊慢特病待遇支出", "amount": "150.00"},
        {"item": "生育待遇支出", "amount": "300.00"},
        {"item": "大病保险支出", "amount": "1090.00"},
        {"item": "医疗救助支出", "amount": "70.00"},
    ]
    # 2,520.00 + 150.00 + 300.00 + 1,090.00 + 70.00 = 4,130.00.
    assert november["expenditure_total"] == "4130.00"


async def test_months_of_payment_follow_the_books_within_a_tick_not_an_hour(ledger: Ledger) -> None:
    """The first (full) tick at start finds no books for a region yet; once entries are posted, the next
    ordinary tick computes that region's months of payment, without waiting for the hourly integrity run."""
    _, db = ledger
    region = {"admdvs": f"3415{next(_fresh_regions)}", "insutype": "390"}  # booked by no other test
    settings = LedgerSettings(database_url=db.url, sweep_daily=False)
    scheduler = LedgerScheduler(db, settings, Clock(beijing(2026, 11, 23, 9)))
    await scheduler.tick(full_integrity=True)  # at start: nothing booked for the region
    assert REGISTRY.get_sample_value("ledger_fund_months_of_payment", region) is None
    await book(db, payment(1, 50000, admdvs=region["admdvs"]), datetime(2026, 11, 20, 2, tzinfo=UTC))
    report = await scheduler.tick()  # the hourly integrity run is not due
    assert report.chain_ok is None and report.fund_risk_scopes >= 1 and report.failures == []
    months = REGISTRY.get_sample_value("ledger_fund_months_of_payment", region)
    # 500.00 yuan received and no benefit spending in the year before: months of payment is undefined (NaN).
    assert months is not None and math.isnan(months)
    assert (await scheduler.tick()).fund_risk_scopes == 0  # nothing changed since
