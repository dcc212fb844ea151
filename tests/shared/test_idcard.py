from __future__ import annotations

from datetime import date

import pytest

from shared.idcard import InvalidIdNumber, check_char, make_id_number, parse_id_number


def test_published_example_number() -> None:
    # The example in GB 11643-1999: 11010519491231002X, a woman born 31 Dec 1949 in Beijing Chaoyang.
    parsed = parse_id_number("11010519491231002x")
    assert parsed.value == "11010519491231002X"
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.gend == "2"
    assert parsed.admdvs == "110105"


def test_check_character_by_hand() -> None:
    # 34152419850312013: 21+36+10+25+16+16+2+9+48+15+0+27+10+10+0+4+6 = 255; 255 mod 11 = 2;
    # position 2 of "10X98765432" is "X".
    digits = "34152419850312013"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    assert sum(int(d) * w for d, w in zip(digits, weights, strict=True)) == 255
    assert check_char(digits) == "X"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("11010519491231002", "18位"),
        ("110105194912310021", "校验位"),
        ("11010519491331002X", "出生日期"),
        ("1101051949123100ZX", "18位"),
        ("110105187001010010", "范围"),
    ],
)
def test_refuses_invalid(text: str, fragment: str) -> None:
    with pytest.raises(InvalidIdNumber, match=fragment):
        parse_id_number(text)


def test_future_birth_refused() -> None:
    number = make_id_number("341524", date(2030, 1, 1), 1)
    with pytest.raises(InvalidIdNumber, match="范围"):
        parse_id_number(number, today=date(2026, 11, 23))


def test_made_numbers_parse_with_sex_from_sequence() -> None:
    male = parse_id_number(make_id_number("341524", date(1985, 3, 12), 13))
    female = parse_id_number(make_id_number("341524", date(1985, 3, 12), 24))
    assert (male.gend, female.gend) == ("1", "2")
