from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from shared.money import (
    MAX_AMOUNT_FEN,
    MoneyError,
    YuanAsFen,
    apply_ratio,
    fen_to_yuan,
    round_half_up_fen,
    yuan_to_fen,
)


@pytest.mark.parametrize(
    ("wire", "fen"),
    [
        ("0", 0),
        ("0.01", 1),
        ("12.3", 1230),
        ("12.30", 1230),
        ("12.300", 1230),  # trailing zero beyond the fen is still exact
        (Decimal("99.99"), 9999),
        (15, 1500),
        (12.3, 1230),  # a float from a lenient JSON parser: its shortest repr is what was sent
        (" 7.05 ", 705),
    ],
)
def test_yuan_to_fen_exact(wire: object, fen: int) -> None:
    assert yuan_to_fen(wire) == fen


@pytest.mark.parametrize(
    ("wire", "fragment"),
    [
        ("12.345", "两位小数"),
        ("-1.00", "负数"),
        ("NaN", "NaN"),
        ("Infinity", "NaN"),
        ("abc", "格式错误"),
        ("", "为空"),
        (True, "boolean"),
        (None, "number"),
        ("100000000.01", "absurd"),
        ([1], "number"),
    ],
)
def test_yuan_to_fen_refuses(wire: object, fragment: str) -> None:
    with pytest.raises(MoneyError, match=fragment):
        yuan_to_fen(wire)


def test_negative_allowed_when_asked() -> None:
    assert yuan_to_fen("-3.50", allow_negative=True) == -350


def test_limit_is_inclusive() -> None:
    assert yuan_to_fen("100000000.00") == MAX_AMOUNT_FEN


def test_fen_to_yuan_has_two_decimals() -> None:
    assert str(fen_to_yuan(0)) == "0.00"
    assert str(fen_to_yuan(5)) == "0.05"
    assert str(fen_to_yuan(123456)) == "1234.56"
    assert str(fen_to_yuan(-705)) == "-7.05"
    with pytest.raises(TypeError):
        fen_to_yuan(1.5)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=MAX_AMOUNT_FEN))
def test_round_trip(fen: int) -> None:
    assert yuan_to_fen(fen_to_yuan(fen)) == fen
    assert yuan_to_fen(str(fen_to_yuan(fen))) == fen


def test_half_up_rounding_is_symmetric() -> None:
    # 0.5 fen rounds away from zero, so a reversal mirrors its original exactly.
    assert round_half_up_fen(Decimal("2.5")) == 3
    assert round_half_up_fen(Decimal("-2.5")) == -3
    assert round_half_up_fen(Decimal("2.4999")) == 2
    # 6401 fen x 50 % = 3200.5 fen -> 3201 fen.
    assert apply_ratio(6401, Decimal("0.5")) == 3201
    # 333 fen x 10 % = 33.3 fen -> 33 fen.
    assert apply_ratio(333, Decimal("0.1")) == 33


class _Wire(BaseModel):
    amount: YuanAsFen


def test_pydantic_type_validates_and_serialises() -> None:
    assert _Wire.model_validate({"amount": "12.34"}).amount == 1234
    # Wire yuan in, integer fen inside, the same two-decimal yuan out.
    assert _Wire.model_validate({"amount": "12.3"}).model_dump() == {"amount": Decimal("12.30")}
    with pytest.raises(ValidationError, match="两位小数"):
        _Wire.model_validate({"amount": Decimal("1.001")})


def test_the_limit_holds_for_negative_amounts_too() -> None:
    assert yuan_to_fen("-100000000.00", allow_negative=True) == -MAX_AMOUNT_FEN
    with pytest.raises(MoneyError, match="absurd"):
        yuan_to_fen("-100000000.01", allow_negative=True)
    with pytest.raises(MoneyError, match="absurd"):
        yuan_to_fen(Decimal("1E+30"))  # refused before rounding: it would not fit the decimal context


@pytest.mark.parametrize(
    ("wire", "fen"), [("12.300000", 1230), (Decimal("5E+1"), 5000), ("7", 700), (Decimal("0E-9"), 0)]
)
def test_any_exponent_exact_to_the_fen_is_accepted(wire: object, fen: int) -> None:
    # Exact to the fen whatever the written exponent: 12.300000 yuan, 5E+1 = 50 yuan, 7 yuan, 0E-9 = 0.
    assert yuan_to_fen(wire) == fen


@pytest.mark.parametrize("wire", ["0.001", "12.301", "-0.005"])
def test_a_third_decimal_is_refused_even_when_small(wire: str) -> None:
    with pytest.raises(MoneyError, match="两位小数"):
        yuan_to_fen(wire, allow_negative=True)


def test_fen_to_yuan_range_is_exclusive_at_ten_to_the_25() -> None:
    # The largest figure written with two decimals; one more fen is out of range, either sign.
    assert fen_to_yuan(10**25 - 1) == Decimal("99999999999999999999999.99")
    assert fen_to_yuan(-(10**25) + 1) == Decimal("-99999999999999999999999.99")
    for fen in (10**25, -(10**25), 10**26):
        with pytest.raises(OverflowError):
            fen_to_yuan(fen)


def test_rounding_to_the_fen_keeps_whole_fen() -> None:
    # 3 fen x 0.5 = 1.5 -> 2; 7 fen x 1 = 7: the result is whole fen, never rounded to even tens or pairs.
    assert apply_ratio(3, Decimal("0.5")) == 2
    assert apply_ratio(7, Decimal("1")) == 7
    assert round_half_up_fen(Decimal("7")) == 7
    assert round_half_up_fen(Decimal("0.5")) == 1
