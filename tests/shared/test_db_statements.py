"""``Database.statements()``: each statement stands on its own (autocommit on PostgreSQL, one transaction on
SQLite), and a connection the server dropped is replaced at its first statement instead of failing it."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Integer, bindparam, func, select, text
from sqlalchemy.exc import DBAPIError

from shared.db import Database, run
from tests.conftest import DatabaseFactory


async def _terminate_other_connections(url: str) -> int:
    """What a PostgreSQL restart does to the connections the pools hold."""
    killer = Database(url)
    try:
        async with killer.engine.connect() as conn:
            count = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await killer.dispose()
    return int(count or 0)


async def test_writes_are_kept_and_an_error_keeps_none_of_its_own(databases: DatabaseFactory) -> None:
    db = Database(databases.new_url("statements"))
    try:
        async with db.transaction() as session:
            await session.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY)"))
        async with db.statements() as conn:
            await conn.execute(text("INSERT INTO t (k) VALUES (1)"))
        with pytest.raises(DBAPIError):
            async with db.statements() as conn:
                await conn.execute(text("INSERT INTO t (k) VALUES (2)"))
                await conn.execute(text("INSERT INTO t (k) VALUES (1)"))  # taken
        async with db.session() as session:
            kept = (await session.scalars(text("SELECT k FROM t ORDER BY k"))).all()
        # PostgreSQL: 2 committed by itself; SQLite: the block was one transaction, rolled back.
        assert kept == ([1] if db.is_sqlite else [1, 2])
    finally:
        await db.dispose()


async def test_a_dropped_connection_is_replaced_at_its_first_statement(
    databases: DatabaseFactory, backend: str
) -> None:
    if backend != "postgres":
        pytest.skip("PostgreSQL only: SQLite has no server to restart")
    db = Database(databases.new_url("statements"))
    try:
        async with db.statements() as conn:
            before = await conn.execute(text("SELECT pg_backend_pid()"))
            old_pid = before.scalar_one()
        assert await _terminate_other_connections(db.url) >= 1
        async with db.statements() as conn:
            after = await conn.execute(text("SELECT pg_backend_pid()"))
            assert after.scalar_one() != old_pid  # a new connection, the statement answered
            await _terminate_other_connections(db.url)
            with pytest.raises(DBAPIError):  # later statements are never run twice
                await conn.execute(text("SELECT 1"))
    finally:
        await db.dispose()


async def test_a_transaction_after_a_restart_gets_a_live_connection(
    databases: DatabaseFactory, backend: str
) -> None:
    """The pool checks a connection idle for ``ping_after_idle`` or more as it hands it out (one round
    trip, ``shared.db._pinging_after``): after the server dropped them all (a restart takes longer than
    that), the next transaction runs on a new connection instead of failing."""
    if backend != "postgres":
        pytest.skip("PostgreSQL only: SQLite has no server to restart")
    db = Database(databases.new_url("statements"), ping_after_idle=0.2)
    try:
        async with db.transaction() as session:
            old_pid = await session.scalar(text("SELECT pg_backend_pid()"))
        assert await _terminate_other_connections(db.url) >= 1
        await asyncio.sleep(0.3)
        async with db.transaction() as session:
            assert await session.scalar(text("SELECT pg_backend_pid()")) != old_pid
    finally:
        await db.dispose()


async def test_a_connection_dropped_while_in_use_fails_one_transaction_and_the_pool_recovers(
    databases: DatabaseFactory, backend: str
) -> None:
    """A connection used moments ago is handed out unchecked (the ping would be a round trip of every
    transaction under load). If the server dropped it in that moment, its transaction fails, as one
    running at that moment would; SQLAlchemy then invalidates the pool, and every other connection from
    before is replaced at its next checkout: one failure, not one per pooled connection."""
    if backend != "postgres":
        pytest.skip("PostgreSQL only: SQLite has no server to restart")
    db = Database(databases.new_url("statements"), pool_size=3, max_overflow=0, ping_after_idle=60)
    try:

        async def pid() -> int:
            async with db.transaction() as session:
                found = await session.scalar(text("SELECT pg_backend_pid()"))
                await asyncio.sleep(0.1)  # three at once: the pool opens its three connections
                return int(found)

        old = set(await asyncio.gather(*(pid() for _ in range(3))))
        assert len(old) == 3
        assert await _terminate_other_connections(db.url) == 3
        with pytest.raises(DBAPIError) as failed:
            await pid()
        assert failed.value.connection_invalidated
        new = set(await asyncio.gather(*(pid() for _ in range(3))))
        assert len(new) == 3 and not new & old
    finally:
        await db.dispose()


async def test_a_pool_keeps_open_as_many_connections_as_it_is_sized_for(databases: DatabaseFactory) -> None:
    """``database_pool_size`` connections stay open between transactions (no backend started per request);
    beyond it the pool opens ``database_max_overflow`` more and closes them again. SQLite ignores both."""
    db = Database(databases.new_url("pool"), pool_size=3, max_overflow=2)
    if db.is_sqlite:
        await db.dispose()
        pytest.skip("PostgreSQL only: SQLite has no connection pool to size")
    try:

        async def hold() -> None:
            async with db.transaction() as session:
                await session.execute(text("SELECT 1"))
                await asyncio.sleep(0.2)

        await asyncio.gather(*(hold() for _ in range(5)))
        pool = db.engine.sync_engine.pool
        assert (pool.size(), pool.checkedin(), pool.overflow()) == (3, 3, 0)  # type: ignore[attr-defined]
        async with db.engine.connect() as conn:
            backends = await conn.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
            )
        assert backends == 3  # the three kept: the two beyond the pool were closed when returned
    finally:
        await db.dispose()


async def test_sqlite_transactions_of_a_process_take_turns_in_order(databases: DatabaseFactory) -> None:
    """SQLite lets one transaction write at a time (every transaction here begins IMMEDIATE). A process
    keeps one connection, so its transactions wait in the pool's queue and get it in the order they asked;
    with a connection each they would poll SQLite's lock with growing sleeps and some would wait seconds
    while later ones went ahead (bench/settlement_load.py on SQLite, 16 counters)."""
    db = Database(databases.new_url("turns"))
    if not db.is_sqlite:
        await db.dispose()
        pytest.skip("SQLite only: PostgreSQL locks rows, not the database")
    try:
        async with db.transaction() as session:
            await session.execute(text("CREATE TABLE turns (n INTEGER NOT NULL)"))

        async def write(n: int) -> None:
            async with db.transaction() as session:
                await session.execute(text("INSERT INTO turns (n) VALUES (:n)"), {"n": n})
                await asyncio.sleep(0.01)  # holds the lock while the others queue up

        tasks = []
        for n in range(12):
            tasks.append(asyncio.create_task(write(n)))
            await asyncio.sleep(0)  # each asks before the next is created
        await asyncio.gather(*tasks)
        async with db.session() as session:
            stored = (await session.scalars(text("SELECT n FROM turns ORDER BY rowid"))).all()
        assert list(stored) == list(range(12))
    finally:
        await db.dispose()


# --- statements built once, sent to asyncpg directly (shared.direct) ------------------------------------

#: A prebuilt statement (``shared.db.run``, ``Statements.run``): the backend's pid, offset by a bound zero.
_PID = select((func.pg_backend_pid() + bindparam("zero", type_=Integer)).label("pid"))


async def test_a_prebuilt_statement_on_a_dropped_connection_is_run_again_on_a_new_one(
    databases: DatabaseFactory, backend: str
) -> None:
    """What ``Statements.execute`` does for a dropped connection, ``Statements.run`` does on the driver
    directly: the lost connection is recognised (SQLAlchemy's own handler), replaced, and the first
    statement answered; a later one is never run twice."""
    if backend != "postgres":
        pytest.skip("PostgreSQL only: SQLite has no server to restart")
    db = Database(databases.new_url("statements"))
    try:
        async with db.statements() as conn:
            old_pid = (await conn.run(_PID, {"zero": 0})).scalar()
            assert isinstance(old_pid, int)
        assert await _terminate_other_connections(db.url) >= 1
        async with db.statements() as conn:
            assert (await conn.run(_PID, {"zero": 0})).scalar() != old_pid
            await _terminate_other_connections(db.url)
            with pytest.raises(DBAPIError) as failed:
                await conn.run(_PID, {"zero": 0})
            assert failed.value.connection_invalidated
    finally:
        await db.dispose()


async def test_a_prebuilt_statement_on_a_dropped_connection_fails_one_transaction_and_the_pool_recovers(
    databases: DatabaseFactory, backend: str
) -> None:
    """``shared.db.run`` in a transaction, as the settlement path runs it: the connection dropped by the
    server fails that transaction with ``connection_invalidated``, and the pool is invalidated with it, so
    the connections from before are all replaced (one failure, not one per pooled connection). The error
    names the statement, not its values."""
    if backend != "postgres":
        pytest.skip("PostgreSQL only: SQLite has no server to restart")
    db = Database(databases.new_url("statements"), pool_size=3, max_overflow=0, ping_after_idle=60)
    try:

        async def pid(zero: int = 0) -> int:
            async with db.transaction() as session:
                found = (await run(session, _PID, {"zero": zero})).scalar()
                await asyncio.sleep(0.1)  # three at once: the pool opens its three connections
                assert isinstance(found, int)
                return found

        old = set(await asyncio.gather(*(pid() for _ in range(3))))
        assert len(old) == 3
        assert await _terminate_other_connections(db.url) == 3
        with pytest.raises(DBAPIError) as failed:
            await pid(zero=987654321)
        assert failed.value.connection_invalidated
        assert "987654321" not in str(failed.value)
        new = set(await asyncio.gather(*(pid() for _ in range(3))))
        assert len(new) == 3 and not new & old
    finally:
        await db.dispose()
