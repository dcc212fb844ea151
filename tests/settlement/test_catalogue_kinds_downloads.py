"""The last 13xx catalogue downloads through the real gateway envelope processor in front of the real
settlement service (both backends): the lists kept apart from their class (1303 医疗机构制剂, 1304 民族药,
1320 中药配方颗粒, 1321 医疗服务项目（新）), the match of the medical list to the insurance list (1316) and an
institution's own catalogue mappings (1317), each incremental by ``ver`` like the others.

The seeded catalogue (tests/settlement/conftest.py) was made in four versions: A (1, 西药 甲类), B (2, 中成药
乙类), C (3, 西药 丙类), D (4, 西药 乙类); the benefit policy added next is version 5. Every change after that
takes the next number: an import file one for all its lines, a 3301 upload or a 3302 revocation one each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from gateway.downstream import Downstream
from gateway.protocol.envelope import parse_body
from gateway.security.schemes import TifSha256
from gateway.security.service import HisSecurity
from gateway.transactions import EnvelopeProcessor

from platformctl import examples
from platformctl.demo import demo_list_kinds_file
from shared.clock import now_china
from shared.db import Database
from tests.conftest import DatabaseFactory
from tests.settlement.conftest import HOSPITAL, PHARMACY, REGION, SettlementApi
from tests.settlement.test_catalogue_downloads import Counter
from tests.support.his import register_demo_institutions

_sequence = iter(range(1, 10_000))

#: Four items of the lists kept apart, one file (one version): a hospital's preparation (西药 甲类), an
#: ethnic drug (中成药 乙类, 10 % self-pay first), a formula granule (中药饮片 甲类) and a new-list service
#: item (治疗费 甲类). Codes are the test's own.
KINDS_FILE = (
    "med_list_codg,name,med_chrgitm_type,chrgitm_lv,selfpay_prop,list_kind\n"
    "PREP1,复方紫草油,09,1,,prep\n"
    "ETH1,二十五味珊瑚丸,11,2,0.1,ethnic\n"
    "GRA1,黄芪配方颗粒,10,1,,granule\n"
    "SRV1,针刺治疗,05,1,,service2\n"
)


class Desk(Counter):
    async def send_as(self, fixmedins_code: str, infno: str, data: dict[str, Any]) -> dict[str, Any]:
        msgid = f"{fixmedins_code}20261206110000{next(_sequence):04d}"
        body = examples.envelope(infno, msgid, {"data": data}, fixmedins_code=fixmedins_code)
        answer: dict[str, Any] = parse_body((await self.his.send(body)).encode())
        return answer

    async def map(self, fixmedins_code: str, own: str, national: str, begndate: str) -> None:
        """3301 目录对照上传, as the institution's HIS sends it."""
        data = {
            "fixmedins_hilist_id": own,
            "fixmedins_hilist_name": f"院内{own}",
            "list_type": "101",
            "med_list_codg": national,
            "begndate": begndate,
        }
        answer = await self.send_as(fixmedins_code, "3301", data)
        assert answer["infcode"] == 0, answer["err_msg"]


@pytest.fixture
async def desk(databases: DatabaseFactory, settlement_api: SettlementApi) -> AsyncIterator[Desk]:
    db = Database(databases.migrated("gateway"))
    downstream = Downstream("http://enrollment", "http://settlement", 5.0)
    await downstream.client.aclose()
    downstream.client = settlement_api.client  # the settlement app itself, over ASGI
    await register_demo_institutions(db)
    try:
        yield Desk(
            EnvelopeProcessor(db, downstream, REGION, 1_048_576, security=HisSecurity(db, TifSha256()))
        )
    finally:
        await db.dispose()


async def _import_kinds(settlement_api: SettlementApi) -> None:
    response = await settlement_api.client.post(
        "/api/v1/catalogue/items/import", content=KINDS_FILE.encode("utf-8")
    )
    assert response.status_code == 200, response.text
    assert response.json()["imported"] == 4


def rows_of(out: dict[str, Any], field: str) -> list[tuple[str, str]]:
    return [(row["med_list_codg"], row[field]) for row in out["data"]]


