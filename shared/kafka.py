"""Kafka plumbing: producer settings that work on Apache Kafka and on the embedded Tansu broker, topic
creation, and a metadata probe for readiness.

Every call to the broker made here is bounded by a timeout: a broker that stops answering (killed, restarted,
partitioned) must turn into an error the caller handles, never into a call that waits forever. Topics are
created at start and again by the relay and the consumer whenever the broker fails them (``TopicGuard``): a
broker that restarted empty (the embedded one keeps its data in memory) has no topics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient

from shared.config import ServiceSettings

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36
#: The longest any single broker call (start, produce batch, fetch, commit, admin) may take.
BROKER_CALL_TIMEOUT_S = 15.0


def make_producer(bootstrap: str, *, idempotence: bool, client_id: str) -> AIOKafkaProducer:
    # acks=all: a row is marked sent only once every in-sync replica has it.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=idempotence,
        linger_ms=2,
        request_timeout_ms=10_000,
    )


def make_consumer(
    settings: ServiceSettings, topics: Sequence[str], *, group: str, client_id: str
) -> AIOKafkaConsumer:
    """A group consumer of ``topics`` that commits by hand and starts from the earliest offset when its group
    has none (a new group, or a broker that lost its groups: the idempotent consumer dedupes).

    On the embedded broker, a metadata request naming a missing topic creates it (4 partitions): after a
    broker restart the consumers and the relays create the topics concurrently, which that broker does not
    always survive (offsets of a partition reset under records already written: produce fails there, and
    fetches skip). A consumer subscribed by pattern creates nothing, but the embedded broker then left it
    without topics after its restart; so it subscribes by name, and what the broker fails to deliver is
    booked by ``shared.gapwatch``."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        rebalance_timeout_ms=settings.kafka_rebalance_timeout_ms,
        metadata_max_age_ms=5_000,
    )


async def ensure_topics(
    bootstrap: str, topics: tuple[str, ...], *, partitions: int = 6, replication_factor: int = 1
) -> None:
    """Create the topics if missing (idempotent: "already exists" is success). Bounded by
    ``BROKER_CALL_TIMEOUT_S`` as a whole."""
    async with asyncio.timeout(BROKER_CALL_TIMEOUT_S):
        await _ensure_topics(bootstrap, topics, partitions, replication_factor)


async def _ensure_topics(
    bootstrap: str, topics: tuple[str, ...], partitions: int, replication_factor: int
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if not missing:
            return
        response = await admin.create_topics(
            [NewTopic(t, num_partitions=partitions, replication_factor=replication_factor) for t in missing]
        )
        for topic, code, message in getattr(response, "topic_errors", []):
            if code not in (0, TOPIC_ALREADY_EXISTS):
                raise RuntimeError(f"cannot create topic {topic}: error {code} {message}")
    finally:
        await admin.close()


async def ensure_topics_with_retry(
    bootstrap: str, topics: tuple[str, ...], stop: asyncio.Event, max_backoff_s: float = 10.0
) -> bool:
    delay = 0.2
    while not stop.is_set():
        try:
            await ensure_topics(bootstrap, topics)
            return True
        except Exception as exc:
            log.warning("broker not reachable for topic setup (%s); retrying in %.1fs", exc, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, max_backoff_s)
    return False


class TopicGuard:
    """Creates topics again after a broker failure, at most once per ``min_interval_s``: the relay calls it
    for the topics it publishes to before it reconnects, so a broker that came back empty (and does not
    create topics by itself) gets them without a service restart. Only the service that writes to a topic
    creates it again; its consumers wait for it to appear (``metadata_max_age_ms``)."""

    def __init__(self, bootstrap: str, topics: tuple[str, ...], min_interval_s: float = 2.0) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.min_interval_s = min_interval_s
        self._last = -1e9
        self._lock = asyncio.Lock()

    async def ensure(self, topics: Collection[str] | None = None) -> None:
        """``topics`` (default: all the guard's). Never raises: a broker still down is the caller's next
        failure, retried with backoff."""
        wanted = tuple(sorted(topics)) if topics else self.topics
        async with self._lock:
            now = asyncio.get_running_loop().time()
            if now - self._last < self.min_interval_s:
                return
            self._last = now
            try:
                await ensure_topics(self.bootstrap, wanted)
            except Exception as exc:
                log.info("topics not (re)created: %s: %s", type(exc).__name__, exc)


class BrokerProbe:
    """Answers "is the broker reachable right now" for /readyz with a cheap metadata request."""

    def __init__(self, bootstrap: str) -> None:
        self._client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=5_000)
        self._started = False

    async def check(self) -> None:
        if not self._started:
            await self._client.bootstrap()
            self._started = True
        ok = await self._client.force_metadata_update()
        if not ok:
            raise ConnectionError("broker metadata request failed")

    async def close(self) -> None:
        if self._started:
            await self._client.close()
