"""13xx catalogue downloads through the real gateway envelope processor in front of the real settlement
service (both backends): incremental by ``ver``, paged inline or written to a file fetched with 9102, the
newest version named; a catalogue change is visible to the next download; bad versions and pages refused.

The seeded catalogue (tests/settlement/conftest.py) was made in four versions: A (1, 西药 甲类, cap 0.50),
B (2, 中成药 乙类, 先自付 0.10), C (3, 西药 丙类), D (4, 西药 乙类, 先自付 0.05, cap 2.50); the benefit policy
added next (its chronic diseases, 1309) is version 5."""

from __future__ import annotations

import base64
import csv
import io
import zipfile
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from gateway.downstream import Downstream
from gateway.nhsa import catalogue
from gateway.protocol.envelope import parse_body
from gateway.security.schemes import TifSha256
from gateway.security.service import HisSecurity
from gateway.transactions import EnvelopeProcessor
from settlement.policy.document import jinzhai_legacy_demo

from platformctl import examples
from platformctl.demo import demo_code_files, demo_national_code_files, demo_payment_disease_files
from shared.db import Database
from tests.conftest import DatabaseFactory
from tests.settlement.conftest import HOSPITAL, REGION, SettlementApi
from tests.support.his import SignedHis, register_demo_institutions

_sequence = iter(range(1, 10_000))


class Counter:
    def __init__(self, processor: EnvelopeProcessor) -> None:
        self.his = SignedHis(processor.process)

    async def send(self, infno: str, node: dict[str, Any]) -> dict[str, Any]:
        msgid = f"{HOSPITAL}20261206100000{next(_sequence):04d}"
        body = examples.envelope(infno, msgid, node, fixmedins_code=HOSPITAL)
        answer: dict[str, Any] = parse_body((await self.his.send(body)).encode())
        return answer

    async def ok(self, infno: str, data: dict[str, Any]) -> dict[str, Any]:
        answer = await self.send(infno, {"data": data})
        assert answer["infcode"] == 0, answer["err_msg"]
        output: dict[str, Any] = answer["output"]
        return output

    async def file_rows(self, infno: str, ver: str) -> tuple[dict[str, Any], list[list[str]]]:
        """The rows of a download written to a file, fetched with 9102 and unzipped."""
        info = await self.ok(infno, {"ver": ver})
        fetched = await self.send(
            "9102",
            {
                "fsDownloadIn": {
                    "file_qury_no": info["file_qury_no"],
                    "filename": "plc",
                    "fixmedins_code": HOSPITAL,
                }
            },
        )
        assert fetched["infcode"] == 0, fetched["err_msg"]
        with zipfile.ZipFile(io.BytesIO(base64.b64decode(fetched["output"]["file_byte"]))) as archive:
            (name,) = archive.namelist()
            text = archive.read(name).decode("utf-8")
        return info, [line.split("\t") for line in text.splitlines()]


@pytest.fixture
async def counter(databases: DatabaseFactory, settlement_api: SettlementApi) -> AsyncIterator[Counter]:
    db = Database(databases.migrated("gateway"))
    downstream = Downstream("http://enrollment", "http://settlement", 5.0)
    await downstream.client.aclose()
    downstream.client = settlement_api.client  # the settlement app itself, over ASGI
    await register_demo_institutions(db)
    try:
        yield Counter(
            EnvelopeProcessor(db, downstream, REGION, 1_048_576, security=HisSecurity(db, TifSha256()))
        )
    finally:
        await db.dispose()


def codes(rows: list[dict[str, Any]], field: str = "hilist_code") -> list[tuple[str, str]]:
    return [(row[field], row["ver"]) for row in rows]


