"""2201-2208, 2301-2305 and 2401-2405 routed to the settlement service's encounter endpoints through a
``Downstream`` whose HTTP transport is a fake settlement service: which endpoints in which order, which body,
what is refused before anything is sent, which failure becomes what. Then the same on the wire, with the
message log on a real database: refusals as infcode -1, warnings in warn_msg, a lost 2207/2304 answer and its
2601 冲正."""

from __future__ import annotations

from typing import Any

import pytest
from gateway.protocol.envelope import Answer, RequestEnvelope
from gateway.protocol.errors import OutcomeUnknown, Refusal

from platformctl import examples
from tests.gateway.factories import (
    HOSPITAL,
    PSN_NO,
    STAY_ID,
    STAY_SETL_ID,
    VISIT_ID,
    VISIT_SETL_ID,
    FakeSettlement,
    Gateway,
    classified,
    downstream_for,
    negated,
    refusal,
    run_handler,
    stay,
    stay_settlement,
    timeout,
    visit,
    visit_settlement,
)

CERTNO = "34152419850312013X"
WHEN = "2026-11-20 10:00:00"
OTHER_HOSPITAL = "H34152400002"
OPEN = ("POST", "/api/v1/encounters")
VOIDS = ("POST", "/api/v1/voids")


def get(mdtrt_id: str, fixmedins_code: str = HOSPITAL) -> tuple[str, str]:
    return "GET", f"/api/v1/encounters/{mdtrt_id}?fixmedins_code={fixmedins_code}"


def post(mdtrt_id: str, tail: str, *, query: bool = False) -> tuple[str, str]:
    return "POST", f"/api/v1/encounters/{mdtrt_id}{tail}" + (f"?fixmedins_code={HOSPITAL}" if query else "")


def get_settlement(setl_id: str) -> tuple[str, str]:
    return "GET", f"/api/v1/settlements/{setl_id}"


def reverse(setl_id: str) -> tuple[str, str]:
    return "POST", f"/api/v1/settlements/{setl_id}/reversal"


def msgid(sequence: int, fixmedins_code: str = HOSPITAL) -> str:
    return f"{fixmedins_code}20261120100000{sequence:04d}"


def message(
    infno: str, sequence: int, body: dict[str, Any], fixmedins_code: str = HOSPITAL, **changes: Any
) -> dict[str, Any]:
    wire = examples.envelope(
        infno, msgid(sequence, fixmedins_code), body, insuplc_admdvs="341524", fixmedins_code=fixmedins_code
    )
    return {**wire, "inf_time": WHEN, **changes}


async def answered(fake: FakeSettlement, body: dict[str, Any]) -> Answer:
    downstream = await downstream_for(fake)
    try:
        envelope = RequestEnvelope.model_validate(body)
        result = await run_handler(envelope, downstream)
    finally:
        await downstream.close()
    return result if isinstance(result, Answer) else Answer(result)


async def handle(fake: FakeSettlement, body: dict[str, Any]) -> dict[str, Any]:
    result = await answered(fake, body)
    assert result.warn_msg is None, result.warn_msg
    return result.output


async def refused_by(fake: FakeSettlement, body: dict[str, Any]) -> Refusal:
    with pytest.raises(Refusal) as caught:
        await answered(fake, body)
    return caught.value


# --- bodies as a HIS sends them --------------------------------------------------------------------------


def registration(**changes: Any) -> dict[str, Any]:
    data = {
        "psn_no": PSN_NO,
        "insutype": "390",
        "begntime": WHEN,
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": CERTNO,
        "ipt_otp_no": "MZ20261120001",
        "atddr_no": "D001",
        "dr_name": "李医生",
        "dept_code": "NK",
        "dept_name": "内科",
        "caty": "A03",
        "expContent": "",
    }
    data.update(changes)
    return {"data": data}


def fee_line(sn: str, mdtrt_id: str = VISIT_ID, **changes: Any) -> dict[str, Any]:
    line = {
        "feedetl_sn": sn,
        "mdtrt_id": mdtrt_id,
        "psn_no": PSN_NO,
        "chrg_bchno": "B001",
        "fee_ocur_time": WHEN,
        "med_list_codg": "XJ01CAA040A001010100001",
        "medins_list_codg": "YP0001",
        "det_item_fee_sumamt": "30.00",
        "cnt": "60",
        "pric": "0.5",
        "hosp_appr_flag": "",
    }
    line.update(changes)
    return line


def two_lines(mdtrt_id: str = VISIT_ID, **changes: Any) -> list[dict[str, Any]]:
    danshen = {
        "med_list_codg": "ZA12AAD0001010100001",
        "medins_list_codg": "YP0002",
        "cnt": "3",
        "pric": "20",
    }
    return [
        fee_line("1", mdtrt_id, **changes),
        fee_line("2", mdtrt_id, **{**danshen, "det_item_fee_sumamt": "60.00", **changes}),
    ]


