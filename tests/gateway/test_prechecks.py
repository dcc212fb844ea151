"""Pre-checks 3101/3102 and feedback 3103 through the gateway in front of the real settlement service (both
backends): the supervision rules of settlement time judge a proposed order, answer the violations with
their rule, severity and lines, and write nothing; 3103 keeps the institution's answer to a warning once per
msgid (docs/interface.md, "Pre-checks"). Rule defaults: days_supply tolerance 3 days,
overlapping_admissions 12 hours."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from settlement.prechecks.models import PrecheckFeedback
from settlement.settlements.models import Settlement, SettlementLine
from settlement.supervision.models import SignalHit
from sqlmodel import col, func, select

from tests.gateway.desk import OTHER_HOSPITAL, WHEN, Desk, Patient, desk, refused
from tests.settlement.conftest import HOSPITAL, PHARMACY, REGION

__all__ = ["desk"]


async def buy_with_supply(patient: Patient, days: str = "10") -> None:
    """100 x A at 0.50 at the pharmacy on 2026-11-20, prescribed for ``days`` days."""
    body = {
        "druginfo": {
            **patient.who,
            "begntime": WHEN,
            "medfee_sumamt": "50.00",
            "insutype": "390",
            "med_type": "41",
        },
        "drugdetail": [
            {
                "feedetl_sn": "1",
                "fee_ocur_time": WHEN,
                "med_list_codg": "A",
                "medins_list_codg": "YP0001",
                "det_item_fee_sumamt": "50.00",
                "cnt": "100",
                "pric": "0.5",
                "prd_days": days,
            }
        ],
    }
    await patient.desk.ok("2102", body, at=PHARMACY)


def order(rx_id: str, code: str, cnt: str, pric: str, sumamt: str, begn: str, **more: Any) -> dict[str, Any]:
    return {
        "rx_id": rx_id,
        "rxno": f"CF{rx_id}",
        "grpno": "1",
        "long_drord_flag": "0",
        "hilist_type": "101",
        "chrg_type": "09",
        "drord_bhvr": "0",
        "hilist_code": code,
        "hilist_name": code,
        "hilist_lv": "01",
        "hilist_pric": pric,
        "hosplist_code": f"H{code}",
        "hosplist_name": code,
        "cnt": cnt,
        "pric": pric,
        "sumamt": sumamt,
        "ownpay_amt": "0",
        "selfpay_amt": "0",
        "spec": "",
        "spec_unt": "盒",
        "drord_begn_date": begn,
        "drord_dept_codg": "NK",
        "drord_dept_name": "内科",
        "drord_dr_codg": "D001",
        "drord_dr_name": "王医生",
        "drord_dr_profttl": "2",
        "curr_drord_flag": "1",
        **more,
    }


def analysis(patient: Patient, mdtrt_id: str, orders: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    """A 3101 body as deployed HIS code builds it (patient, encounter, diagnoses, orders)."""
    encounter = {
        "mdtrt_id": mdtrt_id,
        "medins_id": HOSPITAL,
        "medins_name": "县医院",
        "medins_admdvs": REGION,
        "medins_type": "A1",
        "medins_lv": "05",
        "adm_date": orders[0]["drord_begn_date"],
        "dscg_date": orders[0]["drord_begn_date"],
        "dscg_main_dise_codg": "J06.900",
        "dscg_main_dise_name": "上呼吸道感染",
        "dr_codg": "D001",
        "med_mdtrt_type": "1",
        "med_type": "11",
        "matn_stas": "0",
        "medfee_sumamt": "-",
        "insutype": "390",
        "fsi_diagnose_dtos": [],
        "fsi_order_dtos": orders,
        "fsi_operation_dtos": [],
        **more,
    }
    patient_dto = {
        "patn_id": patient.psn_no,
        "patn_name": "测试人员",
        "gend": "1",
        "brdy": "1985-03-12",
        "poolarea": REGION,
        "curr_mdtrt_id": mdtrt_id,
        "fsi_his_data_dto": "",
        "fsi_encounter_dtos": [encounter],
    }
    return {"data": {"patient_dtos": [patient_dto], "trig_scen": "2"}}


async def counts(desk: Desk) -> tuple[int, int, int]:
    async with desk.api.db.session() as session:
        return (
            int(await session.scalar(select(func.count()).select_from(Settlement)) or 0),
            int(await session.scalar(select(func.count()).select_from(SettlementLine)) or 0),
            int(await session.scalar(select(func.count()).select_from(SignalHit)) or 0),
        )


async def test_3101_finds_a_drug_bought_again_before_its_supply_runs_out(desk: Desk) -> None:
    patient = await desk.person()
    await buy_with_supply(patient)  # supplied 2026-11-20 + 10 days: until 2026-11-30
    before = await counts(desk)
    # On 2026-11-25, 5 days of A are left (>= the 3 days tolerated): R1 (A, 20 x 0.50 = 10.00) is the
    # violation; R2 (B, 20.00) is not concerned.
    orders = [
        order("R1", "A", "20", "0.5", "10.00", "2026-11-25 09:00:00"),
        order("R2", "B", "1", "20", "20.00", "2026-11-25 09:00:00"),
    ]
    answer = await desk.ok("3101", analysis(patient, "HIS-MZ-9", orders))
    (row,) = answer["result"]
    assert (row["rule_id"], row["rule_name"], row["sev_deg"]) == (
        "days_supply",
        "药品超处方天数重复购药",
        "2",
    )
    assert (row["patn_id"], row["mdtrt_id"], Decimal(str(row["vola_amt"]))) == (
        patient.psn_no,
        "HIS-MZ-9",
        Decimal("10.00"),
    )
    assert row["vola_cont"] == "药品 A 于 2026-11-20 已购 10 天用量，尚余 5 天时再次购药"
    (detail,) = row["judge_result_detail_dtos"]
    assert (detail["rx_id"], detail["vola_item_type"], Decimal(str(detail["vola_amt"]))) == (
        "R1",
        "1",
        Decimal("10.00"),
    )
    assert len(row["jr_id"]) == 41 and row["jr_id"].startswith("W")
    # Nothing of the proposal remains and no hit was recorded; the same order asked again (事中, 3102)
    # names the same warning.
    assert await counts(desk) == before
    again = await desk.ok("3102", analysis(patient, "HIS-MZ-9", orders))
    assert [r["jr_id"] for r in again["result"]] == [row["jr_id"]]

    # On 2026-11-28 only 2 days are left: tolerated. Another rule only: not asked.
    later = [order("R1", "A", "20", "0.5", "10.00", "2026-11-28 09:00:00")]
    assert (await desk.ok("3101", analysis(patient, "HIS-MZ-9", later)))["result"] == []
    only_daily = analysis(patient, "HIS-MZ-9", orders)
    only_daily["data"]["rule_ids"] = ["daily_count"]
    assert (await desk.ok("3101", only_daily))["result"] == []
    named = analysis(patient, "HIS-MZ-9", orders)
    named["data"]["rule_ids"] = "days_supply,daily_count"  # one string, as some HIS send it
    assert [r["rule_id"] for r in (await desk.ok("3101", named))["result"]] == ["days_supply"]
    # An earlier order sent as history (curr_drord_flag 0) is not judged.
    history = [order("R0", "A", "20", "0.5", "10.00", "2026-11-25 09:00:00", curr_drord_flag="0"), orders[1]]
    assert (await desk.ok("3101", analysis(patient, "HIS-MZ-9", history)))["result"] == []


async def test_3101_finds_a_stay_elsewhere_at_the_same_time(desk: Desk) -> None:
    other = {
        "fixmedins_code": OTHER_HOSPITAL,
        "fixmedins_name": "乡镇卫生院",
        "fixmedins_type": "1",
        "hosp_lv": "1",
        "admdvs": REGION,
        "agreement_begin": "2025-01-01",
    }
    assert (await desk.api.post("/api/v1/institutions", other)).status_code == 201
    patient = await desk.person()

    async def admit(at: str, ipt_no: str, begntime: str) -> str:
        mdtrtinfo = {
            **patient.who,
            "insutype": "390",
            "begntime": begntime,
            "med_type": "21",
            "ipt_no": ipt_no,
        }
        admitted = await desk.ok("2401", {"mdtrtinfo": mdtrtinfo, "diseinfo": []}, at=at)
        mdtrt_id: str = admitted["result"]["mdtrt_id"]
        return mdtrt_id

    await admit(OTHER_HOSPITAL, "ZY-X1", "2026-11-20 08:00:00")  # still in hospital there
    stay = await admit(HOSPITAL, "ZY0001", "2026-11-21 08:00:00")
    orders = [order("R1", "B", "2", "20", "40.00", "2026-11-21 09:00:00")]
    body = analysis(patient, stay, orders, med_type="21", med_mdtrt_type="2")
    (row,) = (await desk.ok("3101", body))["result"]
    # The order as a whole (no line of it in particular): severity 1.
    assert (row["rule_id"], row["sev_deg"], row["mdtrt_id"]) == ("overlapping_admissions", "1", stay)
    assert row["judge_result_detail_dtos"] == [] and Decimal(str(row["vola_amt"])) == 0


async def test_3103_records_the_feedback_once_per_msgid(desk: Desk) -> None:
    patient = await desk.person()
    await buy_with_supply(patient)
    orders = [order("R1", "A", "20", "0.5", "10.00", "2026-11-25 09:00:00")]
    (row,) = (await desk.ok("3101", analysis(patient, "HIS-MZ-9", orders)))["result"]
    warning = row["jr_id"]

    async def stored() -> list[tuple[str, str, str, str]]:
        async with desk.api.db.session() as session:
            rows = await session.scalars(select(PrecheckFeedback).order_by(col(PrecheckFeedback.id)))
            return [(r.fixmedins_code, r.warn_rslt_id, r.dspo_way, r.dspo_way_rea) for r in rows]

    # Going on needs a reason: refused, nothing kept.
    go_on = {"warn_rslt_id": warning, "dspo_way": "1", "dspo_way_rea": ""}
    refused(await desk.send("3103", {"data": {"warn_type": "1", "warns": [go_on]}}), "FEEDBACK_REASON")
    refused(await desk.send("3103", {"data": {"warn_type": "3", "warns": [go_on]}}), "E_INPUT")
    bad_id = {**go_on, "warn_rslt_id": "R01"}
    refused(await desk.send("3103", {"data": {"warn_type": "1", "warns": [bad_id]}}), "E_INPUT")
    assert await stored() == []

    body = {"data": {"warn_type": "1", "warns": [{**go_on, "dspo_way_rea": "病情需要，已告知患者"}]}}
    msgid = desk.msgid()
    first = await desk.send("3103", body, msgid=msgid)
    assert first["infcode"] == 0, first["err_msg"]
    assert first["output"] == {"result": {"warn_type": "1", "warn_rslt_id": [warning]}}
    assert await desk.send("3103", body, msgid=msgid) == first
    assert await stored() == [(HOSPITAL, warning, "1", "病情需要，已告知患者")]


async def test_3101_bad_input_is_refused(desk: Desk) -> None:
    patient = await desk.person()
    orders = [order("R1", "A", "20", "0.5", "10.00", "2026-11-25 09:00:00")]
    unknown_rule = analysis(patient, "M1", orders)
    unknown_rule["data"]["rule_ids"] = ["no_such_rule"]
    refused(await desk.send("3101", unknown_rule), "RULE_NOT_FOUND")
    refused(await desk.send("3101", {"data": {"patient_dtos": []}}), "E_INPUT")
    negative = [order("R1", "A", "-1", "0.5", "10.00", "2026-11-25 09:00:00")]
    refused(await desk.send("3101", analysis(patient, "M1", negative)), "E_INPUT")
    no_current = [order("R1", "A", "1", "0.5", "0.50", "2026-11-25 09:00:00", curr_drord_flag="0")]
    refused(await desk.send("3101", analysis(patient, "M1", no_current)), "E_INPUT")
    bad_time = [order("R1", "A", "1", "0.5", "0.50", "2026-13-25 09:00:00")]
    refused(await desk.send("3101", analysis(patient, "M1", bad_time)), "E_INPUT")
