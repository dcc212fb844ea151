"""Queries 5201-5206 through the gateway in front of the real settlement service (both backends): what an
institution reads back of its own visits, diagnoses, settled fee lines, and of a person it treats (chronic
drug records and yearly totals, across institutions); bad input refused as ``infcode -1``
(docs/interface.md, "Queries")."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.gateway.desk import OTHER_HOSPITAL, WHEN, Desk, Patient, desk, line, refused
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
    assert listed == [
        {
            "mdtrt_id": visit_id,
            "psn_no": patient.psn_no,
            "fixmedins_code": HOSPITAL,
            "ipt_otp_no": "MZ0001",
            "insutype": "390",
            "med_type": "11",
            "begntime": WHEN,
            "endtime": None,
            "dise_codg": "J06.900",
            "dise_name": "上呼吸道感染",
            "matn_type": None,
        },
        {
            "mdtrt_id": stay_id,
            "psn_no": patient.psn_no,
            "fixmedins_code": HOSPITAL,
            "ipt_otp_no": "ZY0001",
            "insutype": "390",
            "med_type": "21",
            "begntime": "2026-11-21 08:00:00",
            "endtime": None,
            "dise_codg": "J18.900",
            "dise_name": "肺炎",
            "matn_type": None,
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


async def test_5202_answers_the_visits_main_diagnosis(desk: Desk) -> None:
    patient = await desk.person()
    stay_id = await admit(patient, "ZY0002", WHEN)
    answer = await desk.ok("5202", {"data": {"psn_no": patient.psn_no, "mdtrt_id": stay_id}})
    assert answer == {
        "diseinfo": [
            {
                "mdtrt_id": stay_id,
                "psn_no": patient.psn_no,
                "diag_type": "1",
                "maindiag_flag": "1",
                "diag_srt_no": 1,
                "diag_code": "J18.900",
                "diag_name": "肺炎",
                "vali_flag": "1",
            }
        ]
    }
    # Not this hospital's visit, or not this person's: not found (nothing of it is shown).
    theirs = await desk.send(
        "5202", {"data": {"psn_no": patient.psn_no, "mdtrt_id": stay_id}}, at=OTHER_HOSPITAL
    )
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
        "pric_uplmt_amt": Decimal(cap) if cap else None,
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
    return {
        k: Decimal(str(row[k])) if k not in ("feedetl_sn", "chrgitm_lv") and row[k] is not None else row[k]
        for k in keys
    }


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
    # 门诊慢特病 (140104, I10 on the demo policy's list): 10 x A at 0.50 = 5.00 (a drug) and 20.00 of
    # treatment X (05, not a drug).
    chronic_lines = [line("1", "A", "10", "0.5", "5.00"), line("2", "X", "1", "20", "20.00")]
    chronic_id, settled = await patient.visit(
        "MZ0006",
        chronic_lines,
        med_type="140104",
        dise=("I10", "高血压"),
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