def visit_settle(**changes: Any) -> dict[str, Any]:
    data = {
        "psn_no": PSN_NO,
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": CERTNO,
        "med_type": "11",
        "medfee_sumamt": "90.00",
        "psn_setlway": "01",
        "mdtrt_id": VISIT_ID,
        "chrg_bchno": "B001",
        "insutype": "390",
        "acct_used_flag": "0",
        "invono": "FP0001",
        "fulamt_ownpay_amt": "0.00",
        "overlmt_selfpay": "0.00",
        "preselfpay_amt": "6.00",
        "inscp_scp_amt": "84.00",
    }
    data.update(changes)
    return {"data": data}


def stay_settle(**changes: Any) -> dict[str, Any]:
    data = visit_settle(**{"mdtrt_id": STAY_ID, "mid_setl_flag": "0", **changes})["data"]
    del data["chrg_bchno"], data["med_type"]
    return {"data": data}


def settle_body(sequence: int, mdtrt_id: str = VISIT_ID, **changes: Any) -> dict[str, Any]:
    body = {
        "msgid": msgid(sequence),
        "fixmedins_code": HOSPITAL,
        "psn_no": PSN_NO,
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": CERTNO,
        "medfee_sumamt_fen": 9000,
        "chrg_bchno": "B001",
        "mid_setl_flag": False,
        "invono": "FP0001",
        "setting": "outpatient" if mdtrt_id == VISIT_ID else "inpatient",
        "med_type": "11" if mdtrt_id == VISIT_ID else None,
    }
    body.update(changes)
    return body


def admission(**changes: Any) -> dict[str, Any]:
    info = {
        "psn_no": PSN_NO,
        "insutype": "390",
        "coner_name": "张四",
        "tel": "13800000000",
        "begntime": WHEN,
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": CERTNO,
        "med_type": "21",
        "ipt_no": "ZY20261120001",
        "medrcdno": "BA0001",
        "atddr_no": "D002",
        "chfpdr_name": "王医生",
        "adm_diag_dscr": "肺炎",
        "adm_dept_codg": "HXK",
        "adm_dept_name": "呼吸科",
        "adm_bed": "12",
        "dise_codg": "",
        "dise_name": "",
    }
    info.update(changes)
    diagnosis = {"diag_type": "1", "diag_srt_no": "1", "diag_code": "J18.900", "diag_name": "肺炎"}
    return {"mdtrtinfo": info, "diseinfo": [{**diagnosis, "maindiag_flag": "1", "diag_time": WHEN}]}


def stay_data(**changes: Any) -> dict[str, Any]:
    return {"data": {"mdtrt_id": STAY_ID, "psn_no": PSN_NO, **changes}}


# --- outpatient visits ------------------------------------------------------------------------------------


async def test_registration() -> None:
    fake = FakeSettlement().on(*OPEN, (200, visit()))
    output = await handle(fake, message("2201", 1, registration()))
    assert fake.calls == [
        (
            *OPEN,
            {
                "msgid": msgid(1),
                "setting": "outpatient",
                "fixmedins_code": HOSPITAL,
                "mdtrtarea_admvs": "341524",
                "insuplc_admdvs": "341524",
                "psn_no": PSN_NO,
                "insutype": "390",
                "ipt_otp_no": "MZ20261120001",
                "med_type": "11",
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": CERTNO,
                "begntime": "2026-11-20T10:00:00+08:00",
                "dise_codg": None,
                "dise_name": None,
                "matn_type": None,
                "diagnoses": [],
                # The envelope's operator (platformctl.examples), and the doctor and department under the
                # 5201 names (caty is not answered by 5201: not kept).
                "opter_id": "001",
                "opter_name": "收款员",
                "details": {
                    "atddr_no": "D001",
                    "chfpdr_name": "李医生",
                    "adm_dept_codg": "NK",
                    "adm_dept_name": "内科",
                },
            },
        )
    ]
    assert output == {"data": {"mdtrt_id": VISIT_ID, "psn_no": PSN_NO, "ipt_otp_no": "MZ20261120001"}}


async def test_registration_refusals() -> None:
    fake = FakeSettlement()
    no_insuplc = await refused_by(fake, message("2201", 1, registration(), insuplc_admdvs=""))
    assert no_insuplc.code == "E_INPUT" and "insuplc_admdvs" in no_insuplc.message
    assert (await refused_by(fake, message("2201", 1, registration(med_type="21")))).code == "E_INPUT"
    assert fake.calls == []
    fake.on(*OPEN, refusal(422, "NOT_ELIGIBLE", "人员 2026-11-20 不在参保期内"))
    not_covered = await refused_by(fake, message("2201", 1, registration()))
    assert not_covered.err_msg == "[NOT_ELIGIBLE] 人员 2026-11-20 不在参保期内"
    fake.on(*OPEN, (200, visit(status="cancelled")))  # the hospital number of a cancelled visit
    assert (await refused_by(fake, message("2201", 1, registration()))).code == "ENCOUNTER_CANCELLED"
    fake.on(*OPEN, timeout)
    lost = await refused_by(fake, message("2201", 1, registration()))
    assert isinstance(lost, OutcomeUnknown) and lost.code == "E_OUTCOME_UNKNOWN"
    assert "原报文ID重发" in lost.message and "2601" not in lost.message  # 2601 cannot undo a registration


