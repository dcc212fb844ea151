"""The settlement mappings of 2101/2102/2103/2601/5203 on hand-built settlement-service answers (no database,
no network): fen to two-decimal yuan, fund types to setlinfo columns, reversals negative, and the checks the
gateway makes of its input and of what the settlement service answered."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from gateway.nhsa import pharmacy, queries, void
from gateway.protocol.envelope import RequestEnvelope, dumps
from gateway.protocol.errors import OutcomeUnknown, Refusal
from gateway.protocol.funds import setlinfo_fund_columns, summary_disagreements
from pydantic import ValidationError

from platformctl import examples
from shared.contracts.v1.settlement import FundOut, SettlementOut, VoidOut
from tests.gateway.factories import (
    MDTRT_ID,
    PHARMACY,
    PSN_NO,
    REVERSAL_SETL_ID,
    SETL_ID,
    fund,
    readme_purchase,
    readme_reversal,
)

MSGID = "P34152400001202611201200000009"
#: The codes 2601 may void, as the registry declares them (tests/gateway/test_registry.py).
VOIDABLE = ("2102", "2207", "2304")


def envelope(infno: str, body: dict[str, Any], fixmedins_code: str = PHARMACY) -> RequestEnvelope:
    return RequestEnvelope.model_validate(
        examples.envelope(infno, MSGID, body, insuplc_admdvs="341524", fixmedins_code=fixmedins_code)
    )


def texts(row: dict[str, Any], *names: str) -> dict[str, str]:
    """The fields as the wire shows them (Decimal kept exact: str gives its two decimals)."""
    return {name: str(row[name]) for name in names}


def refused(call: Any) -> Refusal:
    with pytest.raises(Refusal) as caught:
        call()
    return caught.value


AMOUNTS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "hifmi_pay",
    "maf_pay",
    "oth_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "psn_cash_pay",
)


# --- 2102 / 2101 output ----------------------------------------------------------------------------------


def test_readme_purchase_in_yuan() -> None:
    output = pharmacy.build_output(SettlementOut.model_validate(readme_purchase()))
    info = output["setlinfo"]
    # 90.00 total; 6.00 乙 first; 84.00 in range; 20.00 deductible; (84.00 - 20.00) x 50 % = 32.00 fund;
    # 58.00 cash.
    assert texts(info, *AMOUNTS) == {
        "medfee_sumamt": "90.00",
        "fulamt_ownpay_amt": "0.00",
        "overlmt_selfpay": "0.00",
        "preselfpay_amt": "6.00",
        "inscp_scp_amt": "84.00",
        "act_pay_dedc": "20.00",
        "hifp_pay": "32.00",
        "hifmi_pay": "0.00",
        "maf_pay": "0.00",
        "oth_pay": "0.00",
        "fund_pay_sumamt": "32.00",
        "psn_part_amt": "58.00",
        "psn_cash_pay": "58.00",
    }
    assert (info["setl_id"], info["mdtrt_id"], info["medins_setl_id"]) == (
        SETL_ID,
        MDTRT_ID,
        "P34152400001202611201000000002",
    )
    assert (info["setl_time"], str(info["pool_prop_selfpay"]), info["clr_optins"], info["clr_type"]) == (
        "2026-11-20 10:00:05",
        "0.5000",
        "341524",
        "41",
    )
    assert [
        texts(d, "fund_pay_type", "inscp_scp_amt", "crt_payb_lmt_amt", "fund_payamt")
        for d in output["setldetail"]
    ] == [
        {
            "fund_pay_type": "390100",
            "inscp_scp_amt": "84.00",
            "crt_payb_lmt_amt": "300.00",
            "fund_payamt": "32.00",
        }
    ]
    assert output["setldetail"][0]["fund_pay_type_name"] == "城乡居民基本医疗保险基金"
    danshen = output["detlcutinfo"][1]
    assert texts(danshen, "det_item_fee_sumamt", "preselfpay_amt", "inscp_scp_amt", "selfpay_prop") == {
        "det_item_fee_sumamt": "60.00",
        "preselfpay_amt": "6.00",
        "inscp_scp_amt": "54.00",
        "selfpay_prop": "0.1000",
    }
    assert "pric_uplmt_amt" not in danshen  # no price cap: left out, never null


def test_catastrophic_and_assistance_funds_have_their_own_columns() -> None:
    # A 低保 chronic purchase of 500.00: 20.00 丙 + 5.00 over the price cap + 15.00 乙 first = 40.00 out of
    # range, 460.00 in range; pooling (460.00 - 20.00) x 50 % = 220.00; catastrophic 30.00; assistance 70 %
    # of the 210.00 still borne in range = 147.00. Funds 397.00, the person 103.00.
    s = readme_purchase(
        med_type="140104",
        medfee_sumamt_fen=50000,
        fully_self_paid_fen=2000,
        over_price_cap_fen=500,
        self_pay_first_fen=1500,
        policy_range_fen=46000,
        deductible_fen=2000,
        pooled_fund_paid_fen=22000,
        catastrophic_paid_fen=3000,
        assistance_paid_fen=14700,
        fund_paid_total_fen=39700,
        personal_burden_fen=10300,
        cash_paid_fen=10300,
        funds=[
            fund("390100", 22000, 46000, 30000),
            fund("390200", 3000, 24000, 4000000),
            fund("610100", 14700, 21000, 1000000),
        ],
    )
    output = pharmacy.build_output(SettlementOut.model_validate(s))
    assert texts(output["setlinfo"], *AMOUNTS) == {
        "medfee_sumamt": "500.00",
        "fulamt_ownpay_amt": "20.00",
        "overlmt_selfpay": "5.00",
        "preselfpay_amt": "15.00",
        "inscp_scp_amt": "460.00",
        "act_pay_dedc": "20.00",
        "hifp_pay": "220.00",
        "hifmi_pay": "30.00",
        "maf_pay": "147.00",
        "oth_pay": "0.00",
        "fund_pay_sumamt": "397.00",
        "psn_part_amt": "103.00",
        "psn_cash_pay": "103.00",
    }
    assert [
        (d["fund_pay_type"], d["fund_pay_type_name"], str(d["fund_payamt"])) for d in output["setldetail"]
    ] == [
        ("390100", "城乡居民基本医疗保险基金", "220.00"),
        ("390200", "城乡居民大病医疗保险基金", "30.00"),
        ("610100", "医疗救助基金", "147.00"),
    ]
    assert summary_disagreements(SettlementOut.model_validate(s)) == []


def test_funds_without_a_column_of_their_own_are_other_pay() -> None:
    columns = setlinfo_fund_columns(
        [
            FundOut.model_validate(fund("390100", 1000, 0, 0)),
            FundOut.model_validate(fund("640100", 250, 0, 0)),
            FundOut.model_validate(fund("999997", 5, 0, 0)),
            FundOut.model_validate(fund("330100", 7, 0, 0)),
        ]
    )
    assert columns == {
        "hifp_pay": 1000,
        "cvlserv_pay": 0,
        "hifes_pay": 0,
        "hifmi_pay": 0,
        "hifob_pay": 7,
        "maf_pay": 0,
        "oth_pay": 255,
    }
    s = readme_purchase(funds=[fund("390100", 3200, 8400, 30000), fund("640100", 0, 0, 0)])
    assert (
        pharmacy.build_output(SettlementOut.model_validate(s))["setldetail"][1]["fund_pay_type_name"]
        == "政府兜底基金"
    )


def test_fund_rows_disagreeing_with_the_totals_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    # The rows say 390200 paid 10.00, the totals say nothing did: setlinfo shows the rows, and says so.
    s = readme_purchase(funds=[fund("390100", 3200, 8400, 30000), fund("390200", 1000, 0, 0)])
    assert summary_disagreements(SettlementOut.model_validate(s)) == [
        "catastrophic_paid_fen=0 but fund 390200 rows=1000",
        "fund_paid_total_fen=3200 but rows=4200",
    ]
    with caplog.at_level(logging.WARNING, logger="gateway.nhsa.setlinfo"):
        info = pharmacy.build_output(SettlementOut.model_validate(s))["setlinfo"]
    assert str(info["hifmi_pay"]) == "10.00"
    assert "catastrophic_paid_fen=0" in caplog.text


def test_preview_answers_like_a_settlement_without_a_setl_id() -> None:
    output = pharmacy.build_output(
        SettlementOut.model_validate(readme_purchase(setl_id="", mdtrt_id="", status="preview"))
    )
    assert (output["setlinfo"]["setl_id"], str(output["setlinfo"]["hifp_pay"])) == ("", "32.00")
    assert set(output) == {"setlinfo", "setldetail", "detlcutinfo"}


# --- 2101 / 2102 input -----------------------------------------------------------------------------------


def _purchase_input(**druginfo: Any) -> dict[str, Any]:
    body = examples.example_2102(PSN_NO, "34152419850312013X")["input"]
    body["druginfo"].update(druginfo)
    return dict(body)


def test_chronic_purchase_needs_the_disease_and_passes_it_on() -> None:
    for missing in ({}, {"dise_codg": ""}, {"dise_codg": "  "}):
        with pytest.raises(ValidationError) as caught:
            pharmacy.Input2102.model_validate(_purchase_input(med_type="140104", **missing))
        assert "须填写病种编码 dise_codg" in str(caught.value)
    data = pharmacy.Input2102.model_validate(_purchase_input(med_type="140104", dise_codg="M03900"))
    request = pharmacy.settlement_request(envelope("2102", _purchase_input()), data)
    assert (request["med_type"], request["dise_codg"]) == ("140104", "M03900")
    plain = pharmacy.Input2102.model_validate(_purchase_input(dise_codg=""))
    assert pharmacy.settlement_request(envelope("2102", _purchase_input()), plain)["dise_codg"] is None


def test_hospital_approval_flag_goes_through_per_line_when_given() -> None:
    body = _purchase_input()
    body["drugdetail"][0]["hosp_appr_flag"] = "1"
    body["drugdetail"][1]["hosp_appr_flag"] = ""
    data = pharmacy.Input2102.model_validate(body)
    lines = pharmacy.settlement_request(envelope("2102", body), data)["lines"]
    assert lines[0]["hosp_appr_flag"] == "1"
    assert "hosp_appr_flag" not in lines[1]  # not given: the settlement service's default, 0
    body["drugdetail"][0]["hosp_appr_flag"] = "3"
    with pytest.raises(ValidationError):
        pharmacy.Input2102.model_validate(body)


# --- 2103 ------------------------------------------------------------------------------------------------


def test_reversal_output_is_negative_with_two_decimals() -> None:
    output = pharmacy.build_reversal_output(SettlementOut.model_validate(readme_reversal()))
    info = output["setlinfo"]
    assert texts(info, *AMOUNTS, "psn_pay", "cash_payamt") == {
        "medfee_sumamt": "-90.00",
        "fulamt_ownpay_amt": "0.00",
        "overlmt_selfpay": "0.00",
        "preselfpay_amt": "-6.00",
        "inscp_scp_amt": "-84.00",
        "act_pay_dedc": "-20.00",
        "hifp_pay": "-32.00",
        "hifmi_pay": "0.00",
        "maf_pay": "0.00",
        "oth_pay": "0.00",
        "fund_pay_sumamt": "-32.00",
        "psn_part_amt": "-58.00",
        "psn_cash_pay": "-58.00",
        "psn_pay": "-58.00",
        "cash_payamt": "-58.00",
    }
    assert (info["setl_id"], info["mdtrt_id"], info["medins_setl_id"], info["setl_time"]) == (
        REVERSAL_SETL_ID,
        MDTRT_ID,
        "P34152400001202611201100000003",
        "2026-11-20 11:00:00",
    )
    [detail] = output["setldetail"]
    assert texts(detail, "inscp_scp_amt", "crt_payb_lmt_amt", "fund_payamt") == {
        "inscp_scp_amt": "-84.00",
        "crt_payb_lmt_amt": "300.00",
        "fund_payamt": "-32.00",
    }
    assert set(output) == {"setlinfo", "setldetail"}
    wire = dumps(output)
    assert '"hifp_pay":-32.00' in wire and '"cash_payamt":-58.00' in wire and '"maf_pay":0.00' in wire


def test_reversal_input_and_the_original_it_names() -> None:
    data = pharmacy.Input2103.model_validate(
        {"data": {"setl_id": SETL_ID, "mdtrt_id": MDTRT_ID, "psn_no": PSN_NO}}
    ).data
    own = envelope("2103", {"data": {}})
    pharmacy.check_original(own, data, SettlementOut.model_validate(readme_purchase()))
    assert pharmacy.reversal_request(own, data) == {
        "msgid": MSGID,
        "fixmedins_code": PHARMACY,
        "psn_no": PSN_NO,
    }
    other = envelope("2103", {"data": {}}, fixmedins_code="P34152400009")
    assert refused(
        lambda: pharmacy.check_original(other, data, SettlementOut.model_validate(readme_purchase()))
    ).err_msg == ("[NOT_YOUR_SETTLEMENT] 只能撤销本机构的结算")
    elsewhere = readme_purchase(mdtrt_id="M34152420261120000000000000099")
    assert (
        refused(lambda: pharmacy.check_original(own, data, SettlementOut.model_validate(elsewhere))).code
        == "MDTRT_MISMATCH"
    )
    for bad in (
        {"setl_id": "../x", "mdtrt_id": MDTRT_ID, "psn_no": PSN_NO},
        {"setl_id": SETL_ID, "psn_no": PSN_NO},
    ):
        with pytest.raises(ValidationError):
            pharmacy.Input2103.model_validate({"data": bad})


# --- 2601 ------------------------------------------------------------------------------------------------


def _data_2601(**changes: Any) -> dict[str, Any]:
    return {
        "data": {"psn_no": PSN_NO, "omsgid": "P34152400001202611201000000002", "oinfno": "2102", **changes}
    }


def test_void_input() -> None:
    data = void.parse(envelope("2601", _data_2601()), VOIDABLE)
    assert void.void_request(envelope("2601", _data_2601()), data) == {
        "msgid": MSGID,
        "omsgid": "P34152400001202611201000000002",
        "oinfno": "2102",
        "fixmedins_code": PHARMACY,
        "psn_no": PSN_NO,
        "insuplc_admdvs": "341524",
    }
    # Without an insured region in the envelope, none is sent.
    no_region = envelope("2601", _data_2601())
    no_region.insuplc_admdvs = None
    assert "insuplc_admdvs" not in void.void_request(no_region, data)
    not_reversible = refused(lambda: void.parse(envelope("2601", _data_2601(oinfno="2103")), VOIDABLE))
    assert not_reversible.err_msg == "[E_OINFNO] 不支持冲正交易 2103，目前可冲正的交易: 2102, 2207, 2304"
    missing = refused(
        lambda: void.parse(envelope("2601", {"data": {"omsgid": "X", "oinfno": "2102"}}), VOIDABLE)
    )
    assert missing.err_msg == "[E_INPUT] input.data.psn_no: 必填"
    itself = refused(lambda: void.parse(envelope("2601", _data_2601(omsgid=MSGID)), VOIDABLE))
    assert itself.code == "E_INPUT"


def test_void_of_a_logged_message_must_be_the_senders_own_and_its_infno() -> None:
    data = void.parse(envelope("2601", _data_2601()), VOIDABLE)
    own = envelope("2601", _data_2601())
    void.check_original(own, data, None)
    void.check_original(own, data, void.LoggedOriginal("2102", PHARMACY))
    foreign = void.LoggedOriginal("2102", "P34152400009")
    assert refused(lambda: void.check_original(own, data, foreign)).code == "E_NOT_YOUR_MESSAGE"
    lookup = void.LoggedOriginal("1101", PHARMACY)
    assert refused(lambda: void.check_original(own, data, lookup)).err_msg == (
        "[E_OINFNO] 原报文 P34152400001202611201000000002 的交易编号是 1101，与 oinfno 2102 不符"
    )


def test_void_output() -> None:
    data = void.parse(envelope("2601", _data_2601()), VOIDABLE)
    reversed_ = void.build_output(
        data, VoidOut.model_validate({"outcome": "reversed", "reversal": readme_reversal()})
    )
    assert reversed_["data"] == {
        "omsgid": "P34152400001202611201000000002",
        "oinfno": "2102",
        "outcome": "reversed",
        "setl_id": REVERSAL_SETL_ID,
    }
    assert texts(reversed_["setlinfo"], "setl_id", "hifp_pay", "psn_cash_pay", "cash_payamt") == {
        "setl_id": REVERSAL_SETL_ID,
        "hifp_pay": "-32.00",
        "psn_cash_pay": "-58.00",
        "cash_payamt": "-58.00",
    }
    voided = void.build_output(data, VoidOut.model_validate({"outcome": "voided", "reversal": None}))
    assert voided == {
        "data": {
            "omsgid": "P34152400001202611201000000002",
            "oinfno": "2102",
            "outcome": "voided",
            "setl_id": "",
        }
    }
    # (An answer without an outcome does not fit VoidOut: Downstream answers E_OUTCOME_UNKNOWN for it.)
    for strange in ({"outcome": "reversed", "reversal": None}, {"outcome": "done"}):
        with pytest.raises(OutcomeUnknown):
            void.build_output(data, VoidOut.model_validate(strange))


# --- 5203 ------------------------------------------------------------------------------------------------


def test_settlement_query_shows_own_settlements_only() -> None:
    data = queries.Input5203.model_validate({"data": {"setl_id": SETL_ID}}).data
    own = envelope("5203", {"data": {}})
    queries.check_visible(own, data, SettlementOut.model_validate(readme_purchase()))
    other = envelope("5203", {"data": {}}, fixmedins_code="P34152400009")
    assert refused(
        lambda: queries.check_visible(other, data, SettlementOut.model_validate(readme_purchase()))
    ).err_msg == ("[NOT_YOUR_SETTLEMENT] 只能查询本机构的结算")
    named = queries.Input5203.model_validate(
        {"data": {"setl_id": SETL_ID, "mdtrt_id": "M1", "psn_no": PSN_NO}}
    ).data
    assert (
        refused(
            lambda: queries.check_visible(own, named, SettlementOut.model_validate(readme_purchase()))
        ).code
        == "MDTRT_MISMATCH"
    )
    someone = queries.Input5203.model_validate(
        {"data": {"setl_id": SETL_ID, "psn_no": "341524000000009"}}
    ).data
    assert (
        refused(
            lambda: queries.check_visible(own, someone, SettlementOut.model_validate(readme_purchase()))
        ).code
        == "PSN_MISMATCH"
    )


def test_settlement_query_output() -> None:
    settled = queries.build_output(SettlementOut.model_validate(readme_purchase(status="reversed")))
    info = settled["setlinfo"]
    assert (
        info["refd_setl_flag"],
        info["fixmedins_code"],
        str(info["psn_pay"]),
        str(info["cash_payamt"]),
    ) == (
        "0",
        PHARMACY,
        "58.00",
        "58.00",
    )
    assert set(settled) == {"setlinfo", "setldetail"}
    reversal = queries.build_output(SettlementOut.model_validate(readme_reversal()))["setlinfo"]
    assert (reversal["refd_setl_flag"], str(reversal["medfee_sumamt"]), str(reversal["hifp_pay"])) == (
        "1",
        "-90.00",
        "-32.00",
    )
