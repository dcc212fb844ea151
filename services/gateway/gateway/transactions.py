"""Handling one envelope: validate, replay a known msgid, dispatch on infno, remember the final answer."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from prometheus_client import Counter, Histogram
from pydantic import ValidationError

from gateway import admission, registry
from gateway.capacity import DownstreamSlots
from gateway.declaration import Call, Transaction, parse
from gateway.downstream import Downstream
from gateway.files.models import ExchangeFile
from gateway.files.service import FileStore
from gateway.messages import service as messages
from gateway.nhsa import fields, void, voucher
from gateway.nhsa import files as file_codes
from gateway.protocol.envelope import (
    Answer,
    BadJson,
    RequestEnvelope,
    ResponseBuilder,
    bad_text,
    dumps,
    legacy_dumps,
    parse_body,
)
from gateway.protocol.errors import TRANSIENT_CODES, OutcomeUnknown, Refusal, describe
from gateway.security import sealing
from gateway.security.service import HisSecurity, Signer, check_caller
from shared.db import Database, Statements
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

#: The codes the gateway answers (the registry's). Dashboards, deploy checks and docs/interface.md read them.
KNOWN_INFNO_LABELS = frozenset(registry.TRANSACTIONS)

#: National codes of the acceptance lists institutions are tested against (docs/interface.md). Those the
#: registry does not answer ("Not offered") keep the requested code as their metrics label when refused, so
#: operators see which codes vendors ask for; any other unsupported code is labelled "other" (bounded).
ACCEPTANCE_LIST_INFNOS = frozenset(
    {
        "1201", "1301", "1302", "1303", "1305", "1306", "1307", "1308", "1309", "1310", "1311", "1312",
        "1318", "1319", "1321", "1901", "2001", "2501", "2502", "2507", "3202", "3203", "3203A", "3204",
        "3204A", "3205A", "9101", "9102",
        "3501", "3507", "3508", "3513", "4101", "4101A", "4102", "4103", "4401", "4402",
        "5102", "5204", "5206", "5212",
    }
)  # fmt: skip
NOT_OFFERED_INFNOS = ACCEPTANCE_LIST_INFNOS - KNOWN_INFNO_LABELS


def infno_label(infno: str) -> str:
    """The ``infno`` label of ``gateway_transactions_total`` for a readable envelope: the code when the
    registry holds it or it is a national code not offered, else "other". ("invalid": no readable envelope
    or signature.)"""
    if infno in registry.TRANSACTIONS or infno in NOT_OFFERED_INFNOS:
        return infno
    return "other"


#: Envelope fields that say when, and under which sign-in or signature, a request was sent, not what it asks.
#: A HIS that builds its envelope again for a repeat after a lost answer (a new ``inf_time``, a new
#: ``sign_no`` after signing in again, a new signature) sends the same request, and gets the first answer.
SENDING_FIELDS = frozenset({"inf_time", "sign_no", "cainfo"})


def request_digest(body: dict[str, Any]) -> str:
    """What the message log compares a repeated msgid by: the envelope without its ``SENDING_FIELDS``."""
    asked = {key: value for key, value in body.items() if key not in SENDING_FIELDS}
    return hashlib.sha256(legacy_dumps({"body": asked}).encode()).hexdigest()


def _earlier_digest(body: dict[str, Any]) -> str:
    """The digest answers logged before ``SENDING_FIELDS`` were left out were kept under (the whole
    envelope): a repeat of such a msgid that is byte for byte the same still gets its answer."""
    return hashlib.sha256(legacy_dumps({"body": body}).encode()).hexdigest()


@dataclass(frozen=True)
class _Read:
    envelope: RequestEnvelope
    body: dict[str, Any]
    label: str
    transaction: Transaction
    #: How to seal the answer (the institution's national cryptography); None: answered in the clear.
    sealing: sealing.Sealing | None = None


@dataclass(frozen=True)
class _Refused:
    refusal: Refusal
    label: str = "invalid"
    envelope: RequestEnvelope | None = None


def _log_refused(read: _Refused) -> None:
    """A refused code is logged with the code as requested (the metrics label may be "other"), the
    institution and the operator's code; no names or ID numbers."""
    if read.refusal.code == "E_INFNO" and read.envelope is not None:  # (a check_caller refusal keeps it too)
        log.warning(
            "unsupported transaction code refused",
            extra={
                "trail": {
                    "event": "infno_refused",
                    "infno": read.envelope.infno,
                    "infno_label": read.label,
                    "fixmedins_code": read.envelope.fixmedins_code,
                    "opter": read.envelope.opter,
                    "code": read.refusal.code,
                }
            },
        )


#: The settlement columns of an answer's ``setlinfo`` the trail line carries (no names or ID numbers).
TRAIL_SETTLEMENT_FIELDS = (
    "setl_id",
    "mdtrt_id",
    "psn_no",
    "medfee_sumamt",
    "fund_pay_sumamt",
    "acct_pay",
    "psn_cash_pay",
)