async def test_each_kept_apart_list_downloads_its_own_items(
    desk: Desk, settlement_api: SettlementApi
) -> None:
    await _import_kinds(settlement_api)  # version 6
    expected = {
        "1303": ("drug_prodname", [("PREP1", "复方紫草油")]),
        "1304": ("drug_genname", [("ETH1", "二十五味珊瑚丸")]),
        "1320": ("drug_genname", [("GRA1", "黄芪配方颗粒")]),
        "1321": ("servitem_name", [("SRV1", "针刺治疗")]),
    }
    for infno, (name_field, rows) in expected.items():
        out = await desk.ok(infno, {"ver": "0", "page_num": 1})
        assert rows_of(out, name_field) == rows, infno
        assert (out["ver"], out["recordCounts"], out["data"][0]["ver"]) == ("6", 1, "6"), infno
    ethnic = (await desk.ok("1304", {"ver": "5", "page_num": 1}))["data"][0]
    assert (ethnic["med_chrgitm_type"], ethnic["chrgitm_lv"], ethnic["vali_flag"]) == ("11", "2", "1")

    # They are in no list of their class: 1301 still has the four seeded drugs, 1302 and 1305 nothing.
    drugs = await desk.ok("1301", {"ver": "0", "page_num": 1})
    assert [row["med_list_codg"] for row in drugs["data"]] == ["A", "B", "C", "D"]
    for infno in ("1302", "1305"):
        assert (await desk.ok(infno, {"ver": "0", "page_num": 1}))["data"] == [], infno
    # The whole insurance list (1312) has them, at version 6.
    items = await desk.ok("1312", {"ver": "5", "page_num": 1})
    assert [(r["hilist_code"], r["ver"]) for r in items["data"]] == [
        ("PREP1", "6"),
        ("ETH1", "6"),
        ("GRA1", "6"),
        ("SRV1", "6"),
    ]


async def test_a_download_after_an_update_returns_exactly_the_changed_items(
    desk: Desk, settlement_api: SettlementApi
) -> None:
    await _import_kinds(settlement_api)  # version 6
    # Version 7: the preparation becomes 乙类 from 2026-07-01 (its first version ends 2026-06-30).
    new_prep = {
        "med_list_codg": "PREP1",
        "name": "复方紫草油",
        "med_chrgitm_type": "09",
        "chrgitm_lv": "2",
        "selfpay_prop": "0.05",
        "list_kind": "prep",
        "effective_from": "2026-07-01",
    }
    assert (await settlement_api.post("/api/v1/catalogue/items", new_prep)).status_code == 201

    changed = await desk.ok("1303", {"ver": "6", "page_num": 1})
    assert [(r["chrgitm_lv"], r["begndate"], r.get("enddate"), r["ver"]) for r in changed["data"]] == [
        ("1", "2000-01-01", "2026-06-30", "7"),
        ("2", "2026-07-01", None, "7"),
    ]
    assert changed["ver"] == "7"
    for infno in ("1304", "1320", "1321"):
        out = await desk.ok(infno, {"ver": "6", "page_num": 1})
        assert (out["data"], out["ver"]) == ([], "7"), infno

    # The file form of 1303 holds the same two rows: med_list_codg, drug_prodname, med_chrgitm_type,
    # chrgitm_lv, lmt_used_flag, begndate, enddate, vali_flag, rid, updt_time, ver.
    info, lines = await desk.file_rows("1303", "6")
    assert (info["ver"], info["recordCounts"]) == ("7", 2)
    assert [(r[0], r[3], r[5], r[6], r[10]) for r in lines] == [
        ("PREP1", "1", "2000-01-01", "2026-06-30", "7"),
        ("PREP1", "2", "2026-07-01", "", "7"),
    ]


