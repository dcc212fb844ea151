"""2601 冲正交易: the sender never got the answer to its message ``omsgid`` (docs/interface.md). The
settlement service decides: what settled under omsgid is reversed, and if nothing did, omsgid is voided so
that it never will. Either way the original message is dead: the gateway must not answer a later repeat of
omsgid with the success it may have stored for it (``E_VOIDED``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.nhsa import setlinfo
from gateway.nhsa.envelope import RequestEnvelope
from gateway.nhsa.errors import OutcomeUnknown, Refusal, describe

INFNO = "2601"
#: Transactions this platform can 冲正: the settlements, whose effect the settlement service can undo by
#: msgid (its /api/v1/voids reverses whatever settled under omsgid). The national list is longer (2103,
#: 2208, 2305, 2401); those are not offered here.
REVERSIBLE_INFNOS = ("2102", "2207", "2304")
OUTCOMES = ("reversed", "voided")


def voided() -> Refusal:
    """The answer to any later message under a msgid that 2601 reversed or voided."""
    return Refusal("E_VOIDED", "原交易已冲正")


class Data2601(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    psn_no: str = Field(min_length=1, max_length=30)
    omsgid: str = Field(min_length=1, max_length=30)
    oinfno: str = Field(pattern=r"^\d{4}[A-Z]?$")


class Input2601(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data2601


def parse(envelope: RequestEnvelope) -> Data2601:
    try:
        data = Input2601.model_validate(envelope.input).data
    except ValidationError as exc:
        raise Refusal("E_INPUT", describe(exc, "input")) from exc
    if data.oinfno not in REVERSIBLE_INFNOS:
        raise Refusal(
            "E_OINFNO",
            f"不支持冲正交易 {data.oinfno}，目前可冲正的交易: {', '.join(REVERSIBLE_INFNOS)}",
        )
    if data.omsgid == envelope.msgid:
        raise Refusal("E_INPUT", "input.data.omsgid: 不能与本交易的报文ID相同")
    return data


@dataclass(frozen=True)
class LoggedOriginal:
    """What the gateway's message log knows of omsgid, when it answered it."""

    infno: str
    fixmedins_code: str


def check_original(envelope: RequestEnvelope, data: Data2601, logged: LoggedOriginal | None) -> None:
    """A message the gateway answered must be the caller's own and of the transaction named in oinfno. (An
    answer the gateway holds for omsgid is no reason to refuse: it may never have reached the sender.)"""
    if logged is None:
        return
    if logged.fixmedins_code != envelope.fixmedins_code:
        raise Refusal("E_NOT_YOUR_MESSAGE", f"原报文 {data.omsgid} 不是本机构发送的")
    if logged.infno != data.oinfno:
        raise Refusal(
            "E_OINFNO", f"原报文 {data.omsgid} 的交易编号是 {logged.infno}，与 oinfno {data.oinfno} 不符"
        )


def void_request(envelope: RequestEnvelope, data: Data2601) -> dict[str, Any]:
    return {
        "msgid": envelope.msgid,
        "omsgid": data.omsgid,
        "oinfno": data.oinfno,
        "fixmedins_code": envelope.fixmedins_code,
        "psn_no": data.psn_no,
    }


def build_output(data: Data2601, answer: dict[str, Any]) -> dict[str, Any]:
    """``{"outcome": "reversed", "reversal": SettlementOut}`` or ``{"outcome": "voided", "reversal": null}``
    -> ``data`` (and the reversal's ``setlinfo`` when there is one). An answer of any other shape leaves the
    outcome unknown: the 2601 may have taken effect."""
    outcome = answer.get("outcome")
    reversal = answer.get("reversal")
    if outcome not in OUTCOMES or (outcome == "reversed") != isinstance(reversal, dict):
        raise OutcomeUnknown(
            "E_OUTCOME_UNKNOWN", "医保服务冲正应答格式错误，冲正结果未知：请用本交易的报文ID重发"
        )
    output: dict[str, Any] = {
        "data": {
            "omsgid": data.omsgid,
            "oinfno": data.oinfno,
            "outcome": outcome,
            "setl_id": reversal["setl_id"] if isinstance(reversal, dict) else "",
        }
    }
    if isinstance(reversal, dict):
        output["setlinfo"] = setlinfo.with_pharmacy_reversal_names(setlinfo.setlinfo(reversal))
    return output
