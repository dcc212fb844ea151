"""The journal writer: every entry the ledger posts goes through one ``Journal`` per database transaction.

What it does for an entry (``Journal.post``): checks that debits equal credits and that the entry stays on
one scheme sub-ledger and pooling region, takes the next place in the hash chain, and writes the entry, its
postings and the change to each account's running balance (``AccountBalance``).

Two modes:

* unbuffered (the default, for operator actions such as a clearing batch): each ``post`` is written at
  once, so the caller sees the entry's id and the new balances in the same transaction;
* buffered (the consumer's batches, see ``batch_scope``): entries are chained in memory and written by
  ``flush`` just before the transaction commits, as one multi-row INSERT of entries, one of postings, and
  ONE balance update per account touched by the batch; the chain head is locked once and advanced once.

Accounts are resolved through a per-database cache of committed accounts (accounts are never deleted or
re-keyed, so a committed id stays right forever); accounts created by this transaction join the cache only
after it commits. Metrics are counted after the commit too, so a rolled-back batch counts nothing.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import Engine, event, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col, select

from fund_ledger.books.chain import advance_chain_head, compute_entry_hash, lock_chain_head
from fund_ledger.books.chart import AccountSpec
from fund_ledger.books.models import Account, AccountBalance, JournalEntry, Posting
from shared.consumer import EventRejected
from shared.db import dialect_insert, utcnow
from shared.errors import DomainError

JOURNAL_ENTRIES = Counter("ledger_journal_entries_total", "Journal entries posted", ["source_type"])
JOURNAL_POSTINGS = Counter("ledger_postings_total", "Postings written (two or more per journal entry)")
JOURNAL_FLUSHES = Counter(
    "ledger_journal_flushes_total", "Journal writes to the database (one per consumer batch when buffered)"
)

#: The one source type whose entries may span pooling regions (city-level pooling, 统收统支).
POOLING_TRANSFER = "pooling_transfer"
#: The one source type whose entries may span two scheme sub-ledgers: a legacy scheme (391 / 380) merged into
#: the unified one (390) after the switch-over, by an explicit, audited entry (``fund_ledger.merger``).
SCHEME_MERGER = "scheme_merger"
UNIFIED_SCHEME = "390"

#: (code, admdvs, insutype, fund_pay_type, counterparty): an account's business key.
AccountKey = tuple[str, str, str, str, str]


class UnbalancedEntry(DomainError):
    code = "UNBALANCED_ENTRY"
    status_code = 422


class SubLedgerViolation(DomainError):
    """An entry that would move money between scheme sub-ledgers or (outside a pooling transfer) between
    pooling regions."""

    code = "SUB_LEDGER_VIOLATION"
    status_code = 422


@dataclass(frozen=True)
class Leg:
    account_id: int
    debit_fen: int = 0
    credit_fen: int = 0


@dataclass
class PostedEntry:
    """An entry this journal chained; ``id`` is set once it is written (at once, or at ``flush``)."""

    seq: int
    source_type: str
    source_id: str
    total_fen: int
    entry_hash: str
    row: dict[str, Any]
    legs: list[Leg]
    id: int | None = None


@dataclass(frozen=True)
class AccountRef:
    id: int
    key: AccountKey
    kind: str

    @property
    def admdvs(self) -> str:
        return self.key[1]

    @property
    def insutype(self) -> str:
        return self.key[2]


class _AccountCache:
    def __init__(self) -> None:
        self.by_key: dict[AccountKey, AccountRef] = {}
        self.by_id: dict[int, AccountRef] = {}

    def add(self, refs: Iterable[AccountRef]) -> None:
        for ref in refs:
            self.by_key[ref.key] = ref
            self.by_id[ref.id] = ref


#: One cache per database (engine); it goes away with the engine.
_CACHES: weakref.WeakKeyDictionary[Engine, _AccountCache] = weakref.WeakKeyDictionary()

_INFO_KEY = "fund_ledger.journal"

#: Source ids per ``IN (...)`` list when a batch checks for repeats (any size finds the same rows; it only
#: keeps each statement's parameter list short: an equivalent mutant in scripts/mutation.py).
_IN_LIST_LIMIT = 500


def check_balanced(legs: list[Leg]) -> int:
    if len(legs) < 2:
        raise UnbalancedEntry("记账凭证至少需要两条分录")
    for leg in legs:
        if leg.debit_fen < 0 or leg.credit_fen < 0 or (leg.debit_fen == 0) == (leg.credit_fen == 0):
            raise UnbalancedEntry("每条分录必须且只能在借方或贷方记一个正数金额")
    debits = sum(leg.debit_fen for leg in legs)
    credits = sum(leg.credit_fen for leg in legs)
    if debits != credits:
        raise UnbalancedEntry(f"借贷不平衡: 借方 {debits} 分, 贷方 {credits} 分")
    return debits


def check_sub_ledgers(source_type: str, admdvs: str, insutype: str, accounts: Iterable[AccountRef]) -> None:
    accounts = list(accounts)
    schemes = {a.insutype for a in accounts} | {insutype}
    merger = source_type == SCHEME_MERGER and len(schemes) == 2 and insutype == UNIFIED_SCHEME
    if len(schemes) > 1 and not merger:
        raise SubLedgerViolation(
            f"记账凭证跨险种分账 ({', '.join(sorted(schemes))}): 各险种基金分账核算, 不得调剂使用"
        )
    regions = {a.admdvs for a in accounts} | {admdvs}
    if len(regions) > 1 and source_type != POOLING_TRANSFER:
        raise SubLedgerViolation(
            f"记账凭证跨统筹区 ({', '.join(sorted(regions))}): 仅市级统筹统收统支调拨 "
            f"(source_type {POOLING_TRANSFER}) 可跨统筹区记账"
        )


def _ref(account: Account) -> AccountRef:
    assert account.id is not None
    key = (account.code, account.admdvs, account.insutype, account.fund_pay_type, account.counterparty)
    return AccountRef(account.id, key, account.kind)


class Journal:
    """The journal of one database transaction. Get it with ``Journal.of(session)``."""

    def __init__(self, session: AsyncSession, *, buffered: bool) -> None:
        self.session = session
        self.buffered = buffered
        self._cache = _CACHES.setdefault(session.sync_session.get_bind(), _AccountCache())  # type: ignore[arg-type]
        self._new_accounts = _AccountCache()
        self._head: tuple[int, str] | None = None
        self._pending: list[PostedEntry] = []
        self._sources: set[tuple[str, str]] = set()
        self._deltas: dict[int, list[int]] = {}
        self._posted: dict[str, int] = {}
        self._postings_written = 0
        self._flushes = 0
        #: Set by the first of commit / rollback: a journal finishes once. Both listeners stay on the session
        #: until their own event fires, so a session used for another transaction after a rollback would
        #: otherwise run this journal's commit hook then (caching accounts that were rolled back, counting
        #: entries that were never written).
        self._finished = False
        event.listen(session.sync_session, "after_commit", self._after_commit, once=True)
        event.listen(session.sync_session, "after_rollback", self._after_rollback, once=True)

    @classmethod
    def of(cls, session: AsyncSession) -> Journal:
        """This transaction's journal (buffered if a ``batch_scope`` opened it, else unbuffered)."""
        journal = session.info.get(_INFO_KEY)
        if journal is None:
            journal = session.info[_INFO_KEY] = cls(session, buffered=False)
        assert isinstance(journal, Journal)
        return journal

    # --- chain head -------------------------------------------------------------------------------

    async def lock(self) -> tuple[int, str]:
        """Lock the chain head for the rest of the transaction (once); returns (last seq, last hash) as this
        transaction's journal sees it, its own unflushed entries included. Take it BEFORE creating accounts
        or writing rows, so that concurrent writers queue here instead of deadlocking."""
        if self._head is None:
            self._head = await lock_chain_head(self.session)
        return self._head

    # --- accounts -----------------------------------------------------------------------------------

    async def account(
        self, spec: AccountSpec, admdvs: str, insutype: str, fund_pay_type: str, counterparty: str = ""
    ) -> int:
        """The id of the account for this key, created on first use (concurrency-safe upsert)."""
        key = (spec.code, admdvs, insutype, fund_pay_type, counterparty)
        ref = self._cache.by_key.get(key) or self._new_accounts.by_key.get(key)
        if ref is not None:
            return ref.id
        table = Account.__table__  # type: ignore[attr-defined]
        insert_ = dialect_insert(self.session, table)
        await self.session.execute(
            insert_.values(
                code=spec.code,
                name=spec.name,
                kind=spec.kind,
                admdvs=admdvs,
                insutype=insutype,
                fund_pay_type=fund_pay_type,
                counterparty=counterparty,
                created_at=utcnow(),
            ).on_conflict_do_nothing(
                index_elements=["code", "admdvs", "insutype", "fund_pay_type", "counterparty"]
            )
        )
        row = (
            await self.session.execute(
                select(Account.id, Account.kind).where(
                    Account.code == spec.code,
                    Account.admdvs == admdvs,
                    Account.insutype == insutype,
                    Account.fund_pay_type == fund_pay_type,
                    Account.counterparty == counterparty,
                )
            )
        ).one()
        ref = AccountRef(int(row.id), key, str(row.kind))
        self._new_accounts.add([ref])
        return ref.id

    async def _refs(self, account_ids: set[int]) -> dict[int, AccountRef]:
        found: dict[int, AccountRef] = {}
        unknown: set[int] = set()
        for account_id in account_ids:
            ref = self._cache.by_id.get(account_id) or self._new_accounts.by_id.get(account_id)
            if ref is None:
                unknown.add(account_id)
            else:
                found[account_id] = ref
        if unknown:
            loaded = [
                _ref(a)
                for a in await self.session.scalars(select(Account).where(col(Account.id).in_(unknown)))
            ]
            self._new_accounts.add(loaded)  # cached once this transaction commits
            found.update((ref.id, ref) for ref in loaded)
        missing = account_ids - set(found)
        if missing:
            raise UnbalancedEntry(f"科目不存在: {sorted(missing)}")
        return found

    # --- entries ------------------------------------------------------------------------------------

    async def already_posted(self, source_type: str, source_id: str) -> int | None:
        """The entry already posted for this business source (an id, or 0 for one still in this batch).

        A buffered journal looks only at its own batch here and checks the database for all of the batch's
        sources at once in ``flush`` (a repeat then fails the batch, which the consumer re-runs one event
        at a time, where this check names the event)."""
        if (source_type, source_id) in self._sources:
            return 0
        if self.buffered:
            return None
        existing = await self.session.scalar(
            select(JournalEntry.id).where(
                JournalEntry.source_type == source_type, JournalEntry.source_id == source_id
            )
        )
        return existing

    async def post(
        self,
        *,
        event_id: str | None,
        source_type: str,
        source_id: str,
        description: str,
        admdvs: str,
        insutype: str,
        legs: list[Leg],
        posted_at: datetime | None = None,
        trace_id: str | None = None,
    ) -> PostedEntry:
        """Chain one journal entry (written now, or at ``flush`` when buffered). Debits must equal credits;
        an entry has at least two postings, all on the entry's scheme sub-ledger and (unless it is a pooling
        transfer) its pooling region. ``posted_at`` is the entry's business time (it goes into the hash);
        without it, the current time is used (manual entries)."""
        total = check_balanced(legs)
        refs = await self._refs({leg.account_id for leg in legs})
        check_sub_ledgers(source_type, admdvs, insutype, refs.values())
        seq, prev_hash = await self.lock()
        seq += 1
        posted_at = posted_at or utcnow()
        entry_hash = compute_entry_hash(
            prev_hash,
            seq=seq,
            event_id=event_id,
            source_type=source_type,
            source_id=source_id,
            description=description,
            admdvs=admdvs,
            insutype=insutype,
            total_fen=total,
            posting_count=len(legs),
            posted_at=posted_at,
            postings=[(*refs[leg.account_id].key, leg.debit_fen, leg.credit_fen) for leg in legs],
        )
        row = {
            "seq": seq,
            "event_id": event_id,
            "trace_id": trace_id,
            "source_type": source_type,
            "source_id": source_id,
            "description": description,
            "admdvs": admdvs,
            "insutype": insutype,
            "total_fen": total,
            "posting_count": len(legs),
            "posted_at": posted_at,
            "prev_hash": prev_hash,
            "entry_hash": entry_hash,
        }
        entry = PostedEntry(seq, source_type, source_id, total, entry_hash, row, legs)
        self._head = (seq, entry_hash)
        self._pending.append(entry)
        self._sources.add((source_type, source_id))
        if not self.buffered:
            await self.flush()
        return entry

    async def flush(self) -> None:
        """Write the entries chained since the last flush: entries, postings, one balance update per
        account, and the chain head."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        if self.buffered:
            await self._refuse_repeats(pending)
        entries = JournalEntry.__table__  # type: ignore[attr-defined]
        ids = await self.session.scalars(
            insert(entries).returning(entries.c.id, sort_by_parameter_order=True), [e.row for e in pending]
        )
        postings: list[dict[str, Any]] = []
        deltas: dict[int, list[int]] = {}
        for entry, entry_id in zip(pending, ids, strict=True):
            entry.id = int(entry_id)
            for leg in entry.legs:
                postings.append(
                    {
                        "entry_id": entry.id,
                        "account_id": leg.account_id,
                        "debit_fen": leg.debit_fen,
                        "credit_fen": leg.credit_fen,
                    }
                )
                delta = deltas.setdefault(leg.account_id, [0, 0, 0])
                delta[0] += leg.debit_fen
                delta[1] += leg.credit_fen
                delta[2] += 1
            self._posted[entry.source_type] = self._posted.get(entry.source_type, 0) + 1
        await self.session.execute(insert(Posting.__table__), postings)  # type: ignore[attr-defined]
        await self._add_to_balances(deltas)
        assert self._head is not None
        await advance_chain_head(self.session, *self._head)
        self._postings_written += len(postings)
        self._flushes += 1

    async def _refuse_repeats(self, pending: list[PostedEntry]) -> None:
        """One query for the whole batch: has any of its business sources been posted before?"""
        wanted = {(e.source_type, e.source_id) for e in pending}
        source_ids = sorted({source_id for _, source_id in wanted})
        for start in range(0, len(source_ids), _IN_LIST_LIMIT):
            rows = await self.session.execute(
                select(JournalEntry.source_type, JournalEntry.source_id, JournalEntry.id).where(
                    col(JournalEntry.source_id).in_(source_ids[start : start + _IN_LIST_LIMIT])
                )
            )
            for source_type, source_id, entry_id in rows:
                if (source_type, source_id) in wanted:
                    raise EventRejected(
                        f"{source_type} {source_id} already posted as entry {entry_id} by another event"
                    )

    async def _add_to_balances(self, deltas: dict[int, list[int]]) -> None:
        table = AccountBalance.__table__  # type: ignore[attr-defined]
        insert_ = dialect_insert(self.session, table)
        statement = insert_.on_conflict_do_update(
            index_elements=["account_id"],
            set_={
                "debit_fen": table.c.debit_fen + insert_.excluded.debit_fen,
                "credit_fen": table.c.credit_fen + insert_.excluded.credit_fen,
                "posting_count": table.c.posting_count + insert_.excluded.posting_count,
            },
        )
        await self.session.execute(
            statement,
            [
                {"account_id": account_id, "debit_fen": d, "credit_fen": c, "posting_count": n}
                for account_id, (d, c, n) in sorted(deltas.items())  # one lock order for every writer
            ],
        )

    def _forget(self, session: Session) -> None:
        """A journal lives for one transaction: the next one starts from the chain head as committed."""
        if session.info.get(_INFO_KEY) is self:
            del session.info[_INFO_KEY]

    def _after_rollback(self, session: Session) -> None:
        self._finish(session, committed=False)

    def _after_commit(self, session: Session) -> None:
        self._finish(session, committed=True)

    def _finish(self, session: Session, *, committed: bool) -> None:
        if self._finished:
            return
        self._finished = True
        self._forget(session)
        if not committed:
            return
        self._cache.add(self._new_accounts.by_id.values())
        for source_type, count in self._posted.items():
            JOURNAL_ENTRIES.labels(source_type).inc(count)
        if self._postings_written:
            JOURNAL_POSTINGS.inc(self._postings_written)
        if self._flushes:
            JOURNAL_FLUSHES.inc(self._flushes)


@asynccontextmanager
async def batch_scope(session: AsyncSession) -> AsyncIterator[None]:
    """The consumer's transaction scope for the ledger: entries posted by the handlers inside it are buffered
    and written together when the scope ends (just before the commit)."""
    journal = Journal(session, buffered=True)
    session.info[_INFO_KEY] = journal
    yield
    await journal.flush()
