"""The ledger service on a migrated database of each backend, with a session factory beside it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fund_ledger.config import LedgerSettings
from fund_ledger.main import create_app

from shared.db import Database
from tests.conftest import DatabaseFactory
from tests.support.apps import build, running


@pytest.fixture
async def ledger(databases: DatabaseFactory) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    url = databases.migrated("fund_ledger")
    app = build(create_app, LedgerSettings, database_url=url, run_background_workers=False)
    db = Database(url)
    async with running(app) as client:
        yield client, db
    await db.dispose()
