"""Bodies no HIS should send (nesting thousands deep, amounts like 1e30 or 1e999999, NaN / Infinity, an
unpaired surrogate or a NUL character in a field) are refused at the gateway with a clean ``infcode -1``, a
stable code and the field named, before anything goes downstream and without being stored; "outcome
unknown" is kept for a downstream call whose result is truly unknown. An answer carrying odd text from
downstream is still stored and replayed."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from gateway.protocol.envelope import MAX_DEPTH

from platformctl import examples
from shared.money import fen_to_yuan
from tests.gateway.factories import PHARMACY, PSN_NO, Gateway, readme_purchase

CERTNO = "34152419850312013X"
SETTLE = ("POST", "/api/v1/pharmacy-settlements")
MARK = "__VALUE__"


def nested(levels: int) -> Any:
    value: Any = "x"
    for level in range(levels):
        value = [value] if level % 2 else {"n": value}
    return value


def nested_text(levels: int) -> str:
    """``levels`` of arrays as JSON text (too deep for ``json.dumps``)."""
    return "[" * levels + "]" * levels


async def send(gateway: Gateway, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    """``body`` signed in and sent; ``token`` (raw JSON text) replaces the string ``MARK`` in it."""
    body = {**body, "sign_no": await gateway.his.sign_no(PHARMACY, "001")}
    text = json.dumps(body)  # ASCII: an unpaired surrogate or a NUL goes as its \\u escape
    if token is not None:
        assert f'"{MARK}"' in text
        text = text.replace(f'"{MARK}"', token)
    answer: dict[str, Any] = json.loads(await gateway.his.send_raw(text.encode()))
    return answer


def purchase(sequence: int, **druginfo: Any) -> dict[str, Any]:
    body = examples.example_2102(PSN_NO, CERTNO, sequence)
    body["input"]["druginfo"].update(druginfo)
    return body


def with_line(sequence: int, **line: Any) -> dict[str, Any]:
    body = purchase(sequence)
    body["input"]["drugdetail"][0].update(line)
    return body


@pytest.mark.parametrize(
    ("build", "token", "expected"),
    [
        (lambda: purchase(1, extra=MARK), nested_text(5000), f"[E_JSON] 报文嵌套层数超过 {MAX_DEPTH} 层"),
        (lambda: purchase(2, extra=nested(MAX_DEPTH)), None, f"[E_JSON] 报文嵌套层数超过 {MAX_DEPTH} 层"),
        (lambda: purchase(5, medfee_sumamt=MARK), "1e999999", "[E_JSON] 报文中的数值超出允许范围: 1e999999"),
        (lambda: with_line(6, cnt=MARK), "-1E-999999", "[E_JSON] 报文中的数值超出允许范围"),
        (lambda: purchase(7, medfee_sumamt=MARK), "9" * 60, "[E_JSON] 报文中的数值超出允许范围"),
        (lambda: purchase(8, medfee_sumamt=MARK), "NaN", "[E_JSON] 报文中的 NaN 不是合法的 JSON 数值"),
        (lambda: with_line(9, pric=MARK), "Infinity", "[E_JSON] 报文中的 Infinity 不是合法的 JSON 数值"),
        (lambda: purchase(10, medfee_sumamt=MARK), "-Infinity", "[E_JSON] 报文中的 -Infinity 不是"),
        (lambda: purchase(11, invono="\ud800"), None, "[E_INPUT] input.druginfo.invono: 含有不允许的字符"),
        (lambda: purchase(12, invono="a\x00b"), None, "[E_INPUT] input.druginfo.invono: 含有不允许的字符"),
        (lambda: with_line(13, rxno="\x07"), None, "[E_INPUT] input.drugdetail[0].rxno: 含有不允许的字符"),
        (lambda: {**purchase(14), "opter_name": "收\udfff"}, None, "[E_INPUT] opter_name: 含有不允许的字符"),
        (lambda: purchase(15, **{"a\x00": "1"}), None, "[E_INPUT] input.druginfo(字段名): 含有不允许的字符"),
    ],
)
async def test_bad_input_is_refused_cleanly_before_settlement(
    gateway: Gateway, build: Any, token: str | None, expected: str
) -> None:
    gateway.fake.on(*SETTLE, (200, readme_purchase()))
    body = build()
    answer = await send(gateway, body, token)
    assert answer["infcode"] == -1
    assert answer["err_msg"].startswith(expected), answer["err_msg"]
    assert gateway.fake.calls == []
    assert await gateway.stored(body["msgid"]) is None


@pytest.mark.parametrize("token", ["1e30", '"1e30"', "-1e30", "100000000.01"])
async def test_an_absurd_amount_is_refused_with_its_field(gateway: Gateway, token: str) -> None:
    """Refused by the transaction's input model: a final answer for the msgid, as any input refusal."""
    gateway.fake.on(*SETTLE, (200, readme_purchase()))
    body = purchase(3, medfee_sumamt=MARK)
    answer = await send(gateway, body, token)
    assert answer["infcode"] == -1
    assert answer["err_msg"].startswith("[E_INPUT] input.druginfo.medfee_sumamt: 金额"), answer["err_msg"]
    assert gateway.fake.calls == []
    stored = await gateway.stored(body["msgid"])
    assert stored is not None and json.loads(stored.response)["err_msg"] == answer["err_msg"]


