"""Which scheme a person settles under on a day of care (双轨运行 and switch-over, see
``docs/legacy-merger.md``).

* No switch-over recorded for the person's region: the scheme the request names, as always.
* Before the region's ``unified_from`` (dual track): a request for 390 settles under the person's legacy
  scheme of that year (391 or 380) - its policy, its year-to-date totals, its fund sub-ledger; a request
  naming 391 / 380 settles under that scheme.
* From ``unified_from``: 390 for everyone. Coverage of that year under 390, or, for a person whose year was
  still enrolled under a legacy scheme, that legacy coverage (nobody loses a day of cover).
* A stay is decided once, at admission (2401), and settles at discharge under the scheme and policy it was
  admitted under, even when discharge falls after the switch-over (the care day of a stay is its admission
  day throughout the settlement service).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import bindparam
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement import reference
from settlement.eligibility.models import Eligibility
from settlement.schemes.models import SchemeSwitchover
from shared.errors import Conflict, DomainError

UNIFIED = "390"
#: URBMI (城镇居民医保) before NCMS (新农合): the order in which a person's legacy coverage is looked for
#: (a person enrolled in both in one year is a migration conflict a clerk resolves).
LEGACY = ("391", "380")
SCHEMES = (UNIFIED, *LEGACY)


async def get(session: AsyncSession, admdvs: str) -> SchemeSwitchover | None:
    return await session.get(SchemeSwitchover, admdvs)


async def record(
    session: AsyncSession, admdvs: str, unified_from: date, approved_by: str, document_ref: str
) -> tuple[SchemeSwitchover, bool]:
    """Record a region's switch-over; the same again returns it (created False); a different date is
    refused (a switch-over, once settlements follow it, is not moved)."""
    if (unified_from.month, unified_from.day) != (1, 1):
        raise DomainError(
            f"并轨日期必须为年度首日（1月1日），以免同一年度内混用两种待遇政策: {unified_from}",
            code="SWITCHOVER_NOT_YEAR_START",
            status_code=422,
        )
    existing = await get(session, admdvs)
    if existing is not None:
        if existing.unified_from != unified_from:
            raise Conflict(
                f"统筹区 {admdvs} 已定于 {existing.unified_from} 并轨，不能改为 {unified_from}",
                code="SWITCHOVER_EXISTS",
            )
        return existing, False
    switchover = SchemeSwitchover(
        admdvs=admdvs, unified_from=unified_from, approved_by=approved_by, document_ref=document_ref
    )
    session.add(switchover)
    await session.flush()
    return switchover, True


async def list_all(session: AsyncSession) -> list[SchemeSwitchover]:
    return list(await session.scalars(select(SchemeSwitchover).order_by(col(SchemeSwitchover.admdvs))))


_YEAR_COVERAGE = select(Eligibility).where(
    Eligibility.psn_no == bindparam("psn_no"), Eligibility.year == bindparam("year")
)


async def year_coverage(session: AsyncSession, psn_no: str, year: int) -> dict[str, Eligibility]:
    """The person's coverage rows of the year, by scheme (a statement built once: every settlement asks)."""
    rows = await session.scalars(_YEAR_COVERAGE, {"psn_no": psn_no, "year": year})
    return {row.insutype: row for row in rows}


async def resolve(
    session: AsyncSession,
    psn_no: str,
    requested: str,
    day: date,
    rows: dict[str, Eligibility] | None = None,
) -> tuple[str, str]:
    """(scheme whose coverage admits the person, scheme to settle and book under) for care on ``day``;
    ``rows``: the person's ``year_coverage`` of that year when the caller has read it."""
    if rows is None:
        rows = await year_coverage(session, psn_no, day.year)
    if not rows:
        return requested, requested  # not covered at all: the coverage check says so
    region = next(iter(rows.values())).insuplc_admdvs
    switchover = await reference.cached(session, ("switchover", region), lambda: get(session, region))
    if switchover is None:
        return requested, requested
    if day < switchover.unified_from:
        if requested == UNIFIED and UNIFIED not in rows:
            legacy = next((scheme for scheme in LEGACY if scheme in rows), None)
            if legacy is not None:
                return legacy, legacy
        return requested, requested
    if UNIFIED in rows:
        return UNIFIED, UNIFIED
    if requested in SCHEMES:
        legacy = requested if requested in rows else next((s for s in LEGACY if s in rows), None)
        if legacy is not None:
            return legacy, UNIFIED
    return requested, requested
