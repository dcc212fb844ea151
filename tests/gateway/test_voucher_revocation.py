"""The settlement service refuses a revoked e-voucher on its own data
(docs/architecture.md, "E-voucher revocation"): enrollment's revocation commits with its
``enrollment.voucher_revoked`` event, settlement's consumer keeps the token's digest
(``voucher_revocations``), and the settlement transaction looks it up before it records the token's use.
Through the gateway in front of the real enrollment and settlement services, on both backends: a token
revoked between the gateway's read at the issuer and settlement's write is refused and nothing is booked;
a call that reaches settlement by REST is refused the same way.

Settlement reference data as ``tests.settlement.conftest`` seeds it: item A 甲 capped at 0.50; outpatient
pooling 20.00 yearly deductible, 50 %."""

from __future__ import annotations

from typing import Any

import httpx
from settlement.db import infra
from settlement.eligibility.models import VoucherRevocation
from settlement.settlements.models import Settlement, VoucherUse
from sqlalchemy import func, select

from shared import voucher
from shared.events import VoucherRevoked
from tests.enrollment.conftest import office_on  # noqa: F401 (fixture)
from tests.gateway.test_his_client_fixtures import (
    CERTNO,
    Platform,
    platform_fixture,  # noqa: F401 (fixture)
)
from tests.gateway.test_vouchers import issue, purchase, send
from tests.settlement.conftest import HOSPITAL, SettlementApi
from tests.settlement.conftest import purchase as rest_purchase


async def revoke_and_deliver(platform: Platform, token: str) -> VoucherRevoked:
    """Revoke at enrollment, then hand the event enrollment wrote to its outbox to settlement's consumer
    handler (what the relay and the consumer do over the broker)."""
    assert platform.enrollment is not None and platform.office is not None and platform.settlement is not None
    response = await platform.enrollment.post(f"/api/v1/vouchers/{token}/revocation")
    assert response.status_code == 200 and response.json()["status"] == "revoked", response.text
    wanted = voucher.digest(token)
    [data] = [
        e["data"]
        for e in await platform.office.events("enrollment.voucher_revoked")
        if e["data"]["voucher_digest"] == wanted
    ]
    event = VoucherRevoked.model_validate(data)
    assert event.psn_no == platform.values["psn_no"] and token not in str(data)  # no token on the bus
    await platform.settlement.apply(event)
    return event


class RevokeAfterTheGatewaysRead(httpx.AsyncBaseTransport):
    """The gateway's downstream calls, with the token revoked (and the revocation consumed by settlement)
    right after the issuer told the gateway it is valid, before the gateway posts to settlement."""

    def __init__(self, inner: httpx.AsyncBaseTransport, platform: Platform, token: str) -> None:
        self.inner, self.platform, self.token = inner, platform, token
        self.read_valid = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path == f"/api/v1/vouchers/{self.token}" and not self.read_valid:
            await response.aread()
            self.read_valid = response.json()["status"] == "valid"
            await revoke_and_deliver(self.platform, self.token)
        return response


async def booked(api: SettlementApi, psn_no: str) -> tuple[int, int, int]:
    """The person's settlements, the token uses and the settlement events in the outbox."""
    async with api.db.session() as session:
        settlements = await session.scalar(
            select(func.count()).select_from(Settlement).where(Settlement.psn_no == psn_no)  # type: ignore[arg-type]
        )
        uses = await session.scalar(select(func.count()).select_from(VoucherUse))
        events = await session.scalar(select(func.count()).select_from(infra.outbox))
    return int(settlements or 0), int(uses or 0), int(events or 0)


async def test_a_token_revoked_between_the_gateways_read_and_settlements_write_books_nothing(
    platform: Platform,
) -> None:
    assert platform.settlement is not None
    psn_no = platform.values["psn_no"]
    token = await issue(platform)
    before = await booked(platform.settlement, psn_no)
    client = platform.processor.downstream.client
    race = RevokeAfterTheGatewaysRead(client._transport, platform, token)
    client._transport = race
    answer = await send(platform, "2102", purchase(token))
    client._transport = race.inner
    assert race.read_valid  # the gateway was told the token is valid
    assert answer["infcode"] == -1 and answer["err_msg"].startswith("[E_VOUCHER_REVOKED]"), answer["err_msg"]
    assert await booked(platform.settlement, psn_no) == before  # no settlement, no use, no event
    # A visit cannot be opened with it either, and a fresh token of the same person still settles.
    opened = await send(
        platform,
        "2201",
        {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": token, "insutype": "390"}},
        HOSPITAL,
    )
    assert opened["err_msg"].startswith("[E_VOUCHER_REVOKED]"), opened["err_msg"]
    settled = await send(platform, "2102", purchase(await issue(platform)))
    assert settled["infcode"] == 0, settled["err_msg"]
    settlements, uses, _ = await booked(platform.settlement, psn_no)
    assert (settlements, uses) == (before[0] + 1, before[1] + 1)


async def test_settlement_refuses_a_revoked_token_sent_by_rest_and_keeps_one_row_per_revocation(
    platform: Platform,
) -> None:
    api = platform.settlement
    assert api is not None
    psn_no = platform.values["psn_no"]
    token = await issue(platform)
    event = await revoke_and_deliver(platform, token)
    await api.apply(event)  # delivered again (at least once): nothing more
    async with api.db.session() as session:
        rows = await session.scalar(
            select(func.count())
            .select_from(VoucherRevocation)
            .where(VoucherRevocation.voucher_digest == voucher.digest(token))  # type: ignore[arg-type]
        )
    assert rows == 1
    before = await booked(api, psn_no)
    body: dict[str, Any] = {
        **rest_purchase(psn_no, CERTNO, [("A", "60", "0.5", 3000)]),
        "mdtrt_cert_type": "01",
        "mdtrt_cert_no": token.lower(),  # the same token however it is spelled
    }
    for url in ("/api/v1/pharmacy-settlements", "/api/v1/pharmacy-settlements/preview"):
        response = await api.post(url, body)
        assert response.status_code == 422, (url, response.text)
        assert response.json()["error"]["code"] == "E_VOUCHER_REVOKED", response.text
    assert await booked(api, psn_no) == before