def trail_of_answer(answer: str, output: Any = None) -> dict[str, Any]:
    """The settlement id and amounts of an answer (yuan as on the wire), when it carries a ``setlinfo``.
    ``output``: the answer's ``output`` when it was just built here (not read again from the text)."""
    if output is None:
        try:
            output = json.loads(answer, parse_float=Decimal).get("output")  # 32.00 stays "32.00" on the line
        except (ValueError, AttributeError):
            return {}
    info = output.get("setlinfo") if isinstance(output, dict) else None
    if not isinstance(info, dict):
        return {}
    return {field: info[field] for field in TRAIL_SETTLEMENT_FIELDS if field in info}


def _log_envelope(
    seen: dict[str, str],
    label: str,
    infcode: int,
    code: str,
    answer: str,
    seconds: float,
    output: dict[str, Any] | None = None,
) -> None:
    """One JSON line per envelope (deploy/README.md, Logs): the code as requested, the institution, the
    operator's code, the result, the duration and, for a settlement, its id and amounts; msgid and
    request_id come from the context."""
    trail: dict[str, Any] = {
        "event": "envelope",
        **seen,
        "infno_label": label,
        "infcode": infcode,
        "code": code,
    }
    trail["duration_ms"] = round(seconds * 1000, 1)
    trail.update(trail_of_answer(answer, output))
    log.info("envelope answered", extra={"trail": trail})


def _note(seen: dict[str, str], read: _Read | _Refused) -> None:
    envelope = read.envelope
    if envelope is not None:
        seen.update(infno=envelope.infno, fixmedins_code=envelope.fixmedins_code, opter=envelope.opter)


def _crypto(institution: Signer) -> str:
    registered = institution.registered
    return registered.envelope_crypto if registered is not None else sealing.NONE


def _read_envelope(
    raw: bytes,
    institution: Signer,
    path_infno: str | None = None,
    keys: sealing.Keys | None = None,
) -> _Read | _Refused:
    """The envelope of a signed request, or why it is refused (in the order the checks are documented).
    An institution under national cryptography has its ``input`` decrypted and its ``cainfo`` verified
    with ``keys`` first (``gateway.security.sealing``)."""
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
        body, sealed = sealing.open_request(body, _crypto(institution), keys or sealing.Keys())
    except Refusal as refusal:
        return _Refused(refusal)
    try:
        envelope = RequestEnvelope.model_validate(body)
    except ValidationError as exc:
        return _Refused(Refusal("E_ENVELOPE", describe(exc)))
    msgid_var.set(envelope.msgid)  # on every log line of this request, and sent downstream (X-Msgid)
    label = infno_label(envelope.infno)
    if path_infno is not None and path_infno != envelope.infno:
        mismatch = Refusal("E_PATH", f"交易地址中的交易编号与报文 infno {envelope.infno} 不一致")
        return _Refused(mismatch, label, envelope)
    try:
        check_caller(envelope, institution)
    except Refusal as refusal:
        return _Refused(refusal, label, envelope)
    transaction = registry.find(envelope.infno)
    if transaction is None:
        return _Refused(Refusal("E_INFNO", f"不支持的交易编号: {envelope.infno}"), label, envelope)
    return _Read(envelope, body, label, transaction, sealed)


