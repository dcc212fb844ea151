"""Money: integer fen (分) inside, yuan with two decimals on the wire.

Amounts never pass through binary floating point: wire values are parsed into :class:`~decimal.Decimal`
(the gateway parses JSON numbers with ``parse_float=Decimal``) and converted exactly. Rounding of a computed
amount (a ratio applied to a base) is half-up to the fen, once per fund amount (docs/domain.md, "Money out").
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

FEN_PER_YUAN = 100
#: Largest single amount accepted on the wire: 100 million yuan. NHSA fields are NUMBER(16,2), but a bill
#: or payment above this is a keying error, not a medical event, and is refused.
MAX_AMOUNT_FEN = 100_000_000 * FEN_PER_YUAN
_CENT = Decimal("0.01")
#: The quantum of a whole fen (quantize reads only its exponent).
_WHOLE_FEN = Decimal("1")
_MAX_AMOUNT_YUAN = Decimal(MAX_AMOUNT_FEN) / FEN_PER_YUAN
#: Past this many fen a wire amount cannot be written with two decimals in the default decimal context.
_MAX_WIRE_FEN = 10**25


class MoneyError(ValueError):
    """An amount that is not a valid money value. The message is shown to the caller."""


def _as_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise MoneyError("金额必须是数字 (amount must be a number, not a boolean)")
    if isinstance(value, Decimal):
        dec = value
    elif isinstance(value, int):
        dec = Decimal(value)
    elif isinstance(value, float):
        # A float reaching us came from a JSON number parsed without parse_float=Decimal; its shortest
        # repr is what the sender wrote.
        dec = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise MoneyError("金额不能为空 (amount is empty)")
        try:
            dec = Decimal(text)
        except InvalidOperation as exc:
            raise MoneyError(f"金额格式错误: {value!r} (not a decimal number)") from exc
    else:
        raise MoneyError(f"金额必须是数字 (amount must be a number, got {type(value).__name__})")
    if not dec.is_finite():
        raise MoneyError("金额不能是 NaN 或无穷大 (amount must be finite)")
    return dec


def yuan_to_fen(value: Any, *, allow_negative: bool = False) -> int:
    """Convert a wire amount in yuan to integer fen, refusing anything that is not exact to the fen."""
    dec = _as_decimal(value)
    if abs(dec) > _MAX_AMOUNT_YUAN:  # before any rounding: 1e30 does not fit the decimal context
        raise MoneyError(
            f"金额超出允许范围: {value} (absurd size, limit {MAX_AMOUNT_FEN // FEN_PER_YUAN} yuan)"
        )
    exact = dec.quantize(_CENT)  # within the limit: fits the decimal context
    if dec != exact:
        raise MoneyError(f"金额最多两位小数: {value} (at most two decimals)")
    if dec < 0 and not allow_negative:
        raise MoneyError(f"金额不能为负数: {value} (must not be negative)")
    return int(exact * FEN_PER_YUAN)


def fen_to_yuan(fen: int) -> Decimal:
    """Integer fen to a two-decimal Decimal for the wire (``1234`` -> ``Decimal('12.34')``)."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"fen must be int, got {type(fen).__name__}")
    if not -_MAX_WIRE_FEN < fen < _MAX_WIRE_FEN:
        # Only a client's own figure can be this large (a fen field of 10^30): the decimal context cannot
        # quantize it; answered 422 OUT_OF_RANGE by the services' OverflowError handler, not 500.
        raise OverflowError(f"amount out of range: {fen} fen")
    return (Decimal(fen) / FEN_PER_YUAN).quantize(_CENT)


def round_half_up_fen(amount: Decimal) -> int:
    """Round a computed fen amount (e.g. base x ratio) half-up to a whole fen.

    Half-up means away from zero on .5, for negative amounts too, so a reversal is the exact mirror of its
    original."""
    return int(amount.quantize(_WHOLE_FEN, rounding=ROUND_HALF_UP))


def apply_ratio(base_fen: int, ratio: Decimal) -> int:
    """``base_fen x ratio`` rounded half-up to the fen."""
    return round_half_up_fen(Decimal(base_fen) * ratio)


def _fen_from_wire(value: Any) -> int:
    return yuan_to_fen(value)


#: A non-negative wire amount in yuan, validated and held as integer fen.
YuanAsFen = Annotated[
    int,
    BeforeValidator(_fen_from_wire),
    PlainSerializer(fen_to_yuan, return_type=Decimal),
]
