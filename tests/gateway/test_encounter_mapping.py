"""The outpatient (2201-2208) and inpatient (2401-2405, 2301-2305) mappings on hand-built input and
settlement-service answers (no database, no network): what the input models accept and refuse, the
settlement-service bodies built from them (fen, ISO times, domain names), and the outputs built from its
answers (two-decimal yuan, wire names)."""

from __future__ import annotations

from typing import Any

import pytest
from gateway import registry
from gateway.nhsa import encounter, fees, inpatient, outpatient, pharmacy, settling
from gateway.protocol.envelope import RequestEnvelope
from gateway.protocol.errors import Refusal, describe
from gateway.transactions import KNOWN_INFNO_LABELS
from pydantic import BaseModel, ValidationError

from platformctl import examples
from shared.contracts.v1.settlement import EncounterOut, FeesOut, SettlementOut
from tests.gateway.factories import (
    HOSPITAL,
    PSN_NO,
    STAY_ID,
    STAY_SETL_ID,
    VISIT_ID,
    VISIT_SETL_ID,
    classified,
    negated,
    stay,
    stay_settlement,
    visit,
    visit_settlement,
)

MSGID = f"{HOSPITAL}202611201200000009"
CERTNO = "34152419850312013X"
WHEN = "2026-11-20 10:00:00"


def envelope(infno: str, body: dict[str, Any], **changes: Any) -> RequestEnvelope:
    wire = examples.envelope(infno, MSGID, body, insuplc_admdvs="341524", fixmedins_code=HOSPITAL)
    return RequestEnvelope.model_validate({**wire, **changes})