async def test_what_the_checks_let_through_settles(gateway: Gateway) -> None:
    """The limits are not in the way of real messages: nesting up to the limit, tab and line feed in a
    text, a proper surrogate pair (a character outside the BMP), a large but sane number."""
    gateway.fake.on(*SETTLE, (200, readme_purchase()))
    body = purchase(20, extra=nested(MAX_DEPTH - 4), dise_name="高血压\t伴\n并发症𠀀", medfee_sumamt=MARK)
    answer = await send(gateway, body, "90.00")
    assert answer["infcode"] == 0, answer["err_msg"]
    assert len(gateway.fake.calls) == 1
    assert gateway.fake.calls[0][2]["medfee_sumamt_fen"] == 9000


@pytest.mark.parametrize("message", ["无此人\ud800", "无此人\x00", "无此人\udc00\x1f"])
async def test_odd_text_from_downstream_is_answered_and_stored(gateway: Gateway, message: str) -> None:
    # The settlement service's refusal carries text no UTF-8 encoder or PostgreSQL column takes as is.
    content = json.dumps({"error": {"code": "NOT_ELIGIBLE", "message": message}}).encode()
    calls: list[httpx.Request] = []

    def settlement(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(422, content=content, headers={"content-type": "application/json"})

    await gateway.processor.downstream.client.aclose()
    gateway.processor.downstream.client = httpx.AsyncClient(transport=httpx.MockTransport(settlement))
    body = purchase(30)
    answer = await send(gateway, body)
    assert answer["infcode"] == -1
    assert answer["err_msg"].startswith("[NOT_ELIGIBLE] 无此人"), answer["err_msg"]
    assert "\ud800" not in answer["err_msg"] and "\udc00" not in answer["err_msg"]
    stored = await gateway.stored(body["msgid"])
    assert stored is not None and json.loads(stored.response)["err_msg"] == answer["err_msg"]
    again = await send(gateway, body)
    assert again == answer and len(calls) == 1  # replayed from the message log


def test_an_amount_too_large_to_write_is_out_of_range_not_a_fault() -> None:
    """A fen figure no decimal context can quantize (a client's 10^30 in a service's fen field) raises
    OverflowError, which every service answers 422 OUT_OF_RANGE, instead of decimal.InvalidOperation (500)."""
    assert fen_to_yuan(10**24 + 1) == Decimal("10000000000000000000000.01")
    for fen in (10**25, -(10**30)):
        with pytest.raises(OverflowError):
            fen_to_yuan(fen)
