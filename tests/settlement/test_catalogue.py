"""Catalogue versions with effective dates, and the all-or-nothing CSV import."""

from __future__ import annotations

from tests.settlement.conftest import SettlementApi, new_person, purchase

HEADER = (
    "med_list_codg,name,med_chrgitm_type,chrgitm_lv,selfpay_prop,pric_uplmt,pric_uplmt_lv1,pric_uplmt_lv2,"
    "pric_uplmt_lv3,restricted,effective_from\n"
)


async def test_a_new_version_applies_from_its_date(settlement_api: SettlementApi) -> None:
    # Item B is 乙 with 10 % first; from 15 Nov 2026 it becomes 甲.
    changed = await settlement_api.post(
        "/api/v1/catalogue/items",
        {
            "med_list_codg": "B",
            "name": "乙类药(调甲)",
            "med_chrgitm_type": "11",
            "chrgitm_lv": "1",
            "effective_from": "2026-11-15",
        },
    )
    assert changed.status_code == 201, changed.text
    versions = (await settlement_api.client.get("/api/v1/catalogue/items/B/versions")).json()
    assert [(v["chrgitm_lv"], v["effective_from"], v["effective_to"]) for v in versions] == [
        ("2", "2000-01-01", "2026-11-14"),
        ("1", "2026-11-15", None),
    ]
    before = (
        await settlement_api.client.get("/api/v1/catalogue/items/B", params={"on": "2026-11-14"})
    ).json()
    assert before["chrgitm_lv"] == "2"
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    # On 10 Nov: 60.00 of B has 6.00 first, 54.00 in range. On 20 Nov it is all in range: 60.00.
    old = await settlement_api.post(
        "/api/v1/pharmacy-settlements/preview",
        purchase(psn_no, certno, [("B", "3", "20", 6000)], begntime="2026-11-10T10:00:00+08:00"),
    )
    new = await settlement_api.post(
        "/api/v1/pharmacy-settlements/preview",
        purchase(psn_no, certno, [("B", "3", "20", 6000)], begntime="2026-11-20T10:00:00+08:00"),
    )
    assert (old.json()["policy_range_fen"], new.json()["policy_range_fen"]) == (5400, 6000)
    earlier = await settlement_api.post(
        "/api/v1/catalogue/items",
        {
            "med_list_codg": "B",
            "name": "x",
            "med_chrgitm_type": "11",
            "chrgitm_lv": "1",
            "effective_from": "2026-01-01",
        },
    )
    assert (earlier.status_code, earlier.json()["error"]["code"]) == (409, "CATALOGUE_VERSION_ORDER")


async def test_csv_import_is_all_or_nothing_and_repeatable(settlement_api: SettlementApi) -> None:
    good = HEADER + (
        "X1,阿司匹林肠溶片,09,1,,0.2,,,,,2026-01-01\n"
        "X2,丹参滴丸,11,2,0.15,,,,,,2026-01-01\n"
        "X3,关节镜,08,1,,,800,1000,1200,1,2026-01-01\n"
    )
    bad = HEADER + (
        "Y1,好的,09,1,,,,,,,2026-01-01\nY2,坏的,09,4,,,,,,,2026-01-01\nY3,也坏,09,1,0.5,,,,,,2026-01-01\n"
    )
    refused = await settlement_api.client.post("/api/v1/catalogue/items/import", content=bad.encode())
    assert refused.status_code == 422
    body = refused.json()["error"]
    assert body["code"] == "IMPORT_REFUSED"
    assert [(d["line"], d["med_list_codg"]) for d in body["details"]] == [(3, "Y2"), (4, "Y3")]
    assert "只有乙类" in body["details"][1]["message"]
    assert (await settlement_api.client.get("/api/v1/catalogue/items/Y1")).status_code == 404

    first = await settlement_api.client.post("/api/v1/catalogue/items/import", content=good.encode())
    assert first.json() == {"imported": 3, "unchanged": 0, "errors": []}
    again = await settlement_api.client.post("/api/v1/catalogue/items/import", content=good.encode())
    assert again.json() == {"imported": 0, "unchanged": 3, "errors": []}
    capped = (await settlement_api.client.get("/api/v1/catalogue/items/X3")).json()
    assert (capped["restricted"], capped["pric_uplmt_by_level"]) == (
        True,
        {"1": "800", "2": "1000", "3": "1200"},
    )
