"""Issue 27: every output field of 5201 (就诊信息), 5202 (诊断信息) and 5204 (费用明细) with its value,
through the gateway in front of the real settlement service (both backends), for one hand-built stay: admitted
with its contact, doctor, department and diagnoses (2401), two fee lines of known list entries with their
prescription details (2301), one of them mapped to the hospital's own name (3301), discharged with its
discharge diagnoses and department (2402), settled (2304). Each value below is worked out from those
inputs, the seeded person and the list entries (docs/interface.md, "Queries"); what the platform does not
hold is "" (the "not held" lists there).

The desk (tests/gateway/desk.py) sends every envelope as operator ``001`` 收款员
(``platformctl.examples.envelope``); the person is covered for 2026 as 人员类别 1501, born 1985-03-12,
测试人员, gend 1, no 民族 told (``tests.settlement.conftest.SettlementApi.identify`` / ``cover``)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from gateway.nhsa import queries

from shared.clock import format_wire_time, now_china
from shared.contracts.v1.events import IdentityCategory
from shared.contracts.v1.queries import VisitOut
from tests.gateway.desk import WHEN, Desk, Patient, desk, line
from tests.settlement.conftest import HOSPITAL, PHARMACY, REGION, new_person

__all__ = ["desk"]

ADMITTED = "2026-11-17 08:00:00"
CHARGED = "2026-11-18 09:00:00"
DISCHARGED = "2026-11-20 10:00:00"
TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")

#: A negotiated essential drug the list restricts (paid with the hospital's approval), 乙类 at 10 % first.
NEGOTIATED = {
    "med_list_codg": "N",
    "name": "谈判药",
    "med_chrgitm_type": "09",
    "chrgitm_lv": "2",
    "selfpay_prop": "0.1",
    "restricted": True,
    "essential_drug": True,
    "negotiated_drug": True,
}
#: What 2401 sends of the stay beyond what settling uses.
ADMISSION = {
    "coner_name": "张三",
    "tel": "13800000000",
    "medrcdno": "BA0001",
    "atddr_no": "D001",
    "chfpdr_name": "王医生",
    "adm_dept_codg": "HX",
    "adm_dept_name": "呼吸内科",
    "adm_bed": "12",
    "main_cond_dscr": "发热咳嗽三天",
}
#: What 2402 sends.
DISCHARGE = {"dscg_dept_codg": "HX2", "dscg_dept_name": "呼吸内科二病区", "dscg_bed": "15", "dscg_way": "1"}
#: What each 2301 line sends beyond what settling uses, under the names 5204 answers them by.
PRESCRIBED = {
    "sin_dos_dscr": "0.25g",
    "used_frqu_dscr": "tid",
    "medc_way_dscr": "口服",
    "bilg_dept_codg": "HX",
    "bilg_dept_name": "呼吸内科",
    "bilg_dr_codg": "D001",
    "bilg_dr_name": "王医生",
    "acord_dept_codg": "YJ",
    "acord_dept_name": "药剂科",
    "orders_dr_code": "D002",
    "orders_dr_name": "李医生",
    "tcmdrug_used_way": "",
    "etip_flag": "0",
    "etip_hosp_code": "",
    "dscg_tkdrug_flag": "0",
    "matn_fee_flag": "0",
}


async def admit(patient: Patient, ipt_no: str) -> str:
    admitted = await patient.desk.ok(
        "2401",
        {
            "mdtrtinfo": {
                **patient.who,
                **ADMISSION,
                "insutype": "390",
                "begntime": ADMITTED,
                "med_type": "21",
                "ipt_no": ipt_no,
                "dise_codg": "J18.900",
                "dise_name": "肺炎",
            },
            "diseinfo": [
                {
                    "diag_type": "1",
                    "diag_srt_no": 1,
                    "diag_code": "J18.900",
                    "diag_name": "肺炎",
                    "maindiag_flag": "1",
                    "diag_dept": "呼吸内科",
                    "dise_dor_no": "D001",
                    "dise_dor_name": "王医生",
                    "diag_time": ADMITTED,
                }
            ],
        },
    )
    mdtrt_id: str = admitted["result"]["mdtrt_id"]
    return mdtrt_id


async def discharge(patient: Patient, mdtrt_id: str) -> None:
    ours = {"mdtrt_id": mdtrt_id, "psn_no": patient.psn_no}
    rows = [
        {
            "diag_type": "1",
            "diag_srt_no": 1,
            "diag_code": "J18.000",
            "diag_name": "支气管肺炎",
            "maindiag_flag": "1",
        },
        {
            "diag_type": "1",
            "diag_srt_no": 2,
            "diag_code": "I10.x00",
            "diag_name": "原发性高血压",
            "maindiag_flag": "0",
        },
    ]
    dscginfo = {**ours, **DISCHARGE, "insutype": "390", "endtime": DISCHARGED}
    await patient.desk.ok("2402", {"dscginfo": dscginfo, "diseinfo": rows})


async def stay(desk: Desk) -> tuple[Patient, str, str]:
    """The hand-built stay, settled: (patient, mdtrt_id, setl_id)."""
    assert (await desk.api.post("/api/v1/catalogue/items", NEGOTIATED)).status_code == 201
    mapped = {
        "fixmedins_hilist_id": "HN",
        "fixmedins_hilist_name": "谈判药注射液",
        "list_type": "101",
        "med_list_codg": "N",
        "begndate": "2026-01-01",
    }
    await desk.ok("3301", {"data": mapped})
    patient = await desk.person()
    mdtrt_id = await admit(patient, "ZY2701")
    ours = {"mdtrt_id": mdtrt_id, "psn_no": patient.psn_no, "fee_ocur_time": CHARGED}
    lines = [
        {**line("1", "A", "60", "0.6", "36.00"), **PRESCRIBED, **ours, "drord_no": "YZ001"},
        {
            **line("2", "N", "2", "50", "100.00"),
            **PRESCRIBED,
            **ours,
            "drord_no": "YZ002",
            "hosp_appr_flag": "1",
        },
    ]
    await desk.ok("2301", {"feedetail": lines})
    await discharge(patient, mdtrt_id)
    settle = {
        **patient.who,
        # 36.00 + 100.00
        "medfee_sumamt": "136.00",
        "psn_setlway": "01",
        "mdtrt_id": mdtrt_id,
        "insutype": "390",
        "acct_used_flag": "0",
        "mid_setl_flag": "0",
    }
    settled = (await desk.ok("2304", {"data": settle}))["setlinfo"]
    return patient, mdtrt_id, str(settled["setl_id"])


def recorded(row: dict[str, Any], since: str) -> None:
    """Recorded by the desk's operator, at a time of this test."""
    assert (row["opter_id"], row["opter_name"]) == ("001", "收款员")
    assert TIME.match(row["opt_time"]) and since <= row["opt_time"] <= format_wire_time(now_china())