async def test_registration_cancel() -> None:
    data = {"psn_no": PSN_NO, "mdtrt_id": VISIT_ID, "ipt_otp_no": "MZ20261120001", "expContent": ""}
    fake = FakeSettlement().on(*get(VISIT_ID), (200, visit()))
    fake.on(*post(VISIT_ID, "/cancellation", query=True), (200, visit(status="cancelled")))
    output = await handle(fake, message("2202", 2, {"data": data}))
    assert fake.paths() == [get(VISIT_ID), post(VISIT_ID, "/cancellation", query=True)]
    assert output["data"]["mdtrt_id"] == VISIT_ID

    fake.on(
        *post(VISIT_ID, "/cancellation", query=True),
        refusal(409, "HAS_SETTLEMENTS", "该就诊已有结算，须先撤销结算"),
    )
    assert (await refused_by(fake, message("2202", 2, {"data": data}))).code == "HAS_SETTLEMENTS"
    calls = len(fake.calls)
    wrong_no = await refused_by(fake, message("2202", 2, {"data": {**data, "ipt_otp_no": "MZ9"}}))
    assert wrong_no.code == "IPT_OTP_NO_MISMATCH"
    fake.on(*get(STAY_ID), (200, stay()))
    admission_ = await refused_by(fake, message("2202", 2, {"data": {**data, "mdtrt_id": STAY_ID}}))
    assert admission_.code == "SETTING_MISMATCH"  # 2202 never cancels an admission
    assert fake.paths()[calls:] == [get(VISIT_ID), get(STAY_ID)]


@pytest.mark.parametrize("infno", ["2203", "2203A"])
async def test_visit_information(infno: str) -> None:
    info = {
        "mdtrt_id": VISIT_ID,
        "psn_no": PSN_NO,
        "med_type": "140104",
        "begntime": WHEN,
        "main_cond_dscr": "头晕",
        "dise_codg": "M03900",
        "dise_name": "高血压",
        "birctrl_type": "",
        "matn_type": "",
    }
    diagnosis = {
        "diag_type": "1",
        "diag_srt_no": 1,
        "diag_code": "I10.x00",
        "diag_name": "高血压",
        "vali_flag": "1",
    }
    fake = FakeSettlement().on(*get(VISIT_ID), (200, visit()))
    fake.on(*post(VISIT_ID, "/diagnosis"), (200, visit(med_type="140104", dise_codg="M03900")))
    output = await handle(fake, message(infno, 3, {"mdtrtinfo": info, "diseinfo": [diagnosis]}))
    assert fake.calls[1] == (
        *post(VISIT_ID, "/diagnosis"),
        {
            "fixmedins_code": HOSPITAL,
            "med_type": "140104",
            "dise_codg": "M03900",
            "dise_name": "高血压",
            "matn_type": None,
            # The diagnosis rows as sent (no maindiag_flag in 2203: the lowest diag_srt_no is the main one).
            "diagnoses": [
                {
                    "diag_type": "1",
                    "diag_srt_no": 1,
                    "diag_code": "I10.x00",
                    "diag_name": "高血压",
                    "maindiag_flag": "1",
                    "adm_cond": None,
                    "diag_dept": None,
                    "dise_dor_no": None,
                    "dise_dor_name": None,
                    "diag_time": None,
                    "vali_flag": "1",
                }
            ],
            "opter_id": "001",
            "opter_name": "收款员",
            "details": {"main_cond_dscr": "头晕"},  # birctrl_type "" is not sent
        },
    )
    assert output["data"]["med_type"] == "140104"

    calls = len(fake.calls)
    other = await refused_by(fake, message(infno, 3, {"mdtrtinfo": {**info, "psn_no": "3415240000000009"}}))
    assert other.code == "PSN_MISMATCH"
    bad_row = {"mdtrtinfo": info, "diseinfo": [{**diagnosis, "diag_code": ""}]}
    assert (await refused_by(fake, message(infno, 3, bad_row))).err_msg == (
        "[E_INPUT] input.diseinfo[0].diag_code: 必填"
    )
    assert fake.paths()[calls:] == [get(VISIT_ID)]


async def test_fee_upload() -> None:
    fake = FakeSettlement().on(*get(VISIT_ID), (200, visit()))
    fake.on(*post(VISIT_ID, "/fees"), (200, classified()))
    output = await handle(fake, message("2204", 4, {"feedetail": two_lines()}))
    [_, (_, _, body)] = fake.calls
    assert fake.paths() == [get(VISIT_ID), post(VISIT_ID, "/fees")]
    assert body["fixmedins_code"] == HOSPITAL
    assert [
        (x["feedetl_sn"], x["chrg_bchno"], x["amount_fen"], x["fee_ocur_time"]) for x in body["lines"]
    ] == [
        ("1", "B001", 3000, "2026-11-20T10:00:00+08:00"),
        ("2", "B001", 6000, "2026-11-20T10:00:00+08:00"),
    ]
    assert [
        (r["feedetl_sn"], str(r["preselfpay_amt"]), str(r["inscp_scp_amt"])) for r in output["result"]
    ] == [
        ("1", "0.00", "30.00"),
        ("2", "6.00", "54.00"),
    ]