async def test_1316_matches_every_item_to_itself_as_the_catalogue_holds_it(
    desk: Desk, settlement_api: SettlementApi
) -> None:
    await _import_kinds(settlement_api)  # version 6
    matches = await desk.ok("1316", {"ver": "0", "page_num": 1})
    # 目录类别: 西药 and 中成药 101, 医疗机构制剂 103, 民族药 104, 配方颗粒 (paid as 饮片) 102,
    # service items 201.
    assert [(r["med_list_codg"], r["hilist_code"], r["list_type"], r["ver"]) for r in matches["data"]] == [
        ("A", "A", "101", "1"),
        ("B", "B", "101", "2"),
        ("C", "C", "101", "3"),
        ("D", "D", "101", "4"),
        ("PREP1", "PREP1", "103", "6"),
        ("ETH1", "ETH1", "104", "6"),
        ("GRA1", "GRA1", "102", "6"),
        ("SRV1", "SRV1", "201", "6"),
    ]
    # The same versions of the same entries as the insurance list itself (1312): one source.
    items = await desk.ok("1312", {"ver": "0", "page_num": 1})

    def periods(rows: list[dict[str, Any]], field: str) -> list[tuple[Any, ...]]:
        return [(r[field], r["begndate"], r.get("enddate"), r["rid"], r["ver"]) for r in rows]

    assert periods(matches["data"], "med_list_codg") == periods(items["data"], "hilist_code")
    assert {(r["insu_admdvs"], r["memo"]) for r in matches["data"]} == {(REGION, "")}
    # crte_time: when each version was made (a time, as the field list types it: tests/support/answers.py).
    assert all(len(r["crte_time"]) == len("2026-12-06 10:00:00") for r in matches["data"])

    # After an update only the changed item's versions come: B's first version ends, its second begins.
    new_b = {
        "med_list_codg": "B",
        "name": "乙类药",
        "med_chrgitm_type": "11",
        "chrgitm_lv": "2",
        "selfpay_prop": "0.2",
        "effective_from": "2026-07-01",
    }
    assert (await settlement_api.post("/api/v1/catalogue/items", new_b)).status_code == 201  # version 7
    changed = await desk.ok("1316", {"ver": "6", "page_num": 1})
    assert [(r["hilist_code"], r["begndate"], r.get("enddate"), r["ver"]) for r in changed["data"]] == [
        ("B", "2000-01-01", "2026-06-30", "7"),
        ("B", "2026-07-01", None, "7"),
    ]


async def test_1317_lists_the_callers_own_mappings_and_their_revocation(desk: Desk) -> None:
    await desk.map(HOSPITAL, "H-001", "A", "2026-01-01")  # version 6
    await desk.map(PHARMACY, "P-001", "B", "2026-01-01")  # version 7: the pharmacy's, never the hospital's
    mine = await desk.ok("1317", {"ver": "0", "page_num": 1})
    assert [
        (r["fixmedins_code"], r["medins_list_codg"], r["medins_list_name"], r["med_list_codg"], r["ver"])
        for r in mine["data"]
    ] == [(HOSPITAL, "H-001", "院内H-001", "A", "6")]
    first = mine["data"][0]
    assert (first["list_type"], first["vali_flag"], first["begndate"], first["insu_admdvs"]) == (
        "101",
        "1",
        "2026-01-01",
        REGION,
    )
    assert "enddate" not in first and mine["ver"] == "7"

    # Version 8: H-001 maps to C from 2026-03-01, which ends its mapping to A on 2026-02-28.
    await desk.map(HOSPITAL, "H-001", "C", "2026-03-01")
    remapped = await desk.ok("1317", {"ver": "7", "page_num": 1})
    assert [(r["med_list_codg"], r.get("enddate"), r["vali_flag"], r["ver"]) for r in remapped["data"]] == [
        ("A", "2026-02-28", "1", "8"),
        ("C", None, "1", "8"),
    ]

    # Version 9: 3302 revokes the mapping to C from today; it applied until yesterday and stands no more.
    revoked = await desk.send_as(
        HOSPITAL,
        "3302",
        {
            "fixmedins_code": HOSPITAL,
            "fixmedins_hilist_id": "H-001",
            "list_type": "101",
            "med_list_codg": "C",
        },
    )
    assert revoked["infcode"] == 0, revoked["err_msg"]
    revoked_on = max(now_china().date(), date(2026, 3, 1))  # today, or the day it began if later
    after = await desk.ok("1317", {"ver": "8", "page_num": 1})
    assert [(r["med_list_codg"], r["enddate"], r["vali_flag"], r["ver"]) for r in after["data"]] == [
        ("C", (revoked_on - timedelta(days=1)).isoformat(), "0", "9")
    ]
    assert (await desk.ok("1317", {"ver": "9", "page_num": 1}))["data"] == []

    # The whole list as a file: the hospital's two mappings, each as it stands now. Columns:
    # fixmedins_code, medins_list_codg, medins_list_name, insu_admdvs, list_type, med_list_codg, begndate,
    # enddate, vali_flag, rid, updt_time, ver, crte_time, poolarea_no.
    info, lines = await desk.file_rows("1317", "0")
    assert (info["ver"], info["recordCounts"]) == ("9", 2)
    assert [(r[0], r[1], r[5], r[7], r[8], r[11]) for r in lines] == [
        (HOSPITAL, "H-001", "A", "2026-02-28", "1", "8"),
        (HOSPITAL, "H-001", "C", (revoked_on - timedelta(days=1)).isoformat(), "0", "9"),
    ]

    # The pharmacy sees its own mapping only.
    theirs = await desk.send_as(PHARMACY, "1317", {"ver": "0", "page_num": 1})
    assert [(r["medins_list_codg"], r["ver"]) for r in theirs["output"]["data"]] == [("P-001", "7")]