async def test_5201_answers_every_field_of_the_stay(desk: Desk) -> None:
    since = format_wire_time(now_china())
    patient, mdtrt_id, _ = await stay(desk)
    (row,) = (await desk.ok("5201", {"data": {"psn_no": patient.psn_no, "begntime": "2026-11-01 00:00:00"}}))[
        "mdtrtinfo"
    ]
    recorded(row, since)
    del row["opter_id"], row["opter_name"], row["opt_time"]
    assert row == {
        "mdtrt_id": mdtrt_id,
        "psn_no": patient.psn_no,
        # The person as covered: an ID card number (01), born 1985-03-12, so 41 on 2026-11-17.
        "psn_cert_type": "01",
        "certno": patient.certno,
        "psn_name": "测试人员",
        "gend": "1",
        "naty": "",
        "brdy": "1985-03-12",
        "age": 41,
        "insutype": "390",
        "psn_type": "1501",
        # No identity held, so not a medical-assistance person; resident insurance: no civil-servant
        # subsidy, no employer; insured in the demo region.
        "maf_psn_flag": "0",
        "cvlserv_flag": "0",
        "emp_name": "",
        "insu_optins": REGION,
        "fixmedins_code": HOSPITAL,
        "ipt_otp_no": "ZY2701",
        "mdtrt_cert_type": "02",
        "med_type": "21",
        "begntime": ADMITTED,
        "endtime": DISCHARGED,
        # Admitted and discharged in 2026: not a cross-year stay; discharged: not in hospital; 17 Nov to
        # 20 Nov: 20 - 17 = 3 days.
        "ars_year_ipt_flag": "0",
        "inhosp_stas": "0",
        "ipt_days": 3,
        "dise_codg": "J18.900",
        "dise_name": "肺炎",
        # The discharge's main diagnosis row.
        "dscg_maindiag_code": "J18.000",
        "dscg_maindiag_name": "支气管肺炎",
        **ADMISSION,
        **DISCHARGE,
        "matn_type": "",
        # Sent by neither call: "".
        "oprn_oprt_code": "",
        "oprn_oprt_name": "",
        "fpsc_no": "",
        "birctrl_type": "",
        "latechb_flag": "",
        "pret_flag": "",
        "cop_flag": "",
        # Not held (docs/interface.md, 5201 "not held").
        "flxempe_flag": "",
        "nwb_flag": "",
        "pre_pay_flag": "",
        "otp_diag_info": "",
        "memo": "",
    }


