"""The gateway with its message log on a real database and a fake settlement service behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from gateway.security.schemes import TifSha256
from gateway.security.service import HisSecurity
from gateway.transactions import EnvelopeProcessor

from shared.db import Database
from tests.conftest import DatabaseFactory
from tests.gateway.factories import FakeSettlement, Gateway, downstream_for
from tests.gateway.office import office  # noqa: F401  (the filings office: gateway + real settlement)
from tests.support.his import register_demo_institutions


@pytest.fixture
async def gateway(databases: DatabaseFactory) -> AsyncIterator[Gateway]:
    db = Database(databases.migrated("gateway"))
    await register_demo_institutions(db)
    fake = FakeSettlement()
    downstream = await downstream_for(fake)
    security = HisSecurity(db, TifSha256())
    try:
        yield Gateway(db, fake, EnvelopeProcessor(db, downstream, "341524", 1_048_576, security=security))
    finally:
        await downstream.close()
        await db.dispose()
