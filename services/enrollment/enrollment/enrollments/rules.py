"""Enrollment rules as pure functions: when cover starts, which person type, how a subsidy splits, how
many continuous years. No I/O; tested with hand-worked dates and amounts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from enrollment.regions.models import Region
from shared.errors import DomainError


@dataclass(frozen=True)
class PeriodRules:
    collection_begin: tuple[int, int] = (9, 1)
    collection_end: tuple[int, int] = (12, 31)
    late_until: tuple[int, int] | None = None
    late_waiting_days: int = 0
    newborn_grace_days: int = 90


def period_rules(region: Region) -> PeriodRules:
    """The region's collection period and grace days, as configured for it."""
    late = None
    if region.late_until_month is not None and region.late_until_day is not None:
        late = (region.late_until_month, region.late_until_day)
    return PeriodRules(
        collection_begin=(region.collection_begin_month, region.collection_begin_day),
        collection_end=(region.collection_end_month, region.collection_end_day),
        late_until=late,
        late_waiting_days=region.late_waiting_days,
        newborn_grace_days=region.newborn_grace_days,
    )


@dataclass(frozen=True)
class CoverStart:
    begin: date
    kind: str  # regular, late, newborn


class OutsidePeriod(DomainError):
    status_code = 422
    code = "OUTSIDE_COLLECTION_PERIOD"


def _on(year: int, month_day: tuple[int, int]) -> date:
    month, day = month_day
    if (month, day) == (2, 29) and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        day = 28
    return date(year, month, day)


def collection_period(rules: PeriodRules, year: int) -> tuple[date, date]:
    """Contributions for year Y are collected in Y-1 (Tianjin art. 12, 17: September to December)."""
    return _on(year - 1, rules.collection_begin), _on(year - 1, rules.collection_end)


def cover_start(rules: PeriodRules, year: int, today: date, birth: date) -> CoverStart:
    """When cover for ``year`` begins if the person enrols ``today``, or why they cannot."""
    begin_of_year, end_of_year = date(year, 1, 1), date(year, 12, 31)
    period_begin, period_end = collection_period(rules, year)
    if today > end_of_year:
        raise OutsidePeriod(f"{year} 年度已结束，不能参保")
    # A newborn registered within the grace period is covered from birth (or from 1 January if born
    # before the year began, after that year's collection closed).
    if birth > period_end and today <= birth + timedelta(days=rules.newborn_grace_days):
        return CoverStart(max(birth, begin_of_year), "newborn")
    if period_begin <= today <= period_end:
        return CoverStart(begin_of_year, "regular")
    if today < period_begin:
        raise OutsidePeriod(f"{year} 年度集中缴费期为 {period_begin} 至 {period_end}，尚未开始")
    if rules.late_until is not None and today <= _on(year, rules.late_until):
        begin = max(begin_of_year, today + timedelta(days=rules.late_waiting_days))
        if begin > end_of_year:
            raise OutsidePeriod(f"补缴后的等待期超出 {year} 年度，不能参保")
        return CoverStart(begin, "late")
    if rules.late_until is None:
        raise OutsidePeriod(f"{year} 年度集中缴费期 {period_begin} 至 {period_end} 已过，本地区不允许补缴")
    raise OutsidePeriod(f"{year} 年度补缴截止日 {_on(year, rules.late_until)} 已过")


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


#: psn_type codes (docs/interface.md); 1601 is the detailed code assumed under top-level 16 (elderly).
NEWBORN, PRESCHOOL, SCHOOL, COLLEGE, ADULT, ELDERLY = "1401", "1402", "1403", "1404", "1501", "1601"
MINOR_TYPES = {NEWBORN, PRESCHOOL, SCHOOL, COLLEGE}


def person_type(birth: date, on: date, school_kind: str | None = None) -> str:
    """人员类别 on the first day of cover: a registered student by the school's kind, else by age."""
    if school_kind == "college":
        return COLLEGE
    if school_kind == "primary_secondary":
        return SCHOOL
    age = age_on(birth, on)
    if age < 1:
        return NEWBORN
    if age < 6:
        return PRESCHOOL
    if age < 18:
        return SCHOOL
    if age >= 60:
        return ELDERLY
    return ADULT


def standard_category(psn_type: str) -> str:
    """Children and students pay one fixed standard; other adults choose a tier."""
    return "minor" if psn_type in MINOR_TYPES else "adult"


LEVELS = ("central", "provincial", "city", "county")


def split_subsidy(total_fen: int, ratios: dict[str, int]) -> dict[str, int]:
    """Split a subsidy by integer ratios, exactly: floor shares, then the leftover fen to the largest
    remainders (ties to the higher level), so the parts always add up to the total."""
    weight = sum(ratios.get(level, 0) for level in LEVELS)
    if weight <= 0:
        raise ValueError("subsidy ratios must not all be zero")
    shares = {level: total_fen * ratios.get(level, 0) // weight for level in LEVELS}
    remainders = sorted(
        LEVELS, key=lambda level: (-(total_fen * ratios.get(level, 0) % weight), LEVELS.index(level))
    )
    for level in remainders[: total_fen - sum(shares.values())]:
        shares[level] += 1
    return shares


def continuous_run(years: Iterable[int], up_to: int) -> int:
    """How many consecutive insurance years end at ``up_to`` (0 if ``up_to`` itself is not covered)."""
    covered = set(years)
    count = 0
    while up_to - count in covered:
        count += 1
    return count