async def test_bad_versions_and_pages_are_refused_cleanly(desk: Desk, settlement_api: SettlementApi) -> None:
    await _import_kinds(settlement_api)  # version 6
    await desk.map(HOSPITAL, "H-001", "A", "2026-01-01")  # version 7
    for infno in ("1303", "1304", "1316", "1317", "1320", "1321"):
        unknown = await desk.send(infno, {"data": {"ver": "99", "page_num": 1}})
        assert (unknown["infcode"], unknown["err_msg"]) == (
            -1,
            "[CATALOGUE_VER_UNKNOWN] 目录版本号 99 不存在：最新版本为 7",
        ), infno
        # One row each (1316: the eight items), so page 9 of one-row pages is past the last everywhere.
        beyond = await desk.send(infno, {"data": {"ver": "0", "page_num": 9, "page_size": 1}})
        assert beyond["infcode"] == -1 and beyond["err_msg"].startswith("[PAGE_OUT_OF_RANGE]"), infno
        bad = await desk.send(infno, {"data": {"ver": "v7", "page_num": 1}})
        assert bad["infcode"] == -1 and bad["err_msg"].startswith("[E_INPUT]"), infno


async def test_an_item_of_a_kept_apart_list_must_have_a_class_of_that_list(
    settlement_api: SettlementApi,
) -> None:
    # A formula granule charged as a consumable (08) is no granule: the whole file is refused.
    text = "med_list_codg,name,med_chrgitm_type,chrgitm_lv,list_kind\nGRA9,黄芪配方颗粒,08,1,granule\n"
    response = await settlement_api.client.post("/api/v1/catalogue/items/import", content=text.encode())
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "IMPORT_REFUSED"
    assert "中药配方颗粒目录的医疗收费项目类别须为 10/11，不能为 08" in error["details"][0]["message"]


async def test_the_demo_sample_of_the_kept_apart_lists_downloads_by_its_kinds(
    desk: Desk, settlement_api: SettlementApi
) -> None:
    response = await settlement_api.client.post(
        "/api/v1/catalogue/items/import", content=demo_list_kinds_file().encode("utf-8")
    )
    assert response.status_code == 200, response.text
    # platformctl/demo_list_kinds.csv: 3 preparations, 4 ethnic drugs, 5 granules, 3 new service items.
    for infno, prefix, count in (
        ("1303", "DEMO-PREP-", 3),
        ("1304", "DEMO-ETH-", 4),
        ("1320", "DEMO-GRA-", 5),
        ("1321", "DEMO-SRV2-", 3),
    ):
        out = await desk.ok(infno, {"ver": "0", "page_num": 1})
        codes = [row["med_list_codg"] for row in out["data"]]
        assert len(codes) == count and all(code.startswith(prefix) for code in codes), (infno, codes)


async def test_the_mappings_list_is_asked_for_one_institution(settlement_api: SettlementApi) -> None:
    # The settlement endpoint behind 1317 answers no institution's mappings without the institution.
    response = await settlement_api.client.get("/api/v1/catalogue/downloads/mappings", params={"ver": 0})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "fixmedins_code" in response.text


