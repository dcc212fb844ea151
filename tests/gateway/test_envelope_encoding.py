"""How the gateway reads and writes envelope JSON (``gateway.protocol.envelope``): msgspec on the hot path,
the standard library as the reference it must agree with, and the message log's request digests unchanged
(simplejson's text, as earlier versions took them)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from gateway.protocol.envelope import BadJson, _standard_parse, dumps, legacy_dumps, parse_body
from gateway.transactions import request_digest
from hypothesis import given, settings
from hypothesis import strategies as st

#: JSON values as an envelope carries them: text (Chinese, escapes), integers, decimals with their scale.
_DECIMALS = st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    _DECIMALS,
    st.text(max_size=12),  # no surrogates (hypothesis leaves them out)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


def _exact(value: Any) -> Any:
    """``value`` with every Decimal as its text, so that 12.30 and 12.3 differ."""
    if isinstance(value, Decimal):
        return ("decimal", str(value))
    if isinstance(value, dict):
        return {key: _exact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_exact(item) for item in value]
    return value


@settings(max_examples=200, deadline=None)  # no timing: the machine is shared
@given(body=st.dictionaries(st.text(max_size=8), _VALUES, max_size=6))
def test_a_body_is_read_as_the_standard_library_reads_it(body: dict[str, Any]) -> None:
    raw = legacy_dumps(body).encode()  # decimals as numbers with their scale: 12.30 stays 12.30
    assert _exact(parse_body(raw)) == _exact(_standard_parse(raw.decode()))


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": "\\ud800"}',  # an unpaired surrogate: msgspec refuses it, the standard library reads it
        b'{"a": "x\\u0000y"}',
        b'{"a": 1, "a": 2}',  # the last one wins, as in the standard library
        b'{"n": -' + b"9" * 40 + b"}",  # 41 characters: the longest integer allowed
        b' \n{"a": [12.30, 0.00, -0.0, 1E+2, 5e-3]}\t',
    ],
)
def test_edge_bodies_are_read_as_the_standard_library_reads_them(raw: bytes) -> None:
    assert _exact(parse_body(raw)) == _exact(_standard_parse(raw.decode()))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"n": -' + b"9" * 41 + b"}", "报文中的数值超出允许范围"),  # 42 characters with the sign
        (b'{"n": 1e999999}', "报文中的数值超出允许范围: 1e999999"),
        (b'{"n": NaN}', "报文中的 NaN 不是合法的 JSON 数值"),
        (b'{"n": -Infinity}', "报文中的 -Infinity 不是合法的 JSON 数值"),
        (b"[" * 33 + b"]" * 33, "报文嵌套层数超过 32 层"),
        (b"[" * 5000 + b"]" * 5000, "报文嵌套层数超过 32 层"),
    ],
)
def test_refusals_keep_their_wording(raw: bytes, message: str) -> None:
    with pytest.raises(BadJson, match=message):
        parse_body(raw)


@pytest.mark.parametrize("raw", [b'{"a": 1} x', b'{"a": "\x01"}', b"\xef\xbb\xbf{}", b"{'a': 1}"])
def test_what_is_not_json_is_refused_as_before(raw: bytes) -> None:
    with pytest.raises(ValueError):
        _standard_parse(raw.decode())
    with pytest.raises(ValueError):
        parse_body(raw)


def test_an_answer_carries_its_amounts_exactly_as_held() -> None:
    at = datetime(2026, 12, 6, 21, 22, 33, 120000, tzinfo=timezone(timedelta(hours=8)))
    answer = {
        "infcode": 0,
        "err_msg": None,
        "output": {"setlinfo": {"medfee_sumamt": Decimal("32.00"), "hifp_pay": Decimal("12.30")}},
        "memo": '收款员\n"乙"',
        "at": at,
    }
    text = dumps(answer)
    # The amounts as numbers with their two decimals, compact, Chinese as UTF-8, the instant in ISO 8601.
    assert text == (
        '{"infcode":0,"err_msg":null,"output":{"setlinfo":{"medfee_sumamt":32.00,"hifp_pay":12.30}},'
        '"memo":"收款员\\n\\"乙\\"","at":"2026-12-06T21:22:33.120000+08:00"}'
    )
    read = json.loads(text, parse_float=Decimal)["output"]["setlinfo"]
    assert str(read["medfee_sumamt"]) == "32.00" and str(read["hifp_pay"]) == "12.30"


def test_an_unpaired_surrogate_in_an_answer_becomes_a_replacement_character() -> None:
    text = dumps({"err_msg": "下游\ud800说明", "list": ["\udc00"]})
    assert text == '{"err_msg":"下游\ufffd说明","list":["\ufffd"]}'


def test_the_request_digest_is_the_one_earlier_versions_logged() -> None:
    body = {
        "infno": "2102",
        "msgid": "M1",
        "inf_time": "2026-12-06 21:22:33",  # a sending field: not in the digest
        "input": {"druginfo": {"medfee_sumamt": Decimal("12.30"), "opter_name": "收款员"}},
    }
    # simplejson's text as the message log's digests were taken of it: ", " and ": " between tokens.
    logged = (
        '{"body": {"infno": "2102", "msgid": "M1", '
        '"input": {"druginfo": {"medfee_sumamt": 12.30, "opter_name": "收款员"}}}}'
    )
    assert request_digest(body) == hashlib.sha256(logged.encode()).hexdigest()
