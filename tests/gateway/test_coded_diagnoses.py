"""Diagnosis rows and operations as coded lists, through the gateway in front of the real settlement service
(both backends): every western-medicine ``diseinfo`` row (``diag_code``) of 2203 / 2401 / 2402 / 2403 must
be on the diagnosis list (1307, ICD-10 医保版) and the ``oprn_oprt_code`` of 2401 / 2402 on the procedure
list (1308, ICD-9-CM-3 医保版) in force on the day care began; otherwise the transaction is refused naming
the row, and nothing changes (docs/domain.md, "Diagnosis and procedure codes").

The lists are the demo's (``platformctl/demo_diagnoses.csv``, ``demo_procedures.csv``): J18.900 肺炎,
I10.x00 原发性高血压, J06.900 急性上呼吸道感染; 47.0100 腹腔镜下阑尾切除术. ``J18.999`` and ``99.9999`` are
on neither."""

from __future__ import annotations

from typing import Any

from tests.gateway.desk import WHEN, Desk, desk, refused
from tests.gateway.test_queries import admit, answered, row

__all__ = ["desk"]

UNKNOWN_DISE, UNKNOWN_OPRN = "J18.999", "99.9999"


def unknown_row_message(number: int, code: str = UNKNOWN_DISE) -> str:
    return (
        f"[DISE_CODE_UNKNOWN] diseinfo 第 {number} 行诊断编码 {code} 不在 2026-11-20 有效的疾病与诊断目录中"
        "（请按【1307】下载的编码填写）"
    )


def admission(patient: Any, ipt_no: str, rows: list[dict[str, Any]], **info: Any) -> dict[str, Any]:
    mdtrtinfo = {
        **patient.who,
        "insutype": "390",
        "begntime": WHEN,
        "med_type": "21",
        "ipt_no": ipt_no,
        "dise_codg": "J18.900",
        "dise_name": "肺炎",
        **info,
    }
    return {"mdtrtinfo": mdtrtinfo, "diseinfo": rows}


async def test_an_admission_names_listed_diagnoses_and_operations(desk: Desk) -> None:
    patient = await desk.person()
    second_unknown = [row(1, "J18.900", "肺炎", "1"), row(2, UNKNOWN_DISE, "肺炎(自编)", "0")]
    answer = await desk.send("2401", admission(patient, "ZY0101", second_unknown))
    refused(answer, "DISE_CODE_UNKNOWN")
    assert answer["err_msg"] == unknown_row_message(2)
    operated = admission(patient, "ZY0101", [row(1, "J18.900", "肺炎", "1")], oprn_oprt_code=UNKNOWN_OPRN)
    answer = await desk.send("2401", operated)
    refused(answer, "OPRN_CODE_UNKNOWN")
    assert answer["err_msg"] == (
        f"[OPRN_CODE_UNKNOWN] 手术操作编码 {UNKNOWN_OPRN} 不在 2026-11-20 有效的手术操作目录中"
        "（请按【1308】下载的编码填写）"
    )
    # Nothing was admitted: the person has no stay here.
    listed = await desk.ok("5201", {"data": {"psn_no": patient.psn_no, "begntime": WHEN}})
    assert listed == {"mdtrtinfo": []}
    # Listed codes, and a TCM row (diag_type 2, coded in the TCM lists, not checked): admitted.
    rows = [
        row(1, "J18.900", "肺炎", "1"),
        row(2, "I10.x00", "原发性高血压", "0"),
        row(3, "A01.03.06", "风温肺热病", "0", diag_type="2"),
    ]
    admitted = await desk.ok("2401", admission(patient, "ZY0101", rows, oprn_oprt_code="47.0100"))
    stay_id = admitted["result"]["mdtrt_id"]
    query = {"data": {"psn_no": patient.psn_no, "mdtrt_id": stay_id}}
    assert [r[4] for r in answered((await desk.ok("5202", query))["diseinfo"])] == [
        "J18.900",
        "I10.x00",
        "A01.03.06",
    ]


async def test_a_change_and_a_discharge_name_listed_codes(desk: Desk) -> None:
    patient = await desk.person()
    stay_id = await admit(patient, "ZY0102", WHEN)
    ours = {"mdtrt_id": stay_id, "psn_no": patient.psn_no}
    query = {"data": ours}
    kept = answered((await desk.ok("5202", query))["diseinfo"])

    # 2403: an unknown first row refused; the admission's rows as they were.
    change = {"adminfo": {**ours, "med_type": "21"}, "diseinfo": [row(1, UNKNOWN_DISE, "肺炎", "1")]}
    answer = await desk.send("2403", change)
    refused(answer, "DISE_CODE_UNKNOWN")
    assert answer["err_msg"] == unknown_row_message(1)
    assert answered((await desk.ok("5202", query))["diseinfo"]) == kept

    # 2402: an unknown discharge row, then an unknown operation; the stay stays open.
    dscginfo = {**ours, "insutype": "390", "endtime": WHEN, "dscg_way": "1"}
    rows = [
        row(1, "J18.900", "肺炎", "1"),
        row(2, "I10.x00", "原发性高血压", "0"),
        row(3, "I10", "高血压", "0"),
    ]
    answer = await desk.send("2402", {"dscginfo": dscginfo, "diseinfo": rows})
    refused(answer, "DISE_CODE_UNKNOWN")
    assert answer["err_msg"] == unknown_row_message(3, "I10")  # I10 is a 病种, not an ICD-10 医保版 code
    operated = {"dscginfo": {**dscginfo, "oprn_oprt_code": UNKNOWN_OPRN}, "diseinfo": rows[:2]}
    refused(await desk.send("2402", operated), "OPRN_CODE_UNKNOWN")
    assert answered((await desk.ok("5202", query))["diseinfo"]) == kept  # no discharge rows
    # Listed: discharged, with its rows.
    await desk.ok("2402", {"dscginfo": {**dscginfo, "oprn_oprt_code": "47.0100"}, "diseinfo": rows[:2]})
    discharged = answered((await desk.ok("5202", query))["diseinfo"])
    assert [(r[0], r[4]) for r in discharged if r[0] == "2"] == [("2", "J18.900"), ("2", "I10.x00")]


async def test_an_outpatient_visit_names_listed_diagnoses(desk: Desk) -> None:
    patient = await desk.person()
    registered = await desk.ok(
        "2201", {"data": {**patient.who, "insutype": "390", "begntime": WHEN, "ipt_otp_no": "MZ0101"}}
    )
    mdtrt_id = registered["data"]["mdtrt_id"]
    info = {"mdtrt_id": mdtrt_id, "psn_no": patient.psn_no, "med_type": "11", "begntime": WHEN}
    rows = [
        {"diag_type": "1", "diag_srt_no": 1, "diag_code": "J06.900", "diag_name": "急性上呼吸道感染"},
        {"diag_type": "1", "diag_srt_no": 2, "diag_code": UNKNOWN_DISE, "diag_name": "肺炎"},
    ]
    answer = await desk.send("2203", {"mdtrtinfo": info, "diseinfo": rows})
    refused(answer, "DISE_CODE_UNKNOWN")
    assert answer["err_msg"] == unknown_row_message(2)
    query = {"data": {"psn_no": patient.psn_no, "mdtrt_id": mdtrt_id}}
    assert (await desk.ok("5202", query))["diseinfo"] == []
    await desk.ok("2203", {"mdtrtinfo": info, "diseinfo": rows[:1]})
    assert answered((await desk.ok("5202", query))["diseinfo"]) == [
        ("1", "1", "1", 1, "J06.900", "急性上呼吸道感染")
    ]