async def test_fee_upload_refusals() -> None:
    fake = FakeSettlement()
    no_batch = await refused_by(fake, message("2204", 4, {"feedetail": two_lines(chrg_bchno="")}))
    assert no_batch.err_msg == (
        "[E_INPUT] input.feedetail[0].chrg_bchno: 必填; input.feedetail[1].chrg_bchno: 必填"
    )
    mixed = [fee_line("1"), fee_line("2", STAY_ID)]
    assert "同一就诊" in (await refused_by(fake, message("2204", 4, {"feedetail": mixed}))).message
    assert fake.calls == []

    fake.on(*get(VISIT_ID, OTHER_HOSPITAL), refusal(403, "NOT_YOUR_ENCOUNTER", "只能操作本机构的就诊记录"))
    foreign = await refused_by(fake, message("2204", 4, {"feedetail": two_lines()}, OTHER_HOSPITAL))
    assert foreign.err_msg == "[NOT_YOUR_ENCOUNTER] 只能操作本机构的就诊记录"
    fake.on(*get(STAY_ID), (200, stay()))
    inpatient = await refused_by(fake, message("2204", 4, {"feedetail": two_lines(STAY_ID)}))
    assert inpatient.err_msg == f"[SETTING_MISMATCH] 就诊ID {STAY_ID} 是住院就诊，不能用门诊交易 2204 办理"
    assert fake.paths() == [get(VISIT_ID, OTHER_HOSPITAL), get(STAY_ID)]  # nothing uploaded

    fake.on(*get(VISIT_ID), (200, visit()))
    fake.on(*post(VISIT_ID, "/fees"), refusal(409, "FEE_LINE_EXISTS", "费用明细流水号 1 已上传"))
    assert (await refused_by(fake, message("2204", 4, {"feedetail": two_lines()}))).code == "FEE_LINE_EXISTS"
    fake.on(*post(VISIT_ID, "/fees"), timeout)
    lost = await refused_by(fake, message("2204", 4, {"feedetail": two_lines()}))
    assert isinstance(lost, OutcomeUnknown) and "原报文ID重发" in lost.message and "2601" not in lost.message


async def test_fee_withdrawal_by_batch() -> None:
    data = {"mdtrt_id": VISIT_ID, "chrg_bchno": "B001", "psn_no": PSN_NO}
    fake = FakeSettlement().on(*get(VISIT_ID), (200, visit()))
    fake.on(*post(VISIT_ID, "/fees/cancellation"), (200, {"cancelled": 2}))
    output = await handle(fake, message("2205", 5, {"data": data}))
    assert fake.calls[1] == (
        *post(VISIT_ID, "/fees/cancellation"),
        {"fixmedins_code": HOSPITAL, "chrg_bchno": "B001", "feedetl_sns": []},
    )
    assert output == {"data": {"mdtrt_id": VISIT_ID, "chrg_bchno": "B001", "cancelled": 2}}
    fake.on(*post(VISIT_ID, "/fees/cancellation"), (200, {"cancelled": 0}))
    nothing = await answered(fake, message("2205", 5, {"data": {**data, "chrg_bchno": "0000"}}))
    assert fake.calls[-1][2]["chrg_bchno"] == "0000"
    assert nothing.warn_msg is not None and nothing.warn_msg.startswith("本次就诊没有未结算的费用明细")
    missing = await refused_by(fake, message("2205", 5, {"data": {**data, "chrg_bchno": ""}}))
    assert missing.err_msg == "[E_INPUT] input.data.chrg_bchno: 必填"


async def test_visit_presettlement() -> None:
    fake = FakeSettlement()
    fake.on(*post(VISIT_ID, "/settlement/preview"), (200, visit_settlement(setl_id="", status="preview")))
    output = await handle(fake, message("2206", 6, visit_settle()))
    # One call: the settlement service checks the visit (the caller's, outpatient, the person, med_type).
    assert fake.calls == [(*post(VISIT_ID, "/settlement/preview?lines=false"), settle_body(6))]
    assert (output["setlinfo"]["setl_id"], str(output["setlinfo"]["psn_cash_pay"])) == ("", "58.00")
    assert [d["fund_pay_type"] for d in output["setldetail"]] == ["390100"]

    differs = await answered(fake, message("2206", 6, visit_settle(preselfpay_amt="5.00")))
    assert (
        differs.warn_msg
        == "传入信息与医保结算结果不符，以医保结算结果为准: preselfpay_amt 传入 5.00，医保计算 6.00"
    )
    fake.on(*post(VISIT_ID, "/settlement/preview"), timeout)
    slow = await refused_by(fake, message("2206", 6, visit_settle()))
    assert slow.code == "E_TIMEOUT" and not isinstance(slow, OutcomeUnknown)  # nothing was written
    fake.on(
        *post(VISIT_ID, "/settlement/preview"),
        refusal(422, "MED_TYPE_MISMATCH", f"医疗类别 140104 与就诊ID {VISIT_ID} 登记的 11 不符"),
    )
    chronic = await refused_by(fake, message("2206", 6, visit_settle(med_type="140104")))
    assert chronic.code == "MED_TYPE_MISMATCH" and fake.calls[-1][2]["med_type"] == "140104"