#: 1317 as binzhe12123/Medical's ``ML1317.In1317`` sends it (a C# client: DateTime fields serialised as
#: ``2026-12-06T00:00:00``, no ``ver``), every filter empty.
IN_1317 = {
    "query_date": "2026-12-06T00:00:00",
    "fixmedins_code": HOSPITAL,
    "medins_list_codg": "",
    "medins_list_name": "",
    "insu_admdvs": REGION,
    "list_type": "",
    "med_list_codg": "",
    "begndate": "2000-01-01T00:00:00",
    "vali_flag": "",
    "updt_time": "2000-01-01T00:00:00",
    "page_num": 1,
    "page_size": 100,
}


def a_second_after(wire_time: str) -> str:
    """The wire time one second after ``wire_time`` (yyyy-MM-dd HH:mm:ss)."""
    then = datetime.strptime(wire_time, "%Y-%m-%d %H:%M:%S") + timedelta(seconds=1)
    return then.strftime("%Y-%m-%d %H:%M:%S")


async def test_1317_as_his_code_sends_it(desk: Desk) -> None:
    """The input of binzhe12123/Medical's ``ML1317.In1317`` (a C# client: DateTime fields serialised as
    ``2026-12-06T00:00:00``, the filters empty, no ``ver``): the whole of the caller's list, paged."""
    await desk.map(HOSPITAL, "H-001", "A", "2026-01-01")  # version 6
    await desk.map(HOSPITAL, "H-002", "B", "2026-02-01")  # version 7
    sent = {**IN_1317, "vali_flag": "1", "page_size": 1}
    first = await desk.ok("1317", sent)
    assert [(r["medins_list_codg"], r["med_list_codg"]) for r in first["data"]] == [("H-001", "A")]
    # Two mappings one a page: two pages, the second holds H-002.
    assert (first["recordCounts"], first["pages"], first["ver"]) == (2, 2, "7")
    second = await desk.ok("1317", {**sent, "page_num": 2})
    assert [(r["medins_list_codg"], r["ver"]) for r in second["data"]] == [("H-002", "7")]

    # Another institution's code in the input is refused, not answered with its mappings.
    other = await desk.send("1317", {"data": {**sent, "fixmedins_code": PHARMACY}})
    assert other["infcode"] == -1 and other["err_msg"].startswith("[E_INSTITUTION]"), other


# --- 1316 / 1317 as queries: the filters deployed HIS code sends ------------------------------------------


async def test_1316_narrows_by_code_list_type_and_validity(desk: Desk, settlement_api: SettlementApi) -> None:
    """The input of ``ML1316.In1316`` (a deployed C# client): ``medins_list_codg`` / ``hilist_code``, both
    the one code of an entry here, ``list_type``, ``vali_flag``, ``begndate`` and ``updt_time``."""
    await _import_kinds(settlement_api)  # version 6: PREP1 103, ETH1 104, GRA1 102, SRV1 201
    sent = {
        "query_date": "2026-12-06T00:00:00",
        "medins_list_codg": "",
        "hilist_code": "",
        "list_type": "",
        "insu_admdvs": REGION,
        "begndate": "0001-01-01T00:00:00",  # the .NET unset value: not sent
        "vali_flag": "1",
        "updt_time": "2000-01-01T00:00:00",
        "page_num": 1,
        "page_size": 100,
    }

    async def matched(**changes: Any) -> list[str]:
        out = await desk.ok("1316", {**sent, **changes})
        assert out["recordCounts"] == len(out["data"])
        return [row["hilist_code"] for row in out["data"]]

    # The seeded drugs A-D (101, versions 1-4) and the four kept apart.
    assert await matched() == ["A", "B", "C", "D", "PREP1", "ETH1", "GRA1", "SRV1"]
    assert await matched(hilist_code="ETH1") == ["ETH1"]
    assert await matched(medins_list_codg="GRA1", hilist_code="GRA1") == ["GRA1"]
    assert await matched(med_list_codg="C") == ["C"]
    assert await matched(hilist_code="NONE") == []
    assert await matched(list_type="101") == ["A", "B", "C", "D"]
    assert await matched(list_type="103") == ["PREP1"]
    assert await matched(list_type="201", hilist_code="SRV1") == ["SRV1"]
    assert await matched(list_type="201", hilist_code="A") == []
    # Every version of an entry stands here (a newer one ends it, no one revokes it): none is invalid.
    assert await matched(vali_flag="0") == []
    assert await matched(vali_flag="") == await matched()
    # The kept-apart items begin on 2000-01-01 as the seeded ones do: a later begndate asks for none.
    assert await matched(begndate="2000-01-01") == await matched()
    assert await matched(begndate="2000-01-02 00:00:00") == []

    # updt_time: rows changed at or after it. The newest row's own updt_time (to the second) finds it;
    # a second later finds none.
    newest = max(row["updt_time"] for row in (await desk.ok("1316", {**sent, "hilist_code": "SRV1"}))["data"])
    assert "SRV1" in await matched(updt_time=newest)
    later = a_second_after(newest)
    assert await matched(updt_time=later) == []

    # Two different codes for the one code of an entry, a time that is no time, a flag that is no flag.
    for bad in (
        {"hilist_code": "A", "medins_list_codg": "B"},
        {"updt_time": "2026-13-01"},
        {"vali_flag": "2"},
    ):
        answer = await desk.send("1316", {"data": {**sent, **bad}})
        assert answer["infcode"] == -1 and answer["err_msg"].startswith("[E_INPUT]"), (bad, answer)