async def test_1301_answers_the_drugs_inline_with_the_newest_version(counter: Counter) -> None:
    out = await counter.ok("1301", {"ver": "0", "page_num": 1, "page_size": 10})
    # 西药 (09) and 中成药 (11): all four seeded items, in the order of their versions.
    assert codes(out["data"], "med_list_codg") == [("A", "1"), ("B", "2"), ("C", "3"), ("D", "4")]
    first = out["data"][0]
    assert {k: first[k] for k in ("drug_genname", "med_chrgitm_type", "chrgitm_lv", "lmt_used_flag")} == {
        "drug_genname": "甲类药",
        "med_chrgitm_type": "09",
        "chrgitm_lv": "1",
        "lmt_used_flag": "0",
    }
    # Open-ended: enddate left out (docs/interface.md, "Output fields").
    assert (first["begndate"], first["vali_flag"]) == ("2000-01-01", "1") and "enddate" not in first
    assert (out["ver"], out["recordCounts"], out["pages"], out["lastPage"]) == ("5", 4, 1, True)
    # Nothing of the other kinds: no 中药饮片 (10), no service items, no materials.
    for infno in ("1302", "1305", "1306"):
        empty = await counter.ok(infno, {"ver": "0", "page_num": 1})
        assert (empty["data"], empty["recordCounts"], empty["ver"]) == ([], 0, "5")


async def test_a_download_after_an_update_returns_exactly_the_changed_rows(
    counter: Counter, settlement_api: SettlementApi
) -> None:
    # Version 6: B gets a new version from 2026-07-01 (its first one ends 2026-06-30); version 7: E, a herb.
    new_b = {
        "med_list_codg": "B",
        "name": "乙类药",
        "med_chrgitm_type": "11",
        "chrgitm_lv": "2",
        "selfpay_prop": "0.2",
        "effective_from": "2026-07-01",
    }
    herb = {"med_list_codg": "E", "name": "黄芪", "med_chrgitm_type": "10", "chrgitm_lv": "1"}
    for body in (new_b, herb):
        assert (await settlement_api.post("/api/v1/catalogue/items", body)).status_code == 201

    items = await counter.ok("1312", {"ver": "5", "page_num": 1, "page_size": 100})
    assert codes(items["data"]) == [("B", "6"), ("B", "6"), ("E", "7")]
    old_b, new_b_row, _ = items["data"]
    assert (old_b["begndate"], old_b["enddate"]) == ("2000-01-01", "2026-06-30")
    assert new_b_row["begndate"] == "2026-07-01" and "enddate" not in new_b_row
    assert (items["ver"], items["recordCounts"]) == ("7", 3)
    assert {old_b["insu_admdvs"], old_b["poolarea_no"]} == {REGION}

    herbs = await counter.ok("1302", {"ver": "5", "page_num": 1})
    assert codes(herbs["data"], "med_list_codg") == [("E", "7")]
    assert herbs["data"][0]["tcmherb_name"] == "黄芪"
    # Holding version 7, there is nothing new.
    assert (await counter.ok("1312", {"ver": "7", "page_num": 1}))["data"] == []

    # 1319: the 乙类 self-pay-first shares, B's two versions (0.10 to June, 0.20 from July) and D's 0.05.
    ratios = await counter.ok("1319", {"ver": "0", "page_num": 1})
    assert [(r["hilist_code"], r["selfpay_prop"], r.get("enddate")) for r in ratios["data"]] == [
        ("D", Decimal("0.0500"), None),
        ("B", Decimal("0.1000"), "2026-06-30"),
        ("B", Decimal("0.2000"), None),
    ]


async def test_1318_lists_the_capped_items(counter: Counter) -> None:
    caps = await counter.ok("1318", {"ver": "0", "page_num": 1})
    assert [(r["hilist_code"], Decimal(str(r["hilist_pric_uplmt_amt"]))) for r in caps["data"]] == [
        ("A", Decimal("0.5")),
        ("D", Decimal("2.5")),
    ]
    assert caps["data"][0]["overlmt_dspo_way"] == "1"


async def test_paging_and_its_refusals(counter: Counter) -> None:
    second = await counter.ok("1312", {"ver": "0", "page_num": 2, "page_size": 3})
    # 4 rows by 3: page 2 holds the fourth.
    assert codes(second["data"]) == [("D", "4")]
    assert (second["pages"], second["pageNum"], second["firstPage"], second["lastPage"]) == (
        2,
        2,
        False,
        True,
    )

    beyond = await counter.send("1312", {"data": {"ver": "0", "page_num": 3, "page_size": 3}})
    assert beyond["infcode"] == -1 and beyond["err_msg"].startswith("[PAGE_OUT_OF_RANGE]")
    unknown = await counter.send("1312", {"data": {"ver": "99", "page_num": 1}})
    assert (unknown["infcode"], unknown["err_msg"]) == (
        -1,
        "[CATALOGUE_VER_UNKNOWN] 目录版本号 99 不存在：最新版本为 5",
    )
    for bad in (
        {"ver": "v1", "page_num": 1},
        {"ver": "0", "page_num": 0},
        {"ver": "0", "page_num": 1, "page_size": 1001},
    ):
        refused = await counter.send("1312", {"data": bad})
        assert refused["infcode"] == -1 and refused["err_msg"].startswith("[E_INPUT]"), bad


