"""Gap detection independent of the broker: a consumer compares, continuously, what a producer published (its
outbox, read over HTTP through ``shared.outbox_feed``) against what it has processed (its processed-event
table), and books what the broker lost from the producer's own copy of the event.

The broker is trusted with nothing here. A broker that restarted empty, an unclean leader election or a
misconfigured ``min.insync.replicas`` can lose events it acknowledged; the relay has marked them sent and
will never send them again, and the consumer never sees them. The watcher notices within
``grace_s + interval_s`` seconds of the acknowledgement and books them through the consumer's own handlers
(``IdempotentConsumer.process_envelopes``): the processed-event table makes the booking happen once,
whichever of the broker and the watcher delivers first.

Every ``interval_s`` a pass:

1. lists the producer's rows after the highest position seen (``head``), of the event types the consumer
   handles, a bounded number of pages, and asks at the same time how many rows lie in
   (``watermark``, ``head``]. Outbox ids are taken at insert and not commit-ordered on PostgreSQL: a count
   above the rows kept in the window means a transaction committed a lower id after it was read past, and
   the window is listed again from the watermark;
2. looks up the window's events not yet known done in the processed-event table;
3. an event acknowledged by the broker (``sent_at``) more than ``grace_s`` ago and not processed is a gap, and
   so is one still unsent ``unsent_grace_s`` after it was created (a broker that takes writes but fails them,
   a relay stuck: the books do not wait for the broker):
   ``consumer_event_gap_events{service, producer}`` is set to their number (it stays up until the next pass
   has seen them booked), their envelopes are fetched and processed in position order, and
   ``consumer_gap_events_recovered_total`` counts those that were booked;
4. moves the watermark over the leading events that are done and older than ``commit_grace_s`` (no
   transaction still open could commit a row below it), and stores it, so a restart does not rescan history.

An event not yet acknowledged is otherwise the relay's backlog (``outbox_oldest_age_seconds``), not a gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from prometheus_client import Counter, Gauge
from sqlalchemy import BigInteger, Column, MetaData, String, Table, select, update
from sqlalchemy.exc import IntegrityError

from shared.consumer import IdempotentConsumer
from shared.db import AwareDateTime, Database, utcnow

log = logging.getLogger(__name__)

GAP_EVENTS = Gauge(
    "consumer_event_gap_events",
    "Events a producer's outbox shows acknowledged by the broker more than the grace period ago that this "
    "consumer has not processed (the broker lost or withheld them); booked from the producer, then 0",
    ["service", "producer"],
)
GAP_RECOVERED = Counter(
    "consumer_gap_events_recovered_total",
    "Events the broker never delivered, fetched from the producer's outbox and booked",
    ["service", "producer"],
)
GAP_CHECK_FAILURES = Counter(
    "consumer_gap_check_failures_total",
    "Gap-check passes that failed (producer unreachable...)",
    ["service", "producer"],
)
GAP_CHECKED_AT = Gauge(
    "consumer_gap_check_timestamp_seconds",
    "Unix time of the last gap-check pass that completed",
    ["service", "producer"],
)


def define_feed_watermarks(metadata: MetaData) -> Table:
    """Per producer, the position up to which every event of the feed is known processed."""
    return Table(
        "event_feed_watermarks",
        metadata,
        Column("producer", String(50), primary_key=True),
        Column("position", BigInteger, nullable=False),
        Column("updated_at", AwareDateTime(), nullable=False),
    )


class WatermarkStore:
    def __init__(self, db: Database, table: Table) -> None:
        self.db = db
        self.table = table

    async def load(self, producer: str) -> int:
        async with self.db.session() as session:
            value = (
                await session.execute(select(self.table.c.position).where(self.table.c.producer == producer))
            ).scalar()
            await session.rollback()
        return int(value or 0)

    async def save(self, producer: str, position: int) -> None:
        t = self.table
        async with self.db.transaction() as session:
            done = await session.execute(
                update(t)
                .where(t.c.producer == producer, t.c.position < position)
                .values(position=position, updated_at=utcnow())
            )
            if done.rowcount:  # type: ignore[attr-defined]
                return
            exists = (await session.execute(select(t.c.position).where(t.c.producer == producer))).first()
            if exists is None:
                with contextlib.suppress(IntegrityError):  # another replica inserted it first
                    async with session.begin_nested():
                        await session.execute(
                            t.insert().values(producer=producer, position=position, updated_at=utcnow())
                        )


@dataclass
class _Seen:
    event_id: str
    topic: str
    created_at: datetime
    sent_at: datetime | None
    done: bool = False


@dataclass(frozen=True)
class PassReport:
    listed: int
    gap: int
    recovered: int
    watermark: int
    head: int


class EventGapWatcher:
    """Checks one producer's feed against one consumer's processed events (see the module docstring)."""

    def __init__(
        self,
        *,
        service: str,
        producer: str,
        base_url: str,
        headers: Callable[[], dict[str, str]],
        event_types: Collection[str],
        consumer: IdempotentConsumer,
        store: WatermarkStore,
        interval_s: float = 2.0,
        grace_s: float = 10.0,
        commit_grace_s: float = 60.0,
        unsent_grace_s: float = 120.0,
        page_limit: int = 2000,
        max_pages: int = 5,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.service = service
        self.producer = producer
        self.base_url = base_url.rstrip("/")
        self.headers = headers
        self.event_types = sorted(event_types)
        self.consumer = consumer
        self.store = store
        self.interval_s = interval_s
        self.grace = timedelta(seconds=grace_s)
        self.commit_grace = timedelta(seconds=commit_grace_s)
        self.unsent_grace = timedelta(seconds=unsent_grace_s)
        self.page_limit = page_limit
        self.max_pages = max_pages
        self.timeout_s = timeout_s
        self._transport = transport
        self.watermark = 0
        self.head = 0
        self._loaded = False
        self._window: dict[int, _Seen] = {}
        GAP_EVENTS.labels(service, producer).set(0)
        GAP_RECOVERED.labels(service, producer)
        GAP_CHECK_FAILURES.labels(service, producer)

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        async with self._client() as client:
            while not stop.is_set():
                delay = self.interval_s
                try:
                    report = await self.check_once(client)
                    failures = 0
                    if report.listed >= self.page_limit * self.max_pages:
                        delay = 0.1  # catching up with history: keep going, a bounded pass at a time
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    failures += 1
                    GAP_CHECK_FAILURES.labels(self.service, self.producer).inc()
                    level = logging.WARNING if failures in (1, 10) or failures % 100 == 0 else logging.DEBUG
                    log.log(
                        level,
                        "gap check against %s failed (%d in a row): %s: %s",
                        self.producer,
                        failures,
                        type(exc).__name__,
                        exc,
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(self.timeout_s, connect=min(2.0, self.timeout_s)),
            transport=self._transport,
        )

    async def _get(self, client: httpx.AsyncClient, path: str, params: list[tuple[str, Any]]) -> Any:
        response = await client.get(path, params=params, headers=self.headers())
        response.raise_for_status()
        return response.json()

    async def _page(
        self, client: httpx.AsyncClient, after: int, recount_from: int | None = None
    ) -> dict[str, Any]:
        params: list[tuple[str, Any]] = [("after", after), ("limit", self.page_limit)]
        params += [("event_type", t) for t in self.event_types]
        if recount_from is not None:
            params.append(("recount_from", recount_from))
        body: dict[str, Any] = await self._get(client, "/api/v1/outbox/events", params)
        return body

    def _merge(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            position = int(event["position"])
            if position <= self.watermark:
                continue
            sent_at = datetime.fromisoformat(event["sent_at"]) if event.get("sent_at") else None
            seen = self._window.get(position)
            if seen is None:
                self._window[position] = _Seen(
                    event_id=str(event["event_id"]),
                    topic=str(event["topic"]),
                    created_at=datetime.fromisoformat(event["created_at"]),
                    sent_at=sent_at,
                )
            else:
                seen.sent_at = sent_at
            self.head = max(self.head, position)

    async def _relist(self, client: httpx.AsyncClient) -> int:
        """List the window again from the watermark up to the head (late commits, sent_at of unsent rows)."""
        after, listed = self.watermark, 0
        for _ in range(self.max_pages):
            events = (await self._page(client, after))["events"]
            events = [e for e in events if int(e["position"]) <= self.head]
            self._merge(events)
            listed += len(events)
            if len(events) < self.page_limit:
                break
            after = int(events[-1]["position"])
        return listed

    async def check_once(self, client: httpx.AsyncClient | None = None) -> PassReport:
        if client is None:
            async with self._client() as own:
                return await self.check_once(own)
        if not self._loaded:
            self.watermark = self.head = await self.store.load(self.producer)
            self._loaded = True
        now = utcnow()
        listed = 0
        # 1. New rows after the head, with the count of the window's range.
        first = await self._page(client, self.head, recount_from=self.watermark)
        stale_unsent = any(
            not seen.done and seen.sent_at is None and seen.created_at < now - self.grace
            for seen in self._window.values()
        )
        if int(first.get("recount") or 0) > len(self._window) or stale_unsent:
            listed += await self._relist(client)
        page = first
        for number in range(self.max_pages):
            if number:
                page = await self._page(client, self.head)
            self._merge(page["events"])
            listed += len(page["events"])
            if len(page["events"]) < self.page_limit:
                break
        # 2. Which of them the consumer has processed.
        await self._mark_processed()
        # 3. Acknowledged by the broker, not delivered after the grace period: a gap; book them.
        gap = sorted(position for position, seen in self._window.items() if self._missing(seen, now))
        GAP_EVENTS.labels(self.service, self.producer).set(len(gap))
        recovered = 0
        if gap:
            log.warning(
                "%s: %d events of %s acknowledged by the broker were never delivered (positions %d..%d); "
                "booking them from the producer's outbox",
                self.service,
                len(gap),
                self.producer,
                gap[0],
                gap[-1],
            )
            recovered = await self._recover(client, gap)
        # 4. Move the watermark over what is done and old enough that no lower id can still commit.
        saved = self.watermark
        self._advance(now)
        if self.watermark != saved:
            await self.store.save(self.producer, self.watermark)
        GAP_CHECKED_AT.labels(self.service, self.producer).set(now.timestamp())
        return PassReport(
            listed=listed, gap=len(gap), recovered=recovered, watermark=self.watermark, head=self.head
        )

    def _missing(self, seen: _Seen, now: datetime) -> bool:
        if seen.done:
            return False
        if seen.sent_at is None:
            return seen.created_at < now - self.unsent_grace
        return seen.sent_at < now - self.grace

    async def _mark_processed(self) -> None:
        pending = {seen.event_id: seen for seen in self._window.values() if not seen.done}
        if not pending:
            return
        t = self.consumer.tables.processed_events
        ids = list(pending)
        async with self.consumer.db.session() as session:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                for (event_id,) in (
                    await session.execute(select(t.c.event_id).where(t.c.event_id.in_(chunk)))
                ).all():
                    pending[str(event_id)].done = True
            await session.rollback()

    async def _recover(self, client: httpx.AsyncClient, gap: list[int]) -> int:
        recovered = 0
        for start in range(0, len(gap), 200):
            chunk = gap[start : start + 200]
            body = await self._get(client, "/api/v1/outbox/events/payloads", [("position", p) for p in chunk])
            events = sorted(body["events"], key=lambda e: int(e["position"]))
            outcomes = await self.consumer.process_envelopes(
                [(str(e["topic"]), str(e["payload"]).encode()) for e in events]
            )
            for event, outcome in zip(events, outcomes, strict=True):
                seen = self._window.get(int(event["position"]))
                if seen is not None:
                    seen.done = True
                if outcome == "processed":
                    recovered += 1
        GAP_RECOVERED.labels(self.service, self.producer).inc(recovered)
        if recovered:
            log.warning("%s: booked %d events of %s from its outbox", self.service, recovered, self.producer)
        return recovered

    def _advance(self, now: datetime) -> None:
        watermark = self.watermark
        for position in sorted(self._window):
            seen = self._window[position]
            if not seen.done or seen.created_at >= now - self.commit_grace:
                break
            del self._window[position]
            watermark = position
        self.watermark = watermark