@dataclass(frozen=True)
class Reply:
    """One answer: the envelope (JSON text, sealed where the institution is under national cryptography)
    and, for a 9102 that found its file, the zip's bytes, which the HTTP endpoint sends as the body
    itself (docs/interface.md, "9101 / 9102 files")."""

    text: str
    file: bytes | None = None
    file_qury_no: str | None = None


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
        files: FileStore | None = None,
        sm2_private_key: str | None = None,
    ) -> None:
        """``slots``: how many envelopes may be downstream at once (``gateway.capacity``); None: no limit.
        ``files``: the exchange files and their limits (default limits if None). ``sm2_private_key``: the
        gateway's own key (hex), signing the answers of institutions under SM2."""
        self.db = db
        self.downstream = downstream
        self.region_admvs = region_admvs
        self.max_body_bytes = max_body_bytes
        self.security = security
        self.slots = slots
        self.files = files or FileStore()
        self.sm2_private_key = sm2_private_key or None

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
        return (await self.reply(raw, headers, path_infno=path_infno)).text

    async def reply(self, raw: bytes, headers: Mapping[str, str], *, path_infno: str | None = None) -> Reply:
        """``process``, with a 9102's file bytes apart as well. The message log remembers a 9102's answer
        without the bytes (they are in the file store already): they are read again for each answer,
        a repeated msgid's included, and put in the envelope (``file_byte``) or sent as they are."""
        builder = ResponseBuilder(self.region_admvs)
        started = time.perf_counter()
        seen: dict[str, str] = {}
        opened: list[sealing.Sealing] = []
        built: dict[str, Any] = {}
        try:
            answer, infno_label, infcode, code = await self._process(
                raw, headers, builder, seen, path_infno, opened, built
            )
            found = await self._file_of(answer) if infno_label == "9102" and infcode == 0 else None
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
            found = None
        if isinstance(found, Refusal):  # the file went (purged, past its deadline) since it was answered
            answer, infcode, code = dumps(builder.build(infcode=-1, err_msg=found.err_msg)), -1, found.code
            found = None
        GATEWAY_TRANSACTIONS.labels(infno_label, str(infcode), code).inc()
        output = built.get("output") if built.get("answer") is answer else None
        _log_envelope(seen, infno_label, infcode, code, answer, time.perf_counter() - started, output)
        if found is not None:
            answer = file_codes.with_file_byte(answer, found.content)
        if opened:
            # The plain answer is what was logged and remembered; the institution gets it sealed.
            return Reply(sealing.seal_answer(answer, opened[0], self.sm2_private_key))
        if found is not None:
            return Reply(answer, found.content, found.file_qury_no)
        return Reply(answer)

    async def _file_of(self, answer: str) -> ExchangeFile | Refusal:
        """The file a successful 9102 answer names (its own institution's, as the answer says)."""
        output = json.loads(answer)["output"]
        try:
            return await self.files.load(self.db, output["file_qury_no"], output["fixmedins_code"])
        except Refusal as refusal:
            return refusal

    async def _process(
        self,
        raw: bytes,
        headers: Mapping[str, str],
        builder: ResponseBuilder,
        seen: dict[str, str],
        path_infno: str | None = None,
        opened: list[sealing.Sealing] | None = None,
        built: dict[str, Any] | None = None,
    ) -> tuple[str, str, int, str]:
        """Returns (answer, infno label, infcode, result code); ``seen``: the envelope's fields for the trail
        line, once it is read; ``opened``: the sealing of the answer, once the request was opened under the
        institution's national cryptography; ``built``: the answer just built and its ``output``, which the
        trail line reads rather than parsing the answer again."""

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
            keys = await self._keys(conn, institution)
            read = _read_envelope(raw, institution, path_infno, keys)
            _note(seen, read)
            try:
                if isinstance(read, _Refused):
                    await admission.use_nonce(conn, institution)
                    now_registered = await self.security.read_registered(conn, institution.paasid)
                    self.security.confirm(institution, now_registered, headers)
                    _log_refused(read)
                    return refuse(read.refusal, read.label)
                envelope = read.envelope
                known = await admission.use_nonce_and_look_up(
                    conn, institution, envelope.msgid, envelope.sign_no
                )
                confirmed = self.security.confirm(institution, known.registered, headers)
                if confirmed is not institution:  # the registry changed: the envelope read for it again
                    keys = await self._keys(conn, confirmed)
                    read = _read_envelope(raw, confirmed, path_infno, keys)
                    _note(seen, read)
                    if isinstance(read, _Refused):
                        _log_refused(read)
                        return refuse(read.refusal, read.label)
                    envelope = read.envelope
            except Refusal as refusal:  # the nonce was used before, or the registry changed
                return refuse(refusal)
        label, transaction = read.label, read.transaction
        if read.sealing is not None and opened is not None:
            opened.append(read.sealing)
        digest = request_digest(read.body)
        if known.voided:
            # Whatever answer the log holds for it described an effect 2601 has undone (or prevented).
            return refuse(void.voided(), label)
        earlier = known.earlier
        if earlier is not None:
            same = earlier.request_sha256 in (digest, _earlier_digest(read.body))
            if not same or earlier.infno != envelope.infno:
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
                if built is not None:
                    built.update(answer=answer, output=done.output)
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

    @staticmethod
    async def _keys(conn: Statements, institution: Signer) -> sealing.Keys | None:
        """The institution's keys valid now, read only for one under national cryptography."""
        if _crypto(institution) == sealing.NONE:
            return None
        return await sealing.valid_keys(conn, institution.fixmedins_code)

    async def _answer(self, transaction: Transaction, envelope: RequestEnvelope) -> Answer:
        """The transaction's input read, its hooks and handler run; the envelope's first downstream call
        takes a slot (``slots``), or is refused E_BUSY with nothing sent. The e-voucher lookup at the
        issuer is such a call: a burst of 1101s with tokens is limited like any other."""
        call = Call(envelope, self.downstream, self.db, self.security, self.files, registry.VOIDABLE_INFNOS)
        given = envelope.input
        carries_voucher = voucher.carries_voucher(given)
        if self.slots is None or not (transaction.downstream or carries_voucher):
            result = await self._run(transaction, call, given, carries_voucher)
        else:
            async with self.slots.envelope(transaction.infno):
                result = await self._run(transaction, call, given, carries_voucher)
        done = result if isinstance(result, Answer) else Answer(result)
        # Typed as the interface defines (gateway/nhsa/fields.py): no null where a client reads text or
        # a date; the field check in the tests holds every answer to the list.
        done = Answer(fields.typed(transaction.infno, done.output), done.warn_msg)
        if transaction.after is not None:
            await transaction.after(call, done.output)
        return done

    @staticmethod
    async def _run(transaction: Transaction, call: Call, given: Any, carries_voucher: bool) -> Any:
        if carries_voucher:  # the person comes from the token (gateway/nhsa/voucher.py)
            given = await voucher.resolve(call, given)
        data = parse(transaction.input, given)
        if transaction.before is not None:
            await transaction.before(call, data)
        return await transaction.run(call, data)
