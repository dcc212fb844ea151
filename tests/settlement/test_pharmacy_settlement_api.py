"""Pharmacy settlement (2102) through the settlement service's API on a real database. Policy: 20.00 yuan
yearly deductible, 50 %, 300.00 yuan yearly cap; the expected amounts are worked out by hand."""

from __future__ import annotations

import asyncio
import json

import pytest
from settlement.db import audit, infra
from settlement.eligibility import service as eligibility
from settlement.eligibility.models import YearAccumulator
from settlement.settlements.models import Settlement
from sqlalchemy import func
from sqlmodel import select

from shared.auth import ENROLLMENT_CLERK, SERVICE
from tests.conftest import eventually
from tests.settlement.conftest import (
    HOSPITAL,
    PHARMACY,
    SettlementApi,
    a_session_waits_for_a_lock,
    new_person,
    purchase,
)
from tests.support.apps import bearer

URL = "/api/v1/pharmacy-settlements"


async def _counts(api: SettlementApi) -> tuple[int, int]:
    async with api.db.session() as session:
        settlements = await session.scalar(select(func.count()).select_from(Settlement))
        outbox = await session.scalar(
            select(func.count()).select_from(infra.outbox).where(infra.outbox.c.topic == "settlement.events")
        )
    return int(settlements or 0), int(outbox or 0)


