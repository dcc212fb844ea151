"""Settlement's reconciliation figures: totals per institution / insutype / clr_type / Beijing day with a
reversal, per-settlement amounts, and marking outbox rows unsent for re-publication."""

from __future__ import annotations

from datetime import UTC, datetime

from settlement.reconciliation.service import china_day, utc_bounds

from tests.reconciliation.conftest import PHARMACY, Platform, period, setl_id_of, today
from tests.reconciliation.scenario import pharmacy_day


async def test_totals_net_a_reversal_and_count_it_apart(platform: Platform) -> None:
    await pharmacy_day(platform)
    response = await platform.settlement.client.get("/api/v1/reconciliation/totals", params=period())
    assert response.status_code == 200, response.text
    rows = response.json()["rows"]
    assert [(r["fixmedins_code"], r["insutype"], r["clr_type"]) for r in rows] == [
        (PHARMACY, "390", "41")
    ] * len(rows)
    assert sum(r["settlement_cnt"] for r in rows) == 4
    assert sum(r["reversal_cnt"] for r in rows) == 1
    assert sum(r["net_cnt"] for r in rows) == 3
    assert sum(r["medfee_sumamt_fen"] for r in rows) == 19000
    assert sum(r["fund_pay_sumamt_fen"] for r in rows) == 6400
    assert sum(r["reversal_fund_pay_sumamt_fen"] for r in rows) == -3200
    assert sum(r["reversal_medfee_sumamt_fen"] for r in rows) == -9000
    if len(rows) == 1:  # all made on one Beijing day (not across midnight)
        assert rows[0]["day"] == today().isoformat()


async def test_filters_and_an_empty_period(platform: Platform) -> None:
    await pharmacy_day(platform)
    client = platform.settlement.client
    for params in (
        {**period(), "fixmedins_code": "H34152400001"},
        {**period(), "clr_type": "11"},
        {**period(), "insutype": "310"},
        {"date_from": "2020-01-01", "date_to": "2020-01-31"},
    ):
        response = await client.get("/api/v1/reconciliation/totals", params=params)
        assert response.status_code == 200, response.text
        assert response.json()["rows"] == [], params
    same = await client.get(
        "/api/v1/reconciliation/totals",
        params={**period(), "fixmedins_code": PHARMACY, "insutype": "390", "clr_type": "41"},
    )
    assert sum(r["fund_pay_sumamt_fen"] for r in same.json()["rows"]) == 6400
    backwards = await client.get(
        "/api/v1/reconciliation/totals", params={"date_from": "2026-11-02", "date_to": "2026-11-01"}
    )
    assert backwards.status_code == 422


async def test_per_settlement_amounts(platform: Platform) -> None:
    day = await pharmacy_day(platform)
    response = await platform.settlement.client.get("/api/v1/reconciliation/settlements", params=period())
    rows = {r["setl_id"]: r for r in response.json()["settlements"]}
    assert {k: (r["kind"], r["fund_pay_sumamt_fen"], r["medfee_sumamt_fen"]) for k, r in rows.items()} == {
        day.first["setl_id"]: ("settlement", 3200, 9000),
        day.second["setl_id"]: ("settlement", 3200, 9000),
        day.third["setl_id"]: ("settlement", 3200, 9000),
        day.self_paid["setl_id"]: ("settlement", 0, 1000),
        day.reversal["setl_id"]: ("reversal", -3200, -9000),
    }
    assert rows[day.reversal["setl_id"]]["reversal_of"] == day.third["setl_id"]


def test_days_are_beijing_days() -> None:
    start, end = utc_bounds(datetime(2026, 11, 20).date(), datetime(2026, 11, 20).date())
    assert start == datetime(2026, 11, 19, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
    # 23:30 UTC on the 19th is 07:30 on the 20th in Beijing.
    assert china_day(datetime(2026, 11, 19, 23, 30, tzinfo=UTC)).isoformat() == "2026-11-20"


async def test_republish_marks_outbox_rows_unsent(platform: Platform) -> None:
    day = await pharmacy_day(platform)
    await platform.mark_all_sent()
    client = platform.settlement.client
    response = await client.post(
        "/api/v1/reconciliation/republish", json={"setl_ids": [day.second["setl_id"], "S-NOT-THERE"]}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["republished"] == 1
    assert answer["setl_ids_not_found"] == ["S-NOT-THERE"]
    rows = await platform.outbox()
    unsent = [(i, setl_id_of(e)) for i, e, sent in rows if sent is None]
    assert [s for _, s in unsent] == [day.second["setl_id"]]
    assert answer["outbox_ids"] == [unsent[0][0]]
    # Again: the row is pending already, nothing more to mark.
    again = (
        await client.post("/api/v1/reconciliation/republish", json={"setl_ids": [day.second["setl_id"]]})
    ).json()
    assert (again["republished"], again["already_pending"]) == (0, [unsent[0][0]])

    # By outbox id range (inclusive).
    await platform.mark_all_sent()
    ids = [i for i, _, _ in rows]
    by_range = await client.post(
        "/api/v1/reconciliation/republish", json={"outbox_id_from": ids[1], "outbox_id_to": ids[2]}
    )
    assert by_range.json()["republished"] == 2
    assert [i for i, _, sent in await platform.outbox() if sent is None] == ids[1:3]


async def test_republish_refuses_unclear_requests(platform: Platform) -> None:
    bodies: list[dict[str, object]] = [
        {},
        {"setl_ids": []},
        {"setl_ids": ["S1"], "outbox_id_from": 1, "outbox_id_to": 2},
        {"outbox_id_from": 5, "outbox_id_to": 4},
        {"outbox_id_from": 1},
        {"setl_ids": ["S%"]},
    ]
    for body in bodies:
        response = await platform.settlement.client.post("/api/v1/reconciliation/republish", json=body)
        assert response.status_code == 422, (body, response.text)
