"""The migration adding status and continuity to eligibility keeps the rows already there, on both
backends: they become active coverage of one continuous year (what was known before)."""

from __future__ import annotations

from datetime import date

from settlement.eligibility.models import Eligibility
from sqlalchemy import text

from shared.db import Database
from shared.migrations import upgrade
from tests.conftest import DatabaseFactory

BEFORE = "18a6e8531c4e"  # initial schema, without status, continuity and cards


async def test_existing_eligibility_rows_survive_as_active(databases: DatabaseFactory) -> None:
    url = databases.new_url("settlement")
    upgrade("settlement", url, BEFORE)
    db = Database(url)
    try:
        async with db.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO eligibility (psn_no, certno, psn_name, gend, brdy, insutype, "
                    "psn_type, insuplc_admdvs, year, coverage_begin, coverage_end, enrollment_id, "
                    "identities, updated_at) "
                    "VALUES ('P1', '34152419850312013X', '张三', '1', :brdy, '390', '1501', '341524', 2026, "
                    ":begin, :end, 1, '[]', CURRENT_TIMESTAMP)"
                ),
                {"brdy": date(1985, 3, 12), "begin": date(2026, 1, 1), "end": date(2026, 12, 31)},
            )
        upgrade("settlement", url)
        async with db.session() as session:
            row = await session.get(Eligibility, 1)
    finally:
        await db.dispose()
    assert row is not None
    assert (row.psn_no, row.status, row.terminated_on, row.continuous_years, row.psn_insu_date) == (
        "P1",
        "active",
        None,
        1,
        None,
    )