async def test_a_discharge_taken_back_takes_its_fields_with_it(desk: Desk) -> None:
    patient = await desk.person()
    mdtrt_id = await admit(patient, "ZY2702")
    await discharge(patient, mdtrt_id)
    await desk.ok("2405", {"data": {"mdtrt_id": mdtrt_id, "psn_no": patient.psn_no}})
    (row,) = (await desk.ok("5201", {"data": {"psn_no": patient.psn_no, "begntime": ADMITTED}}))["mdtrtinfo"]
    # In hospital again: no end, no days, no discharge diagnosis or department.
    assert "endtime" not in row and "ipt_days" not in row
    assert row["inhosp_stas"] == "1"
    assert [row[k] for k in ("dscg_maindiag_code", *DISCHARGE)] == [""] * 5
    # What the admission told stays.
    assert {k: row[k] for k in ADMISSION} == ADMISSION


async def test_5202_names_who_recorded_each_diagnosis(desk: Desk) -> None:
    since = format_wire_time(now_china())
    patient, mdtrt_id, _ = await stay(desk)
    rows = (await desk.ok("5202", {"data": {"psn_no": patient.psn_no, "mdtrt_id": mdtrt_id}}))["diseinfo"]
    # The admission's row (2401), then the discharge's two (2402).
    assert [(r["inout_diag_type"], r["diag_code"], r["maindiag_flag"]) for r in rows] == [
        ("1", "J18.900", "1"),
        ("2", "J18.000", "1"),
        ("2", "I10.x00", "0"),
    ]
    for r in rows:
        recorded(r, since)
    first = rows[0]
    assert (first["diag_dept"], first["dise_dor_no"], first["dise_dor_name"], first["diag_time"]) == (
        "呼吸内科",
        "D001",
        "王医生",
        ADMITTED,
    )
    # The discharge rows were sent without 诊断科室 / 医生 / 时间 / 入院病情: "" and no time.
    assert (rows[1]["diag_dept"], rows[1]["dise_dor_name"], rows[1]["adm_cond"]) == ("", "", "")
    assert "diag_time" not in rows[1]


