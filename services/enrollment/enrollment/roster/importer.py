"""Import a county roster (households, persons, identity categories) from CSV.

Each household is all or nothing: a household with any bad row is skipped whole and every bad row is
reported with its line number. Importing the same file again changes nothing (households already present
with the same members are left as they are; identities already recorded are not added twice). Households
are committed in batches, each household inside its own savepoint, so a refused one never leaves a partial
household behind and a crash loses at most the batch in flight (re-running the file completes it).

CSV columns (UTF-8, header row required):
household_no, admdvs, address, relation, certno, psn_name, psn_idet_type, idet_begin, idet_end
``relation`` is head/spouse/child/parent/grandchild/other; one head per household; the three identity
columns are optional (empty when the person has no subsidised identity).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from enrollment.households import service as households
from enrollment.households.schemas import HouseholdRegistration, MemberIn
from enrollment.persons import service as persons
from enrollment.persons.schemas import IdentityCreate
from shared.db import Database
from shared.errors import DomainError

COLUMNS = (
    "household_no",
    "admdvs",
    "address",
    "relation",
    "certno",
    "psn_name",
    "psn_idet_type",
    "idet_begin",
    "idet_end",
)


@dataclass(frozen=True)
class RosterRow:
    line: int
    values: dict[str, str]

    def __getitem__(self, key: str) -> str:
        return self.values.get(key, "").strip()


@dataclass
class RosterError:
    line: int
    household_no: str
    certno: str
    message: str


@dataclass
class ImportReport:
    households_created: int = 0
    households_unchanged: int = 0
    households_refused: int = 0
    persons_created: int = 0
    identities_added: int = 0
    errors: list[RosterError] = field(default_factory=list)


def read_households(path: Path) -> Iterator[tuple[str, list[RosterRow]]]:
    """Rows grouped by household, in the order households first appear."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS[:6] if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing columns {', '.join(missing)}")
        groups: dict[str, list[RosterRow]] = {}
        for number, values in enumerate(reader, start=2):
            row = RosterRow(number, {k: v or "" for k, v in values.items() if k is not None})
            groups.setdefault(row["household_no"], []).append(row)
    yield from groups.items()


def _registration(
    household_no: str, rows: list[RosterRow]
) -> tuple[HouseholdRegistration | None, list[RosterError]]:
    errors: list[RosterError] = []
    members: list[MemberIn] = []
    for row in rows:
        try:
            members.append(
                MemberIn.model_validate(
                    {
                        "certno": row["certno"],
                        "psn_name": row["psn_name"],
                        "relation": row["relation"] or "other",
                    }
                )
            )
        except ValidationError as exc:
            errors.append(RosterError(row.line, household_no, row["certno"], _first(exc)))
    if errors:
        return None, errors
    first = rows[0]
    try:
        registration = HouseholdRegistration(
            household_no=household_no, admdvs=first["admdvs"], address=first["address"], members=members
        )
    except ValidationError as exc:
        return None, [RosterError(first.line, household_no, "", _first(exc))]
    return registration, []


def _identity(row: RosterRow) -> IdentityCreate | None:
    if not row["psn_idet_type"]:
        return None
    return IdentityCreate(
        psn_idet_type=row["psn_idet_type"],
        begin_date=date.fromisoformat(row["idet_begin"]),
        end_date=date.fromisoformat(row["idet_end"]) if row["idet_end"] else None,
    )


def _first(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error.get("loc", ()))
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


async def import_roster(
    db: Database,
    path: Path,
    today: date,
    *,
    batch_size: int = 200,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    report = ImportReport()
    batch: list[tuple[str, list[RosterRow]]] = []

    async def flush() -> None:
        if not batch:
            return
        async with db.transaction() as session:
            for household_no, rows in batch:
                await _one_household(session, household_no, rows, today, report)
        if progress is not None:
            progress(sum(len(rows) for _, rows in batch))
        batch.clear()

    for household_no, rows in read_households(path):
        batch.append((household_no, rows))
        if len(batch) >= batch_size:
            await flush()
    await flush()
    return report


async def _one_household(
    session: AsyncSession, household_no: str, rows: list[RosterRow], today: date, report: ImportReport
) -> None:
    registration, errors = _registration(household_no, rows)
    try:
        identities = [(row, _identity(row)) for row in rows]
    except (ValidationError, ValueError) as exc:
        message = _first(exc) if isinstance(exc, ValidationError) else f"身份日期格式错误: {exc}"
        errors.append(RosterError(rows[0].line, household_no, "", message))
    if registration is None or errors:
        report.errors += errors
        report.households_refused += 1
        return
    try:
        async with session.begin_nested():
            existing = await households.find_household(session, household_no)
            if existing is None:
                batch = await households.register_household(session, registration, today)
                report.persons_created += len(batch.persons)
                created = True
            else:
                current = {p.certno for p in await households.members_of(session, household_no)}
                if current != {m.certno for m in registration.members}:
                    raise DomainError(
                        f"户号 {household_no} 已存在且成员与本文件不同", code="HOUSEHOLD_DIFFERS"
                    )
                created = False
            added = 0
            for row, identity in identities:
                if identity is None:
                    continue
                person = await persons.require_by_certno(session, row["certno"])
                known = {
                    (i.psn_idet_type, i.begin_date, i.end_date)
                    for i in await persons.list_identities(session, person.psn_no)
                }
                if (identity.psn_idet_type, identity.begin_date, identity.end_date) not in known:
                    await persons.add_identity(session, person.psn_no, identity)
                    added += 1
    except households.BatchRefused as exc:
        for detail in exc.details or []:
            row = rows[detail["index"]]
            report.errors.append(RosterError(row.line, household_no, detail["certno"], detail["message"]))
        report.households_refused += 1
        return
    except DomainError as exc:
        report.errors.append(RosterError(rows[0].line, household_no, "", exc.message))
        report.households_refused += 1
        return
    report.identities_added += added
    if created:
        report.households_created += 1
    elif added == 0:
        report.households_unchanged += 1


def write_errors(report: ImportReport, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "household_no", "certno", "message"])
        for error in report.errors:
            writer.writerow([error.line, error.household_no, error.certno, error.message])