async def test_1317_narrows_the_callers_mappings_as_his_code_asks(desk: Desk) -> None:
    await desk.map(HOSPITAL, "H-001", "A", "2026-01-01")  # version 6
    await desk.map(HOSPITAL, "H-002", "B", "2026-02-01")  # version 7
    await desk.map(HOSPITAL, "H-003", "C", "2026-03-01")  # version 8
    await desk.map(PHARMACY, "H-001", "D", "2026-01-01")  # version 9: the pharmacy's own H-001
    revoked = await desk.send_as(
        HOSPITAL,
        "3302",
        {
            "fixmedins_code": HOSPITAL,
            "fixmedins_hilist_id": "H-003",
            "list_type": "101",
            "med_list_codg": "C",
        },
    )
    assert revoked["infcode"] == 0, revoked["err_msg"]
    sent = IN_1317

    async def mapped(**changes: Any) -> list[tuple[str, str]]:
        out = await desk.ok("1317", {**sent, **changes})
        assert out["recordCounts"] == len(out["data"])
        return [(row["medins_list_codg"], row["med_list_codg"]) for row in out["data"]]

    everything = [("H-001", "A"), ("H-002", "B"), ("H-003", "C")]
    assert await mapped() == everything
    assert await mapped(medins_list_codg="H-001") == [("H-001", "A")]  # never the pharmacy's H-001
    assert await mapped(med_list_codg="B") == [("H-002", "B")]
    # The name the hospital gave (院内H-00x): a part of it finds it.
    assert await mapped(medins_list_name="H-002") == [("H-002", "B")]
    assert await mapped(medins_list_name="院内") == everything
    assert await mapped(medins_list_name="%") == []  # a wildcard is a character like any other
    assert await mapped(vali_flag="1") == [("H-001", "A"), ("H-002", "B")]
    assert await mapped(vali_flag="0") == [("H-003", "C")]
    assert await mapped(begndate="2026-02-01") == [("H-002", "B"), ("H-003", "C")]
    assert await mapped(list_type="102") == []
    assert await mapped(list_type="101", medins_list_codg="H-002", vali_flag="1") == [("H-002", "B")]

    # Narrowed pages: two valid mappings one a page.
    first = await desk.ok("1317", {**sent, "vali_flag": "1", "page_size": 1})
    assert (first["recordCounts"], first["pages"], [r["medins_list_codg"] for r in first["data"]]) == (
        2,
        2,
        ["H-001"],
    )
    # updt_time: the revocation changed H-003 last; its own updt_time finds it, a second later nothing.
    [row] = (await desk.ok("1317", {**sent, "medins_list_codg": "H-003"}))["data"]
    assert ("H-003", "C") in await mapped(updt_time=row["updt_time"])
    later = a_second_after(row["updt_time"])
    assert await mapped(updt_time=later) == []

    # Without page_num the narrowed list is written to a file (fetched with 9102): the revoked one only.
    info = await desk.ok("1317", {**{k: v for k, v in sent.items() if k != "page_num"}, "vali_flag": "0"})
    assert info["recordCounts"] == 1