async def test_5204_answers_each_lines_entry_marks_and_prescription(desk: Desk) -> None:
    since = format_wire_time(now_china())
    patient, mdtrt_id, setl_id = await stay(desk)
    rows = (await desk.ok("5204", {"data": {"psn_no": patient.psn_no, "mdtrt_id": mdtrt_id}}))["feedetail"]
    assert [r["feedetl_sn"] for r in rows] == ["1", "2"]
    for r in rows:
        recorded(r, since)
        assert (r["setl_id"], r["mdtrt_id"], r["med_type"], r["fee_ocur_time"]) == (
            setl_id,
            mdtrt_id,
            "21",
            CHARGED,
        )
        assert {k: r[k] for k in PRESCRIBED} == PRESCRIBED
        # The list keeps no product data (docs/interface.md, 5204 "not held").
        assert [r[k] for k in ("prodname", "spec", "dosform_name", "hosp_prep_flag", "prodplac_type")] == [
            ""
        ] * 5
    a, n = rows

    def money(row: dict[str, Any], *names: str) -> list[Decimal]:
        return [Decimal(str(row[k])) for k in names]

    amounts = ("det_item_fee_sumamt", "fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt", "inscp_scp_amt")
    # A, 甲类 capped at 0.50: 60 x 0.60 = 36.00, of which 60 x (0.60 - 0.50) = 6.00 over the cap and
    # 36.00 - 6.00 = 30.00 in the policy range, nothing first.
    assert money(a, *amounts) == [
        Decimal("36.00"),
        Decimal("0.00"),
        Decimal("6.00"),
        Decimal("0.00"),
        Decimal("30.00"),
    ]
    assert (Decimal(str(a["pric_uplmt_amt"])), Decimal(str(a["selfpay_prop"]))) == (
        Decimal("0.5"),
        Decimal(0),
    )
    # N, 乙类 at 10 %, restricted and approved (hosp_appr_flag 1): 2 x 50.00 = 100.00, 10.00 first,
    # 90.00 in range; no cap, so pric_uplmt_amt is left out.
    assert money(n, *amounts) == [
        Decimal("100.00"),
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("10.00"),
        Decimal("90.00"),
    ]
    assert "pric_uplmt_amt" not in n and Decimal(str(n["selfpay_prop"])) == Decimal("0.1")
    # The entries as listed: names, 09 西药 is on the 101 list; the marks N carries and A does not.
    flags = (
        "lmt_used_flag",
        "bas_medn_flag",
        "hi_nego_drug_flag",
        "chld_medc_flag",
        "list_sp_item_flag",
        "drt_reim_flag",
    )
    assert [a[k] for k in ("hilist_code", "hilist_name", "list_type", "chrgitm_lv", "med_chrgitm_type")] == [
        "A",
        "甲类药",
        "101",
        "1",
        "09",
    ]
    assert [n[k] for k in ("hilist_code", "hilist_name", "list_type", "chrgitm_lv", "med_chrgitm_type")] == [
        "N",
        "谈判药",
        "101",
        "2",
        "09",
    ]
    assert [a[k] for k in flags] == ["0"] * 6
    assert [n[k] for k in flags] == ["1", "1", "1", "0", "0", "0"]
    # The hospital's codes, and its own name of HN from its mapping (3301); HA is not mapped.
    assert [(r["medins_list_codg"], r["medins_list_name"]) for r in rows] == [
        ("HA", ""),
        ("HN", "谈判药注射液"),
    ]
    # As uploaded: approval ("" sent: 0 无须审批), the order numbers.
    assert [(r["hosp_appr_flag"], r["rx_drord_no"]) for r in rows] == [("0", "YZ001"), ("1", "YZ002")]


