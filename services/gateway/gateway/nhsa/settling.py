"""Settling an encounter, as the outpatient and inpatient families share it: 2206 门诊预结算 / 2207 门诊结算
(one charge batch, docs/interface.md) and 2303 住院预结算 / 2304 住院结算 (the stay, or what is uploaded so
far with ``mid_setl_flag`` 1, §2.10); the reversals 2208 / 2305 (§2.7, §2.11) answer in the same shape.
The settlement service's answer (``SettlementOut``) maps to ``setlinfo`` / ``setldetail`` through
``setlinfo.py``, like a pharmacy settlement.

The four sums the HIS adds (``fulamt_ownpay_amt``, ``overlmt_selfpay``, ``preselfpay_amt``,
``inscp_scp_amt``: its own totals of the 2204/2301 results) are informational: the settlement's own
classification is what counts, and a difference is reported in ``warn_msg``, never refused."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from gateway.nhsa import setlinfo
from gateway.nhsa.encounter import (
    CERT_TYPE,
    INPATIENT,
    MDTRT_ID,
    Insutype,
    Setting,
    WireNode,
)
from gateway.nhsa.envelope import Answer, RequestEnvelope
from gateway.nhsa.transaction import Call
from shared.contracts.v1.settlement import SettlementOut
from shared.money import YuanAsFen, fen_to_yuan

#: The HIS's sums and the settlement answer's fields they must agree with.
HIS_SUMS = {
    "fulamt_ownpay_amt": "fully_self_paid_fen",
    "overlmt_selfpay": "over_price_cap_fen",
    "preselfpay_amt": "self_pay_first_fen",
    "inscp_scp_amt": "policy_range_fen",
}


class SettleData(WireNode):
    """``data`` as 2206/2207 and 2303/2304 share it."""

    psn_no: str = Field(min_length=1, max_length=30)
    mdtrt_cert_type: str = Field(pattern=CERT_TYPE)
    mdtrt_cert_no: str = Field(min_length=1, max_length=50)
    medfee_sumamt: YuanAsFen
    #: 个人结算方式: 01 按项目结算 (the only one offered), 02 按定额结算.
    psn_setlway: str = Field(default="01", pattern=r"^(01|02)$")
    mdtrt_id: str = Field(pattern=MDTRT_ID)
    insutype: Insutype
    #: 个人账户使用标志: residents have no personal account, so it changes nothing.
    acct_used_flag: str = Field(default="0", pattern=r"^(0|1)$")
    invono: str | None = Field(default=None, max_length=20)
    fulamt_ownpay_amt: YuanAsFen | None = None
    overlmt_selfpay: YuanAsFen | None = None
    preselfpay_amt: YuanAsFen | None = None
    inscp_scp_amt: YuanAsFen | None = None

    @field_validator("psn_setlway")
    @classmethod
    def _by_item(cls, value: str) -> str:
        if value != "01":
            raise ValueError("暂不支持按定额结算，请按项目结算 (01)")
        return value


def settle_request(
    envelope: RequestEnvelope,
    data: SettleData,
    *,
    setting: Setting,
    chrg_bchno: str | None = None,
    med_type: str | None = None,
    mid_setl: bool = False,
) -> dict[str, Any]:
    """``EncounterSettle``. The settlement service checks, in the settling transaction, that the encounter
    is the caller's, of this setting (2207 must not settle a stay, 2304 a visit) and of this person, and
    that a visit is registered under this med_type (2201, or 2203 since): no call of its own to read it."""
    return {
        "msgid": envelope.msgid,
        "fixmedins_code": envelope.fixmedins_code,
        "psn_no": data.psn_no,
        "mdtrt_cert_type": data.mdtrt_cert_type,
        "mdtrt_cert_no": data.mdtrt_cert_no,
        "medfee_sumamt_fen": data.medfee_sumamt,
        "chrg_bchno": chrg_bchno,
        "mid_setl_flag": mid_setl,
        "invono": data.invono,
        "setting": setting,
        "med_type": med_type,
    }


def with_inpatient_columns(info: dict[str, Any]) -> dict[str, Any]:
    """2303/2304/2305 setlinfo also carries ``hifdm_pay`` (伤残人员医疗保障基金, docs/interface.md): no
    resident fund pays into it."""
    return {**info, "hifdm_pay": fen_to_yuan(0)}


def build_output(s: SettlementOut, *, inpatient: bool) -> dict[str, Any]:
    """A (pre-)settlement or a reversal: ``setlinfo`` and ``setldetail`` (2206/2303: ``setl_id`` "")."""
    info = setlinfo.setlinfo(s)
    return {
        "setlinfo": with_inpatient_columns(info) if inpatient else info,
        "setldetail": setlinfo.setldetail(s),
    }


def warnings(data: SettleData, s: SettlementOut) -> str | None:
    """Where the HIS's own figures differ from the settlement's (which are the ones that count)."""
    problems = []
    for wire, domain in HIS_SUMS.items():
        sent = getattr(data, wire)
        computed = getattr(s, domain)
        if sent is not None and sent != computed:
            problems.append(f"{wire} 传入 {fen_to_yuan(sent)}，医保计算 {fen_to_yuan(computed)}")
    if data.insutype != s.insutype:
        problems.append(f"insutype 传入 {data.insutype}，就诊登记 {s.insutype}")
    if not problems:
        return None
    return "传入信息与医保结算结果不符，以医保结算结果为准: " + "; ".join(problems)


async def settle(call: Call, data: SettleData, request: dict[str, Any], *, binding: bool) -> Answer:
    """2206 / 2303 (nothing written; a timeout is "try again") and 2207 / 2304 (binding; a timeout is
    "outcome unknown"). The encounter is checked where it is settled."""
    if binding:
        settled = await call.downstream.settle_encounter(data.mdtrt_id, request)
    else:
        settled = await call.downstream.preview_encounter(data.mdtrt_id, request)
    inpatient = request["setting"] == INPATIENT
    return Answer(build_output(settled, inpatient=inpatient), warnings(data, settled))
