"""The settlement store for a session's backend (``store.SettlementStore``): one instance per backend,
holding only prebuilt statements."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from settlement.settlements.store import SettlementStore
from settlement.settlements.store_postgres import PostgresStore
from settlement.settlements.store_sqlite import SqliteStore
from shared.db import dialect_name

_STORES: dict[str, SettlementStore] = {"postgresql": PostgresStore(), "sqlite": SqliteStore()}


def store_for(session: AsyncSession) -> SettlementStore:
    return _STORES[dialect_name(session)]
