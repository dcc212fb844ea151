"""Pre-settlement, reversal and 2601 冲正 through the settlement API on a real database. Demo policy:
outpatient pooling 20.00 yearly deductible, 50 %, 300.00 yearly cap; item B is 乙 with 10 % first."""

from __future__ import annotations

import asyncio
import json

from settlement.db import infra
from settlement.eligibility.models import YearAccumulator
from settlement.settlements.models import Settlement
from sqlalchemy import func
from sqlmodel import select

from tests.settlement.conftest import SettlementApi, new_person, purchase

URL = "/api/v1/pharmacy-settlements"


async def _totals(api: SettlementApi, psn_no: str) -> tuple[int, int, int]:
    async with api.db.session() as session:
        row = await session.scalar(select(YearAccumulator).where(YearAccumulator.psn_no == psn_no))
    assert row is not None
    return row.outpatient_deductible_fen, row.outpatient_paid_fen, row.settlement_count


async def _count(api: SettlementApi) -> int:
    async with api.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Settlement)) or 0)


async def test_preview_changes_nothing(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    body = purchase(psn_no, certno, [("B", "3", "20", 6000)])
    preview = await settlement_api.post(f"{URL}/preview", body)
    assert preview.status_code == 200, preview.text
    # 60.00: 6.00 first, 54.00 in range, 20.00 deductible, (54.00 - 20.00) x 50 % = 17.00.
    p = preview.json()
    assert (p["status"], p["setl_id"], p["pooled_fund_paid_fen"], p["cash_paid_fen"]) == (
        "preview",
        "",
        1700,
        4300,
    )
    assert await _count(settlement_api) == 0
    settled = (await settlement_api.post(URL, body)).json()
    assert settled["pooled_fund_paid_fen"] == 1700  # the preview was exact, and used up nothing


async def test_reversal_restores_the_totals_exactly(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    first = (await settlement_api.post(URL, purchase(psn_no, certno, [("B", "3", "20", 6000)]))).json()
    second = (await settlement_api.post(URL, purchase(psn_no, certno, [("B", "1", "10", 1000)]))).json()
    # First: 20.00 deductible, 17.00 fund. Second: 9.00 in range x 50 % = 4.50.
    assert await _totals(settlement_api, psn_no) == (2000, 2150, 2)
    reversal = await settlement_api.post(
        f"/api/v1/settlements/{first['setl_id']}/reversal",
        {"msgid": "REV-1", "fixmedins_code": first["fixmedins_code"]},
    )
    assert reversal.status_code == 200, reversal.text
    r = reversal.json()
    assert (r["status"], r["reversal_of"]) == ("reversal", first["setl_id"])
    assert r["setl_id"] != first["setl_id"] and len(r["setl_id"]) == 30
    assert (r["medfee_sumamt_fen"], r["fund_paid_total_fen"], r["cash_paid_fen"]) == (-6000, -1700, -4300)
    assert [(f["fund_pay_type"], f["paid_fen"]) for f in r["funds"]] == [("390100", -1700)]
    # Exactly the first settlement's share comes off: the second's 4.50 remains.
    assert await _totals(settlement_api, psn_no) == (0, 450, 1)
    assert (await settlement_api.client.get(f"/api/v1/settlements/{first['setl_id']}")).json()[
        "status"
    ] == "reversed"

    again = await settlement_api.post(
        f"/api/v1/settlements/{first['setl_id']}/reversal",
        {"msgid": "REV-1", "fixmedins_code": first["fixmedins_code"]},
    )
    assert again.json()["setl_id"] == r["setl_id"] and again.json()["replayed"] is True
    twice = await settlement_api.post(
        f"/api/v1/settlements/{first['setl_id']}/reversal",
        {"msgid": "REV-2", "fixmedins_code": first["fixmedins_code"]},
    )
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "ALREADY_REVERSED")
    foreign = await settlement_api.post(
        f"/api/v1/settlements/{second['setl_id']}/reversal",
        {"msgid": "REV-3", "fixmedins_code": "P34152400009"},
    )
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (403, "NOT_YOUR_SETTLEMENT")
    missing = await settlement_api.post(
        "/api/v1/settlements/S000/reversal", {"msgid": "REV-4", "fixmedins_code": first["fixmedins_code"]}
    )
    assert missing.status_code == 404
    async with settlement_api.db.session() as session:
        events = [json.loads(r.payload) for r in (await session.execute(infra.outbox.select())).all()]
    [reversed_event] = [e for e in events if e["type"] == "settlement.reversed"]
    assert reversed_event["data"]["original_setl_id"] == first["setl_id"]
    assert reversed_event["data"]["fund_payments"] == [{"fund_pay_type": "390100", "amount_fen": -1700}]


async def test_void_reverses_what_settled_and_blocks_what_did_not(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    body = purchase(psn_no, certno, [("B", "3", "20", 6000)])
    settled = (await settlement_api.post(URL, body)).json()
    voided = await settlement_api.post(
        "/api/v1/voids",
        {
            "msgid": "VOID-1",
            "omsgid": body["msgid"],
            "oinfno": "2102",
            "fixmedins_code": body["fixmedins_code"],
        },
    )
    assert voided.status_code == 200, voided.text
    assert voided.json()["outcome"] == "reversed"
    assert voided.json()["reversal"]["reversal_of"] == settled["setl_id"]
    assert await _totals(settlement_api, psn_no) == (0, 0, 0)

    # The sender's other message never arrived here: after 2601 it can never settle.
    late = purchase(psn_no, certno, [("B", "1", "10", 1000)])
    nothing = await settlement_api.post(
        "/api/v1/voids",
        {
            "msgid": "VOID-2",
            "omsgid": late["msgid"],
            "oinfno": "2102",
            "fixmedins_code": late["fixmedins_code"],
        },
    )
    assert nothing.json() == {"outcome": "voided", "reversal": None}
    arrived = await settlement_api.post(URL, late)
    assert (arrived.status_code, arrived.json()["error"]["code"]) == (409, "MSGID_VOIDED")
    foreign = await settlement_api.post(
        "/api/v1/voids",
        {"msgid": "VOID-3", "omsgid": late["msgid"], "oinfno": "2102", "fixmedins_code": "H34152400001"},
    )
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (403, "NOT_YOUR_MESSAGE")
    assert await _count(settlement_api) == 2


async def test_parallel_purchases_near_the_cap_never_pay_past_it(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    # 50 purchases of 60.00 danshen at once: the first pays 17.00, each later one 27.00 while the 300.00
    # cap lasts; together they ask 1,340.00, so the fund pays exactly the cap, 300.00, and not a fen more.
    responses = await asyncio.gather(
        *[settlement_api.post(URL, purchase(psn_no, certno, [("B", "3", "20", 6000)])) for _ in range(50)]
    )
    assert [r.status_code for r in responses] == [200] * 50
    paid = [r.json()["pooled_fund_paid_fen"] for r in responses]
    assert sum(paid) == 30000
    assert sorted(paid)[-1] == 2700 and paid.count(1700) == 1
    assert await _totals(settlement_api, psn_no) == (2000, 30000, 50)
