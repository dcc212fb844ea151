"""Handling one envelope: validate, replay a known msgid, dispatch on infno, remember the final answer."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Histogram
from pydantic import ValidationError

from gateway import admission, registry
from gateway.capacity import DownstreamSlots
from gateway.downstream import Downstream
from gateway.messages import service as messages
from gateway.nhsa import void
from gateway.nhsa.envelope import (
    Answer,
    BadJson,
    RequestEnvelope,
    ResponseBuilder,
    bad_text,
    dumps,
    parse_body,
)
from gateway.nhsa.errors import TRANSIENT_CODES, OutcomeUnknown, Refusal, describe
from gateway.nhsa.transaction import Call, Transaction, parse
from gateway.security.service import HisSecurity, Signer, check_caller
from shared.db import Database
from shared.inputs import BAD_TEXT
from shared.observability import LATENCY_BUCKETS, msgid_var

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

#: The ``infno`` labels of ``gateway_transactions_total``: the registry's codes, and besides them "invalid"
#: (no readable envelope or signature) and "unknown" (an infno the registry does not hold). Dashboards and
#: deploy checks read them.
KNOWN_INFNO_LABELS = frozenset(registry.TRANSACTIONS)


def request_digest(body: Any) -> str:
    return hashlib.sha256(dumps({"body": body}).encode()).hexdigest()


@dataclass(frozen=True)
class _Read:
    envelope: RequestEnvelope
    body: dict[str, Any]
    label: str
    transaction: Transaction


@dataclass(frozen=True)
class _Refused:
    refusal: Refusal
    label: str = "invalid"


def _read_envelope(raw: bytes, institution: Signer, path_infno: str | None = None) -> _Read | _Refused:
    """The envelope of a signed request, or why it is refused (in the order the checks are documented)."""
    try:
        body = parse_body(raw)
    except BadJson as exc:
        return _Refused(Refusal("E_JSON", str(exc)))
    except (UnicodeDecodeError, ValueError):
        return _Refused(Refusal("E_JSON", "报文不是合法的 UTF-8 JSON"))
    if not isinstance(body, dict):
        return _Refused(Refusal("E_JSON", "报文必须是 JSON 对象"))
    field = bad_text(raw, body)
    if field is not None:
        return _Refused(Refusal("E_INPUT", f"{field}: {BAD_TEXT}"))
    try:
        envelope = RequestEnvelope.model_validate(body)
    except ValidationError as exc:
        return _Refused(Refusal("E_ENVELOPE", describe(exc)))
    msgid_var.set(envelope.msgid)  # on every log line of this request, and sent downstream (X-Msgid)
    label = envelope.infno if envelope.infno in registry.TRANSACTIONS else "unknown"
    if path_infno is not None and path_infno != envelope.infno:
        return _Refused(Refusal("E_PATH", f"交易地址中的交易编号与报文 infno {envelope.infno} 不一致"), label)
    try:
        check_caller(envelope, institution)
    except Refusal as refusal:
        return _Refused(refusal, label)
    transaction = registry.find(envelope.infno)
    if transaction is None:
        return _Refused(Refusal("E_INFNO", f"不支持的交易编号: {envelope.infno}"), label)
    return _Read(envelope, body, label, transaction)


class EnvelopeProcessor:
    def __init__(
        self,
        db: Database,
        downstream: Downstream,
        region_admvs: str,
        max_body_bytes: int,
        *,
        security: HisSecurity,
        slots: DownstreamSlots | None = None,
    ) -> None:
        """``slots``: how many envelopes may be downstream at once (``gateway.capacity``); None: no limit."""
        self.db = db
        self.downstream = downstream
        self.region_admvs = region_admvs
        self.max_body_bytes = max_body_bytes
        self.security = security
        self.slots = slots

    def refuse_path(self, path: str) -> str:
        """The envelope answering a request to an address under ``/fsi/`` that is no path form
        (docs/interface.md, "Path forms")."""
        builder = ResponseBuilder(self.region_admvs)
        del path  # not echoed: it may carry any text
        refusal = Refusal("E_PATH", "交易地址不存在：请发往 /fsi/api/rsfComIfsService/callService")
        GATEWAY_TRANSACTIONS.labels("invalid", "-1", refusal.code).inc()
        return dumps(builder.build(infcode=-1, err_msg=refusal.err_msg))

    async def process(self, raw: bytes, headers: Mapping[str, str], *, path_infno: str | None = None) -> str:
        """Answer one request body with a response envelope (always a JSON text, never an exception).
        ``headers`` (lower-case names) carry the institution's signature; ``path_infno`` is the
        transaction number the address carried, if any (it must be the envelope's ``infno``)."""
        builder = ResponseBuilder(self.region_admvs)
        try:
            answer, infno_label, infcode, code = await self._process(raw, headers, builder, path_infno)
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

    async def _process(
        self, raw: bytes, headers: Mapping[str, str], builder: ResponseBuilder, path_infno: str | None = None
    ) -> tuple[str, str, int, str]:
        """Returns (answer, infno label, infcode, result code)."""

        def refuse(refusal: Refusal, label: str = "invalid") -> tuple[str, str, int, str]:
            return dumps(builder.build(infcode=-1, err_msg=refusal.err_msg)), label, -1, refusal.code

        if len(raw) > self.max_body_bytes:
            return refuse(Refusal("E_TOO_LARGE", f"报文过大，超过 {self.max_body_bytes} 字节"))
        # One connection until the envelope may go ahead: the signature checked against the registry row
        # this process last read (read now the first time), then (PostgreSQL: one statement) the nonce used
        # up and the message log, the void mark, the sign-in and the registry row read; the request is
        # checked again if that row changed. Each statement stands on its own (see
        # ``Database.statements``): a refusal for the envelope keeps the nonce used.
        async with self.db.statements() as conn:
            try:
                institution = await self.security.authenticate(conn, headers)
            except Refusal as refusal:
                return refuse(refusal)
            read = _read_envelope(raw, institution, path_infno)
            try:
                if isinstance(read, _Refused):
                    await admission.use_nonce(conn, institution)
                    now_registered = await self.security.read_registered(conn, institution.paasid)
                    self.security.confirm(institution, now_registered, headers)
                    return refuse(read.refusal, read.label)
                envelope = read.envelope
                known = await admission.use_nonce_and_look_up(
                    conn, institution, envelope.msgid, envelope.sign_no
                )
                confirmed = self.security.confirm(institution, known.registered, headers)
                if confirmed is not institution:  # the registry changed: the envelope read for it again
                    read = _read_envelope(raw, confirmed, path_infno)
                    if isinstance(read, _Refused):
                        return refuse(read.refusal, read.label)
                    envelope = read.envelope
            except Refusal as refusal:  # the nonce was used before, or the registry changed
                return refuse(refusal)
        label, transaction = read.label, read.transaction
        digest = request_digest(read.body)
        if known.voided:
            # Whatever answer the log holds for it described an effect 2601 has undone (or prevented).
            return refuse(void.voided(), label)
        earlier = known.earlier
        if earlier is not None:
            if earlier.request_sha256 != digest or earlier.infno != envelope.infno:
                return refuse(
                    Refusal("E_MSGID_REUSED", f"报文ID {envelope.msgid} 已被另一笔不同内容的交易使用"),
                    label,
                )
            GATEWAY_REPLAYS.labels(label).inc()
            return earlier.response, label, earlier.infcode, "replay"
        # A stored answer is given back even after sign-out (it settles a doubt); anything new needs a
        # valid sign-in. Not remembered: signing in and sending the same msgid again is allowed.
        try:
            self.security.check_sign_in(envelope, known.sign_in)
        except Refusal as refusal:
            return refuse(refusal, label)

        with GATEWAY_LATENCY.labels(label).time():
            try:
                done = await self._answer(transaction, envelope)
                answer = dumps(builder.build(infcode=0, output=done.output, warn_msg=done.warn_msg))
                infcode, code = 0, "ok"
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
            if code in TRANSIENT_CODES:
                return answer, label, infcode, code  # nothing was done: the same msgid may succeed later
        stored = await messages.remember(
            self.db,
            msgid=envelope.msgid,
            infno=envelope.infno,
            fixmedins_code=envelope.fixmedins_code,
            request_sha256=digest,
            infcode=infcode,
            response=answer,
        )
        return stored.response, label, stored.infcode, code

    async def _answer(self, transaction: Transaction, envelope: RequestEnvelope) -> Answer:
        """The transaction's input read, its hooks and handler run; a downstream transaction's first call
        takes a slot (``slots``), or is refused E_BUSY with nothing sent."""
        call = Call(envelope, self.downstream, self.db, self.security)
        data = parse(transaction.input, envelope.input)
        if transaction.before is not None:
            await transaction.before(call, data)
        if self.slots is None or not transaction.downstream:
            result = await transaction.run(call, data)
        else:
            async with self.slots.envelope(transaction.infno):
                result = await transaction.run(call, data)
        done = result if isinstance(result, Answer) else Answer(result)
        if transaction.after is not None:
            await transaction.after(call, done.output)
        return done
