"""5201 就诊信息查询 and 5203 结算信息查询.

5201: one encounter as stored, by ``mdtrt_id``, for the calling institution only (docs/interface.md); the
national list by ``psn_no`` and a date range is not answered yet (a 5201 without ``mdtrt_id`` is refused).

5203: one settlement as stored, for an institution that lost its answer or reprints it. An
institution sees its own settlements only. The 5203 setlinfo model (public HIS code) carries, besides the
2207 fields, ``psn_pay`` / ``cash_payamt``, ``fixmedins_code`` and ``refd_setl_flag`` (退费结算标志)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.nhsa import setlinfo
from gateway.nhsa.encounter import MDTRT_ID
from gateway.nhsa.envelope import RequestEnvelope
from gateway.nhsa.errors import Refusal
from gateway.nhsa.pharmacy import SETL_ID
from gateway.nhsa.transaction import Call, Transaction
from shared.clock import format_wire_time
from shared.contracts.v1.settlement import EncounterOut, SettlementOut


class Data5203(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    setl_id: str = Field(pattern=SETL_ID)
    mdtrt_id: str | None = Field(default=None, max_length=30)
    psn_no: str | None = Field(default=None, max_length=30)


class Input5203(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data5203


def check_visible(envelope: RequestEnvelope, data: Data5203, s: SettlementOut) -> None:
    """Another institution's settlement is refused before anything of it is shown; an encounter or person
    given by the HIS must be the settlement's."""
    if s.fixmedins_code != envelope.fixmedins_code:
        raise Refusal("NOT_YOUR_SETTLEMENT", "只能查询本机构的结算")
    if data.mdtrt_id and data.mdtrt_id != s.mdtrt_id:
        raise Refusal("MDTRT_MISMATCH", f"就诊ID {data.mdtrt_id} 与结算 {data.setl_id} 不符")
    if data.psn_no and data.psn_no != s.person.psn_no:
        raise Refusal("PSN_MISMATCH", f"人员编号 {data.psn_no} 与结算 {data.setl_id} 不符")


def build_output(s: SettlementOut) -> dict[str, Any]:
    info = setlinfo.with_pharmacy_reversal_names(setlinfo.setlinfo(s))
    info["fixmedins_code"] = s.fixmedins_code
    # 1 for a reversal record (negative amounts); 0 for a settlement, also one that was reversed since.
    info["refd_setl_flag"] = "1" if s.status == "reversal" else "0"
    return {"setlinfo": info, "setldetail": setlinfo.setldetail(s)}


async def _handle_5203(call: Call, data: Input5203) -> dict[str, Any]:
    envelope = call.envelope
    settlement = await call.downstream.settlement(data.data.setl_id, envelope.fixmedins_code)
    check_visible(envelope, data.data, settlement)
    return build_output(settlement)


class Data5201(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    psn_no: str = Field(min_length=1, max_length=30)
    mdtrt_id: str = Field(pattern=MDTRT_ID)


class Input5201(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data5201


def mdtrtinfo(encounter: EncounterOut) -> dict[str, Any]:
    """The stored encounter under the national 5201 names; times as ``yyyy-MM-dd HH:mm:ss``."""
    return {
        "mdtrt_id": encounter.mdtrt_id,
        "psn_no": encounter.psn_no,
        "fixmedins_code": encounter.fixmedins_code,
        "ipt_otp_no": encounter.ipt_otp_no,
        "insutype": encounter.insutype,
        "med_type": encounter.med_type,
        "begntime": format_wire_time(encounter.begntime),
        "endtime": format_wire_time(encounter.endtime) if encounter.endtime else None,
        "dise_codg": encounter.dise_codg,
        "matn_type": encounter.matn_type,
    }


async def _handle_5201(call: Call, data: Input5201) -> dict[str, Any]:
    envelope = call.envelope
    # The settlement service refuses another institution's encounter (NOT_YOUR_ENCOUNTER).
    encounter = await call.downstream.encounter(data.data.mdtrt_id, envelope.fixmedins_code)
    if encounter.fixmedins_code != envelope.fixmedins_code:
        raise Refusal("NOT_YOUR_ENCOUNTER", "只能查询本机构的就诊")
    if data.data.psn_no != encounter.psn_no:
        raise Refusal("PSN_MISMATCH", f"人员编号 {data.data.psn_no} 与就诊 {data.data.mdtrt_id} 不符")
    return {"mdtrtinfo": [mdtrtinfo(encounter)]}


TRANSACTIONS = (
    Transaction("5201", "queries", "就诊信息查询", Input5201, _handle_5201),
    Transaction("5203", "queries", "结算信息查询", Input5203, _handle_5203),
)
