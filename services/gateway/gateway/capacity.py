"""Admission control: how many envelopes one gateway process has downstream at once.

Past what the services behind it can answer within the downstream timeout, every extra request in flight
only makes all of them slower, until binding settlements time out as "outcome unknown" (a cashier who
must not charge, a 2601 to send). So a process lets at most ``limit`` envelopes go downstream at once; a
new one waits at most ``wait_s`` (a small fraction of the timeout) for a slot, then is refused
``[E_BUSY]``: nothing was done, the same envelope may be sent again (``TRANSIENT_CODES``: not stored as the
msgid's answer). Requests that do not go downstream (refusals, replays from the message log, 9001/9002)
never take a slot. The limit is per process: with several gateway replicas in front of the same services,
each gets its share (``GATEWAY_DOWNSTREAM_MAX_IN_FLIGHT``, README "Configuration")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from prometheus_client import Counter, Gauge

from gateway.protocol.errors import Refusal

DOWNSTREAM_IN_FLIGHT = Gauge(
    "gateway_downstream_in_flight", "Envelopes this gateway process has downstream now (holding a slot)"
)
DOWNSTREAM_SLOTS = Gauge(
    "gateway_downstream_slots", "Envelopes this gateway process may have downstream at once"
)
BUSY_REFUSALS = Counter(
    "gateway_busy_refusals_total",
    "Envelopes refused E_BUSY: no downstream slot came free within the wait",
    ["infno"],
)


def busy() -> Refusal:
    return Refusal("E_BUSY", "医保服务繁忙，交易未执行，请稍后用原报文重试")


class DownstreamSlots:
    """At most ``limit`` envelopes downstream at once; a newcomer waits up to ``wait_s`` (first come, first
    served), then is refused E_BUSY. An envelope takes its slot at its first downstream call (a refusal of
    its input before that takes none) and keeps it until it is answered, so its later calls (a 2402's
    diagnosis, then its discharge) are never refused half-way."""

    def __init__(self, limit: int, wait_s: float) -> None:
        if limit < 1 or wait_s < 0:
            raise ValueError("limit must be at least 1 and wait_s not negative")
        self.limit = limit
        self.wait_s = wait_s
        self._free = asyncio.Semaphore(limit)
        DOWNSTREAM_SLOTS.set(limit)

    @asynccontextmanager
    async def envelope(self, infno_label: str) -> AsyncIterator[None]:
        """Around the answering of one envelope: its downstream calls (``before_call``) take a slot."""
        ticket = _Ticket(self, infno_label)
        token = _ticket.set(ticket)
        try:
            yield
        finally:
            _ticket.reset(token)
            ticket.give_back()

    async def _take(self, infno_label: str) -> None:
        if not self._free.locked():
            await self._free.acquire()  # a slot is free: taken at once, without waiting
        else:
            try:
                async with asyncio.timeout(self.wait_s):
                    await self._free.acquire()
            except TimeoutError:
                BUSY_REFUSALS.labels(infno_label).inc()
                raise busy() from None
        DOWNSTREAM_IN_FLIGHT.inc()

    def _give_back(self) -> None:
        DOWNSTREAM_IN_FLIGHT.dec()
        self._free.release()


class _Ticket:
    def __init__(self, slots: DownstreamSlots, infno_label: str) -> None:
        self.slots = slots
        self.infno_label = infno_label
        self.holds = False

    async def take(self) -> None:
        if not self.holds:
            await self.slots._take(self.infno_label)
            self.holds = True

    def give_back(self) -> None:
        if self.holds:
            self.holds = False
            self.slots._give_back()


_ticket: ContextVar[_Ticket | None] = ContextVar("downstream_ticket", default=None)


async def before_call() -> None:
    """Called before each downstream call: the envelope being answered takes its slot, or is refused
    E_BUSY with nothing sent. Outside ``DownstreamSlots.envelope`` (readiness pings...) nothing is limited."""
    ticket = _ticket.get()
    if ticket is not None:
        await ticket.take()