async def test_a_whole_list_goes_as_a_file_fetched_with_9102(
    counter: Counter, settlement_api: SettlementApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalogue, "FILE_BATCH", 3)  # 4 rows read in two batches by cursor
    info, rows = await counter.file_rows("1312", "0")
    assert (info["filename"], info["ver"], info["recordCounts"]) == ("plc", "5", 4)
    # Columns in the order of the 1312 row: hilist_code, hilist_name, insu_admdvs, med_chrgitm_type,
    # chrgitm_lv, lmt_used_flag, poolarea_no, begndate, enddate, vali_flag, rid, updt_time, ver.
    assert [(r[0], r[1], r[4], r[8], r[12]) for r in rows] == [
        ("A", "甲类药", "1", "", "1"),
        ("B", "乙类药", "2", "", "2"),
        ("C", "丙类", "3", "", "3"),
        ("D", "限价乙类", "2", "", "4"),
    ]
    herb = {"med_list_codg": "E", "name": "黄芪", "med_chrgitm_type": "10", "chrgitm_lv": "1"}
    assert (await settlement_api.post("/api/v1/catalogue/items", herb)).status_code == 201
    info, rows = await counter.file_rows("1312", "5")
    assert (info["ver"], [(r[0], r[12]) for r in rows]) == ("6", [("E", "6")])


async def test_1307_and_1308_download_the_imported_code_lists(
    counter: Counter, settlement_api: SettlementApi
) -> None:
    diseases = "code,name\nE11.900,2型糖尿病\nI10.x00,原发性高血压\n"
    operations = "code,name,effective_from\n47.0100,腹腔镜下阑尾切除术,2020-01-01\n"
    for kind, text in (("dise", diseases), ("oprn", operations)):
        response = await settlement_api.client.post(
            f"/api/v1/catalogue/codes/{kind}/import", content=text.encode("utf-8")
        )
        assert response.status_code == 200, response.text
    # One version per file: 6 for the diagnoses, 7 for the procedures.
    dise = await counter.ok("1307", {"ver": "5", "page_num": 1})
    assert [(r["dise_codg"], r["dise_name"], r["ver"]) for r in dise["data"]] == [
        ("E11.900", "2型糖尿病", "6"),
        ("I10.x00", "原发性高血压", "6"),
    ]
    oprn = await counter.ok("1308", {"ver": "6", "page_num": 1})
    assert [(r["oprn_oprt_code"], r["begndate"], r["ver"]) for r in oprn["data"]] == [
        ("47.0100", "2020-01-01", "7")
    ]
    assert oprn["ver"] == "7"


