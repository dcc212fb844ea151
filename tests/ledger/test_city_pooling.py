"""City-level pooling (市级统筹, 统收统支): two counties join city 341500's pool; their sweeps hand the
collected money up to the city's special account, the city pays a county's expenditure account by a
monthly fund-use plan, the county clears its institutions from it; the county view and the city view of
the statements, hand-computed, both balanced, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from shared.clock import now_china
from shared.db import Database
from tests.ledger.builders import completed, payment
from tests.ledger.test_clearing import book

Ledger = tuple[httpx.AsyncClient, Database]
CITY, COUNTY_A, COUNTY_B = "341500", "341524", "341522"
PHARMACY_B = "P34152200001"
JOIN = {
    "city_admdvs": CITY,
    "effective_from": "2026-11-01",
    "approved_by": "市医保局",
    "document_ref": "六医保〔2026〕9号",
}


async def region_balances(client: httpx.AsyncClient, admdvs: str) -> dict[tuple[str, str], int]:
    rows = (
        await client.get("/api/v1/accounts/balances", params={"admdvs": admdvs, "insutype": "390"})
    ).json()
    return {(a["code"], a["counterparty"]): a["balance_fen"] for a in rows if a["balance_fen"] != 0}


async def statement(
    client: httpx.AsyncClient, kind: str, admdvs: str, view: str, **params: str
) -> dict[str, Any]:
    response = await client.get(
        f"/api/v1/statements/{kind}", params={"admdvs": admdvs, "insutype": "390", "view": view, **params}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_counties_hand_up_and_the_city_pays_by_plan(ledger: Ledger) -> None:
    client, db = ledger
    for county in (COUNTY_A, COUNTY_B):
        joined = await client.post("/api/v1/city-pooling", json={**JOIN, "county_admdvs": county})
        assert joined.status_code == 201, joined.text
    assert (
        await client.post("/api/v1/city-pooling", json={**JOIN, "county_admdvs": COUNTY_A})
    ).status_code == 200

    # Contributions: 300.00 in county A, 200.00 in county B; a 400.00 pharmacy claim in county B.
    await book(db, payment(1, 30000, admdvs=COUNTY_A), datetime(2026, 11, 20, 2, tzinfo=UTC))
    await book(db, payment(2, 20000, admdvs=COUNTY_B), datetime(2026, 11, 21, 2, tzinfo=UTC))
    await book(
        db,
        completed(
            "SB1",
            40000,
            institution=PHARMACY_B,
            admdvs=COUNTY_B,
            medfee=80000,
            setl_time=datetime(2026, 11, 21, 3, tzinfo=UTC),
        ),
    )

    # The daily sweeps hand the money up to the city's special account.
    for county, amount in ((COUNTY_A, 30000), (COUNTY_B, 20000)):
        sweep = await client.post(
            "/api/v1/sweeps", json={"admdvs": county, "insutype": "390", "as_of": "2026-11-22"}
        )
        assert (sweep.status_code, sweep.json()["amount_fen"]) == (201, amount), sweep.text
    replay = await client.post(
        "/api/v1/sweeps", json={"admdvs": COUNTY_A, "insutype": "390", "as_of": "2026-11-22"}
    )
    assert (replay.status_code, replay.json()["amount_fen"], replay.json()["replayed"]) == (200, 30000, True)
    assert await region_balances(client, COUNTY_A) == {("1301", ""): 30000, ("4001", ""): 30000}
    assert await region_balances(client, CITY) == {
        ("1002", ""): 50000,
        ("2301", COUNTY_A): 30000,
        ("2301", COUNTY_B): 20000,
    }

    # December's fund-use plan for county B: 450.00 from the city's special account to B's expenditure
    # account. B has drawn 250.00 more than it handed up: its 1301 and the city's 2301 read -250.00.
    plan = {
        "plan_id": "PLAN-341522-202612",
        "county_admdvs": COUNTY_B,
        "insutype": "390",
        "month": "2026-12",
        "amount_fen": 45000,
    }
    paid = await client.post("/api/v1/fund-plans", json=plan)
    assert paid.status_code == 201, paid.text
    assert (await client.post("/api/v1/fund-plans", json=plan)).json()["replayed"] is True
    too_much = await client.post("/api/v1/fund-plans", json={**plan, "plan_id": "PLAN-2", "amount_fen": 5001})
    assert (too_much.status_code, too_much.json()["error"]["code"]) == (409, "INSUFFICIENT_FUNDS")
    not_pooled = await client.post(
        "/api/v1/fund-plans", json={**plan, "plan_id": "PLAN-3", "county_admdvs": "341523"}
    )
    assert (not_pooled.status_code, not_pooled.json()["error"]["code"]) == (404, "NOT_CITY_POOLED")

    # County B clears November from its expenditure account: owed 400.00, 5 % deposit 20.00, 380.00 paid.
    batch = {
        "batch_id": "B-341522-2026-11",
        "admdvs": COUNTY_B,
        "insutype": "390",
        "fixmedins_code": PHARMACY_B,
        "period_from": "2026-11-01",
        "period_to": "2026-11-30",
    }
    cleared = await client.post("/api/v1/clearing-batches", json=batch)
    assert cleared.status_code == 201, cleared.text
    body = cleared.json()
    assert (body["owed_fen"], body["deposit_fen"], body["paid_fen"], body["carried_forward_fen"]) == (
        40000,
        2000,
        38000,
        0,
    )
    assert body["transfer_entry_id"] is None  # no special-account transfer: the city already paid in
    assert await region_balances(client, COUNTY_B) == {
        ("1003", ""): 7000,
        ("1301", ""): -25000,
        ("2102", PHARMACY_B): 2000,
        ("4001", ""): 20000,
        ("5103", ""): 40000,
    }
    assert await region_balances(client, CITY) == {
        ("1002", ""): 5000,
        ("2301", COUNTY_A): 30000,
        ("2301", COUNTY_B): -25000,
    }

    # The plan's payment and the clearing are posted when they are made (today), after the November
    # bookings above: the balance sheets are read as of today.
    today = now_china().date().isoformat()
    # County view: B's own books. Fund balance 200.00 - 400.00 = -200.00 = 70.00 + (-250.00) - 20.00.
    county_b = await statement(client, "balance-sheet", COUNTY_B, "region", as_of=today)
    assert (
        county_b["assets_total_fen"],
        county_b["liabilities_total_fen"],
        county_b["fund_balance_fen"],
    ) == (
        -18000,
        2000,
        -20000,
    )
    assert county_b["balanced"] is True
    # City view: the city and both counties, the pooling accounts cancelled out. Income 300.00 + 200.00,
    # spending 400.00; assets: B's 70.00 + the city's 50.00; the 20.00 deposit owed: balance 100.00.
    city_ie = await statement(
        client, "income-expenditure", CITY, "city", date_from="2026-11-01", date_to="2026-11-30"
    )
    assert (city_ie["income_total_fen"], city_ie["expenditure_total_fen"], city_ie["surplus_fen"]) == (
        50000,
        40000,
        10000,
    )
    city = await statement(client, "balance-sheet", CITY, "city", as_of=today)
    assert (city["assets_total_fen"], city["liabilities_total_fen"], city["fund_balance_fen"]) == (
        12000,
        2000,
        10000,
    )
    assert city["balanced"] is True
    assert {line["code"] for line in city["assets"] + city["liabilities"]}.isdisjoint({"1301", "2301"})
    disclosure = await statement(client, "disclosure", CITY, "city", date_from="2026-01-01", date_to=today)
    assert (disclosure["income_total"], disclosure["closing_balance"], disclosure["settlements"]) == (
        "500.00",
        "100.00",
        1,
    )
    trial = (await client.get("/api/v1/trial-balance")).json()
    assert trial["imbalance_fen"] == 0
    assert (await client.get("/api/v1/chain/verify")).json()["ok"] is True


async def test_joining_a_city_pool_is_checked(ledger: Ledger) -> None:
    client, _ = ledger
    assert (
        await client.post("/api/v1/city-pooling", json={**JOIN, "county_admdvs": COUNTY_A})
    ).status_code == 201
    for body, status, code in (
        ({**JOIN, "county_admdvs": COUNTY_A, "effective_from": "2027-01-01"}, 409, "POOLING_EXISTS"),
        ({**JOIN, "county_admdvs": CITY}, 422, "SAME_REGION"),
        ({**JOIN, "county_admdvs": "341523", "city_admdvs": COUNTY_A}, 422, "CITY_IS_A_COUNTY"),
        ({**JOIN, "county_admdvs": "34152"}, 422, "VALIDATION_ERROR"),
    ):
        response = await client.post("/api/v1/city-pooling", json=body)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), body
    listed = (await client.get("/api/v1/city-pooling")).json()
    assert [(p["county_admdvs"], p["city_admdvs"]) for p in listed] == [(COUNTY_A, CITY)]
