"""Admit the designated institutions of both legacy lists (URBMI 391, NCMS 380) into the registry: both
lists are admitted first and unified later (先纳入、后统一).

``institutions.csv`` in each export folder (UTF-8, header row):
legacy_code, fixmedins_code, fixmedins_name, fixmedins_type, hosp_lv, admdvs, agreement_begin, agreement_end

Every listing is kept with its legacy code (``legacy_institution_listings``). An institution on both lists
(same ``fixmedins_code``) becomes one registry entry whose agreement runs from the earlier begin to the later
end (open if either is open). Lists that disagree on name, type, level or region are left for a clerk; an
institution already in the registry is kept as it is. Running again changes nothing.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement.institutions.models import Institution, LegacyListing
from settlement.institutions.schemas import InstitutionCreate
from shared.db import Database

COLUMNS = (
    "legacy_code",
    "fixmedins_code",
    "fixmedins_name",
    "fixmedins_type",
    "hosp_lv",
    "admdvs",
    "agreement_begin",
    "agreement_end",
)
FILE = "institutions.csv"


class ListingFileError(ValueError):
    """An institutions file that cannot be read at all: nothing is admitted."""


@dataclass(frozen=True)
class ListingIssue:
    subject: str
    insutype: str
    legacy_id: str
    file: str
    line: int | None
    rule: str
    outcome: str
    message: str


@dataclass
class Listing:
    insutype: str
    line: int
    legacy_code: str
    data: InstitutionCreate


@dataclass
class InstitutionReport:
    listings_read: int = 0
    institutions_created: int = 0
    listings_recorded: int = 0
    listings_unchanged: int = 0
    issues: list[ListingIssue] = field(default_factory=list)


def read_listings(insutype: str, path: Path) -> tuple[list[Listing], list[ListingIssue]]:
    listings: list[Listing] = []
    issues: list[ListingIssue] = []
    seen: set[str] = set()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS[:7] if c not in (reader.fieldnames or [])]
        if missing:
            raise ListingFileError(f"{path}: 缺少列 {', '.join(missing)}")
        for line, values in enumerate(reader, start=2):
            row = {k: (v or "").strip() for k, v in values.items() if k is not None}
            legacy_code = row.get("legacy_code", "")
            try:
                if not legacy_code or len(legacy_code) > 30:
                    raise ValueError("原机构编码为空或超过30个字符")
                if legacy_code in seen:
                    raise ValueError(f"原机构编码 {legacy_code} 重复")
                data = InstitutionCreate.model_validate(
                    {k: row.get(k) or None for k in COLUMNS[1:]} | {"status": "active"}
                )
            except ValidationError as exc:
                error = exc.errors()[0]
                where = ".".join(str(p) for p in error.get("loc", ()))
                message = str(error.get("msg", "")).removeprefix("Value error, ")
                issues.append(
                    ListingIssue(
                        row.get("fixmedins_code", ""),
                        insutype,
                        legacy_code,
                        FILE,
                        line,
                        "INVALID_INSTITUTION",
                        "error",
                        f"{where}: {message}" if where else message,
                    )
                )
                continue
            except ValueError as exc:
                issues.append(
                    ListingIssue(
                        row.get("fixmedins_code", ""),
                        insutype,
                        legacy_code,
                        FILE,
                        line,
                        "INVALID_INSTITUTION",
                        "error",
                        str(exc),
                    )
                )
                continue
            seen.add(legacy_code)
            listings.append(Listing(insutype, line, legacy_code, data))
    return listings, issues


def _attributes(data: InstitutionCreate) -> tuple[str, str, str, str]:
    return data.fixmedins_name, data.fixmedins_type, data.hosp_lv, data.admdvs


async def admit_institutions(
    db: Database, files: list[tuple[str, Path]], *, dry_run: bool = False
) -> InstitutionReport:
    """Admit the listings of ``files`` ((insutype, institutions.csv) pairs) in one transaction."""
    report = InstitutionReport()
    listings: list[Listing] = []
    for insutype, path in files:
        found, issues = read_listings(insutype, path)
        listings += found
        report.issues += issues
    report.listings_read = len(listings) + sum(1 for i in report.issues if i.outcome == "error")
    by_code: dict[str, list[Listing]] = {}
    for listing in listings:
        by_code.setdefault(listing.data.fixmedins_code, []).append(listing)
    async with db.session() as session:
        for code, group in by_code.items():
            await _one_institution(session, code, group, report)
        if dry_run:
            await session.rollback()
        else:
            await session.commit()
    return report


async def _one_institution(
    session: AsyncSession, code: str, group: list[Listing], report: InstitutionReport
) -> None:
    def issue(rule: str, outcome: str, message: str) -> None:
        report.issues.append(
            ListingIssue(
                code,
                "+".join(g.insutype for g in group),
                "+".join(g.legacy_code for g in group),
                FILE,
                group[0].line if len(group) == 1 else None,
                rule,
                outcome,
                message,
            )
        )

    if len({_attributes(g.data) for g in group}) > 1:
        described = " / ".join(f"{g.insutype}: {'，'.join(_attributes(g.data))}" for g in group)
        issue(
            "LISTS_DISAGREE", "unresolved", f"各目录中的名称/类型/等级/区划不一致（{described}），待人工核实"
        )
        return
    if len(group) > 1:
        issue("IN_BOTH_LISTS", "resolved", "两个原制度目录均有该机构，纳入一个定点机构，两个原编码均保留")
    begin = min(g.data.agreement_begin for g in group)
    ends = [g.data.agreement_end for g in group]
    end: date | None = None if any(e is None for e in ends) else max(e for e in ends if e is not None)
    recorded = {
        (row.insutype, row.legacy_code): row
        for row in await session.scalars(
            select(LegacyListing).where(col(LegacyListing.fixmedins_code) == code)
        )
    }
    institution = await session.scalar(select(Institution).where(Institution.fixmedins_code == code))
    if institution is None:
        first = group[0].data
        session.add(
            Institution(
                fixmedins_code=code,
                fixmedins_name=first.fixmedins_name,
                fixmedins_type=first.fixmedins_type,
                hosp_lv=first.hosp_lv,
                admdvs=first.admdvs,
                status="active",
                agreement_begin=begin,
                agreement_end=end,
            )
        )
        report.institutions_created += 1
    elif _attributes(InstitutionCreate.model_validate(institution, from_attributes=True)) != _attributes(
        group[0].data
    ):
        issue(
            "REGISTRY_KEPT",
            "resolved",
            f"定点机构库中已有该机构（{institution.fixmedins_name}，等级 {institution.hosp_lv}），"
            "保留现有记录",
        )
    for g in group:
        previous = recorded.get((g.insutype, g.legacy_code))
        if previous is not None:
            report.listings_unchanged += 1
            continue
        session.add(
            LegacyListing(
                insutype=g.insutype,
                legacy_code=g.legacy_code,
                fixmedins_code=code,
                fixmedins_name=g.data.fixmedins_name,
                hosp_lv=g.data.hosp_lv,
                agreement_begin=g.data.agreement_begin,
                agreement_end=g.data.agreement_end,
            )
        )
        report.listings_recorded += 1
    await session.flush()