async def test_visit_settlement() -> None:
    fake = FakeSettlement().on(*post(VISIT_ID, "/settlement"), (200, visit_settlement(msgid=msgid(7))))
    output = await handle(fake, message("2207", 7, visit_settle()))
    assert fake.calls == [(*post(VISIT_ID, "/settlement?lines=false"), settle_body(7))]
    info = output["setlinfo"]
    assert (info["setl_id"], info["medins_setl_id"], info["clr_type"], str(info["hifp_pay"])) == (
        VISIT_SETL_ID,
        msgid(7),
        "11",
        "32.00",
    )
    fake.on(*post(VISIT_ID, "/settlement"), refusal(422, "NO_FEE_LINES", "没有待结算的费用明细"))
    assert (await refused_by(fake, message("2207", 7, visit_settle()))).code == "NO_FEE_LINES"
    fake.on(*post(VISIT_ID, "/settlement"), timeout)
    lost = await refused_by(fake, message("2207", 7, visit_settle()))
    assert isinstance(lost, OutcomeUnknown) and lost.code == "E_OUTCOME_UNKNOWN" and "2601" in lost.message
    no_batch = await refused_by(fake, message("2207", 7, visit_settle(chrg_bchno="")))
    assert no_batch.err_msg == "[E_INPUT] input.data.chrg_bchno: 必填"


async def test_visit_settlement_reversal() -> None:
    data = {"setl_id": VISIT_SETL_ID, "mdtrt_id": VISIT_ID, "psn_no": PSN_NO}
    fake = FakeSettlement().on(*get_settlement(VISIT_SETL_ID), (200, visit_settlement()))
    fake.on(*reverse(VISIT_SETL_ID), (200, negated(visit_settlement(), setl_id="S2", msgid=msgid(8))))
    output = await handle(fake, message("2208", 8, {"data": data}))
    assert fake.calls == [
        (*get_settlement(VISIT_SETL_ID), None),
        (*reverse(VISIT_SETL_ID), {"msgid": msgid(8), "fixmedins_code": HOSPITAL, "psn_no": PSN_NO}),
    ]
    info = output["setlinfo"]
    assert (info["setl_id"], str(info["psn_cash_pay"]), str(info["fund_pay_sumamt"])) == (
        "S2",
        "-58.00",
        "-32.00",
    )
    assert "hifdm_pay" not in info

    stay_data_ = {"setl_id": STAY_SETL_ID, "mdtrt_id": STAY_ID, "psn_no": PSN_NO}
    fake.on(*get_settlement(STAY_SETL_ID), (200, stay_settlement()))
    wrong = await refused_by(fake, message("2208", 8, {"data": stay_data_}))
    assert wrong.code == "WRONG_REVERSAL" and "2305" in wrong.message
    assert fake.paths()[-1] == get_settlement(STAY_SETL_ID)  # never reached the reversal


# --- inpatient stays ------------------------------------------------------------------------------------


async def test_admission() -> None:
    fake = FakeSettlement().on(*OPEN, (200, stay()))
    output = await handle(fake, message("2401", 11, admission()))
    [(_, _, body)] = fake.calls
    assert (body["setting"], body["ipt_otp_no"], body["med_type"], body["begntime"]) == (
        "inpatient",
        "ZY20261120001",
        "21",
        "2026-11-20T10:00:00+08:00",
    )
    assert output == {"result": {"mdtrt_id": STAY_ID}}
    maternity = await handle(fake, message("2401", 11, admission(med_type="52", matn_type="1")))
    assert (fake.calls[-1][2]["med_type"], fake.calls[-1][2]["matn_type"]) == ("52", "1")
    assert maternity == output

    fake.on(*OPEN, refusal(409, "IPT_OTP_NO_USED", "院内就诊流水号 ZY20261120001 已用于另一次就诊"))
    assert (await refused_by(fake, message("2401", 11, admission()))).code == "IPT_OTP_NO_USED"
    calls = len(fake.calls)
    outpatient = await refused_by(fake, message("2401", 11, admission(med_type="11")))
    assert outpatient.code == "E_INPUT" and "不是住院类别" in outpatient.message
    assert len(fake.calls) == calls


