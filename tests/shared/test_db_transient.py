"""``shared.db.transient``: a table model's instance built without SQLModel's per-field ``__setattr__`` is the
instance its constructor builds (values, defaults and default factories, the fields set), and SQLAlchemy
takes it as its own: transient, and written and read back by a flush, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.messages.models import MessageLog
from sqlalchemy import inspect
from sqlmodel import select

from shared.db import Database, transient
from tests.conftest import DatabaseFactory

VALUES: dict[str, Any] = {
    "msgid": "H34152420261207000000000001",
    "infno": "2102",
    "fixmedins_code": "H341524",
    "request_sha256": "a" * 64,
    "infcode": 0,
    "response": '{"infcode":0}',
}


def test_it_is_what_the_constructor_builds() -> None:
    built = transient(MessageLog, **VALUES)
    constructed = MessageLog(**VALUES)
    assert inspect(built).transient
    assert built.__pydantic_fields_set__ == constructed.__pydantic_fields_set__ == set(VALUES)
    assert built.model_dump(exclude={"created_at"}) == constructed.model_dump(exclude={"created_at"})
    # The default factory ran (now, in UTC), as the constructor's did.
    assert isinstance(built.created_at, datetime) and built.created_at.tzinfo is UTC
    assert abs((built.created_at - constructed.created_at).total_seconds()) < 60
    given = transient(MessageLog, **VALUES, created_at=datetime(2026, 12, 7, tzinfo=UTC))
    assert given.created_at == datetime(2026, 12, 7, tzinfo=UTC)


async def test_a_flush_writes_it_and_it_reads_back(databases: DatabaseFactory) -> None:
    db = Database(databases.migrated("gateway"))
    try:
        at = datetime(2026, 12, 7, 1, 2, 3, tzinfo=UTC)
        async with db.transaction() as session:
            session.add(transient(MessageLog, **VALUES, created_at=at))
        async with db.session() as session:
            stored = await session.scalar(select(MessageLog).where(MessageLog.msgid == VALUES["msgid"]))
        assert stored is not None
        assert stored.model_dump() == {**VALUES, "created_at": at}
    finally:
        await db.dispose()
