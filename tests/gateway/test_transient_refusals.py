"""A refusal that says "nothing was done, try again" (settlement's 409 RETRY_LATER, the service
unavailable, a read-only call timing out, the gateway busy) is never stored as the msgid's answer: the same
envelope, sent again as the message tells the cashier to, reaches settlement again and may succeed. A final
refusal is stored and replayed as before."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from gateway.protocol.errors import TRANSIENT_CODES

from platformctl import examples
from tests.gateway.factories import PHARMACY, PSN_NO, Gateway, readme_purchase, refusal, timeout

CERTNO = "34152419850312013X"
SETTLE = ("POST", "/api/v1/pharmacy-settlements")
PREVIEW = ("POST", "/api/v1/pharmacy-settlements/preview")
WHEN = "2026-11-20 10:00:00"


def purchase(infno: str, sequence: int) -> dict[str, Any]:
    """The same message each time it is built (fixed times): a repeat, not a msgid reuse."""
    body = examples.example_2102(PSN_NO, CERTNO)
    body["input"]["druginfo"]["begntime"] = WHEN
    for line in body["input"]["drugdetail"]:
        line["fee_ocur_time"] = WHEN
    return {**body, "infno": infno, "msgid": f"{PHARMACY}20261120100000{sequence:04d}", "inf_time": WHEN}


def unreachable(request: httpx.Request) -> Any:
    raise httpx.ConnectError("connection refused", request=request)


def first_then_settled(first: Callable[[httpx.Request], Any] | tuple[int, Any]) -> Callable[..., Any]:
    """A settlement service that answers the first call with ``first`` and every later one with the
    README's settlement."""
    calls = {"n": 0}

    def reply(request: httpx.Request) -> Any:
        calls["n"] += 1
        if calls["n"] > 1:
            return 200, readme_purchase()
        return first(request) if callable(first) else first

    return reply


def code_of(answer: dict[str, Any]) -> str:
    return str(answer["err_msg"]).split("]", 1)[0].lstrip("[")


@pytest.mark.parametrize(
    ("infno", "route", "first", "code"),
    [
        ("2102", SETTLE, refusal(409, "RETRY_LATER", "系统繁忙，交易未执行，请稍后重试"), "RETRY_LATER"),
        ("2102", SETTLE, unreachable, "E_UNAVAILABLE"),
        ("2101", PREVIEW, timeout, "E_TIMEOUT"),
        ("2101", PREVIEW, (503, {"error": {"code": "UNAVAILABLE", "message": "x"}}), "E_UNAVAILABLE"),
    ],
)
async def test_a_transient_refusal_is_not_the_msgids_answer(
    gateway: Gateway, infno: str, route: tuple[str, str], first: Any, code: str
) -> None:
    gateway.fake.on(*route, first_then_settled(first))
    body = purchase(infno, 1)
    refused = await gateway.send(body)
    assert refused["infcode"] == -1 and code_of(refused) == code
    assert code in TRANSIENT_CODES
    assert await gateway.stored(body["msgid"]) is None
    # The same envelope again, as the message says: it reaches settlement and settles.
    settled = await gateway.send(body)
    assert settled["infcode"] == 0, settled["err_msg"]
    assert str(settled["output"]["setlinfo"]["hifp_pay"]) == "32.00"
    assert len(gateway.fake.calls) == 2
    stored = await gateway.stored(body["msgid"])
    assert stored is not None and stored.infcode == 0


async def test_a_final_refusal_is_the_msgids_answer(gateway: Gateway) -> None:
    gateway.fake.on(*SETTLE, first_then_settled(refusal(422, "NOT_ELIGIBLE", "该人员未参保")))
    body = purchase("2102", 2)
    first = await gateway.send(body)
    assert code_of(first) == "NOT_ELIGIBLE"
    stored = await gateway.stored(body["msgid"])
    assert stored is not None and stored.infcode == -1
    again = await gateway.send(body)
    assert again == first  # replayed from the log; settlement is not asked again
    assert len(gateway.fake.calls) == 1