def input_error(model: type[BaseModel], body: dict[str, Any]) -> str:
    """The err_msg text the gateway answers a refused input with."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    return describe(caught.value, "input")


def refused(call: Any) -> Refusal:
    with pytest.raises(Refusal) as caught:
        call()
    return caught.value


def fee(sn: str = "1", **changes: Any) -> dict[str, Any]:
    line = {
        "feedetl_sn": sn,
        "mdtrt_id": VISIT_ID,
        "psn_no": PSN_NO,
        "chrg_bchno": "B001",
        "dise_codg": "",
        "rxno": "",
        "rx_circ_flag": "0",
        "fee_ocur_time": WHEN,
        "med_list_codg": "XJ01CAA040A001010100001",
        "medins_list_codg": "YP0001",
        "det_item_fee_sumamt": "30.00",
        "cnt": "60",
        "pric": "0.5",
        "bilg_dept_codg": "NK",
        "bilg_dr_codg": "D001",
        "hosp_appr_flag": "",
    }
    line.update(changes)
    return line


def settle_data(**changes: Any) -> dict[str, Any]:
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
        "invono": "",
    }
    data.update(changes)
    return data


# --- registering --------------------------------------------------------------------------------------------


def test_registration_is_an_ordinary_visit_unless_the_his_says_otherwise() -> None:
    body = {
        "psn_no": PSN_NO,
        "insutype": "390",
        "begntime": WHEN,
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": CERTNO,
        "ipt_otp_no": "MZ20261120001",
        "atddr_no": "",  # HIS software sends "" for what it does not have
        "dr_name": "",
        "dept_code": "NK",
        "dept_name": "内科",
        "caty": "",
        "expContent": "",
    }
    data = outpatient.Input2201.model_validate({"data": body}).data
    assert outpatient.open_request(envelope("2201", {"data": body}), data) == {
        "msgid": MSGID,
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
        # The envelope's operator, and the department sent (under the 5201 names; "" is not sent).
        "opter_id": "001",
        "opter_name": "收款员",
        "details": {"adm_dept_codg": "NK", "adm_dept_name": "内科"},
    }
    assert outpatient.Input2201.model_validate({"data": {**body, "med_type": "13"}}).data.med_type == "13"
    assert input_error(outpatient.Input2201, {"data": {**body, "med_type": "21"}}).startswith(
        "input.data: 医疗类别 21 是住院类别"
    )
    assert input_error(outpatient.Input2201, {"data": {**body, "insutype": "310"}}) == (
        "input.data.insutype: 本平台只办理城乡居民医保 (390/391/380)"
    )
    # Left empty or out, the envelope's msgid stands for the hospital number (docs/interface.md).
    empty = envelope("2201", {"data": {**body, "ipt_otp_no": ""}})
    unnumbered = outpatient.Input2201.model_validate(empty.input).data
    assert outpatient.ipt_otp_no_of(empty, unnumbered) == empty.msgid
    assert input_error(outpatient.Input2201, {"data": {**body, "begntime": "20261120"}}) == (
        "input.data.begntime: 格式应为 yyyy-MM-dd HH:mm:ss"
    )
    no_insuplc = envelope("2201", {"data": body}, insuplc_admdvs="")
    assert refused(lambda: outpatient.open_request(no_insuplc, data)).err_msg.startswith(
        "[E_INPUT] insuplc_admdvs: 交易含人员编号时参保地医保区划必填"
    )
    assert outpatient.build_2201_output(EncounterOut.model_validate(visit()), data, "MZ20261120001") == {
        "data": {"mdtrt_id": VISIT_ID, "psn_no": PSN_NO, "ipt_otp_no": "MZ20261120001"}
    }
    cancelled = refused(
        lambda: outpatient.build_2201_output(
            EncounterOut.model_validate(visit(status="cancelled")), data, "MZ20261120001"
        )
    )
    assert cancelled.code == "ENCOUNTER_CANCELLED" and "MZ20261120001" in cancelled.message


def test_admission_maps_ipt_no_and_the_maternity_fields() -> None:
    info = {
        "psn_no": PSN_NO,
        "insutype": "390",
        "coner_name": "张四",
        "tel": "13800000000",
        "begntime": WHEN,
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": CERTNO,
        "med_type": "52",
        "ipt_no": "ZY20261120001",
        "adm_dept_codg": "FCK",
        "dise_codg": "",
        "matn_type": "2",
        "fetts": 1,
    }
    diseinfo = [
        {
            "diag_type": "1",
            "diag_srt_no": 1,
            "diag_code": "O82.000",
            "diag_name": "剖宫产",
            "maindiag_flag": "1",
        }
    ]
    body = {"mdtrtinfo": info, "diseinfo": diseinfo}
    parsed = inpatient.Input2401.model_validate(body)
    request = inpatient.open_request(envelope("2401", body), parsed.mdtrtinfo, parsed.diseinfo)
    assert (request["setting"], request["ipt_otp_no"], request["med_type"], request["matn_type"]) == (
        "inpatient",
        "ZY20261120001",
        "52",
        "2",
    )
    assert request["dise_codg"] is None
    # The diagnosis rows go to settlement as sent, for 5202.
    assert request["diagnoses"] == [
        {
            "diag_type": "1",
            "diag_srt_no": 1,
            "diag_code": "O82.000",
            "diag_name": "剖宫产",
            "maindiag_flag": "1",
            "adm_cond": None,
            "diag_dept": None,
            "dise_dor_no": None,
            "dise_dor_name": None,
            "diag_time": None,
            "vali_flag": "1",
        }
    ]
    assert inpatient.build_2401_output(EncounterOut.model_validate(stay()), parsed.mdtrtinfo) == {
        "result": {"mdtrt_id": STAY_ID}
    }
    assert input_error(inpatient.Input2401, {**body, "mdtrtinfo": {**info, "med_type": "11"}}).startswith(
        "input.mdtrtinfo: 医疗类别 11 不是住院类别"
    )
    assert input_error(inpatient.Input2401, {**body, "mdtrtinfo": {**info, "matn_type": "3"}}) == (
        "input.mdtrtinfo.matn_type: 生育类别只支持 1 顺产 / 2 剖宫产"
    )
    assert input_error(inpatient.Input2401, {**body, "diseinfo": [{**diseinfo[0], "diag_type": "4"}]}) == (
        "input.diseinfo[0].diag_type: 格式不正确"
    )
    assert input_error(inpatient.Input2401, {**body, "diseinfo": [{**diseinfo[0], "diag_srt_no": "x"}]}) == (
        "input.diseinfo[0].diag_srt_no: 必须是整数"
    )
    assert inpatient.Input2401.model_validate({**body, "diseinfo": None}).diseinfo == []


def test_outpatient_information_upload() -> None:
    info = {"mdtrt_id": VISIT_ID, "psn_no": PSN_NO, "med_type": "140104", "begntime": WHEN}
    chronic = {**info, "dise_codg": "M03900", "dise_name": "高血压", "matn_type": ""}
    parsed = outpatient.Input2203.model_validate({"mdtrtinfo": chronic, "diseinfo": []})
    assert outpatient.diagnosis_request(envelope("2203", {}), parsed.mdtrtinfo) == {
        "fixmedins_code": HOSPITAL,
        "med_type": "140104",
        "dise_codg": "M03900",
        "dise_name": "高血压",
        "matn_type": None,
        "diagnoses": None,  # no diseinfo sent: the rows kept stay
        "opter_id": "001",
        "opter_name": "收款员",
        "details": {},
    }
    # 2203 rows carry no maindiag_flag: the first with the lowest diag_srt_no is the main one.
    rows = [
        {"diag_type": "1", "diag_srt_no": 2, "diag_code": "E11.900", "diag_name": "2型糖尿病"},
        {
            "diag_type": "1",
            "diag_srt_no": 1,
            "diag_code": "I10.x00",
            "diag_name": "原发性高血压",
            "diag_time": WHEN,
        },
    ]
    with_rows = outpatient.Input2203.model_validate({"mdtrtinfo": chronic, "diseinfo": rows})
    sent = outpatient.diagnosis_request(envelope("2203", {}), with_rows.mdtrtinfo, with_rows.diseinfo)
    assert [(r["diag_code"], r["maindiag_flag"], r["diag_time"]) for r in sent["diagnoses"]] == [
        ("E11.900", "0", None),
        ("I10.x00", "1", "2026-11-20T10:00:00+08:00"),
    ]
    assert input_error(outpatient.Input2203, {"mdtrtinfo": info}) == (
        "input.mdtrtinfo: 门诊慢特病(med_type 14xxxx)须填写病种编码 dise_codg"
    )
    assert input_error(outpatient.Input2203, {"mdtrtinfo": {**info, "med_type": "52"}}).startswith(
        "input.mdtrtinfo: 医疗类别 52 是住院类别"
    )
    assert input_error(outpatient.Input2203, {"mdtrtinfo": {**info, "mdtrt_id": "M1/../x"}}) == (
        "input.mdtrtinfo.mdtrt_id: 格式不正确"
    )


# --- the encounter acted on -----------------------------------------------------------------------------


def test_an_encounter_is_checked_for_setting_and_person_before_acting() -> None:
    own = envelope("2204", {})
    encounter.check_encounter(own, EncounterOut.model_validate(visit()), setting="outpatient", psn_no=PSN_NO)
    wrong_setting = refused(
        lambda: encounter.check_encounter(
            own, EncounterOut.model_validate(stay()), setting="outpatient", psn_no=PSN_NO
        )
    )
    assert (
        wrong_setting.err_msg == f"[SETTING_MISMATCH] 就诊ID {STAY_ID} 是住院就诊，不能用门诊交易 2204 办理"
    )
    other_person = refused(
        lambda: encounter.check_encounter(
            own, EncounterOut.model_validate(visit()), setting="outpatient", psn_no="X1"
        )
    )
    assert other_person.code == "PSN_MISMATCH"
    foreign = visit(fixmedins_code="H34152400002")
    assert refused(
        lambda: encounter.check_encounter(
            own, EncounterOut.model_validate(foreign), setting="outpatient", psn_no=PSN_NO
        )
    ).code == ("NOT_YOUR_ENCOUNTER")
    data = outpatient.Input2202.model_validate(
        {"data": {"psn_no": PSN_NO, "mdtrt_id": VISIT_ID, "ipt_otp_no": "MZ0002"}}
    ).data
    assert (
        refused(
            lambda: outpatient.check_2202(envelope("2202", {}), data, EncounterOut.model_validate(visit()))
        ).code
        == "IPT_OTP_NO_MISMATCH"
    )


# --- fee lines ------------------------------------------------------------------------------------------


def test_outpatient_fee_upload_body_and_result() -> None:
    body = {
        "feedetail": [
            fee("1"),
            fee(
                "2",
                med_list_codg="ZA12AAD0001010100001",
                medins_list_codg="YP0002",
                det_item_fee_sumamt="60.00",
                cnt="3",
                pric="20",
                hosp_appr_flag="1",
            ),
        ]
    }
    lines = outpatient.Input2204.model_validate(body).feedetail
    assert fees.upload_request(envelope("2204", body), lines) == {
        "fixmedins_code": HOSPITAL,
        "lines": [
            {
                "feedetl_sn": "1",
                "med_list_codg": "XJ01CAA040A001010100001",
                "medins_list_codg": "YP0001",
                "cnt": "60",
                "pric": "0.5",
                "amount_fen": 3000,
                "fee_ocur_time": "2026-11-20T10:00:00+08:00",
                # What else the line sent, kept for 5204 ("" is not sent).
                "details": {"bilg_dept_codg": "NK", "bilg_dr_codg": "D001"},
                "chrg_bchno": "B001",
            },
            {
                "feedetl_sn": "2",
                "med_list_codg": "ZA12AAD0001010100001",
                "medins_list_codg": "YP0002",
                "cnt": "3",
                "pric": "20",
                "amount_fen": 6000,
                "fee_ocur_time": "2026-11-20T10:00:00+08:00",
                "details": {"bilg_dept_codg": "NK", "bilg_dr_codg": "D001"},
                "chrg_bchno": "B001",
                "hosp_appr_flag": "1",
            },
        ],
        "opter_id": "001",
        "opter_name": "收款员",
    }
    result = fees.build_upload_output(FeesOut.model_validate(classified()))["result"]
    assert [
        {
            name: str(row.get(name))
            for name in (
                "feedetl_sn",
                "det_item_fee_sumamt",
                "pric_uplmt_amt",
                "selfpay_prop",
                "fulamt_ownpay_amt",
                "overlmt_amt",
                "preselfpay_amt",
                "inscp_scp_amt",
                "chrgitm_lv",
                "med_chrgitm_type",
            )
        }
        for row in result
    ] == [
        {
            "feedetl_sn": "1",
            "det_item_fee_sumamt": "30.00",
            "pric_uplmt_amt": "0.500000",  # the price cap as the service stores it (NUMERIC(16, 6))
            "selfpay_prop": "0.0000",
            "fulamt_ownpay_amt": "0.00",
            "overlmt_amt": "0.00",
            "preselfpay_amt": "0.00",
            "inscp_scp_amt": "30.00",
            "chrgitm_lv": "1",
            "med_chrgitm_type": "09",
        },
        {
            "feedetl_sn": "2",
            "det_item_fee_sumamt": "60.00",
            "pric_uplmt_amt": "None",  # no price cap: the field is left out
            "selfpay_prop": "0.1000",
            "fulamt_ownpay_amt": "0.00",
            "overlmt_amt": "0.00",
            "preselfpay_amt": "6.00",
            "inscp_scp_amt": "54.00",
            "chrgitm_lv": "2",
            "med_chrgitm_type": "11",
        },
    ]
    assert result[1]["memo"] == "乙类先行自付10%"


def test_outpatient_fee_upload_refusals() -> None:
    assert input_error(outpatient.Input2204, {"feedetail": [fee(chrg_bchno="")]}) == (
        "input.feedetail[0].chrg_bchno: 必填"
    )
    assert input_error(outpatient.Input2204, {"feedetail": [fee(chrg_bchno="0000")]}).startswith(
        "input.feedetail[0].chrg_bchno: 0000 保留用于撤销全部未结算明细"
    )
    mixed = {"feedetail": [fee("1"), fee("2", mdtrt_id="M1")]}
    assert input_error(outpatient.Input2204, mixed) == (
        f"input: 一次上传的费用明细须属于同一就诊，本次含多个就诊ID: M1, {VISIT_ID}"
    )
    assert input_error(outpatient.Input2204, {"feedetail": [fee("1"), fee("2", psn_no="X1")]}).startswith(
        "input: 一次上传的费用明细须属于同一人员"
    )
    assert (
        input_error(outpatient.Input2204, {"feedetail": [fee("1"), fee("1")]})
        == "input: 费用明细流水号重复: 1"
    )
    assert input_error(outpatient.Input2204, {"feedetail": []}) == "input.feedetail: 至少需要1条"
    assert (
        input_error(outpatient.Input2204, {"feedetail": [fee(cnt="-1")]})
        == "input.feedetail[0].cnt: 必须大于0"
    )
    assert input_error(outpatient.Input2204, {"feedetail": [fee(det_item_fee_sumamt="30.001")]}).startswith(
        "input.feedetail[0].det_item_fee_sumamt: 金额最多两位小数"
    )
    assert input_error(outpatient.Input2204, {"feedetail": [fee(fee_ocur_time="")]}) == (
        "input.feedetail[0].fee_ocur_time: 必填"
    )


def inpatient_fee(sn: str = "1", **changes: Any) -> dict[str, Any]:
    line = fee(
        sn, **{"mdtrt_id": STAY_ID, "init_feedetl_sn": "", "drord_no": "YZ001", "med_type": "21", **changes}
    )
    del line["chrg_bchno"]
    return line


def test_inpatient_fee_upload_has_no_batch_and_no_write_offs() -> None:
    body = {"feedetail": [inpatient_fee("1"), inpatient_fee("2", init_feedetl_sn="2")]}
    lines = inpatient.Input2301.model_validate(body).feedetail
    request = fees.upload_request(envelope("2301", body), lines)
    assert [sorted(line) for line in request["lines"]] == [
        [
            "amount_fen",
            "cnt",
            "details",
            "fee_ocur_time",
            "feedetl_sn",
            "med_list_codg",
            "medins_list_codg",
            "pric",
        ]
    ] * 2
    # The order number is kept as 5204's 处方/医嘱号.
    assert request["lines"][0]["details"] == {
        "bilg_dept_codg": "NK",
        "bilg_dr_codg": "D001",
        "rx_drord_no": "YZ001",
    }
    negative = input_error(
        inpatient.Input2301, {"feedetail": [inpatient_fee(cnt="-60", det_item_fee_sumamt="-30.00")]}
    )
    assert negative == (
        "input.feedetail[0].det_item_fee_sumamt: 暂不支持负数(冲销)明细：请用2302撤销原明细后重新上传; "
        "input.feedetail[0].cnt: 暂不支持负数(冲销)明细：请用2302撤销原明细后重新上传"
    )
    assert input_error(inpatient.Input2301, {"feedetail": [inpatient_fee(cnt="0")]}) == (
        "input.feedetail[0].cnt: 必须大于0"
    )
    write_off = input_error(inpatient.Input2301, {"feedetail": [inpatient_fee("2", init_feedetl_sn="1")]})
    assert (
        write_off == "input.feedetail[0]: init_feedetl_sn: 暂不支持冲销原明细 1：请用2302撤销原明细后重新上传"
    )


def test_fee_withdrawals() -> None:
    data = outpatient.Input2205.model_validate(
        {"data": {"mdtrt_id": VISIT_ID, "chrg_bchno": "0000", "psn_no": PSN_NO}}
    )
    assert outpatient.cancel_batch_request(envelope("2205", {}), data.data) == {
        "fixmedins_code": HOSPITAL,
        "chrg_bchno": "0000",
        "feedetl_sns": [],
    }
    assert input_error(outpatient.Input2205, {"data": {"mdtrt_id": VISIT_ID, "psn_no": PSN_NO}}) == (
        "input.data.chrg_bchno: 必填"
    )
    one = inpatient.Input2302.model_validate(
        {"data": {"mdtrt_id": STAY_ID, "psn_no": PSN_NO, "feedetl_sn": "7"}}
    )
    assert inpatient.cancel_lines_request(envelope("2302", {}), one.data) == {
        "fixmedins_code": HOSPITAL,
        "feedetl_sns": ["7"],
    }
    every = inpatient.Input2302.model_validate(
        {"data": {"mdtrt_id": STAY_ID, "psn_no": PSN_NO, "feedetl_sn": "0000"}}
    )
    assert inpatient.cancel_lines_request(envelope("2302", {}), every.data)["feedetl_sns"] == []
    assert fees.cancelled_warning(2, "本次住院") is None
    assert fees.cancelled_warning(0, "本次住院") == (
        "本次住院没有未结算的费用明细，未撤销任何明细 (已结算的明细须先撤销结算)"
    )


# --- settling -------------------------------------------------------------------------------------------


def test_outpatient_settlement_body() -> None:
    data = outpatient.Input2207.model_validate({"data": settle_data(invono="FP001", acct_used_flag="1")}).data
    assert outpatient.settle_request(envelope("2207", {}), data) == {
        "msgid": MSGID,
        "fixmedins_code": HOSPITAL,
        "psn_no": PSN_NO,
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": CERTNO,
        "medfee_sumamt_fen": 9000,
        "chrg_bchno": "B001",
        "mid_setl_flag": False,
        "invono": "FP001",
        # Checked by the settlement service where it settles (tests/settlement/test_encounters.py).
        "setting": "outpatient",
        "med_type": "11",
    }
    assert (
        input_error(outpatient.Input2207, {"data": settle_data(chrg_bchno="")})
        == "input.data.chrg_bchno: 必填"
    )
    assert input_error(outpatient.Input2207, {"data": settle_data(psn_setlway="02")}) == (
        "input.data.psn_setlway: 暂不支持按定额结算，请按项目结算 (01)"
    )


def test_inpatient_settlement_body() -> None:
    base = settle_data(mdtrt_id=STAY_ID, mid_setl_flag="1", dscgTime="")
    del base["chrg_bchno"], base["med_type"]
    data = inpatient.Input2304.model_validate({"data": base}).data
    request = inpatient.settle_request(envelope("2304", {}), data)
    assert (request["chrg_bchno"], request["mid_setl_flag"]) == (None, True)
    assert (request["setting"], request["med_type"]) == ("inpatient", None)
    final = inpatient.Input2304.model_validate({"data": {**base, "mid_setl_flag": "0"}}).data
    assert inpatient.settle_request(envelope("2304", {}), final)["mid_setl_flag"] is False
    assert (
        input_error(inpatient.Input2304, {"data": {**base, "mid_setl_flag": ""}})
        == "input.data.mid_setl_flag: 必填"
    )


def test_settlement_output_and_the_his_sums() -> None:
    output = settling.build_output(SettlementOut.model_validate(visit_settlement()), inpatient=False)
    info = output["setlinfo"]
    assert (info["setl_id"], info["mdtrt_id"], info["clr_type"], str(info["hifp_pay"])) == (
        VISIT_SETL_ID,
        VISIT_ID,
        "11",
        "32.00",
    )
    assert "hifdm_pay" not in info and "psn_pay" not in info
    assert [str(d["fund_payamt"]) for d in output["setldetail"]] == ["32.00"]
    assert sorted(output) == ["setldetail", "setlinfo"]
    inpatient = settling.build_output(SettlementOut.model_validate(stay_settlement()), inpatient=True)[
        "setlinfo"
    ]
    assert (inpatient["clr_type"], str(inpatient["hifdm_pay"])) == ("21", "0.00")

    same = outpatient.Input2207.model_validate(
        {
            "data": settle_data(
                fulamt_ownpay_amt="0.00", overlmt_selfpay="0", preselfpay_amt="6.00", inscp_scp_amt="84"
            )
        }
    ).data
    assert settling.warnings(same, SettlementOut.model_validate(visit_settlement())) is None
    absent = outpatient.Input2207.model_validate({"data": settle_data()}).data
    assert settling.warnings(absent, SettlementOut.model_validate(visit_settlement())) is None
    differs = outpatient.Input2207.model_validate(
        {"data": settle_data(preselfpay_amt="7.00", inscp_scp_amt="83.00", insutype="391")}
    ).data
    assert settling.warnings(differs, SettlementOut.model_validate(visit_settlement())) == (
        "传入信息与医保结算结果不符，以医保结算结果为准: preselfpay_amt 传入 7.00，医保计算 6.00; "
        "inscp_scp_amt 传入 83.00，医保计算 84.00; insutype 传入 391，就诊登记 390"
    )


def test_each_reversal_undoes_only_its_own_kind_of_settlement() -> None:
    def data(setl_id: str, mdtrt_id: str) -> pharmacy.Data2103:
        return pharmacy.Input2103.model_validate(
            {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": PSN_NO}}
        ).data

    pharmacy.check_original(
        envelope("2208", {}), data(VISIT_SETL_ID, VISIT_ID), SettlementOut.model_validate(visit_settlement())
    )
    pharmacy.check_original(
        envelope("2305", {}), data(STAY_SETL_ID, STAY_ID), SettlementOut.model_validate(stay_settlement())
    )
    wrong = refused(
        lambda: pharmacy.check_original(
            envelope("2208", {}), data(STAY_SETL_ID, STAY_ID), SettlementOut.model_validate(stay_settlement())
        )
    )
    assert wrong.err_msg == f"[WRONG_REVERSAL] 结算 {STAY_SETL_ID} 是住院结算，不能用 2208 撤销，请用 2305"
    bought = visit_settlement(clr_type="41")
    assert (
        "请用 2103"
        in refused(
            lambda: pharmacy.check_original(
                envelope("2305", {}), data(VISIT_SETL_ID, VISIT_ID), SettlementOut.model_validate(bought)
            )
        ).message
    )
    reversal = settling.build_output(
        SettlementOut.model_validate(negated(stay_settlement(), setl_id="S2")), inpatient=True
    )["setlinfo"]
    assert (reversal["setl_id"], str(reversal["medfee_sumamt"]), str(reversal["hifp_pay"])) == (
        "S2",
        "-90.00",
        "-32.00",
    )


def test_discharge_and_admission_change() -> None:
    info = {"mdtrt_id": STAY_ID, "psn_no": PSN_NO, "insutype": "390", "endtime": WHEN, "dscg_way": "1"}
    parsed = inpatient.Input2402.model_validate({"dscginfo": info, "diseinfo": []}).dscginfo
    assert inpatient.discharge_request(envelope("2402", {}), parsed) == {
        "fixmedins_code": HOSPITAL,
        "endtime": "2026-11-20T10:00:00+08:00",
        "dise_codg": None,
        "dise_name": None,
        "diagnoses": None,
        "opter_id": "001",
        "opter_name": "收款员",
        "details": {"dscg_way": "1"},  # 离院方式, kept for 5201
    }
    # A day is kept as yyyy-MM-dd, whichever form the HIS sent it in; one that is not a day is not kept.
    died = {**info, "dscg_way": "5", "die_date": "2026-11-20 09:30:00", "birctrl_matn_date": "bad"}
    parsed_died = inpatient.Input2402.model_validate({"dscginfo": died}).dscginfo
    assert inpatient.discharge_request(envelope("2402", {}), parsed_died)["details"] == {
        "dscg_way": "5",
        "die_date": "2026-11-20",
    }
    assert not inpatient.needs_matn_type(parsed, EncounterOut.model_validate(stay()))
    birth = inpatient.Input2402.model_validate({"dscginfo": {**info, "matn_type": "1"}}).dscginfo
    assert inpatient.needs_matn_type(birth, EncounterOut.model_validate(stay(med_type="52")))
    assert not inpatient.needs_matn_type(
        birth, EncounterOut.model_validate(stay(med_type="52", matn_type="1"))
    )
    assert input_error(inpatient.Input2402, {"dscginfo": {**info, "dscg_way": "6"}}) == (
        "input.dscginfo.dscg_way: 格式不正确"
    )
    assert (
        input_error(inpatient.Input2402, {"dscginfo": {**info, "endtime": ""}})
        == "input.dscginfo.endtime: 必填"
    )

    change = inpatient.Input2403.model_validate(
        {
            "adminfo": {
                "mdtrt_id": STAY_ID,
                "psn_no": PSN_NO,
                "begntime": "2026-11-20 09:00:00",
                "med_type": "22",
            }
        }
    ).adminfo
    assert inpatient.admission_time_warning(change, EncounterOut.model_validate(stay())) is None
    moved = change.model_copy(update={"begntime": "2026-11-19 09:00:00"})
    assert inpatient.admission_time_warning(moved, EncounterOut.model_validate(stay())) == (
        "入院时间不能变更，仍为 2026-11-20 09:00:00 (传入 2026-11-19 09:00:00 未采用)"
    )
    assert input_error(
        inpatient.Input2403, {"adminfo": {"mdtrt_id": STAY_ID, "psn_no": PSN_NO, "med_type": "11"}}
    ).startswith("input.adminfo: 医疗类别 11 不是住院类别")


def test_every_transaction_is_routed_and_counted() -> None:
    infnos = {"2201", "2202", "2203", "2203A", "2204", "2205", "2206", "2207", "2208"}
    infnos |= {"2301", "2302", "2303", "2304", "2305", "2401", "2402", "2403", "2404", "2405"}
    assert infnos <= set(registry.TRANSACTIONS) and infnos <= KNOWN_INFNO_LABELS
