"""Handling one envelope: validate, replay a known msgid, dispatch on infno, remember the final answer."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Counter, Histogram
from pydantic import ValidationError

from gateway.downstream import Downstream
from gateway.messages import service as messages
from gateway.messages.models import MessageLog, VoidedMessage
from gateway.nhsa import t1101, t2102, t2103, t2601, t5203
from gateway.nhsa.envelope import RequestEnvelope, ResponseBuilder, dumps, parse_body
from gateway.nhsa.errors import OutcomeUnknown, Refusal, describe
from shared.db import Database
from shared.observability import LATENCY_BUCKETS

log = logging.getLogger(__name__)

GATEWAY_TRANSACTIONS = Counter(
    "gateway_transactions_total",
    "Envelopes answered, by transaction code and result",
    ["infno", "infcode", "code"],
)
GATEWAY_LATENCY = Histogram(
    "gateway_transaction_duration_seconds",
    "Time to answer an envelope, by transaction code",
    ["infno"],
    buckets=LATENCY_BUCKETS,
)
GATEWAY_REPLAYS = Counter("gateway_replays_total", "Repeated msgids answered from the message log", ["infno"])

Handler = Callable[[RequestEnvelope, Downstream], Awaitable[dict[str, Any]]]


async def _handle_1101(envelope: RequestEnvelope, downstream: Downstream) -> dict[str, Any]:
    try:
        data = t1101.Envelope1101.model_validate(envelope.input).data
    except ValidationError as exc:
        raise Refusal("E_INPUT", describe(exc, "input")) from exc
    on = t1101.reference_date(data)
    key = t1101.lookup_key(data)
    if isinstance(key, t1101.ByCard):
        coverage = await downstream.person_coverage_by_card(key.card_no, key.card_sn)
        t1101.require_active_card(coverage)
    else:
        coverage = await downstream.person_coverage(key.certno)
    return t1101.build_output(coverage, on)


def _pharmacy_input(envelope: RequestEnvelope) -> t2102.Input2102:
    try:
        return t2102.Input2102.model_validate(envelope.input)
    except ValidationError as exc:
        raise Refusal("E_INPUT", describe(exc, "input")) from exc


async def _handle_2101(envelope: RequestEnvelope, downstream: Downstream) -> dict[str, Any]:
    data = _pharmacy_input(envelope)
    preview = await downstream.preview_pharmacy(t2102.settlement_request(envelope, data))
    return t2102.build_output(preview)


async def _handle_2102(envelope: RequestEnvelope, downstream: Downstream) -> dict[str, Any]:
    data = _pharmacy_input(envelope)
    settled = await downstream.settle_pharmacy(t2102.settlement_request(envelope, data))
    return t2102.build_output(settled)


async def _handle_2103(envelope: RequestEnvelope, downstream: Downstream) -> dict[str, Any]:
    try:
        data = t2103.Input2103.model_validate(envelope.input).data
    except ValidationError as exc:
        raise Refusal("E_INPUT", describe(exc, "input")) from exc
    t2103.check_original(envelope, data, await downstream.settlement(data.setl_id))
    reversal = await downstream.reverse_settlement(data.setl_id, t2103.reversal_request(envelope, data))
    return t2103.build_output(reversal)


async def _handle_2601(envelope: RequestEnvelope, downstream: Downstream) -> dict[str, Any]:
    """The settlement side of 2601; the gateway's own message log is checked and marked around it by
    ``EnvelopeProcessor`` (see ``_before`` / ``_after``)."""
    data = t2601.parse(envelope)
    answer = await downstream.void_message(t2601.void_request(envelope, data))
    return t2601.build_output(data, answer)


async def _handle_5203(envelope: RequestEnvelope, downstream: Downstream) -> dict[str, Any]:
    try:
        data = t5203.Input5203.model_validate(envelope.input).data
    except ValidationError as exc:
        raise Refusal("E_INPUT", describe(exc, "input")) from exc
    settlement = await downstream.settlement(data.setl_id)
    t5203.check_visible(envelope, data, settlement)
    return t5203.build_output(settlement)


HANDLERS: dict[str, Handler] = {
    "1101": _handle_1101,
    "2101": _handle_2101,
    "2102": _handle_2102,
    "2103": _handle_2103,
    t2601.INFNO: _handle_2601,
    "5203": _handle_5203,
}
KNOWN_INFNO_LABELS = set(HANDLERS)


def request_digest(body: Any) -> str:
    return hashlib.sha256(dumps({"body": body}).encode()).hexdigest()


class EnvelopeProcessor:
    def __init__(self, db: Database, downstream: Downstream, region_admvs: str, max_body_bytes: int) -> None:
        self.db = db
        self.downstream = downstream
        self.region_admvs = region_admvs
        self.max_body_bytes = max_body_bytes

    async def process(self, raw: bytes) -> str:
        """Answer one request body with a response envelope (always a JSON text, never an exception)."""
        builder = ResponseBuilder(self.region_admvs)
        try:
            answer, infno_label, infcode, code = await self._process(raw, builder)
        except Exception:
            # A fault of ours, e.g. the message log unreachable after a settlement went through. The answer
            # must not claim success, and the cashier must know a repeat of the msgid settles the doubt.
            log.exception("gateway fault while answering an envelope")
            refusal = OutcomeUnknown(
                "E_INTERNAL", "医保网关内部错误，交易结果未知：请用原报文ID重发本交易查询结果"
            )
            answer, infno_label, infcode, code = (
                dumps(builder.build(infcode=-1, err_msg=refusal.err_msg)),
                "invalid",
                -1,
                refusal.code,
            )
        GATEWAY_TRANSACTIONS.labels(infno_label, str(infcode), code).inc()
        return answer

    async def _process(self, raw: bytes, builder: ResponseBuilder) -> tuple[str, str, int, str]:
        """Returns (answer, infno label, infcode, result code)."""

        def refuse(refusal: Refusal, label: str = "invalid") -> tuple[str, str, int, str]:
            return dumps(builder.build(infcode=-1, err_msg=refusal.err_msg)), label, -1, refusal.code

        if len(raw) > self.max_body_bytes:
            return refuse(Refusal("E_TOO_LARGE", f"报文过大，超过 {self.max_body_bytes} 字节"))
        try:
            body = parse_body(raw)
        except (UnicodeDecodeError, ValueError):
            return refuse(Refusal("E_JSON", "报文不是合法的 UTF-8 JSON"))
        if not isinstance(body, dict):
            return refuse(Refusal("E_JSON", "报文必须是 JSON 对象"))
        try:
            envelope = RequestEnvelope.model_validate(body)
        except ValidationError as exc:
            return refuse(Refusal("E_ENVELOPE", describe(exc)))
        label = envelope.infno if envelope.infno in KNOWN_INFNO_LABELS else "unknown"
        handler = HANDLERS.get(envelope.infno)
        if handler is None:
            return refuse(Refusal("E_INFNO", f"不支持的交易编号: {envelope.infno}"), label)

        digest = request_digest(body)
        earlier, voided = await messages.find_with_void(self.db, envelope.msgid)
        if voided is not None:
            # Whatever answer the log holds for it described an effect 2601 has undone (or prevented).
            return refuse(t2601.voided(), label)
        if earlier is not None:
            if earlier.request_sha256 != digest or earlier.infno != envelope.infno:
                return refuse(
                    Refusal("E_MSGID_REUSED", f"报文ID {envelope.msgid} 已被另一笔不同内容的交易使用"), label
                )
            GATEWAY_REPLAYS.labels(label).inc()
            return earlier.response, label, earlier.infcode, "replay"

        with GATEWAY_LATENCY.labels(label).time():
            try:
                await self._before(envelope)
                output = await handler(envelope, self.downstream)
                await self._after(envelope, output)
                answer, infcode, code = dumps(builder.build(infcode=0, output=output)), 0, "ok"
            except OutcomeUnknown as unknown:
                # Not remembered: a repeat of this msgid must reach settlement again, which answers with
                # the settlement it made (if any) rather than making a second one.
                log.warning("outcome unknown for msgid %s infno %s", envelope.msgid, envelope.infno)
                return dumps(builder.build(infcode=-1, err_msg=unknown.err_msg)), label, -1, unknown.code
            except Refusal as refusal:
                answer, infcode, code = (
                    dumps(builder.build(infcode=-1, err_msg=refusal.err_msg)),
                    -1,
                    refusal.code,
                )
            if code in ("E_UNAVAILABLE", "E_TIMEOUT"):
                return answer, label, infcode, code  # transient: let the HIS retry the same msgid
        stored = await messages.remember(
            self.db,
            MessageLog(
                msgid=envelope.msgid,
                infno=envelope.infno,
                fixmedins_code=envelope.fixmedins_code,
                request_sha256=digest,
                infcode=infcode,
                response=answer,
            ),
        )
        return stored.response, label, stored.infcode, code

    async def _before(self, envelope: RequestEnvelope) -> None:
        """2601: a message the gateway answered may be voided only by its sender and under its own infno."""
        if envelope.infno == t2601.INFNO:
            data = t2601.parse(envelope)
            original = await messages.find(self.db, data.omsgid)
            logged = t2601.LoggedOriginal(original.infno, original.fixmedins_code) if original else None
            t2601.check_original(envelope, data, logged)

    async def _after(self, envelope: RequestEnvelope, output: dict[str, Any]) -> None:
        """2601 reversed or voided the original: mark it before answering, so that no later repeat of its
        msgid is answered with a stored success. (If marking fails, the 2601 is answered "outcome unknown"
        and its repeat, idempotent at settlement, marks it then.)"""
        if envelope.infno == t2601.INFNO:
            result = output["data"]
            await messages.record_void(
                self.db,
                VoidedMessage(
                    msgid=result["omsgid"],
                    infno=result["oinfno"],
                    fixmedins_code=envelope.fixmedins_code,
                    outcome=result["outcome"],
                    reversal_setl_id=result["setl_id"] or None,
                    void_msgid=envelope.msgid,
                ),
            )
