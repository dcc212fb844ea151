"""The county roster import: whole households or nothing, errors by line, idempotent re-runs."""

from __future__ import annotations

import asyncio
import csv
from datetime import date
from pathlib import Path

from enrollment.households.models import Household
from enrollment.persons.models import IdentityCategory, Person
from enrollment.regions.schemas import RegionIn
from enrollment.regions.service import upsert_region
from enrollment.roster.importer import COLUMNS, import_roster
from sqlalchemy import func, select
from typer.testing import CliRunner

from platformctl.__main__ import app as cli
from shared.db import Database
from shared.idcard import make_id_number
from tests.conftest import DatabaseFactory

REGION = "341524"
TODAY = date(2026, 10, 15)


def person(day: int, seq: int) -> str:
    return make_id_number(REGION, date(1980, 1, day), seq)


ROWS = [
    # line 2-4: a good household; the head is 低保 since 2026.
    ["H-1", REGION, "梅山镇一组", "head", person(1, 11), "张三", "2102", "2026-01-01", ""],
    ["H-1", REGION, "梅山镇一组", "spouse", person(2, 22), "李四", "", "", ""],
    ["H-1", REGION, "梅山镇一组", "child", person(3, 33), "张小明", "", "", ""],
    # line 5-6: the second member's check digit is wrong: the household is skipped whole.
    ["H-2", REGION, "梅山镇二组", "head", person(4, 44), "王五", "", "", ""],
    [
        "H-2",
        REGION,
        "梅山镇二组",
        "spouse",
        person(5, 55)[:-1] + ("0" if person(5, 55)[-1] != "0" else "1"),
        "赵六",
        "",
        "",
        "",
    ],
    # line 7: a household without a head.
    ["H-3", REGION, "梅山镇三组", "spouse", person(6, 66), "钱七", "", "", ""],
    # line 8: a region nobody configured.
    ["H-4", "999999", "外地", "head", person(7, 77), "孙八", "", "", ""],
    # line 9: an unknown identity category.
    ["H-5", REGION, "梅山镇五组", "head", person(8, 88), "周九", "9999", "2026-01-01", ""],
]


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return path


async def _db(databases: DatabaseFactory) -> tuple[Database, str]:
    url = databases.migrated("enrollment")
    db = Database(url)
    async with db.transaction() as session:
        await upsert_region(session, RegionIn(admdvs=REGION, name="金寨县"))
    return db, url


async def _counts(db: Database) -> tuple[int, int, int]:
    async with db.session() as session:
        return (
            int(await session.scalar(select(func.count()).select_from(Household)) or 0),
            int(await session.scalar(select(func.count()).select_from(Person)) or 0),
            int(await session.scalar(select(func.count()).select_from(IdentityCategory)) or 0),
        )


async def test_import_skips_bad_households_whole_and_reports_lines(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    db, _ = await _db(databases)
    roster = write(tmp_path / "roster.csv", ROWS)
    seen: list[int] = []
    report = await import_roster(db, roster, TODAY, batch_size=2, progress=seen.append)
    assert (report.households_created, report.households_refused) == (1, 4)
    assert (report.persons_created, report.identities_added) == (3, 1)
    assert sum(seen) == len(ROWS)
    lines = {(e.line, e.household_no) for e in report.errors}
    assert lines == {(6, "H-2"), (7, "H-3"), (8, "H-4"), (9, "H-5")}
    messages = {e.household_no: e.message for e in report.errors}
    assert "校验位" in messages["H-2"]
    assert "户主" in messages["H-3"]
    assert "999999" in messages["H-4"]
    assert "9999" in messages["H-5"]
    assert await _counts(db) == (1, 3, 1)

    # The same file again changes nothing.
    again = await import_roster(db, roster, TODAY)
    assert (
        again.households_created,
        again.households_unchanged,
        again.persons_created,
        again.identities_added,
    ) == (0, 1, 0, 0)
    assert await _counts(db) == (1, 3, 1)

    # A file whose H-1 has different members is refused for that household, nothing else changes.
    changed = write(tmp_path / "changed.csv", [ROWS[0], ROWS[1]])
    refused = await import_roster(db, changed, TODAY)
    assert [e.message for e in refused.errors] == ["户号 H-1 已存在且成员与本文件不同"]
    assert await _counts(db) == (1, 3, 1)
    await db.dispose()


def test_command_line_import(databases: DatabaseFactory, tmp_path: Path) -> None:
    async def prepare() -> str:
        db, url = await _db(databases)
        await db.dispose()
        return url

    url = asyncio.run(prepare())  # the command runs its own event loop, so this test has none
    roster = write(tmp_path / "roster.csv", ROWS)
    errors = tmp_path / "errors.csv"
    result = CliRunner().invoke(
        cli, ["import-roster", str(roster), "--database-url", url, "--errors", str(errors)]
    )
    assert result.exit_code == 1, result.output
    assert "1 households created" in result.output
    assert "4 errors" in result.output
    with errors.open(encoding="utf-8") as handle:
        report = list(csv.DictReader(handle))
    assert [r["line"] for r in report] == ["6", "7", "8", "9"]
    good = write(tmp_path / "good.csv", ROWS[:3])
    result = CliRunner().invoke(cli, ["import-roster", str(good), "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "0 households created, 1 unchanged" in result.output
