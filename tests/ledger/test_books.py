"""The fund ledger's postings on a real database: balanced entries from settlement events, refusals,
the database's own guards, and the read endpoints."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fund_ledger.books.chart import PAYABLE
from fund_ledger.books.models import JournalEntry, Posting
from fund_ledger.books.service import (
    Leg,
    UnbalancedEntry,
    account_for,
    post_entry,
    post_settlement_completed,
    post_settlement_reversed,
)
from pydantic import ValidationError
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from shared.consumer import EventRejected
from shared.db import Database
from tests.ledger.builders import completed, reversed_event


async def test_settlement_posts_balanced_entry_per_institution(
    ledger: tuple[httpx.AsyncClient, Database],
) -> None:
    client, db = ledger
    for setl_id, fund, inst in (
        ("S1", 3200, "P34152400001"),
        ("S2", 450, "P34152400001"),
        ("S3", 1188, "P2"),
    ):
        async with db.transaction() as session:
            await post_settlement_completed(
                session, completed(setl_id, fund, institution=inst).envelope("test")
            )

    journal = (await client.get("/api/v1/journal")).json()
    assert [e["source_id"] for e in journal] == ["S1", "S2", "S3"]
    first = journal[0]
    assert first["total_fen"] == 3200
    assert [
        (p["account_code"], p["debit_fen"], p["credit_fen"], p["counterparty"]) for p in first["postings"]
    ] == [("5103", 3200, 0, ""), ("2101", 0, 3200, "P34152400001")]

    trial = (await client.get("/api/v1/trial-balance")).json()
    # 32.00 + 4.50 + 11.88 = 48.38 yuan of pharmacy benefit, owed 36.50 to the first pharmacy and 11.88 to P2.
    assert trial["entries"] == 3
    assert trial["debit_total_fen"] == trial["credit_total_fen"] == 4838
    assert trial["imbalance_fen"] == 0
    balances = {(a["code"], a["counterparty"]): a["balance_fen"] for a in trial["accounts"]}
    assert balances == {("5103", ""): 4838, ("2101", "P34152400001"): 3650, ("2101", "P2"): 1188}

    one = (await client.get("/api/v1/journal", params={"source_id": "S3"})).json()
    assert [e["total_fen"] for e in one] == [1188]
    assert (await client.get(f"/api/v1/journal/{first['id']}")).json()["source_id"] == "S1"
    assert (await client.get("/api/v1/journal/999999")).status_code == 404
    assert (await client.get("/api/v1/accounts/balances", params={"admdvs": "12"})).status_code == 422


async def test_settlement_without_fund_payment_posts_nothing(
    ledger: tuple[httpx.AsyncClient, Database],
) -> None:
    _, db = ledger
    async with db.transaction() as session:
        await post_settlement_completed(session, completed("S0", 0).envelope("test"))
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(JournalEntry)) == 0


async def test_same_settlement_under_another_event_is_rejected(
    ledger: tuple[httpx.AsyncClient, Database],
) -> None:
    _, db = ledger
    async with db.transaction() as session:
        await post_settlement_completed(session, completed("S1", 100).envelope("test"))
    with pytest.raises(EventRejected, match="already posted"):
        async with db.transaction() as session:
            await post_settlement_completed(session, completed("S1", 100).envelope("test"))
    # An event whose data does not fit the schema is refused (the consumer dead-letters it).
    envelope = completed("S9", 100).envelope("test")
    broken = envelope.model_copy(update={"data": {**envelope.data, "clr_type": "77"}})
    with pytest.raises(ValidationError, match="clr_type"):
        async with db.transaction() as session:
            await post_settlement_completed(session, broken)
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(JournalEntry)) == 1


async def test_unbalanced_or_one_legged_entries_are_refused(
    ledger: tuple[httpx.AsyncClient, Database],
) -> None:
    _, db = ledger
    async with db.transaction() as session:
        a = await account_for(session, PAYABLE, "341524", "390", "390100", "X")
        b = await account_for(session, PAYABLE, "341524", "390", "390100", "Y")
    bad = [
        [Leg(a, debit_fen=100), Leg(b, credit_fen=99)],
        [Leg(a, debit_fen=100)],
        [Leg(a, debit_fen=100, credit_fen=100), Leg(b, credit_fen=0)],
        [Leg(a, debit_fen=-5), Leg(b, credit_fen=-5)],
    ]
    for legs in bad:
        with pytest.raises(UnbalancedEntry):
            async with db.transaction() as session:
                await post_entry(
                    session,
                    event_id=None,
                    source_type="manual",
                    source_id=uuid.uuid4().hex[:8],
                    description="x",
                    admdvs="341524",
                    insutype="390",
                    legs=legs,
                )
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(JournalEntry)) == 0


async def test_database_refuses_a_two_sided_posting(ledger: tuple[httpx.AsyncClient, Database]) -> None:
    _, db = ledger
    async with db.transaction() as session:
        account = await account_for(session, PAYABLE, "341524", "390", "390100", "X")
        entry = await post_entry(
            session,
            event_id=None,
            source_type="manual",
            source_id="m1",
            description="x",
            admdvs="341524",
            insutype="390",
            legs=[Leg(account, debit_fen=1), Leg(account, credit_fen=1)],
        )
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            await session.execute(
                insert(Posting).values(entry_id=entry.id, account_id=account, debit_fen=5, credit_fen=5)
            )


async def test_reversal_posts_the_mirror_entry(ledger: tuple[httpx.AsyncClient, Database]) -> None:
    client, db = ledger
    async with db.transaction() as session:
        await post_settlement_completed(session, completed("S1", 3200).envelope("test"))
        await post_settlement_completed(session, completed("S2", 450).envelope("test"))
        await post_settlement_reversed(session, reversed_event("S1", "R1", 3200).envelope("test"))
    [entry] = (await client.get("/api/v1/journal", params={"source_id": "R1"})).json()
    assert [(p["account_code"], p["debit_fen"], p["credit_fen"]) for p in entry["postings"]] == [
        ("2101", 3200, 0),
        ("5103", 0, 3200),
    ]
    trial = (await client.get("/api/v1/trial-balance")).json()
    # 32.00 + 4.50 - 32.00: only S2's 4.50 is still owed and spent.
    balances = {(a["code"], a["counterparty"]): a["balance_fen"] for a in trial["accounts"]}
    assert balances == {("5103", ""): 450, ("2101", "P34152400001"): 450}
    assert trial["imbalance_fen"] == 0
    with pytest.raises(EventRejected, match="already posted"):
        async with db.transaction() as session:
            await post_settlement_reversed(session, reversed_event("S1", "R1", 3200).envelope("test"))
    wrong_sign = reversed_event("S2", "R2", -450)
    with pytest.raises(EventRejected, match="negated"):
        async with db.transaction() as session:
            await post_settlement_reversed(session, wrong_sign.envelope("test"))


async def test_an_entry_keeps_the_request_id_its_event_carried(
    ledger: tuple[httpx.AsyncClient, Database],
) -> None:
    """The event's ``trace_id`` (the request that settled) is on the entry, outside the hash chain: the
    chain still verifies, and the journal can be read by it (issue 28, the trail)."""
    client, db = ledger
    async with db.transaction() as session:
        await post_settlement_completed(session, completed("S1", 3200).envelope("test", trace_id="req-s1"))
        await post_settlement_completed(session, completed("S2", 450).envelope("test"))  # no request
        await post_settlement_reversed(
            session, reversed_event("S1", "R1", 3200).envelope("test", trace_id="req-r1")
        )
    journal = (await client.get("/api/v1/journal")).json()
    assert [(e["source_id"], e["trace_id"]) for e in journal] == [
        ("S1", "req-s1"),
        ("S2", None),
        ("R1", "req-r1"),
    ]
    [by_request] = (await client.get("/api/v1/journal", params={"trace_id": "req-r1"})).json()
    assert by_request["source_id"] == "R1" and by_request["total_fen"] == 3200
    verified = (await client.get("/api/v1/chain/verify")).json()
    assert verified["ok"] is True, verified
