"""The journal writer (fund_ledger.books.journal) on each backend: what it counts once a transaction
commits (and not when it rolls back), a session used for a second transaction, the batch's check for
business sources posted before (in chunks of source ids), and accounts resolved from the cache without a
query. Each expectation is counted by hand from the entries the test posts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fund_ledger.books.chain import verify_chain
from fund_ledger.books.chart import ADVANCES, INCOME_ACCOUNT_DEPOSIT, SUSPENSE, AccountSpec
from fund_ledger.books.journal import Journal, Leg, batch_scope
from fund_ledger.books.models import Account, JournalEntry
from prometheus_client import REGISTRY
from sqlalchemy import event, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from shared.consumer import EventRejected
from shared.db import Database

Ledger = tuple[httpx.AsyncClient, Database]
ADMDVS, INSUTYPE = "341522", "390"


class Boom(Exception):
    """Raised inside a transaction to roll it back."""


def counted() -> tuple[float, float, dict[str, float]]:
    """(postings, flushes, entries by source type) as the journal's Prometheus counters stand."""

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    entries = {
        source: value("ledger_journal_entries_total", source_type=source)
        for source in ("jw_one", "jw_two", "jw_batch", "jw_rolled_back")
    }
    return value("ledger_postings_total"), value("ledger_journal_flushes_total"), entries


def grown(before: tuple[float, float, dict[str, float]]) -> tuple[float, float, dict[str, float]]:
    after = counted()
    return (
        after[0] - before[0],
        after[1] - before[1],
        {k: after[2][k] - before[2][k] for k in after[2] if after[2][k] != before[2][k]},
    )


async def accounts(session: AsyncSession, *specs: AccountSpec) -> list[int]:
    journal = Journal.of(session)
    return [await journal.account(spec, ADMDVS, INSUTYPE, "") for spec in specs]


async def post(session: AsyncSession, source_type: str, source_id: str, legs: list[Leg]) -> int | None:
    entry = await Journal.of(session).post(
        event_id=None,
        source_type=source_type,
        source_id=source_id,
        description="journal writer test",
        admdvs=ADMDVS,
        insutype=INSUTYPE,
        legs=legs,
    )
    return entry.id


def pair(debit_id: int, credit_id: int, fen: int) -> list[Leg]:
    return [Leg(debit_id, debit_fen=fen), Leg(credit_id, credit_fen=fen)]


@contextmanager
def statements_on(db: Database, table: str) -> Iterator[list[str]]:
    """The SQL statements sent while inside that name ``table``."""
    seen: list[str] = []
    pattern = re.compile(rf"\b{table}\b", re.IGNORECASE)

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if pattern.search(statement):
            seen.append(statement)

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def chain_ok(db: Database) -> tuple[bool, int]:
    async with db.session() as session:
        result = await verify_chain(session)
        return result.ok, result.entries


async def test_counters_count_what_was_committed(ledger: Ledger) -> None:
    _, db = ledger
    before = counted()
    async with db.transaction() as session:
        a, b = await accounts(session, INCOME_ACCOUNT_DEPOSIT, SUSPENSE)
        await post(session, "jw_one", "1", pair(a, b, 300))  # 2 postings, written at once
        await post(
            session, "jw_one", "2", [Leg(a, debit_fen=300), Leg(b, credit_fen=100), Leg(b, credit_fen=200)]
        )
    # Unbuffered: 2 entries, 2 + 3 = 5 postings, one write per entry = 2 flushes.
    assert grown(before) == (5, 2, {"jw_one": 2})

    before = counted()
    with pytest.raises(Boom):
        async with db.transaction() as session:
            await post(session, "jw_rolled_back", "1", pair(a, b, 100))
            raise Boom
    assert grown(before) == (0, 0, {})  # rolled back: nothing counted

    before = counted()
    async with db.transaction() as session, batch_scope(session):
        for n in range(3):
            await post(session, "jw_batch", str(n), pair(a, b, 10 + n))
    # Buffered: 3 entries, 3 × 2 = 6 postings, written together: 1 flush.
    assert grown(before) == (6, 1, {"jw_batch": 3})
    assert await chain_ok(db) == (True, 5)


