"""Wire times are Beijing time (UTC+8, no daylight saving) written ``yyyy-MM-dd HH:mm:ss``; inside we keep
timezone-aware datetimes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), "CST")
WIRE_FORMAT = "%Y-%m-%d %H:%M:%S"


def now_china() -> datetime:
    return datetime.now(CHINA_TZ)


def parse_wire_time(text: str) -> datetime:
    return datetime.strptime(text.strip(), WIRE_FORMAT).replace(tzinfo=CHINA_TZ)


def format_wire_time(value: datetime) -> str:
    return value.astimezone(CHINA_TZ).strftime(WIRE_FORMAT)


def compact_ms(value: datetime) -> str:
    """``yyyyMMddHHmmssSSS`` as in refmsg_time / respond_time."""
    local = value.astimezone(CHINA_TZ)
    return local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"
