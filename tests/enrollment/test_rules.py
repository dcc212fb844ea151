"""Enrollment rules, worked by hand: collection period, late payment, newborns, person types, subsidy split
and continuity."""

from __future__ import annotations

from datetime import date

import pytest
from enrollment.enrollments.rules import (
    OutsidePeriod,
    PeriodRules,
    continuous_run,
    cover_start,
    person_type,
    split_subsidy,
    standard_category,
)

RULES = PeriodRules(late_until=(3, 31), late_waiting_days=30, newborn_grace_days=90)


@pytest.mark.parametrize(
    ("today", "birth", "begin", "kind"),
    [
        (date(2026, 9, 1), date(1985, 3, 12), date(2027, 1, 1), "regular"),  # first day of collection
        (date(2026, 12, 31), date(1985, 3, 12), date(2027, 1, 1), "regular"),  # last day
        # Late: paid 10 Feb 2027, 30 days' wait -> cover from 12 Mar 2027 (18 days of Feb + 12 of Mar).
        (date(2027, 2, 10), date(1985, 3, 12), date(2027, 3, 12), "late"),
        (date(2027, 3, 31), date(1985, 3, 12), date(2027, 4, 30), "late"),  # last late day
        # A newborn registered 21 days after birth is covered from birth.
        (date(2027, 2, 10), date(2027, 1, 20), date(2027, 1, 20), "newborn"),
        # Born on New Year's Day, after the collection closed: cover from birth.
        (date(2027, 1, 5), date(2027, 1, 1), date(2027, 1, 1), "newborn"),
    ],
)
def test_cover_start(today: date, birth: date, begin: date, kind: str) -> None:
    start = cover_start(RULES, 2027, today, birth)
    assert (start.begin, start.kind) == (begin, kind)


@pytest.mark.parametrize(
    ("rules", "today", "birth", "fragment"),
    [
        (RULES, date(2026, 8, 31), date(1985, 3, 12), "尚未开始"),
        (RULES, date(2027, 4, 1), date(1985, 3, 12), "补缴截止日 2027-03-31 已过"),
        (PeriodRules(), date(2027, 1, 2), date(1985, 3, 12), "不允许补缴"),
        (RULES, date(2028, 1, 1), date(1985, 3, 12), "已结束"),
        # Registered 91 days after birth: too late for the newborn rule, and outside the late window.
        (RULES, date(2027, 5, 1), date(2027, 1, 30), "补缴截止日"),
        (
            PeriodRules(late_until=(12, 20), late_waiting_days=30),
            date(2027, 12, 10),
            date(1985, 3, 12),
            "等待期",
        ),
    ],
)
def test_refusals(rules: PeriodRules, today: date, birth: date, fragment: str) -> None:
    with pytest.raises(OutsidePeriod, match=fragment) as caught:
        cover_start(rules, 2027, today, birth)
    assert caught.value.code == "OUTSIDE_COLLECTION_PERIOD"


@pytest.mark.parametrize(
    ("birth", "school", "expected"),
    [
        (date(2026, 6, 1), None, "1401"),  # 7 months old on 1 Jan 2027
        (date(2022, 1, 2), None, "1402"),  # 4
        (date(2015, 9, 30), None, "1403"),  # 11
        (date(2008, 3, 1), "college", "1404"),  # 18, registered by a college
        (date(2009, 1, 2), None, "1403"),  # 17 the day before his birthday
        (date(2009, 1, 1), None, "1501"),  # 18 that very day
        (date(1985, 3, 12), None, "1501"),
        (date(1967, 1, 1), None, "1601"),  # 60
        (date(2012, 5, 5), "primary_secondary", "1403"),
    ],
)
def test_person_type(birth: date, school: str | None, expected: str) -> None:
    assert person_type(birth, date(2027, 1, 1), school) == expected


def test_standard_category() -> None:
    assert [standard_category(t) for t in ("1401", "1403", "1404", "1501", "1601")] == [
        "minor",
        "minor",
        "minor",
        "adult",
        "adult",
    ]


def test_subsidy_split() -> None:
    # 20.00 yuan at 10:3:2:5 (Jinzhai 2005): 10.00, 3.00, 2.00, 5.00.
    ratios = {"central": 10, "provincial": 3, "city": 2, "county": 5}
    assert split_subsidy(2000, ratios) == {"central": 1000, "provincial": 300, "city": 200, "county": 500}
    # 10.01 yuan: exact shares 500.5, 150.15, 100.1, 250.25 fen; floors give 1000, the odd fen goes to the
    # largest remainder (central, .5).
    assert split_subsidy(1001, ratios) == {"central": 501, "provincial": 150, "city": 100, "county": 250}
    # 20:6:3:6 (2006) of 35.00 yuan: 20/35 = 20.00, 6/35 = 6.00, 3/35 = 3.00, 6/35 = 6.00.
    assert split_subsidy(3500, {"central": 20, "provincial": 6, "city": 3, "county": 6}) == {
        "central": 2000,
        "provincial": 600,
        "city": 300,
        "county": 600,
    }
    assert split_subsidy(0, ratios) == {"central": 0, "provincial": 0, "city": 0, "county": 0}
    with pytest.raises(ValueError):
        split_subsidy(100, {"central": 0})


def test_continuous_run() -> None:
    assert continuous_run({2025, 2026, 2027}, 2027) == 3
    assert continuous_run({2024, 2026, 2027}, 2027) == 2
    assert continuous_run({2025}, 2027) == 0
