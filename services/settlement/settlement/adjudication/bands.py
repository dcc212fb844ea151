"""Amount bands (分段比例): each band's ratio on the part of an amount inside it, used by inpatient care
at a level whose policy pays in bands and by catastrophic insurance (docs/domain.md, "Money out")."""

from __future__ import annotations

from decimal import Decimal

from settlement.adjudication.model import yuan
from settlement.policy.document import Band
from shared.money import round_half_up_fen


def banded(amount_fen: int, bands: list[Band]) -> int:
    """Each band's ratio on the part of ``amount_fen`` inside it, rounded half-up once on the total."""
    total = Decimal(0)
    floor = 0
    for band in bands:
        top = amount_fen if band.upto_fen is None else min(amount_fen, band.upto_fen)
        if top > floor:
            total += Decimal(top - floor) * band.ratio
        if band.upto_fen is None or amount_fen <= band.upto_fen:
            break
        floor = band.upto_fen
    return round_half_up_fen(total)


def lowered(bands: list[Band], points: Decimal) -> list[Band]:
    """The bands with every ratio ``points`` lower, never below zero (out-of-area care without a filing)."""
    return [Band(upto_fen=b.upto_fen, ratio=max(Decimal(0), b.ratio - points)) for b in bands]


def describe(bands: list[Band]) -> str:
    return "分段比例 " + "，".join(
        f"{'以上' if b.upto_fen is None else yuan(b.upto_fen)}:{b.ratio}" for b in bands
    )
