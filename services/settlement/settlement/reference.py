"""Reference data every settlement reads, served from memory: institutions, sanctions, benefit policies,
the catalogue, the supervision rules' settings and the regions' scheme switch-overs (the models marked
``settlement.db.ReferenceData``).

A card swipe read each of them from the database, six or seven statements of a settlement's twenty. They
change a few times a day at most, by an operator. So each process keeps what it read, and every change to
them, through the ORM, raises ``reference_version`` in the same transaction (a flush hook, below). A
transaction reads that version once (one statement) and uses the cache only if the cache was filled under
the same version; otherwise it drops the cache and fills it again as it reads. A change is therefore seen
by every settlement that starts after it commits, in every worker and replica, exactly as when each table
was read: the cache never serves what the database would not.

Rules that keep it so:
- A transaction that changed reference data itself (flushed it, committed or not) reads the database and
  neither uses nor fills the cache: its view includes what others cannot see yet, and may be rolled back.
- What is cached is read-only: ORM rows are detached from the session that loaded them (never written
  through), documents are parsed once.
- A change made outside the service (SQL by hand) must raise the version too:
  ``UPDATE reference_version SET version = version + 1``. With no row (id 1) nothing is cached.
- The cache is bounded (``MAX_ENTRIES``): codes a client made up are cached as unknown, and past the bound
  the cache starts over.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import event, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from settlement.db import ReferenceData, reference_version
from shared.db import run

MAX_ENTRIES = 200_000

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
_WROTE = "settlement.reference.wrote"
_SEEN = "settlement.reference.seen"


@dataclass
class _Cache:
    version: int | None = None
    entries: dict[Hashable, Any] = field(default_factory=dict)


#: One cache per database (engine); it goes away with the engine.
_CACHES: weakref.WeakKeyDictionary[Engine, _Cache] = weakref.WeakKeyDictionary()


def _transaction(session: Session) -> SessionTransaction | None:
    return session.get_transaction()


def _wrote(session: Session) -> bool:
    marked = session.info.get(_WROTE)
    return marked is not None and marked is _transaction(session)


@event.listens_for(Session, "before_flush")
def _raise_version(session: Session, _context: Any, _instances: Any) -> None:
    """Raise the version, once per transaction, in the transaction of any change to reference data."""
    if _wrote(session):
        return
    if not any(
        isinstance(obj, ReferenceData)
        for group in (session.new, session.dirty, session.deleted)
        for obj in group
    ):
        return
    session.info[_WROTE] = _transaction(session)
    session.connection().execute(
        update(reference_version)
        .where(reference_version.c.id == 1)
        .values(version=reference_version.c.version + 1)
    )


_VERSION = select(reference_version.c.version).where(reference_version.c.id == 1)


async def _cache_for(session: AsyncSession) -> _Cache | None:
    """The process's cache for this database if it may serve this transaction, else None."""
    sync = session.sync_session
    if _wrote(sync):
        return None
    transaction = _transaction(sync)
    seen = sync.info.get(_SEEN)
    if seen is not None and transaction is not None and seen[0] is transaction:
        cache: _Cache | None = seen[1]
        return cache
    if sync.new or sync.dirty or sync.deleted:
        await session.flush()  # a pending change to reference data raises the version (``_raise_version``)
        if _wrote(sync):
            return None
    return _adopt(sync, transaction, (await run(session, _VERSION)).scalar())


def _adopt(sync: Session, transaction: SessionTransaction | None, version: int | None) -> _Cache | None:
    """The cache for the version this transaction read (None: no version row, nothing cached)."""
    if version is None:
        cache = None
    else:
        cache = _CACHES.setdefault(sync.get_bind(), _Cache())  # type: ignore[arg-type]
        if cache.version != version:
            cache.entries.clear()
            cache.version = version
        elif len(cache.entries) > MAX_ENTRIES:
            cache.entries.clear()
    sync.info[_SEEN] = (transaction, cache)
    return cache


#: The version as a scalar subquery, for a statement that reads it beside its own work (``seen_version``).
VERSION_NOW = _VERSION.scalar_subquery()


def seen_version(session: AsyncSession, version: int | None) -> None:
    """The transaction's first statement read the version as well (``VERSION_NOW``): the cache serves it
    without a statement of its own. Ignored where ``_cache_for`` would not trust it: the transaction has
    a view of the version already, or changes of its own (pending or flushed)."""
    sync = session.sync_session
    transaction = _transaction(sync)
    if transaction is None or _wrote(sync) or _seen_in(sync, transaction):
        return
    if sync.new or sync.dirty or sync.deleted:
        return
    _adopt(sync, transaction, version)


def _seen_in(sync: Session, transaction: SessionTransaction) -> bool:
    seen = sync.info.get(_SEEN)
    return seen is not None and seen[0] is transaction


async def cached(session: AsyncSession, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
    """The value under ``key``: from the cache when it serves this transaction, else ``load()``ed (and kept
    when it may be). ``load`` runs in ``session``; the ORM rows it returns are detached before keeping."""
    cache = await _cache_for(session)
    if cache is not None and key in cache.entries:
        value: T = cache.entries[key]
        return value
    value = await load()
    # Loading may have flushed this transaction's own reference changes (autoflush): then keep nothing.
    if cache is not None and not _wrote(session.sync_session) and _cache_for_same(session, cache):
        _detach(session, value)
        cache.entries[key] = value
    return value


async def cached_many(
    session: AsyncSession,
    keys: Iterable[K],
    load: Callable[[list[K]], Awaitable[dict[K, T]]],
) -> dict[K, T]:
    """``cached`` for many keys at once: the missing ones are loaded by one call of ``load``, which answers
    for every key it was given."""
    cache = await _cache_for(session)
    wanted = list(dict.fromkeys(keys))
    found: dict[K, T] = {}
    missing = []
    for key in wanted:
        if cache is not None and key in cache.entries:
            found[key] = cache.entries[key]
        else:
            missing.append(key)
    if missing:
        loaded = await load(missing)
        keep = cache is not None and not _wrote(session.sync_session) and _cache_for_same(session, cache)
        for key in missing:
            value = loaded[key]
            if keep:
                assert cache is not None
                _detach(session, value)
                cache.entries[key] = value
            found[key] = value
    return found


def _cache_for_same(session: AsyncSession, cache: _Cache) -> bool:
    seen = session.sync_session.info.get(_SEEN)
    return seen is not None and seen[1] is cache


def _detach(session: AsyncSession, value: Any) -> None:
    """Detach every ORM row in ``value`` (a row, or a list, tuple or dict of them, nested)."""
    if isinstance(value, ReferenceData):
        if value in session:
            session.expunge(value)
    elif isinstance(value, dict):
        for item in value.values():
            _detach(session, item)
    elif isinstance(value, list | tuple):
        for item in value:
            _detach(session, item)
