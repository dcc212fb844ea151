"""The national interface envelope (docs/interface.md): public input fields around ``input``, and the public
output fields around ``output``. Unknown public fields are tolerated (provinces add their own); the ones we
use are validated."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
import simplejson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.protocol.code_tables import OpterType
from shared.clock import compact_ms, format_wire_time, now_china, parse_client_time
from shared.inputs import bad_text_path, may_hold_bad_text

ADMDVS = r"^\d{6}$"


class RequestEnvelope(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    infno: str = Field(pattern=r"^\d{4}[A-Z]?$")
    msgid: str = Field(min_length=1, max_length=30)
    mdtrtarea_admvs: str = Field(pattern=ADMDVS)
    insuplc_admdvs: str | None = Field(default=None, pattern=r"^(\d{6})?$")
    recer_sys_code: str = Field(min_length=1, max_length=10)
    dev_no: str | None = Field(default=None, max_length=100)
    dev_safe_info: str | None = Field(default=None, max_length=2000)
    cainfo: str | None = Field(default=None, max_length=1024)
    signtype: str | None = Field(default=None, max_length=10)
    infver: str = Field(min_length=1, max_length=6)
    opter_type: OpterType
    opter: str = Field(min_length=1, max_length=30)
    opter_name: str = Field(min_length=1, max_length=50)
    inf_time: str
    fixmedins_code: str = Field(min_length=1, max_length=30)
    fixmedins_name: str = Field(min_length=1, max_length=200)
    sign_no: str | None = Field(default=None, max_length=30)
    input: dict[str, Any]

    @field_validator("inf_time")
    @classmethod
    def _time(cls, value: str) -> str:
        # The forms clients send, normalised (docs/interface.md, "Dates and times").
        try:
            parsed = parse_client_time(value)
        except ValueError as exc:
            raise ValueError("格式应为 yyyy-MM-dd HH:mm:ss") from exc
        if parsed is None:
            raise ValueError("必填（0001-01-01T00:00:00 表示未填）")
        return format_wire_time(parsed)


#: Deepest nesting of objects and arrays a body may have (an envelope uses 4: itself, input, a node, a line).
MAX_DEPTH = 32
#: A JSON number's magnitude, as a power of ten, either way (amounts are NUMBER(16,2); ``1e999999`` is
#: refused here, before any decimal arithmetic could be asked to hold it).
MAX_EXPONENT = 40
_MAX_INT_DIGITS = 41  # with a sign


class BadJson(ValueError):
    """The body is not JSON an envelope may be; the message says why (shown to the caller)."""


def _number(text: str) -> Decimal:
    value = Decimal(text)
    if abs(value.adjusted()) > MAX_EXPONENT:
        raise BadJson(f"报文中的数值超出允许范围: {text[:24]}")
    return value


def _integer(text: str) -> int:
    if len(text) > _MAX_INT_DIGITS:
        raise BadJson(f"报文中的数值超出允许范围: {text[:24]}…")
    return int(text)


def _constant(text: str) -> Any:
    raise BadJson(f"报文中的 {text} 不是合法的 JSON 数值")


def _too_deep(raw: bytes, body: Any) -> bool:
    """``body`` (parsed from ``raw``) nests deeper than ``MAX_DEPTH``; looked at only when ``raw`` has that
    many brackets at all."""
    if raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH:
        return False
    pending = [(body, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            return True
        for item in value.values() if type(value) is dict else value:
            if type(item) is dict or type(item) is list:
                pending.append((item, depth + 1))
    return False


def parse_body(raw: bytes) -> Any:
    """JSON with every number kept exact (Decimal), never a binary float. Refused (``BadJson``, or
    ``UnicodeDecodeError`` for bytes that are not UTF-8): nesting deeper than ``MAX_DEPTH``, ``NaN`` and
    ``Infinity`` (not JSON), numbers beyond 10^±``MAX_EXPONENT``.

    Read by msgspec (its numbers through the same hook as below, ≈ 3x faster than the standard library);
    a body it does not read, or one with a run of digits an integer may be too long in, is read again by
    the standard library, whose reading and refusals (and their wording) are the reference."""
    text = raw.decode("utf-8")
    if _LONG_RUN not in raw.translate(_DIGITS_AS_ZERO):
        try:
            body = _DECODER.decode(raw)
        except BadJson:
            raise
        except (msgspec.DecodeError, RecursionError):
            body = _standard_parse(text)
    else:
        body = _standard_parse(text)
    if type(body) in (dict, list) and _too_deep(raw, body):
        raise BadJson(f"报文嵌套层数超过 {MAX_DEPTH} 层")
    return body


def _standard_parse(text: str) -> Any:
    try:
        return json.loads(text, parse_float=_number, parse_int=_integer, parse_constant=_constant)
    except RecursionError as exc:  # thousands of levels: the parser's own limit
        raise BadJson(f"报文嵌套层数超过 {MAX_DEPTH} 层") from exc


#: The fast reader: a JSON number with a fraction or exponent goes through ``_number``, as in
#: ``_standard_parse``; integers come as Python ints, so a body with a run of digits as long as an
#: integer ``_integer`` refuses (``_LONG_RUN`` once every digit is a 0: a translation and a substring
#: search, where a regular expression cost three times the reading) is read by the standard library.
_DECODER = msgspec.json.Decoder(float_hook=_number)
_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)
_LONG_RUN = b"0" * _MAX_INT_DIGITS


def bad_text(raw: bytes, body: Any) -> str | None:
    """Where ``body`` (parsed from ``raw``) holds a text with a character no envelope may carry (a NUL,
    another control character but tab and line ends, an unpaired surrogate): the field's path
    (``input.druginfo.invono``, ``opter_name``…), else None. The same rules as every service's API
    (``shared.inputs``); a body is walked only when its bytes hold an escape that may be one."""
    return bad_text_path(body) if may_hold_bad_text(raw) else None


@dataclass(frozen=True)
class Answer:
    """A handler's ``output`` with a ``warn_msg`` for the operator (e.g. the HIS's own sums disagree with
    the settlement's classification). A handler that has nothing to warn about returns the output alone."""

    output: dict[str, Any]
    warn_msg: str | None = None


