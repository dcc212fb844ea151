"""2103 药店结算撤销: undo one pharmacy settlement (docs/interface.md). The reversal is a settlement
record of its own, with a new ``setl_id`` and every amount negated; the HIS keeps it next to the original
(``cxsetl_id``). 2208 门诊结算撤销 and 2305 住院结算撤销 (§2.7, §2.11) take the same input and are checked the
same way; each undoes only its own kind of settlement (by clr_type)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.nhsa import setlinfo
from gateway.nhsa.envelope import RequestEnvelope
from gateway.nhsa.errors import Refusal

#: setl_id values the settlement service issues are letters and digits; nothing else may reach its URL path.
SETL_ID = r"^[0-9A-Za-z_-]{1,30}$"

#: clr_type 清算类别 (docs/interface.md) of the settlements each reversal transaction undoes.
CLR_TYPE_OF_REVERSAL = {"2103": "41", "2208": "11", "2305": "21"}
_KIND_OF_CLR_TYPE = {"41": "药店结算", "11": "门诊结算", "21": "住院结算"}


class Data2103(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    setl_id: str = Field(pattern=SETL_ID)
    mdtrt_id: str = Field(min_length=1, max_length=30)
    psn_no: str = Field(min_length=1, max_length=30)


class Input2103(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data2103


def check_original(envelope: RequestEnvelope, data: Data2103, original: dict[str, Any]) -> None:
    """Before reversing: the settlement is the caller's and belongs to the encounter the HIS named. The
    settlement service checks the institution and the person again when reversing; the encounter only
    the gateway can check, because the reversal endpoint does not take it."""
    if original["fixmedins_code"] != envelope.fixmedins_code:
        raise Refusal("NOT_YOUR_SETTLEMENT", "只能撤销本机构的结算")
    if original["mdtrt_id"] != data.mdtrt_id:
        raise Refusal("MDTRT_MISMATCH", f"就诊ID {data.mdtrt_id} 与原结算 {data.setl_id} 不符")
    expected = CLR_TYPE_OF_REVERSAL.get(envelope.infno)
    if expected is not None and original["clr_type"] != expected:
        kind = _KIND_OF_CLR_TYPE.get(original["clr_type"], f"清算类别 {original['clr_type']} 的结算")
        by = {clr_type: infno for infno, clr_type in CLR_TYPE_OF_REVERSAL.items()}.get(original["clr_type"])
        raise Refusal(
            "WRONG_REVERSAL",
            f"结算 {data.setl_id} 是{kind}，不能用 {envelope.infno} 撤销" + (f"，请用 {by}" if by else ""),
        )


def reversal_request(envelope: RequestEnvelope, data: Data2103) -> dict[str, Any]:
    return {"msgid": envelope.msgid, "fixmedins_code": envelope.fixmedins_code, "psn_no": data.psn_no}


def build_output(reversal: dict[str, Any]) -> dict[str, Any]:
    """The reversal's setlinfo (its own setl_id, negative amounts) and setldetail."""
    return {
        "setlinfo": setlinfo.with_pharmacy_reversal_names(setlinfo.setlinfo(reversal)),
        "setldetail": setlinfo.setldetail(reversal),
    }
