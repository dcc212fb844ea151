"""``shared.db.run`` on PostgreSQL sends a prebuilt statement to asyncpg directly (``shared.direct``). The
outcome must be what SQLAlchemy gives: inside the session's transaction (also as its first statement), the
same values read back, a unique key refused as ``sqlalchemy.exc.IntegrityError`` (what
``settlement.idempotency.once`` retries on), statement listeners still told, and a statement it cannot
run the same way (an expanding ``IN``) sent through SQLAlchemy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, bindparam, event, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from shared import direct
from shared.db import AwareDateTime, Database, ExactDecimal, run
from tests.conftest import DatabaseFactory

metadata = MetaData()
claims = Table(
    "claims",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("msgid", String(30), nullable=False, unique=True),
    Column("kind", String(10), nullable=False),
    Column("amount", ExactDecimal(16, 2), nullable=False),
    Column("at", AwareDateTime(), nullable=False),
    Column("detail", JSON, nullable=True),
)

CLAIM = (
    postgresql.insert(claims)
    .values(
        msgid=bindparam("msgid"),
        kind="settle",
        amount=bindparam("amount"),
        at=bindparam("at"),
        detail=bindparam("detail"),
    )
    .on_conflict_do_nothing(index_elements=["msgid"])
    .returning(claims.c.id, claims.c.msgid, claims.c.kind, claims.c.amount, claims.c.at, claims.c.detail)
)
PLAIN_INSERT = insert(claims).values(
    msgid=bindparam("msgid"), kind="settle", amount=bindparam("amount"), at=bindparam("at")
)
BY_MSGID = select(claims.c.msgid, claims.c.amount).where(claims.c.msgid == bindparam("msgid"))
BY_MSGIDS = select(claims.c.msgid).where(claims.c.msgid.in_(bindparam("msgids", expanding=True)))
AT = datetime(2026, 12, 6, 5, 30, tzinfo=UTC)


@pytest.fixture
async def db(databases: DatabaseFactory, backend: str) -> AsyncIterator[Database]:
    if backend != "postgres":
        pytest.skip("PostgreSQL only: on SQLite run() sends every statement through SQLAlchemy")
    database = Database(databases.new_url("direct"))
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


def _claim(msgid: str, amount: str = "12.30", detail: Any = None) -> dict[str, Any]:
    return {"msgid": msgid, "amount": Decimal(amount), "at": AT, "detail": detail}


async def test_values_read_back_as_sqlalchemy_reads_them(db: Database) -> None:
    async with db.transaction() as session:
        row = (await run(session, CLAIM, _claim("M1", "12.30", {"a": [1, 2]}))).first()
    assert row is not None
    assert (row.msgid, row.kind, row.amount, row.at, row.detail) == (
        "M1",
        "settle",
        Decimal("12.30"),
        AT,
        {"a": [1, 2]},
    )
    assert row[1] == "M1"  # type: ignore[misc]  # by position too
    # Sent by shared.direct (compiled for asyncpg), not through SQLAlchemy's execution.
    assert any(entry[0] is CLAIM and entry[1] is not None for entry in direct._CACHE.values())
    async with db.session() as session:
        # The same row read through SQLAlchemy's own execution.
        stored = (
            await session.execute(
                select(
                    claims.c.id, claims.c.msgid, claims.c.kind, claims.c.amount, claims.c.at, claims.c.detail
                )
            )
        ).all()
    assert [tuple(r) for r in stored] == [tuple(row)]


#: Result columns named like tuple methods and one that is no identifier: a row reads them as columns.
ODD_NAMES = select(
    claims.c.msgid.label("count"), claims.c.kind.label("index"), claims.c.amount.label("amount due")
).where(claims.c.msgid == bindparam("msgid"))


async def test_a_row_reads_its_columns_by_name_and_position_whatever_they_are_called(db: Database) -> None:
    async with db.transaction() as session:
        await run(session, CLAIM, _claim("M1", "7.05"))
        row = (await run(session, ODD_NAMES, {"msgid": "M1"})).first()
        rows = (await run(session, BY_MSGID, {"msgid": "M1"})).all()
    assert row is not None
    assert (row.count, row.index, getattr(row, "amount due")) == ("M1", "settle", Decimal("7.05"))
    assert (row[0], row[2], len(row), list(row)) == (  # type: ignore[misc]
        "M1",
        Decimal("7.05"),
        3,
        ["M1", "settle", Decimal("7.05")],
    )
    assert repr(row) == "DirectRow({'count': 'M1', 'index': 'settle', 'amount due': Decimal('7.05')})"
    with pytest.raises(AttributeError):
        _ = row.msgid  # not a column of this statement
    # Another statement's rows have their own columns.
    assert [(r.msgid, r.amount) for r in rows] == [("M1", Decimal("7.05"))]
    with pytest.raises(AttributeError):
        _ = rows[0].kind


async def test_a_repeated_key_returns_no_row(db: Database) -> None:
    async with db.transaction() as session:
        assert (await run(session, CLAIM, _claim("M1"))).first() is not None
        assert (await run(session, CLAIM, _claim("M1"))).first() is None


async def test_the_first_statement_is_inside_the_transaction(db: Database) -> None:
    """Run as a transaction's first statement, the insert is rolled back with the transaction."""
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            assert (await run(session, CLAIM, _claim("GONE"))).first() is not None
            # Seen by the ORM session's own statements in the same transaction.
            assert (await session.execute(select(claims.c.msgid))).scalar() == "GONE"
            raise RuntimeError("roll back")
    async with db.session() as session:
        assert (await session.execute(select(claims.c.msgid))).all() == []


