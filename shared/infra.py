"""Tables every service database carries for reliable messaging: the transactional outbox, the consumer's
processed-event record and the dead-letter table.

They are SQLAlchemy Core tables added to each service's own metadata (one database per service), so the
relay and the consumer work the same way in all four services.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text, text

from shared.db import AwareDateTime, BigIntPK


@dataclass(frozen=True)
class InfraTables:
    outbox: Table
    processed_events: Table
    dead_letters: Table


def define_infra_tables(metadata: MetaData) -> InfraTables:
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigIntPK, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("topic", String(100), nullable=False),
        Column("event_key", String(100), nullable=False),
        Column("event_type", String(100), nullable=False),
        Column("payload", Text, nullable=False),
        Column("created_at", AwareDateTime(), nullable=False),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("last_error", Text, nullable=True),
        Column("sent_at", AwareDateTime(), nullable=True),
        Index(
            "ix_outbox_unsent",
            "id",
            postgresql_where=text("sent_at IS NULL"),
            sqlite_where=text("sent_at IS NULL"),
        ),
    )
    processed = Table(
        "processed_events",
        metadata,
        Column("event_id", String(36), primary_key=True),
        Column("topic", String(100), nullable=False),
        Column("event_type", String(100), nullable=False),
        Column("outcome", String(20), nullable=False),
        Column("processed_at", AwareDateTime(), nullable=False),
    )
    dead_letters = Table(
        "dead_letters",
        metadata,
        Column("id", BigIntPK, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=True, index=True),
        Column("topic", String(100), nullable=False),
        Column("partition", Integer, nullable=False),
        Column("offset", BigIntPK, nullable=False),
        Column("event_type", String(100), nullable=True),
        Column("payload", Text, nullable=False),
        Column("reason", Text, nullable=False),
        Column("created_at", AwareDateTime(), nullable=False),
    )
    return InfraTables(outbox=outbox, processed_events=processed, dead_letters=dead_letters)