async def test_discharge() -> None:
    info = {"mdtrt_id": STAY_ID, "psn_no": PSN_NO, "insutype": "390", "endtime": WHEN, "dscg_way": "1"}
    fake = FakeSettlement().on(*get(STAY_ID), (200, stay()))
    fake.on(*post(STAY_ID, "/discharge"), (200, stay(status="discharged")))
    output = await handle(fake, message("2402", 12, {"dscginfo": info, "diseinfo": []}))
    assert fake.calls[1] == (
        *post(STAY_ID, "/discharge"),
        {
            "fixmedins_code": HOSPITAL,
            "endtime": "2026-11-20T10:00:00+08:00",
            "dise_codg": None,
            "dise_name": None,
            "diagnoses": None,  # no diseinfo: the discharge diagnoses kept stay
            "opter_id": "001",
            "opter_name": "收款员",
            "details": {"dscg_way": "1"},
        },
    )
    assert output["data"]["mdtrt_id"] == STAY_ID

    # A birth: the way it went is recorded first (the 52 settlement needs it), then the discharge.
    fake.on(*get(STAY_ID), (200, stay(med_type="52")))
    fake.on(*post(STAY_ID, "/diagnosis"), (200, stay(med_type="52", matn_type="2")))
    calls = len(fake.calls)
    await handle(fake, message("2402", 12, {"dscginfo": {**info, "matn_type": "2"}}))
    assert fake.paths()[calls:] == [get(STAY_ID), post(STAY_ID, "/diagnosis"), post(STAY_ID, "/discharge")]
    assert fake.calls[calls + 1][2]["matn_type"] == "2"

    fake.on(
        *post(STAY_ID, "/discharge"), refusal(409, "ENCOUNTER_STATE", "就诊记录状态为已出院，不能进行此操作")
    )
    assert (await refused_by(fake, message("2402", 12, {"dscginfo": info}))).code == "ENCOUNTER_STATE"
    fake.on(*get(VISIT_ID), (200, visit()))
    outpatient = await refused_by(fake, message("2402", 12, {"dscginfo": {**info, "mdtrt_id": VISIT_ID}}))
    assert outpatient.code == "SETTING_MISMATCH"


async def test_admission_change() -> None:
    info = {"mdtrt_id": STAY_ID, "psn_no": PSN_NO, "begntime": "2026-11-20 09:00:00", "med_type": "22"}
    fake = FakeSettlement().on(*get(STAY_ID), (200, stay()))
    fake.on(*post(STAY_ID, "/diagnosis"), (200, stay(med_type="22")))
    output = await handle(fake, message("2403", 13, {"adminfo": info, "diseinfo": []}))
    assert fake.calls[1][2] == {
        "fixmedins_code": HOSPITAL,
        "med_type": "22",
        "dise_codg": None,
        "dise_name": None,
        "matn_type": None,
        "diagnoses": None,
        "opter_id": "001",
        "opter_name": "收款员",
        "details": {},
    }
    assert output["data"]["med_type"] == "22"
    moved = await answered(fake, message("2403", 13, {"adminfo": {**info, "begntime": WHEN}}))
    assert moved.warn_msg is not None and moved.warn_msg.startswith("入院时间不能变更")
    bad = await refused_by(fake, message("2403", 13, {"adminfo": {**info, "med_type": "14"}}))
    assert bad.code == "E_INPUT"


async def test_admission_cancel_and_discharge_undo() -> None:
    fake = FakeSettlement().on(*get(STAY_ID), (200, stay()))
    fake.on(*post(STAY_ID, "/cancellation", query=True), (200, stay(status="cancelled")))
    fake.on(*post(STAY_ID, "/discharge/cancellation", query=True), (200, stay()))
    assert (await handle(fake, message("2404", 14, stay_data())))["data"]["mdtrt_id"] == STAY_ID
    assert (await handle(fake, message("2405", 15, stay_data())))["data"]["mdtrt_id"] == STAY_ID
    assert fake.paths() == [
        get(STAY_ID),
        post(STAY_ID, "/cancellation", query=True),
        get(STAY_ID),
        post(STAY_ID, "/discharge/cancellation", query=True),
    ]
    other = await refused_by(fake, message("2404", 14, stay_data(psn_no="3415240000000009")))
    assert other.code == "PSN_MISMATCH"
    fake.on(*get(STAY_ID), refusal(404, "ENCOUNTER_NOT_FOUND", f"就诊记录不存在: {STAY_ID}"))
    assert (await refused_by(fake, message("2405", 15, stay_data()))).code == "ENCOUNTER_NOT_FOUND"
    assert len(fake.calls) == 6
    fake.on(*get(VISIT_ID), (200, visit()))
    assert (
        await refused_by(fake, message("2404", 14, stay_data(mdtrt_id=VISIT_ID)))
    ).code == "SETTING_MISMATCH"


async def test_stay_fee_upload() -> None:
    lines = [{**line, "drord_no": "YZ001", "init_feedetl_sn": ""} for line in two_lines(STAY_ID)]
    for line in lines:
        del line["chrg_bchno"]
    fake = FakeSettlement().on(*get(STAY_ID), (200, stay()))
    fake.on(*post(STAY_ID, "/fees"), (200, classified(STAY_ID)))
    output = await handle(fake, message("2301", 16, {"feedetail": lines}))
    assert all("chrg_bchno" not in x for x in fake.calls[1][2]["lines"])
    assert [r["feedetl_sn"] for r in output["result"]] == ["1", "2"]

    calls = len(fake.calls)
    write_off = [{**lines[0], "feedetl_sn": "3", "cnt": "-60", "det_item_fee_sumamt": "-30.00"}]
    negative = await refused_by(fake, message("2301", 16, {"feedetail": write_off}))
    assert (
        negative.code == "E_INPUT"
        and "暂不支持负数(冲销)明细：请用2302撤销原明细后重新上传" in negative.message
    )
    assert len(fake.calls) == calls  # refused before anything was sent
    fake.on(*get(VISIT_ID), (200, visit()))
    visit_lines = [{**line, "mdtrt_id": VISIT_ID} for line in lines]
    assert (
        await refused_by(fake, message("2301", 16, {"feedetail": visit_lines}))
    ).code == "SETTING_MISMATCH"