class ResponseBuilder:
    """Builds the public output; ``inf_refmsgid`` = receiver admdvs(6) + time(14) + sequence(10)."""

    #: Starts at a random point so that replicas and restarts do not hand out the same ids in one second.
    _sequence = secrets.randbelow(10**10)

    def __init__(self, region_admvs: str) -> None:
        self.region_admvs = region_admvs
        self.received = now_china()

    @classmethod
    def _next_sequence(cls) -> int:
        cls._sequence = (cls._sequence + 1) % 10**10
        return cls._sequence

    def build(
        self,
        *,
        infcode: int,
        output: dict[str, Any] | None = None,
        err_msg: str | None = None,
        warn_msg: str | None = None,
    ) -> dict[str, Any]:
        responded = now_china()
        return {
            "infcode": infcode,
            "inf_refmsgid": f"{self.region_admvs}{self.received:%Y%m%d%H%M%S}{self._next_sequence():010d}",
            "refmsg_time": compact_ms(self.received),
            "respond_time": compact_ms(responded),
            "err_msg": err_msg,
            "warn_msg": warn_msg,
            "cainfo": None,
            "signtype": None,
            "output": output if output is not None else {},
        }


_SURROGATE = re.compile("[\ud800-\udfff]")
#: Answers are written by msgspec: decimals as JSON numbers exactly as held, compact (no blanks between
#: tokens), ≈ 4x faster than simplejson. ``request_digest`` keeps simplejson (``legacy_dumps``): a digest
#: is compared with the ones the message log holds.
_ENCODER = msgspec.json.Encoder(decimal_format="number")


def dumps(body: dict[str, Any]) -> str:
    """Decimals are written as JSON numbers exactly as held (12.30 stays 12.30), an instant in ISO 8601. A
    surrogate left unpaired in some text (a downstream message, say) becomes U+FFFD: the answer is always
    UTF-8 the HIS can read and the message log can store (control characters are escaped by the
    encoder)."""
    try:
        return _ENCODER.encode(body).decode("utf-8")
    except UnicodeEncodeError:  # an unpaired surrogate: not UTF-8
        return _ENCODER.encode(_without_surrogates(body)).decode("utf-8")


def _without_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_without_surrogates(key): _without_surrogates(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_surrogates(item) for item in value]
    return value


def legacy_dumps(body: dict[str, Any]) -> str:
    """The text ``dumps`` wrote before msgspec (simplejson: ", " and ": " between tokens, decimals as
    held), which the message log's request digests are taken of (``gateway.transactions.request_digest``):
    a digest must come out the same for the same request whatever version of the gateway took it."""
    text: str = simplejson.dumps(body, use_decimal=True, ensure_ascii=False, default=_default)
    if not text.isascii() and _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    return text


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
