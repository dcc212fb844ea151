from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Date, UniqueConstraint
from sqlmodel import Field

from settlement.db import Base
from shared.db import BigIntPK, ExactDecimal, timestamp_field


class InventoryBatch(Base, table=True):
    """A pharmacy's batch of one drug (定点医药机构批次流水号) and how much of it is on hand (docs/domain.md,
    "Inventory"). Never below zero."""

    __tablename__ = "inventory_batches"
    __table_args__ = (UniqueConstraint("fixmedins_code", "fixmedins_bchno", name="uq_inventory_batch"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    fixmedins_code: str = Field(max_length=30)
    fixmedins_bchno: str = Field(max_length=30)
    med_list_codg: str = Field(max_length=50)
    fixmedins_hilist_id: str = Field(default="", max_length=30)
    fixmedins_hilist_name: str = Field(default="", max_length=200)
    manu_lotnum: str | None = Field(default=None, max_length=30)
    manu_date: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))
    expy_end: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))
    on_hand: Decimal = Field(default=Decimal(0), sa_type=ExactDecimal(16, 4))
    updated_at: datetime = timestamp_field()


class InventoryMovement(Base, table=True):
    """One uploaded movement (3501-3506) with what it changed, so that 3507 can take it back."""

    __tablename__ = "inventory_movements"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    fixmedins_code: str = Field(max_length=30, index=True)
    fixmedins_bchno: str = Field(max_length=30)
    #: stocktake, change, purchase, purchase_return, sale, sale_return.
    operation: str = Field(max_length=16)
    delta: Decimal = Field(sa_type=ExactDecimal(16, 4))
    setl_id: str | None = Field(default=None, max_length=30)
    psn_no: str | None = Field(default=None, max_length=30)
    #: Each traceability code moved, with the status it had before (null: not known before).
    codes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: Taken back by 3507.
    deleted: bool = False
    created_at: datetime = timestamp_field()


class TraceCode(Base, table=True):
    """A drug traceability code (追溯码) a pharmacy received: in_stock, sold or returned (to the supplier)."""

    __tablename__ = "trace_codes"
    __table_args__ = (UniqueConstraint("fixmedins_code", "drug_trac_codg", name="uq_trace_code"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    fixmedins_code: str = Field(max_length=30)
    drug_trac_codg: str = Field(max_length=100)
    med_list_codg: str = Field(max_length=50)
    fixmedins_bchno: str = Field(max_length=30)
    status: str = Field(max_length=10)
    setl_id: str | None = Field(default=None, max_length=30)
    updated_at: datetime = timestamp_field()
