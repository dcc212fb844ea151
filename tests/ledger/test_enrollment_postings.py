"""Money in and the fund mapping: contributions and subsidies booked from enrollment events, settlement
payments booked to the expenditure account of their fund, and the sub-ledger rule."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from fund_ledger.books.chart import CHART, INCOME_ACCOUNT_DEPOSIT, PAYABLE, SUBSIDY_RECEIVABLE
from fund_ledger.books.journal import PostedEntry
from fund_ledger.books.models import JournalEntry
from fund_ledger.books.service import (
    Leg,
    SubLedgerViolation,
    account_for,
    post_entry,
    post_payment_received,
    post_settlement_completed,
    post_settlement_reversed,
    post_subsidy_allocated,
)
from sqlalchemy import func, select

from shared.consumer import EventRejected
from shared.db import Database
from shared.events import FundPayment
from tests.ledger.builders import completed, payment, reversed_event, subsidy

Ledger = tuple[httpx.AsyncClient, Database]


def legs_of(entry: dict[str, object]) -> list[tuple[str, str, str, str, str, int, int]]:
    postings = entry["postings"]
    assert isinstance(postings, list)
    return [
        (
            p["account_code"],
            p["admdvs"],
            p["insutype"],
            p["fund_pay_type"],
            p["counterparty"],
            p["debit_fen"],
            p["credit_fen"],
        )
        for p in postings
    ]


async def balances(client: httpx.AsyncClient) -> dict[tuple[str, str, str], int]:
    trial = (await client.get("/api/v1/trial-balance")).json()
    assert trial["imbalance_fen"] == 0
    assert trial["debit_total_fen"] == trial["credit_total_fen"]
    return {(a["code"], a["insutype"], a["counterparty"]): a["balance_fen"] for a in trial["accounts"]}


async def test_chart_codes_are_unique_and_typed() -> None:
    assert {spec.kind for spec in CHART.values()} == {"asset", "liability", "equity", "income", "expense"}
    assert all(code == spec.code for code, spec in CHART.items())
    assert sorted(CHART) == [
        *("1001", "1002", "1003", "1101", "1201", "1202", "1301", "1302", "1303"),
        *("2101", "2102", "2103", "2104", "2105", "2106", "2201", "2301"),
        *("3001", "3002"),
        *("4001", "4002", "4003", "4004", "4101", "4102", "4103", "4104", "4201"),
        *("5101", "5102", "5103", "5104", "5105", "5109", "5201", "5301"),
    ]


async def test_contribution_payments_post_to_income_by_payer(ledger: Ledger) -> None:
    client, db = ledger
    paid_at = datetime(2026, 10, 8, 1, 30, tzinfo=UTC)
    envelope = payment(11, 3000).envelope("test")
    envelope = envelope.model_copy(update={"occurred_at": paid_at})
    async with db.transaction() as session:
        await post_payment_received(session, envelope)
        await post_payment_received(session, payment(12, 3000, payer="medical_assistance").envelope("test"))
        await post_payment_received(session, payment(13, 1000, payer="village_collective").envelope("test"))

    [first] = (await client.get("/api/v1/journal", params={"source_id": "11"})).json()
    # 30.00 yuan personal contribution: Dr income account deposit / Cr individual contribution income.
    assert first["source_type"] == "contribution"
    assert first["event_id"] == str(envelope.event_id)
    assert first["posted_at"].startswith("2026-10-08T01:30:00")
    assert legs_of(first) == [
        ("1001", "341524", "390", "390100", "", 3000, 0),
        ("4001", "341524", "390", "390100", "", 0, 3000),
    ]
    assert await balances(client) == {
        ("1001", "390", ""): 7000,
        ("4001", "390", ""): 3000,
        ("4002", "390", ""): 3000,
        ("4003", "390", ""): 1000,
    }
    with pytest.raises(EventRejected, match="already posted"):
        async with db.transaction() as session:
            await post_payment_received(session, payment(11, 3000).envelope("test"))


async def test_subsidy_posts_one_entry_with_a_leg_pair_per_level(ledger: Ledger) -> None:
    client, db = ledger
    async with db.transaction() as session:
        # 20.00 yuan split central:provincial:city:county = 10.00 : 3.00 : 2.00 : 5.00.
        await post_subsidy_allocated(session, subsidy(7, 1000, 300, 200, 500).envelope("test"))
        # A level with nothing to give gets no legs; a zero subsidy books nothing at all.
        await post_subsidy_allocated(session, subsidy(8, 1000, 0, 500, 500).envelope("test"))
        await post_subsidy_allocated(session, subsidy(9, 0, 0, 0, 0).envelope("test"))

    journal = (await client.get("/api/v1/journal")).json()
    assert [(e["source_type"], e["source_id"], e["total_fen"]) for e in journal] == [
        ("subsidy", "7", 2000),
        ("subsidy", "8", 2000),
    ]
    assert legs_of(journal[0]) == [
        ("1201", "341524", "390", "390100", "central", 1000, 0),
        ("4101", "341524", "390", "390100", "", 0, 1000),
        ("1201", "341524", "390", "390100", "provincial", 300, 0),
        ("4102", "341524", "390", "390100", "", 0, 300),
        ("1201", "341524", "390", "390100", "city", 200, 0),
        ("4103", "341524", "390", "390100", "", 0, 200),
        ("1201", "341524", "390", "390100", "county", 500, 0),
        ("4104", "341524", "390", "390100", "", 0, 500),
    ]
    assert len(journal[1]["postings"]) == 6
    assert await balances(client) == {
        ("1201", "390", "central"): 2000,
        ("1201", "390", "provincial"): 300,
        ("1201", "390", "city"): 700,
        ("1201", "390", "county"): 1000,
        ("4101", "390", ""): 2000,
        ("4102", "390", ""): 300,
        ("4103", "390", ""): 700,
        ("4104", "390", ""): 1000,
    }
    bad = subsidy(10, 1000, 300, 200, 500).model_copy(update={"total_fen": 2001})
    with pytest.raises(EventRejected, match="do not add up"):
        async with db.transaction() as session:
            await post_subsidy_allocated(session, bad.envelope("test"))


async def test_settlement_funds_map_to_their_expenditure_accounts(ledger: Ledger) -> None:
    client, db = ledger
    funds = [
        FundPayment(fund_pay_type="390100", amount_fen=200000),
        FundPayment(fund_pay_type="390200", amount_fen=50000),
        FundPayment(fund_pay_type="610100", amount_fen=30000),
    ]
    async with db.transaction() as session:
        await post_settlement_completed(
            session,
            completed("S1", 0, clr_type="21", institution="H1", medfee=400000, fund_payments=funds).envelope(
                "t"
            ),
        )
        await post_settlement_reversed(
            session, reversed_event("S1", "R1", 0, "H1", clr_type="21", fund_payments=funds[1:]).envelope("t")
        )
    [entry] = (await client.get("/api/v1/journal", params={"source_id": "S1"})).json()
    assert entry["posted_at"].startswith("2026-11-20T02:00:00")  # setl_time, not the wall clock
    assert legs_of(entry) == [
        ("5102", "341524", "390", "390100", "", 200000, 0),
        ("2101", "341524", "390", "390100", "H1", 0, 200000),
        ("5201", "341524", "390", "390200", "", 50000, 0),
        ("2101", "341524", "390", "390200", "H1", 0, 50000),
        ("5301", "341524", "390", "610100", "", 30000, 0),
        ("2101", "341524", "390", "610100", "H1", 0, 30000),
    ]
    trial = (await client.get("/api/v1/trial-balance")).json()
    by_fund = {(a["code"], a["fund_pay_type"]): a["balance_fen"] for a in trial["accounts"]}
    assert by_fund == {
        ("5102", "390100"): 200000,
        ("5201", "390200"): 0,
        ("5301", "610100"): 0,
        ("2101", "390100"): 200000,
        ("2101", "390200"): 0,
        ("2101", "610100"): 0,
    }
    unknown = completed("S2", 0, fund_payments=[FundPayment(fund_pay_type="999999", amount_fen=10)])
    with pytest.raises(EventRejected, match="no expenditure account for fund 999999"):
        async with db.transaction() as session:
            await post_settlement_completed(session, unknown.envelope("t"))


async def test_entries_stay_in_one_scheme_sub_ledger_and_region(ledger: Ledger) -> None:
    _, db = ledger
    async with db.transaction() as session:
        residents = await account_for(session, INCOME_ACCOUNT_DEPOSIT, "341524", "390", "390100")
        ncms = await account_for(session, INCOME_ACCOUNT_DEPOSIT, "341524", "380", "390100")
        other_county = await account_for(session, INCOME_ACCOUNT_DEPOSIT, "341522", "390", "390100")
        receivable = await account_for(session, SUBSIDY_RECEIVABLE, "341524", "390", "390100", "city")

    async def post(legs: list[Leg], *, insutype: str = "390", source_type: str = "manual") -> PostedEntry:
        async with db.transaction() as session:
            return await post_entry(
                session,
                event_id=None,
                source_type=source_type,
                source_id=f"{source_type}-{len(legs)}-{legs[0].account_id}-{legs[1].account_id}",
                description="调拨",
                admdvs="341524",
                insutype=insutype,
                legs=legs,
            )

    with pytest.raises(SubLedgerViolation, match="不得调剂使用"):
        await post([Leg(ncms, debit_fen=100), Leg(residents, credit_fen=100)])
    with pytest.raises(SubLedgerViolation, match="不得调剂使用"):  # the entry's own scheme counts too
        await post([Leg(residents, debit_fen=100), Leg(receivable, credit_fen=100)], insutype="380")
    with pytest.raises(SubLedgerViolation, match="pooling_transfer"):
        await post([Leg(other_county, debit_fen=100), Leg(residents, credit_fen=100)])
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(JournalEntry)) == 0

    # City-level pooling moves money between regions, within one scheme.
    entry = await post(
        [Leg(other_county, debit_fen=100), Leg(residents, credit_fen=100)], source_type="pooling_transfer"
    )
    assert entry.seq == 1
    with pytest.raises(SubLedgerViolation, match="不得调剂使用"):
        await post([Leg(ncms, debit_fen=100), Leg(residents, credit_fen=100)], source_type="pooling_transfer")

    # Events naming a scheme the chart does not keep are refused (dead-lettered by the consumer).
    with pytest.raises(EventRejected, match="insutype 310"):
        async with db.transaction() as session:
            await post_payment_received(session, payment(1, 100, insutype="310").envelope("t"))
    assert PAYABLE.code == "2101"