async def test_stay_fee_withdrawal() -> None:
    fake = FakeSettlement().on(*get(STAY_ID), (200, stay()))
    fake.on(*post(STAY_ID, "/fees/cancellation"), (200, {"cancelled": 1}))
    one = await handle(fake, message("2302", 17, stay_data(feedetl_sn="2")))
    assert fake.calls[1][2] == {"fixmedins_code": HOSPITAL, "feedetl_sns": ["2"]}
    assert one == {"data": {"mdtrt_id": STAY_ID, "feedetl_sn": "2", "cancelled": 1}}
    fake.on(*post(STAY_ID, "/fees/cancellation"), (200, {"cancelled": 5}))
    every = await handle(fake, message("2302", 17, stay_data(feedetl_sn="0000")))
    assert fake.calls[3][2] == {"fixmedins_code": HOSPITAL, "feedetl_sns": []}
    assert every["data"]["cancelled"] == 5
    fake.on(
        *post(STAY_ID, "/fees/cancellation"), refusal(409, "FEE_LINE_SETTLED", "费用明细不存在或已结算: 9")
    )
    assert (await refused_by(fake, message("2302", 17, stay_data(feedetl_sn="9")))).code == "FEE_LINE_SETTLED"
    assert (await refused_by(fake, message("2302", 17, stay_data()))).err_msg == (
        "[E_INPUT] input.data.feedetl_sn: 必填"
    )


async def test_stay_presettlement_and_settlement() -> None:
    fake = FakeSettlement()
    fake.on(*post(STAY_ID, "/settlement/preview"), (200, stay_settlement(setl_id="", status="preview")))
    fake.on(*post(STAY_ID, "/settlement"), (200, stay_settlement(msgid=msgid(19))))
    preview = await handle(fake, message("2303", 18, stay_settle()))
    # One call each: the settlement service checks the stay (the caller's, inpatient, the person).
    assert fake.calls == [
        (*post(STAY_ID, "/settlement/preview?lines=false"), settle_body(18, STAY_ID, chrg_bchno=None))
    ]
    assert (preview["setlinfo"]["setl_id"], str(preview["setlinfo"]["hifdm_pay"])) == ("", "0.00")
    settled = await handle(fake, message("2304", 19, stay_settle()))
    assert fake.calls[1] == (
        *post(STAY_ID, "/settlement?lines=false"),
        settle_body(19, STAY_ID, chrg_bchno=None),
    )
    assert (settled["setlinfo"]["setl_id"], settled["setlinfo"]["clr_type"]) == (STAY_SETL_ID, "21")

    await handle(fake, message("2304", 20, stay_settle(mid_setl_flag="1")))
    assert fake.calls[-1][2]["mid_setl_flag"] is True
    fake.on(*post(STAY_ID, "/settlement"), refusal(409, "NOT_DISCHARGED", "住院结算须先办理出院(2402)"))
    assert (await refused_by(fake, message("2304", 19, stay_settle()))).code == "NOT_DISCHARGED"
    fake.on(*post(STAY_ID, "/settlement"), timeout)
    lost = await refused_by(fake, message("2304", 19, stay_settle()))
    assert isinstance(lost, OutcomeUnknown) and "2601" in lost.message
    fake.on(
        *post(VISIT_ID, "/settlement"),
        refusal(422, "SETTING_MISMATCH", f"就诊ID {VISIT_ID} 是门诊就诊，不能按住院结算"),
    )
    visit_ = await refused_by(fake, message("2304", 19, stay_settle(mdtrt_id=VISIT_ID)))
    assert visit_.code == "SETTING_MISMATCH" and fake.calls[-1][2]["setting"] == "inpatient"


async def test_stay_settlement_reversal() -> None:
    data = {"setl_id": STAY_SETL_ID, "mdtrt_id": STAY_ID, "psn_no": PSN_NO}
    fake = FakeSettlement().on(*get_settlement(STAY_SETL_ID), (200, stay_settlement()))
    fake.on(*reverse(STAY_SETL_ID), (200, negated(stay_settlement(), setl_id="S3")))
    output = await handle(fake, message("2305", 21, {"data": data}))
    info = output["setlinfo"]
    assert (info["setl_id"], str(info["medfee_sumamt"]), str(info["hifdm_pay"])) == ("S3", "-90.00", "0.00")
    assert [str(d["fund_payamt"]) for d in output["setldetail"]] == ["-32.00"]
    fake.on(*get_settlement(VISIT_SETL_ID), (200, visit_settlement()))
    wrong = await refused_by(
        fake, message("2305", 21, {"data": {**data, "setl_id": VISIT_SETL_ID, "mdtrt_id": VISIT_ID}})
    )
    assert wrong.code == "WRONG_REVERSAL" and "2208" in wrong.message