async def test_the_code_lists_take_no_filters(settlement_api: SettlementApi) -> None:
    for list_name in ("diseases", "chronic-diseases"):
        response = await settlement_api.client.get(
            f"/api/v1/catalogue/downloads/{list_name}", params={"ver": 0, "code": "E11"}
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "FILTER_NOT_SUPPORTED"
    # An item list takes them, on the settlement service's own names.
    response = await settlement_api.client.get(
        "/api/v1/catalogue/downloads/items",
        params={"ver": 0, "code": "A", "valid": "true", "list_type": "101"},
    )
    assert response.status_code == 200, response.text
    assert [row["code"] for row in response.json()["rows"]] == ["A"]


async def test_1312_narrows_the_insurance_list_as_his_code_asks(
    desk: Desk, settlement_api: SettlementApi
) -> None:
    """The input of ``ML1312.In1312``: the item's code and a part of its name, its class, level and
    restricted mark, ``list_type``, ``vali_flag``, ``begndate`` and ``updt_time``; the marks this platform
    does not keep (``wubi``, ``pinyin``, ``med_use_flag``...) are read and not applied."""
    await _import_kinds(settlement_api)  # version 6
    restricted = {
        "med_list_codg": "R1",
        "name": "限制使用乙类药",
        "med_chrgitm_type": "09",
        "chrgitm_lv": "2",
        "restricted": True,
    }
    assert (await settlement_api.post("/api/v1/catalogue/items", restricted)).status_code == 201  # version 7
    sent = {
        "query_date": "2026-12-06T00:00:00", "hilist_code": "", "insu_admdvs": REGION,
        "begndate": "0001-01-01T00:00:00", "hilist_name": "", "wubi": "", "pinyin": "",
        "med_chrgitm_type": "", "chrgitm_lv": "", "lmt_used_flag": "", "list_type": "", "med_use_flag": "1",
        "matn_used_flag": "", "hilist_use_type": "", "lmt_cpnd_type": "", "vali_flag": "1",
        "updt_time": "2000-01-01T00:00:00", "page_num": 1, "page_size": 100,
    }  # fmt: skip

    async def listed(**changes: Any) -> list[str]:
        out = await desk.ok("1312", {**sent, **changes})
        assert out["recordCounts"] == len(out["data"])
        return [row["hilist_code"] for row in out["data"]]

    # Seeded: A 甲 09, B 乙 11, C 丙 09, D 乙 09 (tests/settlement/conftest.py); the kept-apart four; R1.
    assert await listed() == ["A", "B", "C", "D", "PREP1", "ETH1", "GRA1", "SRV1", "R1"]
    assert await listed(hilist_code="D") == ["D"]
    assert await listed(hilist_name="乙类") == ["B", "D", "R1"]  # 乙类药, 限价乙类, 限制使用乙类药
    assert await listed(med_chrgitm_type="11") == ["B", "ETH1"]
    assert await listed(chrgitm_lv="2") == ["B", "D", "ETH1", "R1"]
    assert await listed(chrgitm_lv="2", med_chrgitm_type="09") == ["D", "R1"]
    assert await listed(lmt_used_flag="1") == ["R1"]
    assert "R1" not in await listed(lmt_used_flag="0")
    assert await listed(list_type="104") == ["ETH1"]
    assert await listed(vali_flag="0") == []
    assert await listed(begndate="2000-01-02") == []
    [row] = (await desk.ok("1312", {**sent, "hilist_code": "R1"}))["data"]
    later = a_second_after(row["updt_time"])
    assert "R1" in await listed(updt_time=row["updt_time"])
    assert await listed(updt_time=later) == []
    for bad in ({"lmt_used_flag": "Y"}, {"begndate": "2026-02-30"}):
        answer = await desk.send("1312", {"data": {**sent, **bad}})
        assert answer["infcode"] == -1 and answer["err_msg"].startswith("[E_INPUT]"), (bad, answer)
