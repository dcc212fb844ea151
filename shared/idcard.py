"""Resident identity card numbers (公民身份号码), GB 11643-1999.

18 characters: 6-digit address code, 8-digit birth date, 3-digit sequence (odd = male, even = female),
and a check character computed with ISO 7064 MOD 11-2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")


class InvalidIdNumber(ValueError):
    """The text is not a valid 18-character resident ID number; the message says why."""


@dataclass(frozen=True, slots=True)
class IdNumber:
    value: str
    admdvs: str
    birth_date: date
    #: NHSA gend code: "1" male, "2" female.
    gend: str


def check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def parse_id_number(text: str, *, today: date | None = None) -> IdNumber:
    value = text.strip().upper()
    if not _SHAPE.match(value):
        raise InvalidIdNumber("身份证号码必须为18位，前17位为数字，末位为数字或X")
    try:
        birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as exc:
        raise InvalidIdNumber("身份证号码中的出生日期无效") from exc
    if birth.year < 1880 or birth > (today or date.today()):
        raise InvalidIdNumber("身份证号码中的出生日期超出合理范围")
    expected = check_char(value[:17])
    if value[17] != expected:
        raise InvalidIdNumber("身份证号码校验位错误")
    gend = "1" if int(value[16]) % 2 == 1 else "2"
    return IdNumber(value=value, admdvs=value[:6], birth_date=birth, gend=gend)


def make_id_number(admdvs: str, birth: date, sequence: int) -> str:
    """Build a valid ID number (for demo data and test factories). ``sequence`` 0..999; odd = male."""
    first17 = f"{admdvs}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_char(first17)
