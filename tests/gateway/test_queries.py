"""Queries 5201-5206 through the gateway in front of the real settlement service (both backends): what an
institution reads back of its own visits, diagnoses, settled fee lines, and of a person it treats (chronic
drug records and yearly totals, across institutions); bad input refused as ``infcode -1``
(docs/interface.md, "Queries")."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.gateway.desk import OTHER_HOSPITAL, WHEN, Desk, Patient, desk, line, refused
from tests.gateway.office import chronic as chronic_filing
from tests.settlement.conftest import HOSPITAL

__all__ = ["desk"]

#: 60 x A at 0.50 (甲, at its cap) + 3 x B at 20.00 (乙, 10 % first) = 90.00: 6.00 first, 84.00 in range.
BASKET = [line("1", "A", "60", "0.5", "30.00"), line("2", "B", "3", "20", "60.00")]
BASKET_AMOUNTS = {
    "medfee_sumamt": "90.00",
    "fulamt_ownpay_amt": "0.00",
    "overlmt_selfpay": "0.00",
    "preselfpay_amt": "6.00",
    "inscp_scp_amt": "84.00",
}


def since(begntime: str = "2026-11-01 00:00:00", **more: Any) -> dict[str, Any]:
    return {"begntime": begntime, **more}


async def admit(patient: Patient, ipt_no: str, begntime: str) -> str:
    admitted = await patient.desk.ok(
        "2401",
        {
            "mdtrtinfo": {
                **patient.who,
                "insutype": "390",
                "begntime": begntime,
                "med_type": "21",
                "ipt_no": ipt_no,
                "dise_codg": "J18.900",
                "dise_name": "肺炎",
            },
            "diseinfo": [{"diag_type": "1", "diag_srt_no": 1, "diag_code": "J18.900", "diag_name": "肺炎"}],
        },
    )
    mdtrt_id: str = admitted["result"]["mdtrt_id"]
    return mdtrt_id


async def test_5201_lists_the_persons_visits_here_in_the_period(desk: Desk) -> None:
    patient = await desk.person()
    visit_id, _ = await patient.visit("MZ0001", BASKET, amounts=BASKET_AMOUNTS)
    stay_id = await admit(patient, "ZY0001", "2026-11-21 08:00:00")

    listed = (await desk.ok("5201", {"data": {"psn_no": patient.psn_no, **since()}}))["mdtrtinfo"]
    # Neither is closed: endtime is left out, and matn_type (no delivery) is "" (docs/interface.md); the
    # other fields are test_visit_fields'.
    assert all("endtime" not in r for r in listed)
    shown = ("mdtrt_id", "psn_no", "fixmedins_code", "ipt_otp_no", "insutype", "med_type", "begntime")
    assert [{k: r[k] for k in (*shown, "dise_codg", "dise_name", "matn_type")} for r in listed] == [
        {
            "mdtrt_id": visit_id,
            "psn_no": patient.psn_no,
            "fixmedins_code": HOSPITAL,
            "ipt_otp_no": "MZ0001",
            "insutype": "390",
            "med_type": "11",
            "begntime": WHEN,
            "dise_codg": "J06.900",
            "dise_name": "上呼吸道感染",
            "matn_type": "",
        },
        {
            "mdtrt_id": stay_id,
            "psn_no": patient.psn_no,
            "fixmedins_code": HOSPITAL,
            "ipt_otp_no": "ZY0001",
            "insutype": "390",
            "med_type": "21",
            "begntime": "2026-11-21 08:00:00",
            "dise_codg": "J18.900",
            "dise_name": "肺炎",
            "matn_type": "",
        },
    ]

    async def ids(**data: Any) -> list[str]:
        answer = await desk.ok("5201", {"data": {"psn_no": patient.psn_no, **data}})
        return [row["mdtrt_id"] for row in answer["mdtrtinfo"]]

    assert await ids(**since(endtime="2026-11-20 23:59:59")) == [visit_id]
    assert await ids(**since("2026-11-20 10:00:01")) == [stay_id]
    assert await ids(**since(med_type="21")) == [stay_id]
    assert await ids(**since(mdtrt_id=visit_id)) == [visit_id]
    assert await ids(**since(mdtrt_id="", med_type="")) == [visit_id, stay_id]  # empty is absent
    # Another hospital sees none of them; another person has none here.
    other = await desk.ok("5201", {"data": {"psn_no": patient.psn_no, **since()}}, at=OTHER_HOSPITAL)
    assert other == {"mdtrtinfo": []}
    stranger = await desk.person(14)
    assert await desk.ok("5201", {"data": {"psn_no": stranger.psn_no, **since()}}) == {"mdtrtinfo": []}


def row(srt: int, code: str, name: str, main: str, **more: Any) -> dict[str, Any]:
    """A diseinfo row as a HIS sends it."""
    return {
        "diag_type": "1",
        "diag_srt_no": srt,
        "diag_code": code,
        "diag_name": name,
        "maindiag_flag": main,
        **more,
    }


def answered(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    keys = ("inout_diag_type", "diag_type", "maindiag_flag", "diag_srt_no", "diag_code", "diag_name")
    return [tuple(r[k] for k in keys) for r in rows]


async def test_5202_answers_every_diagnosis_of_the_visit(desk: Desk) -> None:
    patient = await desk.person()
    stay_id = await admit(patient, "ZY0002", WHEN)
    query = {"data": {"psn_no": patient.psn_no, "mdtrt_id": stay_id}}
    # 2401 sent one row (no maindiag_flag: the lowest diag_srt_no is the main one).
    assert answered((await desk.ok("5202", query))["diseinfo"]) == [
        ("1", "1", "1", 1, "J18.900", "肺炎"),
    ]
    ours = {"mdtrt_id": stay_id, "psn_no": patient.psn_no}
    # 2403 replaces the admission's diagnoses: main, a secondary one, a TCM one (diag_type 2), as sent.
    admission = [
        row(
            1,
            "J18.900",
            "肺炎",
            "1",
            adm_cond="1",
            diag_dept="呼吸内科",
            dise_dor_no="D001",
            dise_dor_name="王医生",
            diag_time="2026-11-20 10:30:00",
        ),
        row(2, "I10.x00", "原发性高血压", "0", adm_cond="1"),
        {**row(3, "A01.03.06", "风温肺热病", "0"), "diag_type": "2"},
    ]
    await desk.ok("2403", {"adminfo": {**ours, "med_type": "21"}, "diseinfo": admission})
    # 2402 adds the discharge's.
    discharge = [row(1, "J18.000", "支气管肺炎", "1"), row(2, "I10.x00", "原发性高血压", "0")]
    dscginfo = {**ours, "insutype": "390", "endtime": "2026-11-25 10:00:00", "dscg_way": "1"}
    await desk.ok("2402", {"dscginfo": dscginfo, "diseinfo": discharge})

    rows = (await desk.ok("5202", query))["diseinfo"]
    assert answered(rows) == [
        ("1", "1", "1", 1, "J18.900", "肺炎"),
        ("1", "1", "0", 2, "I10.x00", "原发性高血压"),
        ("1", "2", "0", 3, "A01.03.06", "风温肺热病"),
        ("2", "1", "1", 1, "J18.000", "支气管肺炎"),
        ("2", "1", "0", 2, "I10.x00", "原发性高血压"),
    ]
    first = rows[0]
    assert (first["mdtrt_id"], first["psn_no"], first["vali_flag"]) == (stay_id, patient.psn_no, "1")
    assert (first["adm_cond"], first["diag_dept"], first["dise_dor_no"], first["dise_dor_name"]) == (
        "1",
        "呼吸内科",
        "D001",
        "王医生",
    )
    assert first["diag_time"] == "2026-11-20 10:30:00"
    ids = [r["diag_info_id"] for r in rows]
    assert all(i.isdigit() for i in ids) and len(set(ids)) == 5

    # 2405 takes back the discharge, and its diagnoses with it.
    await desk.ok("2405", {"data": ours})
    assert [r["inout_diag_type"] for r in (await desk.ok("5202", query))["diseinfo"]] == ["1", "1", "1"]

    # An outpatient visit (2203 sends its rows without maindiag_flag): its one row, the main one.
    visit_id, _ = await patient.visit("MZ0009", BASKET, amounts=BASKET_AMOUNTS)
    visit = await desk.ok("5202", {"data": {"psn_no": patient.psn_no, "mdtrt_id": visit_id}})
    assert answered(visit["diseinfo"]) == [("1", "1", "1", 1, "J06.900", "上呼吸道感染")]

    # Not this hospital's visit, or not this person's: not found (nothing of it is shown).
    theirs = await desk.send("5202", query, at=OTHER_HOSPITAL)
    refused(theirs, "ENCOUNTER_NOT_FOUND")
    stranger = await desk.person(14)
    refused(
        await desk.send("5202", {"data": {"psn_no": stranger.psn_no, "mdtrt_id": stay_id}}),
        "ENCOUNTER_NOT_FOUND",
    )


def classified(sn: str, amount: str, lv: str, prop: str, first: str, in_range: str, cap: str | None) -> dict:
    return {
        "feedetl_sn": sn,
        "det_item_fee_sumamt": Decimal(amount),
        "chrgitm_lv": lv,
        "selfpay_prop": Decimal(prop),
        "fulamt_ownpay_amt": Decimal("0.00"),
        "overlmt_amt": Decimal("0.00"),
        "preselfpay_amt": Decimal(first),
        "inscp_scp_amt": Decimal(in_range),
        # An uncapped item's pric_uplmt_amt is left out (docs/interface.md, "Output fields").
        **({"pric_uplmt_amt": Decimal(cap)} if cap else {}),
    }


def picked(row: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "feedetl_sn",
        "det_item_fee_sumamt",
        "chrgitm_lv",
        "selfpay_prop",
        "fulamt_ownpay_amt",
        "overlmt_amt",
        "preselfpay_amt",
        "inscp_scp_amt",
        "pric_uplmt_amt",
    )
    texts = ("feedetl_sn", "chrgitm_lv")
    return {k: row[k] if k in texts else Decimal(str(row[k])) for k in keys if k in row}


async def test_5204_answers_the_settled_lines_of_a_visit(desk: Desk) -> None:
    patient = await desk.person()
    visit_id, settled = await patient.visit("MZ0003", BASKET, amounts=BASKET_AMOUNTS)
    setl_id = settled["setl_id"]
    query = {"psn_no": patient.psn_no, "mdtrt_id": visit_id}
    rows = (await desk.ok("5204", {"data": query}))["feedetail"]
    # A: 30.00 甲 at its 0.50 cap, all in range; B: 60.00 乙, 10 % = 6.00 first, 54.00 in range.
    assert [picked(r) for r in rows] == [
        classified("1", "30.00", "1", "0", "0.00", "30.00", "0.5"),
        classified("2", "60.00", "2", "0.1", "6.00", "54.00", None),
    ]
    first = rows[0]
    assert (first["setl_id"], first["mdtrt_id"], first["psn_no"], first["fee_ocur_time"]) == (
        setl_id,
        visit_id,
        patient.psn_no,
        WHEN,
    )
    assert (first["med_list_codg"], first["medins_list_codg"], first["med_chrgitm_type"]) == ("A", "HA", "09")
    assert (Decimal(str(first["cnt"])), Decimal(str(first["pric"]))) == (Decimal(60), Decimal("0.5"))
    assert (await desk.ok("5204", {"data": {**query, "setl_id": setl_id}}))["feedetail"] == rows

    # Reversed (2208): nothing of the visit is in force any more; the settlement named still has its lines.
    await desk.ok("2208", {"data": {"setl_id": setl_id, "mdtrt_id": visit_id, "psn_no": patient.psn_no}})
    assert (await desk.ok("5204", {"data": query}))["feedetail"] == []
    assert (await desk.ok("5204", {"data": {**query, "setl_id": setl_id}}))["feedetail"] == rows


async def test_5204_refusals(desk: Desk) -> None:
    patient = await desk.person()
    visit_id, _ = await patient.visit("MZ0004", BASKET, amounts=BASKET_AMOUNTS)
    query = {"psn_no": patient.psn_no, "mdtrt_id": visit_id}
    refused(await desk.send("5204", {"data": query}, at=OTHER_HOSPITAL), "NOT_YOUR_SETTLEMENT")
    stranger = await desk.person(14)
    refused(await desk.send("5204", {"data": {**query, "psn_no": stranger.psn_no}}), "PSN_MISMATCH")
    unknown = "S" + "0" * 20
    refused(await desk.send("5204", {"data": {**query, "setl_id": unknown}}), "SETTLEMENT_NOT_FOUND")
    refused(await desk.send("5204", {"data": {"psn_no": patient.psn_no}}), "E_INPUT")
    refused(await desk.send("5204", {"data": {**query, "mdtrt_id": "a/b"}}), "E_INPUT")


async def test_5205_lists_chronic_drug_records_at_any_institution(desk: Desk) -> None:
    treatment = {"med_list_codg": "X", "name": "治疗", "med_chrgitm_type": "05", "chrgitm_lv": "1"}
    assert (await desk.api.post("/api/v1/catalogue/items", treatment)).status_code == 201
    patient = await desk.person()
    await patient.visit("MZ0005", BASKET, amounts=BASKET_AMOUNTS)  # 普通门诊: not a chronic record
    # Filed for I10 (2503): chronic-disease care needs the filing.
    filing = {
        "psn_no": patient.psn_no,
        "insutype": "390",
        "opsp_dise_code": "I10",
        "opsp_dise_name": "高血压",
    }
    await desk.ok("2503", {"data": {**filing, "begndate": "2026-01-01", "enddate": "2026-12-31"}})
    # 门诊慢特病 (140104, I10 on the demo policy's list): 10 x A at 0.50 = 5.00 (a drug) and 20.00 of
    # treatment X (05, not a drug).
    chronic_lines = [line("1", "A", "10", "0.5", "5.00"), line("2", "X", "1", "20", "20.00")]
    # A registered 门慢门特 patient only (2503 first; docs/domain.md, "Filings").
    await desk.ok("2503", chronic_filing(patient.psn_no, code="I10"))
    chronic_id, settled = await patient.visit(
        "MZ0006",
        chronic_lines,
        med_type="140104",
        dise=("I10", "高血压"),
        diag=("I10.x00", "原发性高血压"),  # the row's ICD-10 医保版 code; I10 is the policy's 病种
        amounts={"medfee_sumamt": "25.00", "inscp_scp_amt": "25.00"},
    )
    # Asked by another hospital: the records name the hospital that gave the drugs.
    body = {"data": {"psn_no": patient.psn_no, "begntime": "2026-01-01 00:00:00"}}
    (row,) = (await desk.ok("5205", body, at=OTHER_HOSPITAL))["feedetail"]
    assert (row["setl_id"], row["mdtrt_id"], row["feedetl_sn"], row["med_list_codg"]) == (
        settled["setl_id"],
        chronic_id,
        "1",
        "A",
    )
    assert (row["fixmedins_code"], row["fixmedins_name"], row["med_type"]) == (HOSPITAL, "县医院", "140104")
    assert (Decimal(str(row["det_item_fee_sumamt"])), Decimal(str(row["cnt"]))) == (Decimal("5.00"), 10)
    # Before the period, or for someone else: nothing.
    later = {"data": {"psn_no": patient.psn_no, "begntime": "2099-01-01 00:00:00"}}
    assert (await desk.ok("5205", later))["feedetail"] == []
    bad = {
        "data": {
            "psn_no": patient.psn_no,
            "begntime": "2026-11-02 00:00:00",
            "endtime": "2026-11-01 00:00:00",
        }
    }
    refused(await desk.send("5205", bad), "E_INPUT")
    refused(await desk.send("5205", {"data": {"psn_no": patient.psn_no}}), "E_INPUT")


async def test_5206_answers_the_yearly_accumulations(desk: Desk) -> None:
    patient = await desk.person()
    visit_id, settled = await patient.visit("MZ0007", BASKET, amounts=BASKET_AMOUNTS)
    ask = {"data": {"psn_no": patient.psn_no, "cum_ym": "202611"}}

    def cum(answer: dict[str, Any]) -> dict[str, Decimal]:
        rows = answer["cuminfo"]
        assert {(r["insutype"], r["year"], r["cum_ym"]) for r in rows} == {("390", "2026", "202611")}
        return {r["cum_type_code"]: Decimal(str(r["cum"])) for r in rows}

    # 84.00 in range: the 20.00 outpatient deductible is met, (84.00 - 20.00) x 50 % = 32.00 pooled.
    assert cum(await desk.ok("5206", ask)) == {
        "Q0000": Decimal("20.00"),
        "D390100": Decimal("32.00"),
        "D390100_BIZ11": Decimal("32.00"),
        "D390100_BIZ14": Decimal("0.00"),
        "D390200": Decimal("0.00"),
        "D610100": Decimal("0.00"),
        "C0000": Decimal(0),
    }
    # Reversed: the year is back to nothing counted.
    await desk.ok(
        "2208", {"data": {"setl_id": settled["setl_id"], "mdtrt_id": visit_id, "psn_no": patient.psn_no}}
    )
    assert set(cum(await desk.ok("5206", ask, at=OTHER_HOSPITAL)).values()) == {Decimal(0)}
    # Another year, someone never settled: no rows; a month that does not exist: refused.
    assert (await desk.ok("5206", {"data": {"psn_no": patient.psn_no, "cum_ym": "202501"}})) == {
        "cuminfo": []
    }
    refused(await desk.send("5206", {"data": {"psn_no": patient.psn_no, "cum_ym": "202613"}}), "E_INPUT")
    refused(await desk.send("5206", {"data": {"cum_ym": "202611"}}), "E_INPUT")


async def test_5201_bad_input_is_refused(desk: Desk) -> None:
    patient = await desk.person()
    refused(await desk.send("5201", {"data": {"psn_no": patient.psn_no}}), "E_INPUT")  # begntime required
    backwards = since("2026-11-20 00:00:00", endtime="2026-11-19 00:00:00")
    refused(await desk.send("5201", {"data": {"psn_no": patient.psn_no, **backwards}}), "E_INPUT")
    refused(
        await desk.send("5201", {"data": {"psn_no": patient.psn_no, **since(mdtrt_id="bad id!")}}), "E_INPUT"
    )
    refused(await desk.send("5201", {"data": {"psn_no": patient.psn_no, **since("2026-13-01")}}), "E_INPUT")