@pytest.mark.parametrize("oinfno", ["2207", "2304"])
async def test_void_of_an_encounter_settlement(oinfno: str) -> None:
    reversal = negated(visit_settlement(), setl_id="S4", msgid=msgid(23))
    fake = FakeSettlement().on(*VOIDS, (200, {"outcome": "reversed", "reversal": reversal}))
    data = {"psn_no": PSN_NO, "omsgid": msgid(22), "oinfno": oinfno}
    output = await handle(fake, message("2601", 23, {"data": data}))
    sent = {"msgid": msgid(23), "fixmedins_code": HOSPITAL, **data, "insuplc_admdvs": "341524"}
    assert fake.calls == [(*VOIDS, sent)]
    assert output["data"] == {"omsgid": msgid(22), "oinfno": oinfno, "outcome": "reversed", "setl_id": "S4"}


# --- on the wire, with the message log -------------------------------------------------------------------


async def test_a_refusal_is_infcode_minus_one_with_its_code(gateway: Gateway) -> None:
    gateway.fake.on(
        *post(VISIT_ID, "/settlement"), refusal(403, "NOT_YOUR_ENCOUNTER", "只能操作本机构的就诊记录")
    )
    body = message("2207", 1, visit_settle(), OTHER_HOSPITAL)
    answer = await gateway.send(body)
    assert (answer["infcode"], answer["err_msg"], answer["output"]) == (
        -1,
        "[NOT_YOUR_ENCOUNTER] 只能操作本机构的就诊记录",
        {},
    )
    assert await gateway.send(body) == answer  # remembered: a repeat is answered from the log
    assert gateway.fake.paths() == [post(VISIT_ID, "/settlement?lines=false")]


async def test_a_warning_is_in_warn_msg_and_replayed(gateway: Gateway) -> None:
    gateway.fake.on(*get(VISIT_ID), (200, visit()))
    gateway.fake.on(*post(VISIT_ID, "/settlement"), (200, visit_settlement(msgid=msgid(2))))
    body = message("2207", 2, visit_settle(inscp_scp_amt="80.00"))
    answer = await gateway.send(body)
    assert (answer["infcode"], answer["err_msg"]) == (0, None)
    assert (
        answer["warn_msg"]
        == "传入信息与医保结算结果不符，以医保结算结果为准: inscp_scp_amt 传入 80.00，医保计算 84.00"
    )
    assert str(answer["output"]["setlinfo"]["inscp_scp_amt"]) == "84.00"
    assert await gateway.send(body) == answer
    assert len(gateway.fake.calls) == 1


async def test_a_lost_visit_settlement_can_be_voided(gateway: Gateway) -> None:
    gateway.fake.on(*get(VISIT_ID), (200, visit()))
    gateway.fake.on(*post(VISIT_ID, "/settlement"), timeout)
    lost = await gateway.send(message("2207", 3, visit_settle()))
    assert lost["infcode"] == -1 and lost["err_msg"].startswith("[E_OUTCOME_UNKNOWN]")
    assert await gateway.stored(msgid(3)) is None  # a repeat must reach settlement again

    gateway.fake.on(*VOIDS, (200, {"outcome": "voided", "reversal": None}))
    void = await gateway.send(
        message("2601", 4, {"data": {"psn_no": PSN_NO, "omsgid": msgid(3), "oinfno": "2207"}})
    )
    assert void["infcode"] == 0 and void["output"]["data"]["outcome"] == "voided"
    calls = len(gateway.fake.calls)
    late = await gateway.send(message("2207", 3, visit_settle()))
    assert late["err_msg"] == "[E_VOIDED] 原交易已冲正" and len(gateway.fake.calls) == calls


async def test_a_stay_settlement_is_reversed_by_its_msgid(gateway: Gateway) -> None:
    gateway.fake.on(*get(STAY_ID), (200, stay(status="discharged")))
    gateway.fake.on(*post(STAY_ID, "/settlement"), (200, stay_settlement(msgid=msgid(5))))
    settled = await gateway.send(message("2304", 5, stay_settle()))
    assert settled["infcode"] == 0
    reversal = negated(stay_settlement(), setl_id="S5", msgid=msgid(6))
    gateway.fake.on(*VOIDS, (200, {"outcome": "reversed", "reversal": reversal}))
    wrong = await gateway.send(
        message("2601", 6, {"data": {"psn_no": PSN_NO, "omsgid": msgid(5), "oinfno": "2207"}})
    )
    assert wrong["err_msg"].startswith("[E_OINFNO]")  # the log knows it was a 2304
    void = await gateway.send(
        message("2601", 7, {"data": {"psn_no": PSN_NO, "omsgid": msgid(5), "oinfno": "2304"}})
    )
    assert (void["infcode"], void["output"]["data"]["setl_id"]) == (0, "S5")
    assert (await gateway.send(message("2304", 5, stay_settle())))["err_msg"] == "[E_VOIDED] 原交易已冲正"
