"""The co-located deployment (platformctl/colocated.py): the gateway and settlement in one process, the
enrollment service, the ledger and the broker as usual, on each backend. The card-swipe tests of
``test_card_swipe`` run again against it unchanged (settlement, repeats raced, reversals and 2601, a visit and
a stay, all booked), and the process's own promises are checked here."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from platformctl import examples
from platformctl.demo import PERSONS
from tests.conftest import BACKENDS
from tests.e2e.conftest import Stack, start_stack, stop_stack
from tests.e2e.test_card_swipe import (
    OPERATOR,
    _msgid,
    test_card_swipe_settles_and_books_a_balanced_entry,
    test_concurrent_repeats_of_a_message_settle_and_book_once,
    test_outpatient_visit_and_inpatient_stay_through_the_gateway,
    test_pharmacy_reversal_and_2601_reach_the_books,
)

__all__ = [
    "test_card_swipe_settles_and_books_a_balanced_entry",
    "test_concurrent_repeats_of_a_message_settle_and_book_once",
    "test_outpatient_visit_and_inpatient_stay_through_the_gateway",
    "test_pharmacy_reversal_and_2601_reach_the_books",
]


@pytest.fixture(scope="module", params=BACKENDS)
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    backend = str(request.param)
    root: Path = tmp_path_factory.mktemp(f"colocated-{backend}")
    stack = start_stack(request, backend, root, {}, colocate=True)
    try:
        yield stack
    finally:
        stop_stack(stack)


def _settlements_served(text: str) -> float:
    """Pharmacy settlements settlement answered, as its own request metrics count them."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "http_requests_total"
        and sample.labels.get("service") == "settlement"
        and sample.labels.get("route") == "/api/v1/pharmacy-settlements"
    )


async def test_one_process_serves_both_services_on_their_own_ports(stack: Stack) -> None:
    gateway, settlement = stack.services["gateway"], stack.services["settlement"]
    assert gateway.process is not None and settlement.process is None  # started as one
    async with httpx.AsyncClient(timeout=10) as client:
        for service in (gateway, settlement):
            ready = await client.get(f"{service.url}/readyz")
            assert ready.status_code == 200, (service.spec.name, ready.text)
        before = _settlements_served((await client.get(f"{gateway.url}/metrics")).text)

    # A card swipe through the gateway reaches settlement inside the process: settlement's own request
    # metrics count it in the process the gateway's port belongs to.
    person = PERSONS[2]
    async with httpx.AsyncClient(headers=OPERATOR) as client:
        lookup = await stack.call(client, dict(examples.example_1101(person.certno), msgid=_msgid()))
        assert lookup["infcode"] == 0, lookup["err_msg"]
        psn_no = lookup["output"]["baseinfo"]["psn_no"]
        envelope = dict(examples.example_2102(psn_no, person.certno), msgid=_msgid())
        first, again = [await stack.call(client, envelope) for _ in range(2)]
    assert first["infcode"] == 0, first["err_msg"]
    assert again == first  # the repeat of a msgid gets the first answer
    async with httpx.AsyncClient(timeout=10) as client:
        after = _settlements_served((await client.get(f"{gateway.url}/metrics")).text)
    assert after == before + 1  # the repeat was answered by the gateway from its message log


async def test_the_process_stops_cleanly_on_sigterm_and_starts_again(stack: Stack) -> None:
    """SIGTERM stops the gateway, then settlement, and the process exits 0; started again, it settles (the
    stack is left as it was found, for the tests that run after this one)."""
    gateway = stack.services["gateway"]
    assert gateway.process is not None
    gateway.process.terminate()
    returncode = await asyncio.to_thread(gateway.process.wait, 30)
    assert returncode == 0
    async with httpx.AsyncClient(timeout=2) as client:
        for service in ("gateway", "settlement"):
            with pytest.raises(httpx.ConnectError):
                await client.get(f"{stack.url(service)}/healthz")

    gateway.stop()  # closes its log
    gateway.start()
    for service in ("gateway", "settlement"):
        await asyncio.to_thread(stack.services[service].wait_ready)
    person = PERSONS[3]
    async with httpx.AsyncClient(headers=OPERATOR) as client:
        lookup = await stack.call(client, dict(examples.example_1101(person.certno), msgid=_msgid()))
        assert lookup["infcode"] == 0, lookup["err_msg"]
        psn_no = lookup["output"]["baseinfo"]["psn_no"]
        answer = await stack.call(client, dict(examples.example_2102(psn_no, person.certno), msgid=_msgid()))
    assert answer["infcode"] == 0, answer["err_msg"]
