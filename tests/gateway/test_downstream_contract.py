"""The gateway reads every answer of a service into the contract both sides import
(``shared.contracts.v1``): an answer that does not fit it is the service's fault, never the caller's. After a
write the cashier must be told the outcome is unknown (the write may have happened); after a read, to try
again. A refusal (4xx) keeps the service's stable code and message, also when its body is not JSON."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from gateway.downstream import Downstream
from gateway.protocol.errors import OutcomeUnknown, Refusal

from tests.gateway.factories import SETL_ID, FakeSettlement, downstream_for, readme_purchase

PAYLOAD: dict[str, Any] = {"msgid": "P1"}


async def _downstream(reply: Any) -> Downstream:
    fake = (
        FakeSettlement()
        .on("POST", "/api/v1/pharmacy-settlements", reply)
        .on("GET", f"/api/v1/settlements/{SETL_ID}", reply)
    )
    return await downstream_for(fake)


async def test_a_settlement_answer_that_fits_the_contract_is_read_into_it() -> None:
    downstream = await _downstream((200, readme_purchase()))
    settled = await downstream.settle_pharmacy(PAYLOAD)
    # The README's purchase: 90.00 total, 32.00 from the pooled fund (tests.gateway.factories).
    assert (settled.setl_id, settled.medfee_sumamt_fen, settled.pooled_fund_paid_fen) == (SETL_ID, 9000, 3200)
    assert [f.fund_pay_type for f in settled.funds] == ["390100"]


@pytest.mark.parametrize(
    "body",
    [
        {k: v for k, v in readme_purchase().items() if k != "cash_paid_fen"},  # a field missing
        {**readme_purchase(), "cash_paid_fen": "five"},  # a field of another type
        ["not", "an", "object"],
    ],
)
async def test_an_answer_that_does_not_fit_is_unknown_after_a_write_and_retryable_after_a_read(
    body: Any,
) -> None:
    downstream = await _downstream((200, body))
    with pytest.raises(OutcomeUnknown) as unknown:
        await downstream.settle_pharmacy(PAYLOAD)
    assert unknown.value.code == "E_OUTCOME_UNKNOWN" and "交易结果未知" in unknown.value.message
    with pytest.raises(Refusal) as refused:
        await downstream.settlement(SETL_ID, "P34152400001")
    assert not isinstance(refused.value, OutcomeUnknown)
    assert refused.value.code == "E_UNAVAILABLE"


async def test_a_refusal_keeps_the_services_code_and_message_whatever_its_body() -> None:
    refused_body = {"error": {"code": "NOT_COVERED", "message": "该人员未参保"}}
    downstream = await _downstream((422, refused_body))
    with pytest.raises(Refusal) as refused:
        await downstream.settle_pharmacy(PAYLOAD)
    assert (refused.value.code, refused.value.message) == ("NOT_COVERED", "该人员未参保")

    def not_json(request: httpx.Request) -> httpx.Response:
        return httpx.Response(409, content=b"<html>conflict</html>")

    downstream = await downstream_for(not_json)
    with pytest.raises(Refusal) as refused:
        await downstream.settle_pharmacy(PAYLOAD)
    assert (refused.value.code, refused.value.message) == ("E_REFUSED", "交易被拒绝")


async def test_a_cookie_set_by_a_service_never_rides_on_another_call() -> None:
    """One client carries every institution's calls: nothing one answer sets may reach the next request."""
    seen: list[str | None] = []

    def service(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, json=readme_purchase(), headers={"set-cookie": "session=abc; Path=/"})

    downstream = Downstream(
        "http://enrollment", "http://settlement", 1.0, transport=httpx.MockTransport(service)
    )
    first = await downstream.settle_pharmacy(PAYLOAD)
    second = await downstream.settle_pharmacy({"msgid": "P2"})
    await downstream.close()
    assert first.setl_id == second.setl_id == SETL_ID
    assert seen == [None, None] and not downstream.client.cookies
