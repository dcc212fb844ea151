"""What the database holds by itself (append-only journal, balanced entries) and what the hash chain
detects when someone goes around the database's guards."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from fund_ledger.books.chain import GENESIS_HASH, compute_entry_hash, verify_chain
from fund_ledger.books.chart import PAYABLE
from fund_ledger.books.service import account_for, post_payment_received, post_settlement_completed
from fund_ledger.config import LedgerSettings
from fund_ledger.main import build_runtime
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from shared.db import Database
from shared.events import ENROLLMENT_TOPIC, SETTLEMENT_TOPIC, PaymentReceived, SubsidyAllocated
from tests.ledger.builders import completed, payment

Ledger = tuple[httpx.AsyncClient, Database]


async def three_entries(db: Database) -> list[int]:
    async with db.transaction() as session:
        await post_settlement_completed(session, completed("S1", 3200).envelope("t"))
        await post_payment_received(session, payment(1, 3000).envelope("t"))
        await post_settlement_completed(session, completed("S2", 450, institution="P2").envelope("t"))
    async with db.session() as session:
        return [int(i) for i in await session.scalars(text("SELECT id FROM journal_entries ORDER BY seq"))]


async def execute(db: Database, *statements: str) -> None:
    async with db.transaction() as session:
        for statement in statements:
            await session.execute(text(statement))


async def test_entries_are_chained_in_posting_order(ledger: Ledger) -> None:
    client, db = ledger
    assert (await client.get("/api/v1/chain/verify")).json() == {
        "ok": True,
        "entries": 0,
        "first_bad_entry_id": None,
        "reason": None,
    }
    await three_entries(db)
    journal = (await client.get("/api/v1/journal")).json()
    assert [e["seq"] for e in journal] == [1, 2, 3]
    assert journal[0]["prev_hash"] == GENESIS_HASH
    assert [e["prev_hash"] for e in journal[1:]] == [e["entry_hash"] for e in journal[:-1]]
    assert len({e["entry_hash"] for e in journal}) == 3
    assert (await client.get("/api/v1/chain/verify")).json() == {
        "ok": True,
        "entries": 3,
        "first_bad_entry_id": None,
        "reason": None,
    }


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE journal_entries SET description = 'changed'",
        "DELETE FROM journal_entries",
        "UPDATE postings SET account_id = account_id",
        "DELETE FROM postings",
    ],
)
async def test_database_refuses_update_and_delete(ledger: Ledger, statement: str) -> None:
    _, db = ledger
    await three_entries(db)
    with pytest.raises(IntegrityError, match="append-only"):
        await execute(db, statement)
    async with db.session() as session:
        assert await session.scalar(text("SELECT COUNT(*) FROM postings")) == 6
        assert (await verify_chain(session)).ok


async def test_postgres_refuses_truncate(ledger: Ledger) -> None:
    _, db = ledger
    if db.is_sqlite:
        pytest.skip("SQLite has no TRUNCATE")
    with pytest.raises(IntegrityError, match="append-only"):
        await execute(db, "TRUNCATE postings")


POSTED_AT = datetime(2026, 11, 20, tzinfo=UTC)


def entry_row(
    entry_id: int,
    seq: int,
    total: int,
    count: int,
    *,
    prev_hash: str = GENESIS_HASH,
    legs: tuple[int, ...] = (),
) -> str:
    """An INSERT of a journal entry around the code; its hash is computed over ``legs`` (debit, credit,
    debit, credit... on the X and Y payables) so that only the posting checks can fault it."""
    keys = [
        (
            "2101",
            "341524",
            "390",
            "390100",
            "X" if i % 2 == 0 else "Y",
            amount if i % 2 == 0 else 0,
            0 if i % 2 == 0 else amount,
        )
        for i, amount in enumerate(legs)
    ]
    entry_hash = compute_entry_hash(
        prev_hash,
        seq=seq,
        event_id=None,
        source_type="manual",
        source_id=f"x{entry_id}",
        description="direct",
        admdvs="341524",
        insutype="390",
        total_fen=total,
        posting_count=count,
        posted_at=POSTED_AT,
        postings=keys,
    )
    return (
        "INSERT INTO journal_entries (id, seq, source_type, source_id, description, admdvs, insutype, "
        f"total_fen, posting_count, posted_at, prev_hash, entry_hash) VALUES ({entry_id}, {seq}, 'manual', "
        f"'x{entry_id}', 'direct', '341524', '390', {total}, {count}, '2026-11-20 00:00:00', "
        f"'{prev_hash}', '{entry_hash}')"
    )


def hash_of(statement: str) -> str:
    return statement.rsplit("'", 2)[-2]


def posting_row(entry_id: int, account: int, debit: int, credit: int) -> str:
    return (
        "INSERT INTO postings (entry_id, account_id, debit_fen, credit_fen) "
        f"VALUES ({entry_id}, {account}, {debit}, {credit})"
    )


async def test_database_refuses_padded_or_unbalanced_entries_written_around_the_code(ledger: Ledger) -> None:
    _, db = ledger
    async with db.transaction() as session:
        a = await account_for(session, PAYABLE, "341524", "390", "390100", "X")
        b = await account_for(session, PAYABLE, "341524", "390", "390100", "Y")
    # A complete, balanced entry written directly is accepted by the database's guards.
    first = entry_row(1, 1, 100, 2, legs=(100, 100))
    await execute(db, first, posting_row(1, a, 100, 0), posting_row(1, b, 0, 100))

    # Both backends: no posting may push an entry past its declared totals or posting count.
    for padding in (posting_row(1, a, 5, 0), posting_row(1, b, 0, 5)):
        with pytest.raises(IntegrityError):
            await execute(db, padding)
    with pytest.raises(IntegrityError):
        await execute(db, entry_row(2, 2, 100, 2), posting_row(2, a, 100, 0), posting_row(2, b, 0, 101))
    with pytest.raises(IntegrityError):
        await execute(
            db,
            entry_row(2, 2, 100, 2),
            posting_row(2, a, 50, 0),
            posting_row(2, a, 50, 0),
            posting_row(2, b, 0, 100),
        )

    short = (
        entry_row(3, 2, 100, 2, prev_hash=hash_of(first), legs=(100, 60)),
        posting_row(3, a, 100, 0),
        posting_row(3, b, 0, 60),
    )
    one_legged = (entry_row(4, 2, 100, 2), posting_row(4, a, 100, 0))
    if db.is_sqlite:
        # SQLite cannot check at COMMIT: an entry left short of its declared totals is written, and
        # verify_chain reports it.
        await execute(db, *short)
        async with db.session() as session:
            result = await verify_chain(session)
        assert (result.ok, result.entries, result.first_bad_entry_id) == (False, 2, 3)
        assert result.reason == (
            "postings do not match the entry: 2 postings (declared 2), debits 100 fen, credits 60 fen "
            "(declared 100)"
        )
    else:
        # PostgreSQL checks every touched entry at COMMIT (deferred constraint trigger).
        for statements in (short, one_legged, (entry_row(5, 2, 100, 2),)):
            with pytest.raises(IntegrityError, match="not balanced at commit"):
                await execute(db, *statements)
        async with db.session() as session:
            assert await session.scalar(text("SELECT COUNT(*) FROM journal_entries")) == 1


async def disable_guards(db: Database) -> None:
    if db.is_sqlite:
        await execute(db, "DROP TRIGGER trg_postings_no_update", "DROP TRIGGER trg_journal_entries_no_update")
    else:
        await execute(
            db,
            "ALTER TABLE postings DISABLE TRIGGER USER",
            "ALTER TABLE journal_entries DISABLE TRIGGER USER",
        )


async def test_verify_names_the_entry_whose_posting_was_edited_in_the_database(ledger: Ledger) -> None:
    client, db = ledger
    first, second, third = await three_entries(db)
    async with db.transaction() as session:
        other = await account_for(session, PAYABLE, "341524", "390", "390100", "P-ELSEWHERE")
    await disable_guards(db)
    # Re-point the second settlement's payable to another institution: amounts and balance unchanged.
    await execute(
        db,
        f"UPDATE postings SET account_id = {other} WHERE entry_id = {third} AND credit_fen > 0",
    )
    report = (await client.get("/api/v1/chain/verify")).json()
    assert report == {
        "ok": False,
        "entries": 3,
        "first_bad_entry_id": third,
        "reason": "entry_hash does not match the entry's content",
    }
    # An amount edited on both sides (still balanced) in an earlier entry is found first.
    await execute(db, f"UPDATE postings SET debit_fen = 300 WHERE entry_id = {second} AND debit_fen > 0")
    await execute(db, f"UPDATE postings SET credit_fen = 300 WHERE entry_id = {second} AND credit_fen > 0")
    report = (await client.get("/api/v1/chain/verify")).json()
    assert (report["ok"], report["entries"], report["first_bad_entry_id"]) == (False, 2, second)
    assert "postings do not match the entry" in report["reason"]
    # Re-declaring the entry's totals to match does not help: the hash covers them.
    await execute(db, f"UPDATE journal_entries SET total_fen = 300 WHERE id = {second}")
    report = (await client.get("/api/v1/chain/verify")).json()
    assert (report["first_bad_entry_id"], report["reason"]) == (
        second,
        "entry_hash does not match the entry's content",
    )
    assert first < second


async def test_verify_reports_entries_cut_off_the_end(ledger: Ledger) -> None:
    client, db = ledger
    _, _, third = await three_entries(db)
    if db.is_sqlite:
        await execute(db, "DROP TRIGGER trg_postings_no_delete", "DROP TRIGGER trg_journal_entries_no_delete")
    else:
        await execute(
            db,
            "ALTER TABLE postings DISABLE TRIGGER USER",
            "ALTER TABLE journal_entries DISABLE TRIGGER USER",
        )
    await execute(
        db,
        f"DELETE FROM postings WHERE entry_id = {third}",
        f"DELETE FROM journal_entries WHERE id = {third}",
    )
    report = (await client.get("/api/v1/chain/verify")).json()
    assert report["ok"] is False and report["entries"] == 2 and report["first_bad_entry_id"] is None
    assert "chain head points at seq 3" in report["reason"]


async def test_the_consumer_reads_both_topics(ledger: Ledger) -> None:
    _, db = ledger
    runtime = build_runtime(LedgerSettings(database_url=db.url, run_background_workers=False))
    try:
        assert runtime.consumer is not None
        assert {PaymentReceived.event_type, SubsidyAllocated.event_type} <= set(
            runtime.consumer.subscriptions
        )
        kafka_consumer = runtime.consumer._consumer_factory()
        assert kafka_consumer.subscription() == {ENROLLMENT_TOPIC, SETTLEMENT_TOPIC}
    finally:
        await runtime.db.dispose()
