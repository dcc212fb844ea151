"""The inter-region clearing's bodies (docs/architecture.md, "Out-of-area care")."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class InterRegionClearingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The month cleared, ``yyyy-mm`` (Beijing dates of the settlements).
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    insutype: str = Field(default="390", pattern=r"^(390|391|380)$")


class PairOut(BaseModel):
    clearing_id: str
    month: str
    insured_admdvs: str
    treating_admdvs: str
    insutype: str
    fund_pay_type: str
    #: Owed before the month and not paid.
    brought_forward_fen: int
    #: The month's out-of-area settlements less reversals: the insured region's books (2105) ...
    period_owed_fen: int
    #: ... and the treating region's (1302); ``agrees`` when they are equal.
    treating_period_fen: int
    agrees: bool
    settlements: int
    reversals: int
    #: open (not cleared yet), cleared, mismatch (the books disagree: nothing paid), nothing_owed.
    status: str
    owed_fen: int
    available_fen: int
    paid_fen: int
    carried_forward_fen: int
    #: Still owed now, in each region's books: equal when the books agree.
    insured_balance_fen: int
    treating_balance_fen: int


class InterRegionReport(BaseModel):
    month: str
    insutype: str
    #: Whether the month's clearing has run.
    cleared: bool
    #: Every pair's two books agree.
    reconciled: bool
    pairs: list[PairOut]
    #: True when this answer is the stored result of an earlier run.
    replayed: bool = False
