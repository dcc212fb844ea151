"""The settlement service's inventory API (进销存) as the gateway calls it for 3501-3507 (version 1;
docs/interface.md, "Inventory"): one movement of a pharmacy's batch, with the traceability codes
(追溯码, ``drug_trac_codg``) it moves."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from shared.contracts.v1.settlement import Quantity

#: 3501 盘存, 3502 库存变更, 3503 采购, 3504 采购退货, 3505 销售, 3506 销售退货.
Operation = Literal["stocktake", "change", "purchase", "purchase_return", "sale", "sale_return"]
TRACE_CODE = r"^[0-9A-Za-z]{6,100}$"


class MovementIn(BaseModel):
    fixmedins_code: str = Field(min_length=1, max_length=30)
    operation: Operation
    #: 定点医药机构批次流水号: the institution's own batch number.
    fixmedins_bchno: str = Field(min_length=1, max_length=30)
    med_list_codg: str = Field(min_length=1, max_length=50)
    fixmedins_hilist_id: str = Field(default="", max_length=30)
    fixmedins_hilist_name: str = Field(default="", max_length=200)
    #: How many (smallest priced unit): bought, returned, sold, counted (a stock-take: what is on hand).
    cnt: Decimal = Field(ge=0, max_digits=16, decimal_places=4)
    #: 3502 库存变更类型: 101 调拨入库, 102 调拨出库, 103 盘盈, 104 盘损, 105 销毁, 106 其他入库,
    #: 107 其他出库.
    inv_chg_type: str | None = Field(default=None, pattern=r"^10[1-7]$")
    manu_lotnum: str | None = Field(default=None, max_length=30)
    manu_date: date | None = None
    expy_end: date | None = None
    #: A sale's settlement and person, when it was settled with insurance.
    setl_id: str | None = Field(default=None, max_length=30)
    psn_no: str | None = Field(default=None, max_length=30)
    trace_codes: list[str] = Field(default_factory=list, max_length=1000)


class BatchOut(BaseModel):
    fixmedins_code: str
    fixmedins_bchno: str
    med_list_codg: str
    on_hand: Quantity
    #: The batch's traceability codes the pharmacy holds (in stock), sorted.
    trace_codes: list[str]


class MovementOut(BaseModel):
    movement_id: int
    operation: str
    #: The change in stock this movement made (negative: out).
    delta: Quantity
    batch: BatchOut


class DeletionIn(BaseModel):
    fixmedins_code: str = Field(min_length=1, max_length=30)
    fixmedins_bchno: str = Field(min_length=1, max_length=30)
    #: 进销存数据类型: 1 盘存, 2 库存变更, 3 采购 (and its returns), 4 销售 (and its returns).
    inv_data_type: Literal["1", "2", "3", "4"]


class DeletionOut(BaseModel):
    undone: int
    batch: BatchOut
