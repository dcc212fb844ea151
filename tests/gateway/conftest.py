"""The gateway with its message log on a real database and a fake settlement service behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from gateway.transactions import EnvelopeProcessor

from shared.db import Database
from tests.conftest import DatabaseFactory
from tests.gateway.factories import FakeSettlement, Gateway, downstream_for


@pytest.fixture
async def gateway(databases: DatabaseFactory) -> AsyncIterator[Gateway]:
    db = Database(databases.migrated("gateway"))
    fake = FakeSettlement()
    downstream = await downstream_for(fake)
    try:
        yield Gateway(db, fake, EnvelopeProcessor(db, downstream, "341524", 1_048_576))
    finally:
        await downstream.close()
        await db.dispose()
