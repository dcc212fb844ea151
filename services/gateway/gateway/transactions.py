"""Handling one envelope: validate, replay a known msgid, dispatch on infno, remember the final answer."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from prometheus_client import Counter, Histogram
from pydantic import BaseModel, ValidationError

from gateway import admission
from gateway.capacity import DownstreamSlots
from gateway.downstream import Downstream
from gateway.messages import service as messages
from gateway.messages.models import VoidedMessage
from gateway.nhsa import (
    encounter,
    t1101,
    t2102,
    t2103,
    t2201,
    t2204,
    t2207,
    t2401,
    t2601,
    t3201,
    t5203,
    t9001,
)
from gateway.nhsa.encounter import INPATIENT, OUTPATIENT, Setting
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

#: A handler answers with its ``output``, or with an ``Answer`` when it has a ``warn_msg`` as well.
Handler = Callable[[RequestEnvelope, Downstream], Awaitable[dict[str, Any] | Answer]]
Model = TypeVar("Model", bound=BaseModel)


def _parse(model: type[Model], envelope: RequestEnvelope) -> Model:
    try:
        return model.model_validate(envelope.input)
    except ValidationError as exc:
        raise Refusal("E_INPUT", describe(exc, "input")) from exc


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


async def _reverse(envelope: RequestEnvelope, downstream: Downstream) -> dict[str, Any]:
    """2103 / 2208 / 2305: the settlement is looked at first (the caller's, of the encounter named, of the
    kind the transaction undoes), then reversed."""
    data = _parse(t2103.Input2103, envelope).data
    t2103.check_original(envelope, data, await downstream.settlement(data.setl_id, envelope.fixmedins_code))
    return await downstream.reverse_settlement(data.setl_id, t2103.reversal_request(envelope, data))


async def _handle_2103(envelope: RequestEnvelope, downstream: Downstream) -> dict[str, Any]:
    return t2103.build_output(await _reverse(envelope, downstream))


# --- outpatient visits (2201-2208) and inpatient stays (2401-2405, 2301-2305) ------------------------------


async def _encounter(
    envelope: RequestEnvelope, downstream: Downstream, mdtrt_id: str, setting: Setting, psn_no: str
) -> dict[str, Any]:
    """The encounter a transaction acts on, checked (the caller's, the setting, the person) before acting."""
    found = await downstream.encounter(mdtrt_id, envelope.fixmedins_code)
    encounter.check_encounter(envelope, found, setting=setting, psn_no=psn_no)
    return found


async def _handle_2201(envelope: RequestEnvelope, downstream: Downstream) -> dict[str, Any]:
    data = _parse(t2201.Input2201, envelope).data
    opened = await downstream.open_encounter(t2201.open_request(envelope, data))
    return t2201.build_2201_output(opened, data)


async def _handle_2202(envelope: RequestEnvelope, downstream: Downstream) -> dict[str, Any]:
    data = _parse(t2201.Input2202, envelope).data
    t2201.check_2202(envelope, data, await downstream.encounter(data.mdtrt_id, envelope.fixmedins_code))
    return encounter.encounter_data(await downstream.cancel_encounter(data.mdtrt_id, envelope.fixmedins_code))


async def _handle_2203(envelope: RequestEnvelope, downstream: Downstream) -> dict[str, Any]:
    info = _parse(t2201.Input2203, envelope).mdtrtinfo
    await _encounter(envelope, downstream, info.mdtrt_id, OUTPATIENT, info.psn_no)
    updated = await downstream.update_diagnosis(info.mdtrt_id, t2201.diagnosis_request(envelope, info))
    return encounter.encounter_data(updated)


async def _upload_fees(
    envelope: RequestEnvelope, downstream: Downstream, lines: Sequence[t2204.FeeDetail], setting: Setting
) -> dict[str, Any]:
    mdtrt_id = lines[0].mdtrt_id  # one encounter per upload (checked by the input model)
    await _encounter(envelope, downstream, mdtrt_id, setting, lines[0].psn_no)
    fees = await downstream.upload_fees(mdtrt_id, t2204.upload_request(envelope, lines))
    return t2204.build_upload_output(fees)


async def _handle_2204(envelope: RequestEnvelope, downstream: Downstream) -> dict[str, Any]:
    lines = _parse(t2204.Input2204, envelope).feedetail
    return await _upload_fees(envelope, downstream, lines, OUTPATIENT)


async def _handle_2205(envelope: RequestEnvelope, downstream: Downstream) -> Answer:
    data = _parse(t2204.Input2205, envelope).data
    await _encounter(envelope, downstream, data.mdtrt_id, OUTPATIENT, data.psn_no)
    answer = await downstream.cancel_fees(data.mdtrt_id, t2204.cancel_batch_request(envelope, data))
    cancelled = int(answer["cancelled"])
    batch = "本次就诊" if data.chrg_bchno == encounter.ALL else f"收费批次 {data.chrg_bchno} "
    return Answer(
        {"data": {"mdtrt_id": data.mdtrt_id, "chrg_bchno": data.chrg_bchno, "cancelled": cancelled}},
        t2204.cancelled_warning(cancelled, batch),
    )


async def _settle_visit(envelope: RequestEnvelope, downstream: Downstream, *, binding: bool) -> Answer:
    """2206 (nothing written; a timeout is "try again") / 2207 (a timeout is "outcome unknown")."""
    data = _parse(t2207.Input2207, envelope).data
    request = t2207.settle_request(envelope, data)  # the encounter is checked where it is settled
    if binding:
        settled = await downstream.settle_encounter(data.mdtrt_id, request)
    else:
        settled = await downstream.preview_encounter(data.mdtrt_id, request)
    return Answer(t2207.build_output(settled, inpatient=False), t2207.warnings(data, settled))


async def _handle_2206(envelope: RequestEnvelope, downstream: Downstream) -> Answer:
    return await _settle_visit(envelope, downstream, binding=False)


async def _handle_2207(envelope: RequestEnvelope, downstream: Downstream) -> Answer:
    return await _settle_visit(envelope, downstream, binding=True)


async def _handle_2208(envelope: RequestEnvelope, downstream: Downstream) -> dict[str, Any]:
    return t2207.build_output(await _reverse(envelope, downstream), inpatient=False)


async def _handle_2401(envelope: RequestEnvelope, downstream: Downstream) -> dict[str, Any]:
    info = _parse(t2401.Input2401, envelope).mdtrtinfo
    opened = await downstream.open_encounter(t2401.open_request(envelope, info))
    return t2401.build_2401_output(opened, info)


async def _handle_2402(envelope: RequestEnvelope, downstream: Downstream) -> dict[str, Any]:
    info = _parse(t2401.Input2402, envelope).dscginfo
    found = await _encounter(envelope, downstream, info.mdtrt_id, INPATIENT, info.psn_no)
    if t2401.needs_matn_type(info, found):
        await downstream.update_diagnosis(
            info.mdtrt_id, encounter.diagnosis_request(envelope, matn_type=info.matn_type)
        )
    discharged = await downstream.discharge(info.mdtrt_id, t2401.discharge_request(envelope, info))
    return encounter.encounter_data(discharged)


async def _handle_2403(envelope: RequestEnvelope, downstream: Downstream) -> Answer:
    info = _parse(t2401.Input2403, envelope).adminfo
    found = await _encounter(envelope, downstream, info.mdtrt_id, INPATIENT, info.psn_no)
    updated = await downstream.update_diagnosis(
        info.mdtrt_id,
        encounter.diagnosis_request(
            envelope,
            med_type=info.med_type,
            dise_codg=info.dise_codg,
            dise_name=info.dise_name,
            matn_type=info.matn_type,
        ),
    )
    return Answer(encounter.encounter_data(updated), t2401.admission_time_warning(info, found))


async def _handle_2404(envelope: RequestEnvelope, downstream: Downstream) -> dict[str, Any]:
    data = _parse(t2401.InputMdtrt, envelope).data
    await _encounter(envelope, downstream, data.mdtrt_id, INPATIENT, data.psn_no)
    return encounter.encounter_data(await downstream.cancel_encounter(data.mdtrt_id, envelope.fixmedins_code))


async def _handle_2405(envelope: RequestEnvelope, downstream: Downstream) -> dict[str, Any]:
    data = _parse(t2401.InputMdtrt, envelope).data
    await _encounter(envelope, downstream, data.mdtrt_id, INPATIENT, data.psn_no)
    return encounter.encounter_data(await downstream.undo_discharge(data.mdtrt_id, envelope.fixmedins_code))


async def _handle_2301(envelope: RequestEnvelope, downstream: Downstream) -> dict[str, Any]:
    lines = _parse(t2204.Input2301, envelope).feedetail
    return await _upload_fees(envelope, downstream, lines, INPATIENT)


async def _handle_2302(envelope: RequestEnvelope, downstream: Downstream) -> Answer:
    data = _parse(t2204.Input2302, envelope).data
    await _encounter(envelope, downstream, data.mdtrt_id, INPATIENT, data.psn_no)
    answer = await downstream.cancel_fees(data.mdtrt_id, t2204.cancel_lines_request(envelope, data))
    cancelled = int(answer["cancelled"])
    warning = t2204.cancelled_warning(cancelled, "本次住院") if data.feedetl_sn == encounter.ALL else None
    return Answer(
        {"data": {"mdtrt_id": data.mdtrt_id, "feedetl_sn": data.feedetl_sn, "cancelled": cancelled}}, warning
    )


async def _settle_stay(envelope: RequestEnvelope, downstream: Downstream, *, binding: bool) -> Answer:
    """2303 (nothing written) / 2304 (binding; mid_setl_flag 1 settles what is uploaded so far)."""
    data = _parse(t2207.Input2304, envelope).data
    request = t2207.settle_request(envelope, data)  # the encounter is checked where it is settled
    if binding:
        settled = await downstream.settle_encounter(data.mdtrt_id, request)
    else:
        settled = await downstream.preview_encounter(data.mdtrt_id, request)
    return Answer(t2207.build_output(settled, inpatient=True), t2207.warnings(data, settled))


async def _handle_2303(envelope: RequestEnvelope, downstream: Downstream) -> Answer:
    return await _settle_stay(envelope, downstream, binding=False)


async def _handle_2304(envelope: RequestEnvelope, downstream: Downstream) -> Answer:
    return await _settle_stay(envelope, downstream, binding=True)


async def _handle_2305(envelope: RequestEnvelope, downstream: Downstream) -> dict[str, Any]:
    return t2207.build_output(await _reverse(envelope, downstream), inpatient=True)


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
    settlement = await downstream.settlement(data.setl_id, envelope.fixmedins_code)
    t5203.check_visible(envelope, data, settlement)
    return t5203.build_output(settlement)


async def _handle_3201(envelope: RequestEnvelope, downstream: Downstream) -> dict[str, Any]:
    """3201 对总账: the institution's totals against the platform's, for its own settlements only."""
    data = _parse(t3201.Input3201, envelope).data
    totals = await downstream.reconciliation_totals(
        envelope.fixmedins_code, data.insutype, data.clr_type, data.begin, data.end
    )
    return t3201.build_output(data, totals)


HANDLERS: dict[str, Handler] = {
    "1101": _handle_1101,
    "2101": _handle_2101,
    "2102": _handle_2102,
    "2103": _handle_2103,
    "2201": _handle_2201,
    "2202": _handle_2202,
    "2203": _handle_2203,
    "2203A": _handle_2203,
    "2204": _handle_2204,
    "2205": _handle_2205,
    "2206": _handle_2206,
    "2207": _handle_2207,
    "2208": _handle_2208,
    "2301": _handle_2301,
    "2302": _handle_2302,
    "2303": _handle_2303,
    "2304": _handle_2304,
    "2305": _handle_2305,
    "2401": _handle_2401,
    "2402": _handle_2402,
    "2403": _handle_2403,
    "2404": _handle_2404,
    "2405": _handle_2405,
    t2601.INFNO: _handle_2601,
    "3201": _handle_3201,
    "5203": _handle_5203,
}
#: Answered by the gateway itself (its sign-in sessions), see ``EnvelopeProcessor._sign``.
SIGN_INFNOS = frozenset({"9001", "9002"})
KNOWN_INFNO_LABELS = set(HANDLERS) | SIGN_INFNOS


def request_digest(body: Any) -> str:
    return hashlib.sha256(dumps({"body": body}).encode()).hexdigest()


@dataclass(frozen=True)
class _Read:
    envelope: RequestEnvelope
    body: dict[str, Any]
    label: str
    handler: Handler | None


@dataclass(frozen=True)
class _Refused:
    refusal: Refusal
    label: str = "invalid"


def _read_envelope(raw: bytes, institution: Signer) -> _Read | _Refused:
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
    label = envelope.infno if envelope.infno in KNOWN_INFNO_LABELS else "unknown"
    try:
        check_caller(envelope, institution)
    except Refusal as refusal:
        return _Refused(refusal, label)
    handler = HANDLERS.get(envelope.infno)
    if handler is None and envelope.infno not in SIGN_INFNOS:
        return _Refused(Refusal("E_INFNO", f"不支持的交易编号: {envelope.infno}"), label)
    return _Read(envelope, body, label, handler)


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

    async def process(self, raw: bytes, headers: Mapping[str, str]) -> str:
        """Answer one request body with a response envelope (always a JSON text, never an exception).
        ``headers`` (lower-case names) carry the institution's signature."""
        builder = ResponseBuilder(self.region_admvs)
        try:
            answer, infno_label, infcode, code = await self._process(raw, headers, builder)
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
        self, raw: bytes, headers: Mapping[str, str], builder: ResponseBuilder
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
            read = _read_envelope(raw, institution)
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
                    read = _read_envelope(raw, confirmed)
                    if isinstance(read, _Refused):
                        return refuse(read.refusal, read.label)
                    envelope = read.envelope
            except Refusal as refusal:  # the nonce was used before, or the registry changed
                return refuse(refusal)
        label, handler = read.label, read.handler
        digest = request_digest(read.body)
        if known.voided:
            # Whatever answer the log holds for it described an effect 2601 has undone (or prevented).
            return refuse(t2601.voided(), label)
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
                await self._before(envelope)
                if handler is None:
                    result: dict[str, Any] | Answer = await self._sign(envelope)
                elif self.slots is None:
                    result = await handler(envelope, self.downstream)
                else:
                    # The first downstream call takes a slot, or is refused E_BUSY with nothing sent.
                    async with self.slots.envelope(label):
                        result = await handler(envelope, self.downstream)
                done = result if isinstance(result, Answer) else Answer(result)
                await self._after(envelope, done.output)
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

    async def _sign(self, envelope: RequestEnvelope) -> dict[str, Any]:
        """9001 / 9002, answered from the gateway's own sign-in sessions."""
        if envelope.infno == "9001":
            sign_in = _parse(t9001.Input9001, envelope).signIn
            entry = await self.security.sign_in(envelope, sign_in.opter_no, sign_in.mac, sign_in.ip)
            return t9001.sign_in_output(entry.sign_no, entry.signed_in_at)
        sign_out = _parse(t9001.Input9002, envelope).signOut
        entry = await self.security.sign_out(envelope, sign_out.sign_no, sign_out.opter_no)
        assert entry.signed_out_at is not None
        return t9001.sign_out_output(entry.signed_out_at)

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
