"""Admission control (``gateway.capacity``): when a gateway process has as many envelopes downstream as it
may, a new one waits briefly for a slot and is then refused ``[E_BUSY]`` (nothing sent downstream, nothing
stored for its msgid, the same envelope succeeds later); what does not go downstream (replays, refusals of
bad input, sign-in) is answered as usual. Behaviour only: no timings are asserted."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from gateway.capacity import DownstreamSlots, before_call
from gateway.config import GatewaySettings
from gateway.main import create_app
from gateway.protocol.errors import Refusal
from prometheus_client import REGISTRY

from platformctl import examples
from shared import voucher
from shared.db import Database, utcnow
from tests.conftest import DatabaseFactory
from tests.gateway.factories import PHARMACY, PSN_NO, Gateway, readme_purchase
from tests.support.apps import build, running

CERTNO = "34152419850312013X"
WHEN = "2026-11-20 10:00:00"


def purchase(sequence: int) -> dict[str, Any]:
    """The same message each time it is built (fixed times): a repeat, not a msgid reuse."""
    body = examples.example_2102(PSN_NO, CERTNO)
    body["input"]["druginfo"]["begntime"] = WHEN
    for line in body["input"]["drugdetail"]:
        line["fee_ocur_time"] = WHEN
    return {**body, "msgid": f"{PHARMACY}20261120100000{sequence:04d}", "inf_time": WHEN}


class SlowSettlement:
    """Settles each 2102 once ``gate`` is open; ``arrived`` counts the calls that reached it. An e-voucher
    lookup at the issuer is answered at once, 404 VOUCHER_NOT_FOUND, and counted in ``lookups``."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.arrived: list[str] = []
        self.lookups: list[str] = []
        self._changed = asyncio.Condition()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/v1/vouchers/"):
            self.lookups.append(request.url.path)
            error = {"code": "VOUCHER_NOT_FOUND", "message": "医保电子凭证不存在：不是本平台签发的凭证"}
            return httpx.Response(404, json={"error": error})
        async with self._changed:
            self.arrived.append(json.loads(request.content)["msgid"])
            self._changed.notify_all()
        await self.gate.wait()
        return httpx.Response(200, json=readme_purchase())

    async def wait_for(self, count: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.arrived) >= count)


async def queued(slots: DownstreamSlots, task: asyncio.Task[Any] | None = None) -> None:
    """Until someone waits for a slot (the task, if given, must not have been answered meanwhile)."""

    async def poll() -> None:
        while not slots._free._waiters:
            assert task is None or not task.done(), task.result()
            await asyncio.sleep(0)

    await asyncio.wait_for(poll(), 30)


def busy_refusals() -> float:
    return REGISTRY.get_sample_value("gateway_busy_refusals_total", {"infno": "2102"}) or 0.0


def in_flight() -> float:
    return REGISTRY.get_sample_value("gateway_downstream_in_flight") or 0.0


@pytest.fixture
async def slow(gateway: Gateway) -> SlowSettlement:
    settlement = SlowSettlement()
    await gateway.processor.downstream.client.aclose()
    gateway.processor.downstream.client = httpx.AsyncClient(transport=httpx.MockTransport(settlement))
    gateway.processor.slots = DownstreamSlots(2, 0.05)
    return settlement


async def test_past_the_limit_a_request_is_refused_busy_and_succeeds_later(
    gateway: Gateway, slow: SlowSettlement
) -> None:
    slow.gate.set()
    settled_before = purchase(1)
    assert (await gateway.send(settled_before))["infcode"] == 0
    slow.gate.clear()
    busy_before = busy_refusals()

    holders = [asyncio.create_task(gateway.send(purchase(n))) for n in (2, 3)]
    await asyncio.wait_for(slow.wait_for(3), 30)  # both slots are held downstream
    assert in_flight() == 2

    third = purchase(4)
    answer = await gateway.send(third)
    assert answer["infcode"] == -1
    assert answer["err_msg"].startswith("[E_BUSY] "), answer["err_msg"]
    assert "未执行" in answer["err_msg"]
    assert slow.arrived[-1] != third["msgid"] and len(slow.arrived) == 3  # never sent downstream
    assert await gateway.stored(third["msgid"]) is None
    assert busy_refusals() == busy_before + 1

    # Not limited while the slots are held: a replay from the message log, a refusal of bad input, a
    # sign-in of another operator.
    replayed = await gateway.send(settled_before)
    assert replayed["infcode"] == 0 and len(slow.arrived) == 3
    bad = purchase(5)
    bad["input"]["druginfo"]["medfee_sumamt"] = "-1"
    assert (await gateway.send(bad))["err_msg"].startswith("[E_INPUT] input.druginfo.medfee_sumamt")
    assert await gateway.his.sign_no(PHARMACY, "002")

    slow.gate.set()
    assert [(await holder)["infcode"] for holder in holders] == [0, 0]
    assert in_flight() == 0
    again = await gateway.send(third)  # the same envelope, as the refusal says
    assert again["infcode"] == 0, again["err_msg"]
    assert slow.arrived[-1] == third["msgid"]
    stored = await gateway.stored(third["msgid"])
    assert stored is not None and stored.infcode == 0