async def test_a_session_used_for_another_transaction(ledger: Ledger) -> None:
    """A journal belongs to one transaction: the session's next transaction gets a new one, which starts
    from the chain head as committed, and what a rolled-back transaction created is never cached or
    counted even when the session then commits another transaction."""
    _, db = ledger
    async with db.transaction() as session:
        a, b = await accounts(session, INCOME_ACCOUNT_DEPOSIT, SUSPENSE)
    before = counted()
    async with db.session() as session:
        async with session.begin():
            await post(session, "jw_one", "r1", pair(a, b, 100))
        # Another writer moves the chain head in between.
        async with db.transaction() as other:
            await post(other, "jw_two", "r2", pair(a, b, 200))
        async with session.begin():
            await post(session, "jw_one", "r3", pair(a, b, 300))
        with pytest.raises(Boom):
            async with session.begin():
                (created,) = await accounts(session, ADVANCES)
                await post(session, "jw_rolled_back", "r4", pair(created, b, 400))
                raise Boom
        async with session.begin():
            await post(session, "jw_two", "r5", pair(a, b, 500))
    # Four entries committed of 2 postings each, unbuffered (a flush each): jw_one r1 r3, jw_two r2 r5.
    assert grown(before) == (8, 4, {"jw_one": 2, "jw_two": 2})
    assert await chain_ok(db) == (True, 4)
    async with db.session() as session:
        seqs = {
            source_id: seq
            for source_id, seq in await session.execute(select(JournalEntry.source_id, JournalEntry.seq))
        }
        assert seqs == {"r1": 1, "r2": 2, "r3": 3, "r5": 4}
        assert (
            await session.scalar(select(func.count()).select_from(Account).where(col(Account.code) == "1101"))
            == 0
        )
    # The rolled-back account was not cached: asking for it again creates it, under its own key.
    async with db.transaction() as session:
        (again,) = await accounts(session, ADVANCES)
        row = await session.get(Account, again)
        assert row is not None and (row.code, row.admdvs, row.insutype) == ("1101", ADMDVS, INSUTYPE)


async def test_already_posted_inside_and_outside_a_batch(ledger: Ledger) -> None:
    _, db = ledger
    async with db.transaction() as session:
        a, b = await accounts(session, INCOME_ACCOUNT_DEPOSIT, SUSPENSE)
        first = await post(session, "jw_one", "p1", pair(a, b, 100))
    async with db.transaction() as session:
        journal = Journal.of(session)
        # Unbuffered: the database answers with the entry's id.
        assert first is not None and await journal.already_posted("jw_one", "p1") == first
        assert await journal.already_posted("jw_one", "p2") is None
    async with db.transaction() as session, batch_scope(session):
        await post(session, "jw_batch", "b1", pair(a, b, 100))
        journal = Journal.of(session)
        # In a batch: 0 for a source of the batch itself (no id yet); the database is asked at flush only.
        assert await journal.already_posted("jw_batch", "b1") == 0
        assert await journal.already_posted("jw_one", "p1") is None


@pytest.mark.parametrize(
    ("repeat_at", "batch"),
    [
        # The repeated source sorts first among the batch's source ids ("000" < "001" ...).
        (0, 3),
        # ... last of three.
        (2, 3),
        # ... the 501st of 501: in the second chunk of 500 source ids.
        (500, 501),
    ],
)
async def test_a_batch_refuses_a_source_posted_before(ledger: Ledger, repeat_at: int, batch: int) -> None:
    _, db = ledger
    repeated = f"{repeat_at:03d}"
    async with db.transaction() as session:
        a, b = await accounts(session, INCOME_ACCOUNT_DEPOSIT, SUSPENSE)
        await post(session, "jw_batch", repeated, pair(a, b, 100))
    with pytest.raises(EventRejected, match=f"jw_batch {repeated} already posted as entry"):
        async with db.transaction() as session, batch_scope(session):
            for n in range(batch):
                await post(session, "jw_batch", f"{n:03d}", pair(a, b, 1 + n))
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(JournalEntry)) == 1
    # The same batch without the repeat goes through.
    async with db.transaction() as session, batch_scope(session):
        for n in range(batch):
            if n != repeat_at:
                await post(session, "jw_batch", f"{n:03d}", pair(a, b, 1 + n))
    assert await chain_ok(db) == (True, batch)


async def test_committed_accounts_are_resolved_without_a_query(ledger: Ledger) -> None:
    _, db = ledger
    async with db.transaction() as session:
        a, b = await accounts(session, INCOME_ACCOUNT_DEPOSIT, SUSPENSE)
        await post(session, "jw_one", "c1", pair(a, b, 100))
    async with db.transaction() as session:
        with statements_on(db, "accounts") as seen:
            assert await accounts(session, INCOME_ACCOUNT_DEPOSIT, SUSPENSE) == [a, b]
            await post(session, "jw_one", "c2", pair(a, b, 200))
        assert seen == []
    # An account first used in this transaction is looked up once: an insert and a select, then cached.
    async with db.transaction() as session:
        with statements_on(db, "accounts") as seen:
            (c,) = await accounts(session, ADVANCES)
            assert await accounts(session, ADVANCES) == [c]
            await post(session, "jw_one", "c3", pair(c, b, 300))
        assert len(seen) == 2