async def _import(settlement_api: SettlementApi, kind: str, text: str) -> dict[str, Any]:
    response = await settlement_api.client.post(
        f"/api/v1/catalogue/codes/{kind}/import", content=text.encode("utf-8")
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_1313_to_1315_download_the_tumour_and_tcm_code_lists(
    counter: Counter, settlement_api: SettlementApi
) -> None:
    # The demo's files, one version each after the seeded 5: 6 morphology, 7 TCM diseases, 8 syndromes.
    for kind, text in demo_national_code_files():
        await _import(settlement_api, kind, text)
    tumr = await counter.ok("1313", {"ver": "5", "page_num": 1, "page_size": 1000})
    # demo_tumour_morphology.csv: 24 codes after the header, in file order, all at version 6.
    assert (tumr["ver"], tumr["recordCounts"], tumr["pages"]) == ("8", 24, 1)
    assert [(r["tumr_morp_code"], r["tumr_morp_name"]) for r in tumr["data"][:3]] == [
        ("M8000/0", "良性肿瘤"),
        ("M8000/1", "肿瘤，良性或恶性未肯定"),
        ("M8000/3", "恶性肿瘤"),
    ]
    assert {r["ver"] for r in tumr["data"]} == {"6"}
    assert (tumr["data"][0]["begndate"], tumr["data"][0].get("enddate")) == ("2000-01-01", None)
    tcm = await counter.ok("1314", {"ver": "0", "page_num": 1})
    # 15 diseases at version 7; nothing of the other lists.
    assert (tcm["recordCounts"], tcm["data"][0]["tcm_dise_code"], tcm["data"][0]["tcm_dise_name"]) == (
        15,
        "A01.01.01.01.",
        "感冒",
    )
    assert {r["ver"] for r in tcm["data"]} == {"7"}
    symp = await counter.ok("1315", {"ver": "7", "page_num": 1})
    assert (symp["recordCounts"], symp["data"][1]["tcmsymp_code"], symp["data"][1]["tcmsymp"]) == (
        12,
        "B01.01.02.",
        "风热犯表证",
    )
    # Holding version 8, none of the three has anything new.
    for infno in ("1313", "1314", "1315"):
        assert (await counter.ok(infno, {"ver": "8", "page_num": 1}))["data"] == []


async def test_1313_to_1315_after_an_update_return_exactly_the_changed_codes(
    counter: Counter, settlement_api: SettlementApi
) -> None:
    await _import(settlement_api, "tumr", "code,name\nM8140/3,腺癌\nM8070/3,鳞状细胞癌\n")  # version 6
    # Version 7: M8140/3 renamed from 2026-07-01 (its first version ends 2026-06-30), M8170/3 new, M8070/3
    # the same as before (unchanged, not downloaded again).
    update = (
        "code,name,effective_from\nM8140/3,腺癌，非特指,2026-07-01\nM8170/3,肝细胞癌,\nM8070/3,鳞状细胞癌,\n"
    )
    assert (await _import(settlement_api, "tumr", update)) == {"imported": 2, "unchanged": 1, "errors": []}
    changed = await counter.ok("1313", {"ver": "6", "page_num": 1})
    assert [(r["tumr_morp_code"], r["begndate"], r.get("enddate"), r["ver"]) for r in changed["data"]] == [
        ("M8140/3", "2000-01-01", "2026-06-30", "7"),
        ("M8140/3", "2026-07-01", None, "7"),
        ("M8170/3", "2000-01-01", None, "7"),
    ]
    assert (changed["ver"], changed["recordCounts"]) == ("7", 3)
    # The TCM lists were not touched: empty, but the newest version named.
    assert (await counter.ok("1314", {"ver": "5", "page_num": 1}))["data"] == []

    # Paging: the 4 morphology rows (M8140/3 twice, M8070/3, M8170/3) by 3; page 2 holds the fourth.
    second = await counter.ok("1313", {"ver": "0", "page_num": 2, "page_size": 3})
    assert [r["tumr_morp_code"] for r in second["data"]] == ["M8170/3"]
    assert (second["pages"], second["firstPage"], second["lastPage"]) == (2, False, True)
    beyond = await counter.send("1313", {"data": {"ver": "0", "page_num": 3, "page_size": 3}})
    assert beyond["infcode"] == -1 and beyond["err_msg"].startswith("[PAGE_OUT_OF_RANGE]")
    for infno in ("1313", "1314", "1315"):
        unknown = await counter.send(infno, {"data": {"ver": "8", "page_num": 1}})
        assert (unknown["infcode"], unknown["err_msg"]) == (
            -1,
            "[CATALOGUE_VER_UNKNOWN] 目录版本号 8 不存在：最新版本为 7",
        )

    # The whole list as a file fetched with 9102: code, name, begndate, enddate, vali_flag, rid, updt_time,
    # ver per line.
    info, rows = await counter.file_rows("1313", "6")
    assert (info["ver"], info["recordCounts"]) == ("7", 3)
    assert [(r[0], r[2], r[3], r[7]) for r in rows] == [
        ("M8140/3", "2000-01-01", "2026-06-30", "7"),
        ("M8140/3", "2026-07-01", "", "7"),
        ("M8170/3", "2000-01-01", "", "7"),
    ]


def _opsp(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (r["opsp_dise_code"], r["opsp_dise_name"], r["insutype"], r["begndate"], r.get("enddate"), r["ver"])
        for r in rows
    ]


async def test_1309_lists_the_chronic_diseases_of_the_benefit_policies(
    counter: Counter, settlement_api: SettlementApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The seeded policy (390, from 2026-01-01, the demo's document) was added at version 5.
    whole = await counter.ok("1309", {"ver": "0", "page_num": 1})
    assert _opsp(whole["data"]) == [
        ("I10", "特发性（原发性）高血压", "390", "2026-01-01", None, "5"),
        ("E11", "2型糖尿病", "390", "2026-01-01", None, "5"),
        ("J44", "其他慢性阻塞性肺病", "390", "2026-01-01", None, "5"),
        ("I25", "慢性缺血性心脏病", "390", "2026-01-01", None, "5"),
        ("N18", "慢性肾脏病", "390", "2026-01-01", None, "5"),
    ]
    assert (whole["ver"], whole["recordCounts"]) == ("5", 5)
    assert {(r["admdvs"], r["vali_flag"]) for r in whole["data"]} == {(REGION, "1")}
    # The list the chronic rules and the 2503 filings read: the policy document's own.
    (policy,) = (await settlement_api.client.get("/api/v1/policies")).json()
    assert [r["opsp_dise_code"] for r in whole["data"]] == policy["document"]["chronic"]["diseases"]

    # Version 6: the NCMS policy of 2026 (380), two diseases, one of them named.
    document = jinzhai_legacy_demo("380").model_dump(mode="json")
    document["chronic"] = {**document["chronic"], "diseases": ["E11", "I10"], "names": {"E11": "2型糖尿病"}}
    ncms = {
        "admdvs": REGION,
        "insutype": "380",
        "name": "新农合 2026",
        "effective_from": "2026-01-01",
        "effective_to": "2026-12-31",
        "document": document,
    }
    assert (await settlement_api.post("/api/v1/policies", ncms)).status_code == 201
    changed = await counter.ok("1309", {"ver": "5", "page_num": 1})
    assert _opsp(changed["data"]) == [
        ("E11", "2型糖尿病", "380", "2026-01-01", "2026-12-31", "6"),
        ("I10", "", "380", "2026-01-01", "2026-12-31", "6"),
    ]
    assert (changed["ver"], changed["recordCounts"]) == ("6", 2)
    assert (await counter.ok("1309", {"ver": "6", "page_num": 1}))["data"] == []
    # A name for a code the policy does not list is refused, and adds no version.
    document["chronic"]["names"] = {"J44": "其他慢性阻塞性肺病"}
    wrong = {**ncms, "effective_from": "2027-01-01", "effective_to": None, "document": document}
    assert (await settlement_api.post("/api/v1/policies", wrong)).status_code == 422
    assert (await counter.ok("1309", {"ver": "6", "page_num": 1}))["ver"] == "6"

    # Paging over the 7 rows by 3: page 3 holds the seventh; page 4 is refused.
    third = await counter.ok("1309", {"ver": "0", "page_num": 3, "page_size": 3})
    assert ([r["opsp_dise_code"] for r in third["data"]], third["pages"], third["lastPage"]) == (
        ["I10"],
        3,
        True,
    )
    beyond = await counter.send("1309", {"data": {"ver": "0", "page_num": 4, "page_size": 3}})
    assert beyond["infcode"] == -1 and beyond["err_msg"].startswith("[PAGE_OUT_OF_RANGE]")

    # As a file read one policy at a time: opsp_dise_code, opsp_dise_name, admdvs, insutype, begndate,
    # enddate, vali_flag, rid, updt_time, ver per line.
    monkeypatch.setattr(catalogue, "FILE_BATCH", 1)
    info, rows = await counter.file_rows("1309", "0")
    assert (info["ver"], info["recordCounts"]) == ("6", 7)
    assert [(r[0], r[1], r[3], r[5], r[9]) for r in rows] == [
        ("I10", "特发性（原发性）高血压", "390", "", "5"),
        ("E11", "2型糖尿病", "390", "", "5"),
        ("J44", "其他慢性阻塞性肺病", "390", "", "5"),
        ("I25", "慢性缺血性心脏病", "390", "", "5"),
        ("N18", "慢性肾脏病", "390", "", "5"),
        ("E11", "2型糖尿病", "380", "2026-12-31", "6"),
        ("I10", "", "380", "2026-12-31", "6"),
    ]


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_1310_and_1311_download_the_by_disease_and_day_surgery_lists(
    counter: Counter, settlement_api: SettlementApi
) -> None:
    # The demo's sample files after the seeded 5: version 6 by-disease (7 entries), 7 day surgery (4).
    for kind, text in demo_payment_disease_files():
        await _import(settlement_api, kind, text)
    bydise = await counter.ok("1310", {"ver": "5", "page_num": 1})
    assert (bydise["ver"], bydise["recordCounts"]) == ("7", 7)
    rows = [
        (
            r["bydise_setl_list_code"],
            r["bydise_setl_dise_name"],
            r["qua_oprn_oprt_code"],
            r["qua_oprn_oprt_name"],
        )
        for r in bydise["data"][:2]
    ]
    assert rows == [
        ("K35.800", "急性阑尾炎", "47.0100", "腹腔镜下阑尾切除术"),
        ("O80.000", "头位顺产", "", ""),  # a normal delivery: no qualifying operation (empty text)
    ]
    assert {r["ver"] for r in bydise["data"]} == {"6"}
    daysrg = await counter.ok("1311", {"ver": "6", "page_num": 1})
    assert [(r["daysrg_dise_list_code"], r["qua_oprn_oprt_code"], r["ver"]) for r in daysrg["data"]] == [
        ("H25.900", "13.4100", "7"),
        ("K40.900", "53.0200", "7"),
        ("K80.200", "51.2300", "7"),
        ("I83.900", "38.5901", "7"),
    ]
    # Neither list is in the other's download, nor in the diagnoses'.
    assert (await counter.ok("1310", {"ver": "6", "page_num": 1}))["data"] == []
    assert (await counter.ok("1307", {"ver": "5", "page_num": 1}))["data"] == []

    # The sample is made of the demo's own diagnoses and procedures, by code and name.
    files = dict(demo_code_files())
    diagnoses = {r["code"]: r["name"] for r in _csv(files["dise"])}
    procedures = {r["code"]: r["name"] for r in _csv(files["oprn"])}
    for _, text in demo_payment_disease_files():
        for entry in _csv(text):
            assert diagnoses[entry["code"]] == entry["name"], entry
            assert not entry["oprn_code"] or procedures[entry["oprn_code"]] == entry["oprn_name"], entry

    # Another operation for an entry from the same day is refused, the whole file with it: nothing changes.
    changed = "code,name,oprn_code,oprn_name\nH25.900,老年性白内障,13.7100,眼内人工晶状体置入伴白内障摘出术\n"
    refused = await settlement_api.client.post(
        "/api/v1/catalogue/codes/daysrg/import", content=changed.encode()
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "IMPORT_REFUSED")
    # An operation on a list without one, a name without its code: refused line by line.
    for kind, text in (
        ("dise", "code,name,oprn_code\nK35.800,急性阑尾炎,47.0100\n"),
        ("daysrg", "code,name,oprn_name\nK40.900,腹股沟疝,疝修补术\n"),
    ):
        response = await settlement_api.client.post(
            f"/api/v1/catalogue/codes/{kind}/import", content=text.encode()
        )
        assert (response.status_code, response.json()["error"]["code"]) == (422, "IMPORT_REFUSED"), text
        assert [d["line"] for d in response.json()["error"]["details"]] == [2]
    assert (await counter.ok("1311", {"ver": "7", "page_num": 1}))["ver"] == "7"

    # A new version of an entry from 2027: its operation changes, the first version ends 2026-12-31.
    later = (
        "code,name,oprn_code,oprn_name,effective_from\n"
        "H25.900,老年性白内障,13.7100,眼内人工晶状体置入伴白内障摘出术,2027-01-01\n"
    )
    assert (await _import(settlement_api, "daysrg", later))["imported"] == 1  # version 8
    # As a file: code, name, qua_oprn_oprt_code, qua_oprn_oprt_name, begndate, enddate, vali_flag, rid,
    # updt_time, ver per line.
    info, lines = await counter.file_rows("1311", "7")
    assert (info["ver"], info["recordCounts"]) == ("8", 2)
    assert [(r[0], r[2], r[4], r[5], r[9]) for r in lines] == [
        ("H25.900", "13.4100", "2000-01-01", "2026-12-31", "8"),
        ("H25.900", "13.7100", "2027-01-01", "", "8"),
    ]
