"""The journal's hash chain: tamper evidence for records that may never be altered (docs/domain.md).

Every entry stores ``prev_hash`` (the previous entry's ``entry_hash``; 64 zeros for the first) and

    entry_hash = SHA-256 hex of  prev_hash + "\\n" + canonical JSON of the entry

where the canonical JSON (keys sorted, no spaces, UTF-8) holds: ``seq`` (the entry's gap-free position in
the chain; the primary key is not used because a PostgreSQL sequence skips numbers on rollback),
``event_id``, ``source_type``, ``source_id``, ``description``, ``admdvs``, ``insutype``, ``total_fen``,
``posting_count``, ``posted_at`` (UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``) and the postings, each as
[code, admdvs, insutype, fund_pay_type, counterparty, debit_fen, credit_fen] (the account's business key,
not its row id), sorted. Nothing random or taken from the wall clock goes in: ``posted_at`` is derived from
the event (``setl_time`` of a settlement or reversal, ``occurred_at`` of an enrollment event), so replaying
the same events in the same order into an empty ledger reproduces the same hashes.

Entries are chained in posting order. Appending locks the single row of ``ledger_chain_head`` (FOR UPDATE on
PostgreSQL; on SQLite every transaction already holds the write lock from BEGIN IMMEDIATE), so two writers
cannot chain onto the same predecessor. This format is a contract: changing it breaks every stored chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from fund_ledger.books.models import Account, ChainHead, JournalEntry, Posting

GENESIS_HASH = "0" * 64

#: (code, admdvs, insutype, fund_pay_type, counterparty, debit_fen, credit_fen)
PostingKey = tuple[str, str, str, str, str, int, int]


def canonical_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("posted_at must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compute_entry_hash(
    prev_hash: str,
    *,
    seq: int,
    event_id: str | None,
    source_type: str,
    source_id: str,
    description: str,
    admdvs: str,
    insutype: str,
    total_fen: int,
    posting_count: int,
    posted_at: datetime,
    postings: Iterable[PostingKey],
) -> str:
    content: dict[str, Any] = {
        "seq": seq,
        "event_id": event_id,
        "source_type": source_type,
        "source_id": source_id,
        "description": description,
        "admdvs": admdvs,
        "insutype": insutype,
        "total_fen": total_fen,
        "posting_count": posting_count,
        "posted_at": canonical_time(posted_at),
        "postings": sorted([list(p) for p in postings]),
    }
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def posting_key(posting: Posting, account: Account) -> PostingKey:
    return (
        account.code,
        account.admdvs,
        account.insutype,
        account.fund_pay_type,
        account.counterparty,
        posting.debit_fen,
        posting.credit_fen,
    )


def hash_of_entry(entry: JournalEntry, postings: Iterable[PostingKey]) -> str:
    """Recompute a stored entry's hash from its stored content."""
    return compute_entry_hash(
        entry.prev_hash,
        seq=entry.seq,
        event_id=entry.event_id,
        source_type=entry.source_type,
        source_id=entry.source_id,
        description=entry.description,
        admdvs=entry.admdvs,
        insutype=entry.insutype,
        total_fen=entry.total_fen,
        posting_count=entry.posting_count,
        posted_at=entry.posted_at,
        postings=postings,
    )


_HEAD = ChainHead.__table__  # type: ignore[attr-defined]


async def lock_chain_head(session: AsyncSession) -> tuple[int, str]:
    """Lock the chain head for the rest of the transaction; returns (last seq, last entry hash).

    Take it BEFORE creating accounts or writing rows, so that concurrent writers queue here instead of
    deadlocking on each other's new rows."""
    query = select(_HEAD.c.seq, _HEAD.c.entry_hash).where(_HEAD.c.id == 1).with_for_update()
    row = (await session.execute(query)).first()
    if row is None:
        # The migration seeds the row; recreate it if it is missing (concurrency-safe).
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        insert = postgresql.insert(_HEAD) if dialect == "postgresql" else sqlite.insert(_HEAD)
        await session.execute(
            insert.values(id=1, seq=0, entry_hash=GENESIS_HASH).on_conflict_do_nothing(index_elements=["id"])
        )
        row = (await session.execute(query)).first()
        assert row is not None
    return int(row.seq), str(row.entry_hash)


async def advance_chain_head(session: AsyncSession, seq: int, entry_hash: str) -> None:
    await session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=seq, entry_hash=entry_hash))


@dataclass(frozen=True)
class ChainVerification:
    ok: bool
    #: Entries checked (up to and including the first bad one).
    entries: int
    first_bad_entry_id: int | None
    reason: str | None


async def verify_chain(session: AsyncSession, *, batch_size: int = 500) -> ChainVerification:
    """Walk the whole chain in ``seq`` order and report the first entry that does not match: a gap in the
    sequence, a ``prev_hash`` that is not its predecessor's hash, postings that differ from the declared
    count and totals or do not balance, or an ``entry_hash`` that is not the hash of the stored content.
    Finally the chain head must point at the last entry (nothing cut off the end)."""
    expected_seq = 1
    running = GENESIS_HASH
    checked = 0
    last_seq = 0
    while True:
        entries = list(
            await session.scalars(
                select(JournalEntry)
                .where(col(JournalEntry.seq) >= expected_seq)
                .order_by(col(JournalEntry.seq))
                .limit(batch_size)
            )
        )
        if not entries:
            break
        rows = await session.execute(
            select(Posting, Account)
            .join(Account, col(Account.id) == col(Posting.account_id))
            .where(col(Posting.entry_id).in_([e.id for e in entries]))
        )
        by_entry: dict[int, list[PostingKey]] = {}
        for posting, account in rows:
            by_entry.setdefault(posting.entry_id, []).append(posting_key(posting, account))
        for entry in entries:
            assert entry.id is not None
            checked += 1
            postings = by_entry.get(entry.id, [])
            reason = _entry_fault(entry, postings, expected_seq, running)
            if reason is not None:
                return ChainVerification(False, checked, entry.id, reason)
            running = entry.entry_hash
            last_seq = entry.seq
            expected_seq += 1
    head = (await session.execute(select(_HEAD.c.seq, _HEAD.c.entry_hash).where(_HEAD.c.id == 1))).first()
    head_seq, head_hash = (int(head.seq), str(head.entry_hash)) if head else (0, GENESIS_HASH)
    if (head_seq, head_hash) != (last_seq, running):
        return ChainVerification(
            False,
            checked,
            None,
            f"chain head points at seq {head_seq} ({head_hash[:12]}…) but the chain ends at seq {last_seq} "
            f"({running[:12]}…): entries missing from the end or the head was altered",
        )
    return ChainVerification(True, checked, None, None)


def _entry_fault(
    entry: JournalEntry, postings: list[PostingKey], expected_seq: int, prev_hash: str
) -> str | None:
    if entry.seq != expected_seq:
        return f"sequence gap: expected seq {expected_seq}, found {entry.seq}"
    if entry.prev_hash != prev_hash:
        return "prev_hash is not the previous entry's hash"
    debits = sum(p[5] for p in postings)
    credits = sum(p[6] for p in postings)
    if len(postings) != entry.posting_count or debits != entry.total_fen or credits != entry.total_fen:
        return (
            f"postings do not match the entry: {len(postings)} postings (declared {entry.posting_count}), "
            f"debits {debits} fen, credits {credits} fen (declared {entry.total_fen})"
        )
    if hash_of_entry(entry, postings) != entry.entry_hash:
        return "entry_hash does not match the entry's content"
    return None