async def test_e_voucher_lookups_take_a_slot_so_a_burst_of_1101s_is_refused_busy(
    gateway: Gateway, slow: SlowSettlement
) -> None:
    holders = [asyncio.create_task(gateway.send(purchase(n))) for n in (21, 22)]
    await asyncio.wait_for(slow.wait_for(2), 30)  # both slots are held downstream
    busy_before = REGISTRY.get_sample_value("gateway_busy_refusals_total", {"infno": "1101"}) or 0.0

    def lookup(sequence: int) -> dict[str, Any]:
        token = voucher.issue(PSN_NO, utcnow() + timedelta(minutes=10)).token
        data = {"mdtrt_cert_type": "01", "mdtrt_cert_no": token, "card_sn": "", "begntime": ""}
        return {
            **examples.envelope("1101", f"{PHARMACY}20261120100000{sequence:04d}", {"data": data}),
            "inf_time": WHEN,
        }

    burst = await asyncio.gather(*(gateway.send(lookup(n)) for n in range(23, 28)))
    assert [a["err_msg"][:8] for a in burst] == ["[E_BUSY]"] * 5
    assert slow.lookups == []  # not one token was looked up at the issuer
    assert REGISTRY.get_sample_value("gateway_busy_refusals_total", {"infno": "1101"}) == busy_before + 5

    slow.gate.set()
    assert [(await holder)["infcode"] for holder in holders] == [0, 0]
    # With slots free the lookup is made (the mock issuer never issued the token: E_VOUCHER).
    answer = await gateway.send(lookup(28))
    assert answer["err_msg"].startswith("[E_VOUCHER]"), answer["err_msg"]
    assert len(slow.lookups) == 1 and in_flight() == 0


async def test_a_waiting_request_gets_the_slot_that_comes_free(
    gateway: Gateway, slow: SlowSettlement
) -> None:
    gateway.processor.slots = DownstreamSlots(1, 60.0)  # the wait outlasts the holder
    holder = asyncio.create_task(gateway.send(purchase(11)))
    await asyncio.wait_for(slow.wait_for(1), 30)
    waiter = asyncio.create_task(gateway.send(purchase(12)))
    assert gateway.processor.slots is not None
    await queued(gateway.processor.slots, waiter)  # queued for the slot, not refused
    slow.gate.set()
    assert (await holder)["infcode"] == 0
    assert (await waiter)["infcode"] == 0
    assert slow.arrived == [purchase(11)["msgid"], purchase(12)["msgid"]]


async def test_a_request_given_up_while_waiting_leaves_no_slot_taken() -> None:
    slots = DownstreamSlots(1, 60.0)
    held = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        async with slots.envelope("2102"):
            await before_call()
            await before_call()  # the envelope's second call: the same slot
            held.set()
            await release.wait()

    async def wait_in_line() -> None:
        async with slots.envelope("2102"):
            await before_call()
            raise AssertionError("never admitted: cancelled while waiting")

    holder = asyncio.create_task(hold())
    await held.wait()
    waiter = asyncio.create_task(wait_in_line())
    await queued(slots, waiter)
    waiter.cancel()  # the client went away
    with pytest.raises(asyncio.CancelledError):
        await waiter
    release.set()
    await holder
    for _ in range(3):  # the one slot is free again, every time
        async with slots.envelope("2102"):
            assert not slots._free.locked()  # nothing taken before the first call
            await before_call()
            assert slots._free.locked()
        assert not slots._free.locked()


async def test_with_no_wait_a_full_process_refuses_at_once() -> None:
    slots = DownstreamSlots(1, 0.0)
    async with slots.envelope("2102"):
        await before_call()
        with pytest.raises(Refusal) as refused:
            async with slots.envelope("2102"):
                await before_call()
                raise AssertionError("admitted past the limit")
    assert refused.value.code == "E_BUSY"
    await before_call()  # outside an envelope (a readiness ping): never limited


def test_the_wait_must_stay_well_under_the_downstream_timeout() -> None:
    with pytest.raises(ValueError, match="quarter"):
        GatewaySettings(downstream_timeout_s=1.0, downstream_slot_wait_s=0.5)
    assert (
        GatewaySettings(downstream_timeout_s=1.0, downstream_slot_wait_s=0.25).downstream_slot_wait_s == 0.25
    )


async def test_the_app_takes_its_limit_from_the_settings(databases: DatabaseFactory) -> None:
    url = databases.migrated("gateway")
    app = build(
        create_app, GatewaySettings, database_url=url, downstream_max_in_flight=7, downstream_slot_wait_s=0.01
    )
    async with running(app):
        slots = app.state.runtime.processor.slots
        assert (slots.limit, slots.wait_s) == (7, 0.01)
        assert REGISTRY.get_sample_value("gateway_downstream_slots") == 7
    await Database(url).dispose()
