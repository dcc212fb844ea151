"""Each service's Alembic migrations build exactly the schema its models describe, on both backends."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db import utcnow
from shared.migrations import SERVICE_PACKAGES, upgrade
from tests.conftest import DatabaseFactory

MODEL_MODULES = {
    "gateway": [
        "gateway.clearing.models",
        "gateway.files.models",
        "gateway.messages.models",
        "gateway.security.models",
    ],
    "enrollment": ["enrollment.persons.models", "enrollment.legacy.models", "enrollment.vouchers.models"],
    "settlement": [
        "settlement.catalogue.models",
        "settlement.eligibility.models",
        "settlement.encounters.models",
        "settlement.filings.models",
        "settlement.institutions.models",
        "settlement.interplatform.models",
        "settlement.inventory.models",
        "settlement.manual.models",
        "settlement.policy.models",
        "settlement.prechecks.models",
        "settlement.schemes.models",
        "settlement.setl_lists.models",
        "settlement.settlements.models",
        "settlement.supervision.models",
    ],
    "fund_ledger": [
        "fund_ledger.applications.models",
        "fund_ledger.books.models",
        "fund_ledger.clearing.models",
        "fund_ledger.interregion.models",
        "fund_ledger.pooling.models",
    ],
}


def _metadata(package: str) -> MetaData:
    for module in MODEL_MODULES[package]:
        importlib.import_module(module)
    base = importlib.import_module(f"{package}.db").Base
    metadata: MetaData = base.metadata
    return metadata


@pytest.mark.parametrize("package", sorted(SERVICE_PACKAGES.values()))
async def test_migrations_match_models(package: str, databases: DatabaseFactory) -> None:
    url = databases.new_url(package)
    upgrade(package, url)
    upgrade(package, url)  # running again is a no-op
    metadata = _metadata(package)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:

            def diff(sync_conn: Connection) -> list[Any]:
                context = MigrationContext.configure(sync_conn, opts={"compare_type": False})
                return compare_metadata(context, metadata)

            differences = await conn.run_sync(diff)
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    finally:
        await engine.dispose()
    assert differences == []
    assert set(metadata.tables) <= tables
    assert "alembic_version" in tables


async def test_fee_lines_are_marked_settled_in_place(databases: DatabaseFactory, backend: str) -> None:
    """Settling a stay marks its 100-200 lines: with no index on ``setl_id`` and room on every page
    (PostgreSQL's fillfactor 50, as the model declares), each mark is a heap-only update."""
    url = databases.new_url("settlement")
    upgrade("settlement", url)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            indexed = await conn.run_sync(
                lambda c: [i["column_names"] for i in inspect(c).get_indexes("fee_lines")]
            )
            options = None
            if backend == "postgres":
                query = text("SELECT reloptions FROM pg_class WHERE relname = 'fee_lines'")
                options = await conn.scalar(query)
    finally:
        await engine.dispose()
    assert ["setl_id"] not in indexed and ["mdtrt_id"] in indexed
    fee_lines = _metadata("settlement").tables["fee_lines"]
    assert fee_lines.dialect_options["postgresql"]["with"] == {"fillfactor": 50}
    if backend == "postgres":
        assert options == ["fillfactor=50"]


async def test_acts_recorded_before_token_identities_keep_their_name_and_have_no_roles(
    databases: DatabaseFactory,
) -> None:
    """Issue 21's migration on a database with rows: a supervisory act recorded with a typed ``operator``
    keeps it and gets no roles (nobody knows the token behind it); a token subject up to 100 characters
    fits where the typed name was limited to 50."""
    url = databases.new_url("settlement")
    upgrade("settlement", url, "c3d9e1f2a4b5")
    insert = text(
        "INSERT INTO supervision_audit (at, operator, action, object_type, object_id, detail) "
        "VALUES (:at, :operator, 'rule_configured', 'rule', 'daily_count', '{}')"
    )
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert, {"at": utcnow(), "operator": "稽核科王五"})
        upgrade("settlement", url)
        async with engine.begin() as conn:
            await conn.execute(insert, {"at": utcnow(), "operator": "s" * 100})
            rows = (
                await conn.execute(text("SELECT operator, roles FROM supervision_audit ORDER BY id"))
            ).all()
    finally:
        await engine.dispose()
    assert [tuple(r) for r in rows] == [("稽核科王五", None), ("s" * 100, None)]


async def test_mappings_made_before_their_versions_come_with_the_next_catalogue_version(
    databases: DatabaseFactory,
) -> None:
    """Issue 24's migration on a database with mappings: they are one change at a new catalogue version
    (the counter's next number), so 1317 from any version an institution holds lists them; the counter
    moves on to it."""
    url = databases.new_url("settlement")
    upgrade("settlement", url, "f1d3b5a7c9e2")
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE catalogue_list_version SET ver = 3 WHERE id = 1"))
            await conn.execute(
                text(
                    "INSERT INTO catalogue_mappings (fixmedins_code, medins_list_codg, med_list_codg,"
                    " list_type, name, begndate, created_at, updated_at)"
                    " VALUES ('H34152400001', 'H-001', 'A', '101', '院内甲', :day, :at, :at)"
                ),
                {"day": utcnow().date(), "at": utcnow()},
            )
        upgrade("settlement", url)
        async with engine.connect() as conn:
            mapped = (await conn.execute(text("SELECT list_ver FROM catalogue_mappings"))).scalars().all()
            newest = await conn.scalar(text("SELECT ver FROM catalogue_list_version WHERE id = 1"))
    finally:
        await engine.dispose()
    # Version 3 was the newest; the mappings are version 4, the newest now.
    assert (list(mapped), newest) == ([4], 4)
