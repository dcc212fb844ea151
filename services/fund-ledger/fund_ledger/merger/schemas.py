from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class OpeningBalanceIn(BaseModel):
    """A legacy fund's audited position when it enters this ledger (基金期初余额)."""

    admdvs: str = Field(pattern=r"^\d{6}$")
    insutype: str = Field(pattern=r"^\d{3}$")
    as_of: date
    #: Money in the fiscal special account (财政专户存款).
    special_account_fen: int = Field(ge=0, le=10**15)
    #: Benefits still owed (应付历史待遇款).
    benefits_payable_fen: int = Field(default=0, ge=0, le=10**15)
    #: Risk reserve (风险储备金), part of the special account's money set aside.
    risk_reserve_fen: int = Field(default=0, ge=0, le=10**15)
    audited_by: str = Field(min_length=1, max_length=50)
    audit_ref: str = Field(min_length=1, max_length=100)


class PostedOut(BaseModel):
    entry_id: int
    total_fen: int
    #: The fund balance opened (negative: an accumulated deficit, receivable from the finance bureau).
    fund_balance_fen: int | None = None
    replayed: bool


class MergerIn(BaseModel):
    merger_id: str = Field(min_length=1, max_length=40)
    admdvs: str = Field(pattern=r"^\d{6}$")
    from_insutype: str = Field(pattern=r"^\d{3}$")
    approved_by: str = Field(min_length=1, max_length=50)
    audit_ref: str = Field(min_length=1, max_length=100)