async def test_an_outpatient_visit_and_a_pharmacy_purchase(desk: Desk) -> None:
    # Covered with identity 2101 from 1 Jan: the demo policy in force gives 2101 medical assistance.
    psn_no, certno = new_person(15)
    held = IdentityCategory(psn_idet_type="2101", begin_date=date(2026, 1, 1))
    await desk.api.cover(psn_no, certno, identities=(held,))
    patient = Patient(desk, psn_no, certno)
    registration = {
        **patient.who,
        "insutype": "390",
        "begntime": WHEN,
        "ipt_otp_no": "MZ2701",
        "atddr_no": "D003",
        "dr_name": "赵医生",
        "dept_code": "NK",
        "dept_name": "内科",
    }
    visit_id = (await desk.ok("2201", {"data": registration}))["data"]["mdtrt_id"]
    info = {"mdtrt_id": visit_id, "psn_no": psn_no, "med_type": "11", "main_cond_dscr": "咳嗽两天"}
    await desk.ok("2203", {"mdtrtinfo": info})
    (row,) = (await desk.ok("5201", {"data": {"psn_no": psn_no, "begntime": WHEN}}))["mdtrtinfo"]
    # The registration's doctor and department under the 5201 names, and 2203's 病情.
    assert [
        row[k] for k in ("atddr_no", "chfpdr_name", "adm_dept_codg", "adm_dept_name", "main_cond_dscr")
    ] == [
        "D003",
        "赵医生",
        "NK",
        "内科",
        "咳嗽两天",
    ]
    # Assisted; an outpatient visit is never in hospital nor a cross-year stay, and has no stay days.
    assert [row[k] for k in ("maf_psn_flag", "inhosp_stas", "ars_year_ipt_flag", "dscg_maindiag_code")] == [
        "1",
        "0",
        "0",
        "",
    ]
    assert "ipt_days" not in row and "endtime" not in row
    assert (row["opter_id"], row["opter_name"]) == ("001", "收款员")

    # A purchase at the pharmacy: 10 x A at 0.50 = 5.00 (甲, at its cap), its own visit.
    drug = {**line("1", "A", "10", "0.5", "5.00"), "rxno": "CF001"}
    druginfo = {**patient.who, "begntime": WHEN, "medfee_sumamt": "5.00", "insutype": "390", "med_type": "41"}
    bought = (await desk.ok("2102", {"druginfo": druginfo, "drugdetail": [drug]}, at=PHARMACY))["setlinfo"]
    (row,) = (await desk.ok("5201", {"data": {"psn_no": psn_no, "begntime": WHEN}}, at=PHARMACY))["mdtrtinfo"]
    # No hospital number, no registration operator kept for a purchase (docs/interface.md, 5201).
    assert (row["mdtrt_id"], row["ipt_otp_no"], row["med_type"], row["opter_id"]) == (
        bought["mdtrt_id"],
        "",
        "41",
        "",
    )
    assert row["endtime"] == bought["setl_time"]
    query = {"psn_no": psn_no, "mdtrt_id": bought["mdtrt_id"]}
    (fee,) = (await desk.ok("5204", {"data": query}, at=PHARMACY))["feedetail"]
    assert [fee[k] for k in ("hilist_code", "hilist_name", "list_type", "medins_list_name")] == [
        "A",
        "甲类药",
        "101",
        "",
    ]
    # Nothing of an uploaded line for a purchase: no approval, no prescription kept, no operator.
    assert [fee[k] for k in ("hosp_appr_flag", "rx_drord_no", "opter_id", "opter_name")] == [""] * 4
    assert fee["opt_time"] == bought["setl_time"]


def visit(begin: str, end: str | None, **more: Any) -> VisitOut:
    return VisitOut(
        mdtrt_id="M1",
        psn_no="P1",
        fixmedins_code=HOSPITAL,
        ipt_otp_no="ZY1",
        insutype="390",
        med_type="21",
        begntime=datetime.fromisoformat(begin),
        endtime=datetime.fromisoformat(end) if end else None,
        dise_codg=None,
        dise_name=None,
        matn_type=None,
        status="discharged" if end else "open",
        setting="inpatient",
        **more,
    )


def test_a_stay_across_new_year_is_flagged() -> None:
    stay = visit
    # Beijing dates: 2025-12-31 23:00 +08:00 to 2026-01-02 is two years; 2025-12-31 16:00 UTC is already
    # 2026-01-01 in Beijing, so that stay is within 2026.
    assert (
        queries.mdtrtinfo(stay("2025-12-31T23:00:00+08:00", "2026-01-02T10:00:00+08:00"))["ars_year_ipt_flag"]
        == "1"
    )
    assert (
        queries.mdtrtinfo(stay("2025-12-31T16:00:00+00:00", "2026-01-02T10:00:00+08:00"))["ars_year_ipt_flag"]
        == "0"
    )
    # Open since a year before now: across the new year.
    assert queries.mdtrtinfo(stay("2025-06-01T10:00:00+08:00", None))["ars_year_ipt_flag"] == (
        "1" if now_china().year > 2025 else "0"
    )


def test_kept_numbers_and_days_are_answered_typed() -> None:
    """2402's 孕周数 / 胎次 / 胎儿数 and days as kept (numbers as numbers, days as days); anything else
    written to the settlement service directly is left out rather than answered mistyped."""
    kept = {
        "geso_val": "38",
        "fetus_cnt": "1",
        "fetts": "two",
        "die_date": "2026-11-20",
        "birctrl_matn_date": "x",
    }
    row = queries.mdtrtinfo(visit("2026-11-17T08:00:00+08:00", "2026-11-20T10:00:00+08:00", details=kept))
    assert (row["geso_val"], row["fetus_cnt"], row["die_date"]) == (Decimal(38), Decimal(1), "2026-11-20")
    assert "fetts" not in row and "birctrl_matn_date" not in row
