from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from fund_ledger.books.chart import POOLED_FUND

ADMDVS = r"^\d{6}$"
INSUTYPE = r"^\d{3}$"


class SweepIn(BaseModel):
    admdvs: str = Field(pattern=ADMDVS)
    insutype: str = Field(pattern=INSUTYPE)
    #: Sweep what reached the income account up to the end of this (Beijing) date.
    as_of: date


class SweepOut(BaseModel):
    sweep_id: str
    admdvs: str
    insutype: str
    as_of: date
    amount_fen: int
    entry_id: int | None
    replayed: bool


class ClearingBatchIn(BaseModel):
    batch_id: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._:-]+$")
    admdvs: str = Field(pattern=ADMDVS)
    insutype: str = Field(pattern=INSUTYPE)
    #: The fund whose special account pays (basic pooled fund unless told).
    fund_pay_type: str = Field(default=POOLED_FUND, pattern=r"^\d{6}$")
    fixmedins_code: str = Field(min_length=1, max_length=30)
    period_from: date
    period_to: date


class ClearingBatchOut(BaseModel):
    batch_id: str
    admdvs: str
    insutype: str
    fund_pay_type: str
    fixmedins_code: str
    period_from: date
    period_to: date
    brought_forward_fen: int
    period_owed_fen: int
    owed_fen: int
    deposit_ratio: Decimal
    deposit_fen: int
    available_fen: int
    paid_fen: int
    carried_forward_fen: int
    transfer_entry_id: int | None
    clearing_entry_id: int | None
    created_at: datetime
    #: True when the batch had been run before: the stored result, nothing posted now.
    replayed: bool


class SubsidyReceiptIn(BaseModel):
    #: The treasury's or bank's reference of the transfer: one receipt is booked once.
    receipt_id: str = Field(min_length=1, max_length=40)
    admdvs: str = Field(pattern=ADMDVS)
    insutype: str = Field(pattern=INSUTYPE)
    #: central, provincial, city or county.
    level: str = Field(pattern="^(central|provincial|city|county)$")
    amount_fen: int = Field(gt=0, le=10**14)
    received_on: date


class SubsidyReceiptOut(BaseModel):
    receipt_id: str
    entry_id: int
    amount_fen: int
    receivable_left_fen: int
    replayed: bool
