"""Kafka plumbing: producer settings that work on Apache Kafka and on the embedded Tansu broker, topic
creation, and a metadata probe for readiness."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36


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


async def ensure_topics(
    bootstrap: str, topics: tuple[str, ...], *, partitions: int = 6, replication_factor: int = 1
) -> None:
    """Create the topics if missing (idempotent: "already exists" is success)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
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
