from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from enrollment.enrollments.models import Enrollment
from enrollment.regions.models import ContributionStandard, Region, RegionTarget
from enrollment.regions.schemas import EnrollmentRate, RegionIn, StandardIn
from shared.db import flush_unique
from shared.errors import Conflict, DomainError, NotFound


async def upsert_region(session: AsyncSession, data: RegionIn) -> Region:
    region = await session.scalar(select(Region).where(Region.admdvs == data.admdvs))
    if region is None:
        region = Region(**data.model_dump())
        session.add(region)
    else:
        for key, value in data.model_dump().items():
            setattr(region, key, value)
    await flush_unique(session, Conflict(f"统筹区已存在: {data.admdvs}", code="REGION_EXISTS"))
    return region


async def get_region(session: AsyncSession, admdvs: str) -> Region:
    region = await session.scalar(select(Region).where(Region.admdvs == admdvs))
    if region is None:
        raise NotFound(f"统筹区 {admdvs} 未配置参保规则", code="REGION_NOT_FOUND")
    return region


def subsidy_ratios(region: Region) -> dict[str, int]:
    return {
        "central": region.subsidy_central,
        "provincial": region.subsidy_provincial,
        "city": region.subsidy_city,
        "county": region.subsidy_county,
    }


async def add_standard(session: AsyncSession, admdvs: str, data: StandardIn) -> ContributionStandard:
    await get_region(session, admdvs)
    standard = ContributionStandard(admdvs=admdvs, **data.model_dump())
    session.add(standard)
    await flush_unique(
        session,
        Conflict(
            f"{admdvs} {data.year} 年度 {data.category} 档次 {data.tier} 的缴费标准已存在",
            code="STANDARD_EXISTS",
        ),
    )
    return standard


async def list_standards(session: AsyncSession, admdvs: str, year: int | None) -> list[ContributionStandard]:
    query = select(ContributionStandard).where(ContributionStandard.admdvs == admdvs)
    if year is not None:
        query = query.where(ContributionStandard.year == year)
    return list(
        await session.scalars(query.order_by(col(ContributionStandard.year), col(ContributionStandard.tier)))
    )


CATEGORY_NAMES = {"minor": "学生及未成年人", "adult": "成年居民"}


async def standard_for(
    session: AsyncSession, admdvs: str, year: int, category: str, tier: str | None
) -> ContributionStandard:
    """The standard an enrollee pays; an adult without a chosen tier gets the lowest one."""
    query = select(ContributionStandard).where(
        ContributionStandard.admdvs == admdvs,
        ContributionStandard.year == year,
        ContributionStandard.category == category,
    )
    if category == "adult" and tier is not None:
        query = query.where(ContributionStandard.tier == tier)
    standard = await session.scalar(query.order_by(col(ContributionStandard.personal_fen)).limit(1))
    if standard is None:
        wanted = f"档次 {tier}" if tier else ""
        raise DomainError(
            f"统筹区 {admdvs} 未设置 {year} 年度{CATEGORY_NAMES[category]}缴费标准{wanted}",
            code="NO_STANDARD",
            status_code=422,
        )
    return standard


async def set_target(session: AsyncSession, admdvs: str, year: int, population: int) -> RegionTarget:
    await get_region(session, admdvs)
    target = await session.scalar(
        select(RegionTarget).where(RegionTarget.admdvs == admdvs, RegionTarget.year == year)
    )
    if target is None:
        target = RegionTarget(admdvs=admdvs, year=year, population=population)
        session.add(target)
    else:
        target.population = population
    await session.flush()
    return target


async def enrollment_rate(session: AsyncSession, admdvs: str, year: int) -> EnrollmentRate:
    target = await session.scalar(
        select(RegionTarget).where(RegionTarget.admdvs == admdvs, RegionTarget.year == year)
    )
    if target is None:
        raise NotFound(f"统筹区 {admdvs} 未录入 {year} 年度应参保人数", code="TARGET_NOT_FOUND")
    covered = await session.scalar(
        select(func.count(func.distinct(Enrollment.psn_no))).where(
            Enrollment.insuplc_admdvs == admdvs,
            Enrollment.year == year,
            col(Enrollment.status).in_(["active", "terminated"]),
            col(Enrollment.kind) != "legacy",
        )
    )
    count = int(covered or 0)
    rate = (Decimal(count) / Decimal(target.population)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    return EnrollmentRate(
        admdvs=admdvs, year=year, target_population=target.population, covered_persons=count, rate=rate
    )