async def test_a_unique_key_refused_is_sqlalchemys_integrity_error(db: Database) -> None:
    async with db.transaction() as session:
        await run(session, PLAIN_INSERT, _claim("DUP"))
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            await run(session, PLAIN_INSERT, _claim("OTHER"))
            await run(session, PLAIN_INSERT, _claim("DUP"))
    # The refused transaction kept nothing, and the pool's connection works again.
    async with db.transaction() as session:
        assert (await run(session, BY_MSGID, {"msgid": "OTHER"})).first() is None
        row = (await run(session, BY_MSGID, {"msgid": "DUP"})).first()
    assert row is not None and row.amount == Decimal("12.30")


async def test_listeners_see_the_statement_and_expanding_in_goes_through_sqlalchemy(db: Database) -> None:
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", note)
    try:
        async with db.transaction() as session:
            await run(session, CLAIM, _claim("A"))
            await run(session, CLAIM, _claim("B"))
            found = (await run(session, BY_MSGIDS, {"msgids": ["A", "B", "C"]})).all()
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", note)
    assert sorted(r.msgid for r in found) == ["A", "B"]
    inserts = [s for s in seen if s.startswith("INSERT INTO claims")]
    assert len(inserts) == 2
    assert any("msgid IN (" in s for s in seen)


async def test_each_transaction_of_a_session_runs_on_its_own_connection(db: Database) -> None:
    """``run`` asks the session for its connection once per transaction (``shared.db._connection``): a
    session's later transaction, after a commit, a rollback or a savepoint rolled back, runs in itself and
    not on what the earlier one held (which went back to the pool)."""
    async with db.session() as session:
        async with session.begin():
            await run(session, PLAIN_INSERT, _claim("KEPT"))
            await run(session, PLAIN_INSERT, _claim("KEPT2"))
        async with session.begin():
            await run(session, PLAIN_INSERT, _claim("UNDONE"))
            await session.rollback()
        async with session.begin():
            savepoint = await session.begin_nested()
            await run(session, PLAIN_INSERT, _claim("IN_SAVEPOINT"))
            await savepoint.rollback()
            await run(session, PLAIN_INSERT, _claim("AFTER_SAVEPOINT"))
        async with session.begin():
            found = (
                await run(
                    session,
                    BY_MSGIDS,
                    {"msgids": ["KEPT", "KEPT2", "UNDONE", "IN_SAVEPOINT", "AFTER_SAVEPOINT"]},
                )
            ).all()
    assert sorted(row.msgid for row in found) == ["AFTER_SAVEPOINT", "KEPT", "KEPT2"]
