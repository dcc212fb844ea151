"""2601 冲正交易: the sender never got the answer to its message ``omsgid`` (docs/interface.md). The
settlement service decides: what settled under omsgid is reversed, and if nothing did, omsgid is voided so
that it never will. Either way the original message is dead: the gateway must not answer a later repeat of
omsgid with the success it may have stored for it (``E_VOIDED``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway import declaration
from gateway.declaration import Call, Transaction
from gateway.messages import service as messages
from gateway.messages.models import VoidedMessage
from gateway.nhsa import setlinfo
from gateway.protocol.envelope import RequestEnvelope
from gateway.protocol.errors import OutcomeUnknown, Refusal
from shared.contracts.v1.settlement import VoidOut

INFNO = "2601"
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


def check(envelope: RequestEnvelope, data: Data2601, reversible: tuple[str, ...]) -> Data2601:
    """``reversible``: the transactions this platform can 冲正, those the registry declares ``voidable`` (the
    settlements, whose effect the settlement service can undo by msgid: its /api/v1/voids reverses whatever
    settled under omsgid), handed over by the pipeline (``Call.voidable``). The national list is longer
    (2103, 2208, 2305, 2401); those are not offered here."""
    if data.oinfno not in reversible:
        raise Refusal(
            "E_OINFNO",
            f"不支持冲正交易 {data.oinfno}，目前可冲正的交易: {', '.join(reversible)}",
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
    """The settlement service's void; the envelope's insured region when it names one (a peer platform
    hosting it is told of a void that found nothing settled)."""
    request: dict[str, Any] = {
        "msgid": envelope.msgid,
        "omsgid": data.omsgid,
        "oinfno": data.oinfno,
        "fixmedins_code": envelope.fixmedins_code,
        "psn_no": data.psn_no,
    }
    if envelope.insuplc_admdvs:
        request["insuplc_admdvs"] = envelope.insuplc_admdvs
    return request


def build_output(data: Data2601, answer: VoidOut) -> dict[str, Any]:
    """``{"outcome": "reversed", "reversal": SettlementOut}`` or ``{"outcome": "voided", "reversal": null}``
    -> ``data`` (and the reversal's ``setlinfo`` when there is one). An answer of any other shape leaves the
    outcome unknown: the 2601 may have taken effect."""
    outcome, reversal = answer.outcome, answer.reversal
    if outcome not in OUTCOMES or (outcome == "reversed") != (reversal is not None):
        raise OutcomeUnknown(
            "E_OUTCOME_UNKNOWN", "医保服务冲正应答格式错误，冲正结果未知：请用本交易的报文ID重发"
        )
    output: dict[str, Any] = {
        "data": {
            "omsgid": data.omsgid,
            "oinfno": data.oinfno,
            "outcome": outcome,
            "setl_id": reversal.setl_id if reversal is not None else "",
        }
    }
    if reversal is not None:
        output["setlinfo"] = setlinfo.with_pharmacy_reversal_names(setlinfo.setlinfo(reversal))
    return output


def parse(envelope: RequestEnvelope, reversible: tuple[str, ...]) -> Data2601:
    """The 2601 input as read and checked (``E_INPUT`` / ``E_OINFNO``)."""
    return check(envelope, declaration.parse(Input2601, envelope.input).data, reversible)


async def _before(call: Call, data: Input2601) -> None:
    """A message the gateway answered may be voided only by its sender and under its own infno."""
    checked = check(call.envelope, data.data, call.voidable)
    original = await messages.find(call.db, checked.omsgid)
    logged = LoggedOriginal(original.infno, original.fixmedins_code) if original else None
    check_original(call.envelope, checked, logged)


async def _handle_2601(call: Call, data: Input2601) -> dict[str, Any]:
    """The settlement side of 2601; the gateway's own message log is checked before and marked after."""
    checked = check(call.envelope, data.data, call.voidable)
    answer = await call.downstream.void_message(void_request(call.envelope, checked))
    return build_output(checked, answer)


async def _after(call: Call, output: dict[str, Any]) -> None:
    """2601 reversed or voided the original: mark it before answering, so that no later repeat of its
    msgid is answered with a stored success. (If marking fails, the 2601 is answered "outcome unknown"
    and its repeat, idempotent at settlement, marks it then.)"""
    result = output["data"]
    await messages.record_void(
        call.db,
        VoidedMessage(
            msgid=result["omsgid"],
            infno=result["oinfno"],
            fixmedins_code=call.envelope.fixmedins_code,
            outcome=result["outcome"],
            reversal_setl_id=result["setl_id"] or None,
            void_msgid=call.envelope.msgid,
        ),
    )


TRANSACTIONS = (
    Transaction(
        INFNO,
        "void",
        "冲正交易",
        Input2601,
        _handle_2601,
        changes_state=True,
        moves_money=True,
        replayed=True,
        before=_before,
        after=_after,
    ),
)