async def test_settles_and_writes_event_in_same_transaction(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    body = purchase(psn_no, certno, [("A", "60", "0.5", 3000), ("B", "3", "20", 6000)])
    response = await settlement_api.post(URL, body)
    assert response.status_code == 200, response.text
    s = response.json()
    # A 30.00 甲 in range; B 60.00 乙: 6.00 first, 54.00 in range; (84.00 - 20.00) x 50 % = 32.00.
    assert s["medfee_sumamt_fen"] == 9000
    assert s["self_pay_first_fen"] == 600
    assert s["policy_range_fen"] == 8400
    assert s["deductible_fen"] == 2000
    assert s["pooled_fund_paid_fen"] == 3200
    assert s["fund_paid_total_fen"] == 3200
    assert s["cash_paid_fen"] == 5800
    assert s["account_paid_fen"] == 0
    assert s["clr_type"] == "41"
    assert [(f["fund_pay_type"], f["paid_fen"]) for f in s["funds"]] == [("390100", 3200)]
    assert [line["policy_range_fen"] for line in s["lines"]] == [3000, 5400]
    assert len(s["setl_id"]) == 30 and len(s["mdtrt_id"]) == 30

    async with settlement_api.db.session() as session:
        outbox = (
            await session.execute(infra.outbox.select().where(infra.outbox.c.topic == "settlement.events"))
        ).one()
        accumulator = await session.scalar(select(YearAccumulator).where(YearAccumulator.psn_no == psn_no))
    event = json.loads(outbox.payload)
    assert outbox.topic == "settlement.events" and outbox.event_key == psn_no
    assert event["type"] == "settlement.completed"
    assert event["data"]["setl_id"] == s["setl_id"]
    assert event["data"]["fund_pay_sumamt_fen"] == 3200
    assert event["data"]["fund_payments"] == [{"fund_pay_type": "390100", "amount_fen": 3200}]
    assert accumulator is not None
    assert (
        accumulator.outpatient_deductible_fen,
        accumulator.outpatient_paid_fen,
        accumulator.settlement_count,
    ) == (
        2000,
        3200,
        1,
    )

    # The second purchase of the year pays no deductible: B 10.00 -> 9.00 in range x 50 % = 4.50.
    second = await settlement_api.post(URL, purchase(psn_no, certno, [("B", "1", "10", 1000)]))
    assert second.json()["deductible_fen"] == 0
    assert second.json()["pooled_fund_paid_fen"] == 450
    assert second.json()["cash_paid_fen"] == 550


async def test_same_msgid_returns_first_settlement_and_different_body_is_refused(
    settlement_api: SettlementApi,
) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    body = purchase(psn_no, certno, [("A", "60", "0.5", 3000)])
    first = (await settlement_api.post(URL, body)).json()
    again = await settlement_api.post(URL, body)
    assert again.status_code == 200
    assert again.json()["setl_id"] == first["setl_id"]
    assert again.json()["replayed"] is True
    changed = dict(body, lines=[dict(body["lines"][0], cnt="40", amount_fen=2000)], medfee_sumamt_fen=2000)
    refused = await settlement_api.post(URL, changed)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "MSGID_REUSED"
    assert await _counts(settlement_api) == (1, 1)


async def test_concurrent_purchases_of_one_person_spend_the_deductible_once(
    settlement_api: SettlementApi,
) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    # Eight purchases of 10.00 in range each: 20.00 goes to the deductible once, the remaining 60.00 is paid
    # at 50 % = 30.00 by the fund in total, whatever order the counters commit in.
    responses = await asyncio.gather(
        *[settlement_api.post(URL, purchase(psn_no, certno, [("A", "20", "0.5", 1000)])) for _ in range(8)]
    )
    assert [r.status_code for r in responses] == [200] * 8
    bodies = [r.json() for r in responses]
    assert sum(b["deductible_fen"] for b in bodies) == 2000
    assert sum(b["pooled_fund_paid_fen"] for b in bodies) == 3000
    async with settlement_api.db.session() as session:
        accumulator = await session.scalar(select(YearAccumulator).where(YearAccumulator.psn_no == psn_no))
    assert accumulator is not None
    assert (
        accumulator.outpatient_deductible_fen,
        accumulator.outpatient_paid_fen,
        accumulator.settlement_count,
    ) == (
        2000,
        3000,
        8,
    )
    # Eight more at once, the accumulator there now (locked by the read that fetches the coverage rows):
    # the deductible is spent, so each pays 5.00 from the fund: 30.00 + 40.00 for the year.
    again = await asyncio.gather(
        *[settlement_api.post(URL, purchase(psn_no, certno, [("A", "20", "0.5", 1000)])) for _ in range(8)]
    )
    assert [r.json()["pooled_fund_paid_fen"] for r in again] == [500] * 8
    async with settlement_api.db.session() as session:
        accumulator = await session.scalar(select(YearAccumulator).where(YearAccumulator.psn_no == psn_no))
    assert accumulator is not None
    assert (accumulator.outpatient_paid_fen, accumulator.settlement_count) == (7000, 16)


async def test_two_first_settlements_of_the_year_take_turns_on_the_new_accumulator(
    settlement_api: SettlementApi,
) -> None:
    """The first settlement of a person's year inserts the accumulator and holds it until it commits; a
    second one at the same moment waits for it and then works on the row the first one left."""
    if settlement_api.db.is_sqlite:
        pytest.skip("PostgreSQL only: SQLite runs one writing transaction at a time")
    psn_no, _ = new_person()
    first_holds, second_done = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with settlement_api.db.transaction() as session:
            totals = await eligibility.lock_accumulator(session, psn_no, 2026, "390")
            assert totals.settlement_count == 0
            totals.settlement_count, totals.outpatient_paid_fen = 1, 1234
            await eligibility.save_accumulator(session, totals)
            first_holds.set()
            # The second one, on this row.
            await eventually(lambda: a_session_waits_for_a_lock(settlement_api), timeout_s=30)
            assert not second_done.is_set()  # still waiting for this transaction

    async def second() -> eligibility.Totals:
        await first_holds.wait()
        async with settlement_api.db.transaction() as session:
            totals = await eligibility.lock_accumulator(session, psn_no, 2026, "390")
        second_done.set()
        return totals

    _, seen = await asyncio.gather(first(), second())
    assert (seen.settlement_count, seen.outpatient_paid_fen) == (1, 1234)
    async with settlement_api.db.session() as session:
        rows = (await session.scalars(select(YearAccumulator).where(YearAccumulator.psn_no == psn_no))).all()
    assert len(rows) == 1


async def test_refusals_change_nothing(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    other_psn, other_cert = new_person(24)
    cases = [
        (purchase(other_psn, other_cert, [("A", "1", "0.5", 50)]), 422, "NOT_COVERED"),
        (
            purchase(psn_no, certno, [("A", "1", "0.5", 50)], begntime="2025-06-01T10:00:00+08:00"),
            422,
            "NOT_COVERED",
        ),
        (
            purchase(psn_no, certno, [("A", "1", "0.5", 50)], fixmedins_code="P34152400009"),
            403,
            "INSTITUTION_NOT_ACTIVE",
        ),
        (purchase(psn_no, certno, [("A", "1", "0.5", 50)], fixmedins_code=HOSPITAL), 422, "NOT_A_PHARMACY"),
        (
            purchase(psn_no, certno, [("A", "1", "0.5", 50)], fixmedins_code="P00000000000"),
            404,
            "INSTITUTION_NOT_FOUND",
        ),
        (purchase(psn_no, certno, [("A", "1", "0.5", 50)], total=60), 422, "TOTAL_MISMATCH"),
        (purchase(psn_no, certno, [("A", "3", "0.5", 200)]), 422, "LINE_AMOUNT_MISMATCH"),
        (purchase(psn_no, other_cert, [("A", "1", "0.5", 50)]), 422, "CERT_MISMATCH"),
        # A made-up e-voucher token must not pay (issue 23): not one this platform issued.
        (
            dict(
                purchase(psn_no, certno, [("A", "1", "0.5", 50)]), mdtrt_cert_type="01", mdtrt_cert_no="any"
            ),
            422,
            "E_VOUCHER",
        ),
        (
            purchase(psn_no, certno, [("A", "1", "0.5", 50)], begntime="2099-01-01T10:00:00+08:00"),
            422,
            "FUTURE_TIME",
        ),
        (purchase(psn_no, certno, [("A", "1", "0.5", -50)]), 422, "VALIDATION_ERROR"),
        (purchase(psn_no, certno, []), 422, "VALIDATION_ERROR"),
        (dict(purchase(psn_no, certno, [("A", "1", "0.5", 50)]), med_type="21"), 422, "VALIDATION_ERROR"),
    ]
    for body, status, code in cases:
        response = await settlement_api.post(URL, body)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), response.text
        assert response.json()["error"]["message"]
    assert await _counts(settlement_api) == (0, 0)


async def test_malformed_json_is_a_client_error(settlement_api: SettlementApi) -> None:
    response = await settlement_api.client.post(
        URL, content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    duplicate_lines = purchase(*new_person(), [("A", "1", "0.5", 50), ("A", "1", "0.5", 50)])
    duplicate_lines["lines"][1]["feedetl_sn"] = "1"
    response = await settlement_api.post(URL, duplicate_lines)
    assert response.status_code == 422
    assert "流水号重复" in response.json()["error"]["message"]


async def test_concurrent_repeats_of_one_msgid_settle_once(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    body = purchase(psn_no, certno, [("A", "60", "0.5", 3000)])
    responses = await asyncio.gather(*[settlement_api.post(URL, body) for _ in range(6)])
    assert [r.status_code for r in responses] == [200] * 6
    assert len({r.json()["setl_id"] for r in responses}) == 1
    assert sorted(r.json()["replayed"] for r in responses) == [False] + [True] * 5
    assert await _counts(settlement_api) == (1, 1)
    async with settlement_api.db.session() as session:
        accumulator = await session.scalar(select(YearAccumulator).where(YearAccumulator.psn_no == psn_no))
    assert accumulator is not None and accumulator.settlement_count == 1


async def test_settlement_shows_an_institution_only_its_own_settlements(
    settlement_api: SettlementApi,
) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    settled = await settlement_api.post(
        "/api/v1/pharmacy-settlements", purchase(psn_no, certno, [("A", "60", "0.5", 3000)])
    )
    setl_id = settled.json()["setl_id"]
    own = await settlement_api.client.get(
        f"/api/v1/settlements/{setl_id}", params={"fixmedins_code": PHARMACY}
    )
    assert own.status_code == 200
    other = await settlement_api.client.get(
        f"/api/v1/settlements/{setl_id}", params={"fixmedins_code": "H34152400001"}
    )
    assert other.status_code == 403 and other.json()["error"]["code"] == "NOT_YOUR_SETTLEMENT"
    as_gateway = await settlement_api.client.get(f"/api/v1/settlements/{setl_id}", headers=bearer(SERVICE))
    assert as_gateway.status_code == 200
    clerk = await settlement_api.client.get(
        f"/api/v1/settlements/{setl_id}", headers=bearer(ENROLLMENT_CLERK)
    )
    assert clerk.status_code == 403


async def test_the_answer_reads_exactly_like_the_stored_settlement(settlement_api: SettlementApi) -> None:
    """The settlement answer is built from what was written, not read back: it must be the same answer a
    later read (GET, or a repeated msgid) gives, decimals at their column's scale on both backends."""
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    # D is 乙 with a 2.50 cap: 4 x 3.125 = 12.50, 2.50 of it over the cap.
    body = purchase(
        psn_no, certno, [("A", "60", "0.5", 3000), ("B", "3", "20", 6000), ("D", "4", "3.125", 1250)]
    )
    answer = await settlement_api.post(URL, body)
    assert answer.status_code == 200, answer.text
    first = answer.json()
    stored = (await settlement_api.client.get(f"/api/v1/settlements/{first['setl_id']}")).json()
    repeated = (await settlement_api.post(URL, body)).json()
    assert first == {**stored, "replayed": False}
    assert repeated == {**stored, "replayed": True}
    # NUMERIC(16,4) quantities, (16,6) prices and caps, (5,4) ratios; instants in UTC.
    assert [(x["cnt"], x["pric"], x["price_cap"], x["selfpay_prop"]) for x in first["lines"]] == [
        ("60.0000", "0.500000", "0.500000", "0.0000"),
        ("3.0000", "20.000000", None, "0.1000"),
        ("4.0000", "3.125000", "2.500000", "0.0500"),
    ]
    assert first["pool_ratio"] == "0.5000"
    assert first["setl_time"].endswith("Z")
    assert first["lines"][2]["over_price_cap_fen"] == 250


async def test_service_calls_are_audited_only_when_refused(settlement_api: SettlementApi) -> None:
    """The gateway relays a card swipe with its service credential: the gateway's message log is its record,
    so a settled one writes no audit row here; a refused one does (a misused credential shows)."""
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    body = purchase(psn_no, certno, [("A", "60", "0.5", 3000)])
    gateway = bearer(SERVICE, subject="gateway")
    assert (await settlement_api.client.post(URL, json=body, headers=gateway)).status_code == 200
    wrong_total = {**purchase(psn_no, certno, [("A", "60", "0.5", 3000)]), "medfee_sumamt_fen": 3001}
    assert (await settlement_api.client.post(URL, json=wrong_total, headers=gateway)).status_code == 422
    operator = bearer(SERVICE, ENROLLMENT_CLERK, subject="zhou")
    assert (
        await settlement_api.client.post(
            URL, json=purchase(psn_no, certno, [("A", "2", "0.5", 100)]), headers=operator
        )
    ).status_code == 200
    async with settlement_api.db.session() as session:
        rows = (await session.execute(audit.select().where(audit.c.path == URL).order_by(audit.c.id))).all()
    assert [(r.subject, r.status) for r in rows] == [("gateway", 422), ("zhou", 200)]
