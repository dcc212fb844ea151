"""Wire times: ``yyyy-MM-dd HH:mm:ss``, Beijing time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.clock import format_wire_time, parse_wire_time

BEIJING = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-04 01:02:03", datetime(2026, 12, 4, 1, 2, 3, tzinfo=BEIJING)),
        ("2024-02-29 23:59:59", datetime(2024, 2, 29, 23, 59, 59, tzinfo=BEIJING)),
        (" 2026-11-20 10:00:00 ", datetime(2026, 11, 20, 10, 0, 0, tzinfo=BEIJING)),
        # Not the usual widths: accepted as strptime always accepted them.
        ("2026-1-5 8:00:00", datetime(2026, 1, 5, 8, 0, 0, tzinfo=BEIJING)),
    ],
)
def test_a_wire_time_is_read_as_beijing_time(text: str, expected: datetime) -> None:
    parsed = parse_wire_time(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-29 00:00:00",  # not a leap year
        "2026-12-04 24:00:00",
        "2026-13-01 00:00:00",
        "2026-12-04T01:02:03",  # ISO, not the wire's form
        "2026-12-04 01:02:03+08:00",
        "2026-12-04",
        "",
    ],
)
def test_anything_else_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_wire_time(text)


def test_format_and_parse_agree() -> None:
    instant = datetime(2026, 12, 3, 17, 30, 5, tzinfo=UTC)
    assert format_wire_time(instant) == "2026-12-04 01:30:05"
    assert parse_wire_time(format_wire_time(instant)) == instant
