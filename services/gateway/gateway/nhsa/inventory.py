"""Inventory 进销存 (docs/interface.md, "Inventory"): a pharmacy's (or hospital pharmacy's) stock-takes
(3501), stock changes (3502), purchases and their returns (3503/3504), sales and their returns (3505/3506),
each of one batch (``fixmedins_bchno``) with the traceability codes (追溯码) it moves, and 3507 taking back
what was uploaded of a batch. Stock never goes below zero; a sale returned puts its codes back in stock."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.nhsa.encounter import WireNode
from gateway.nhsa.pharmacy import SETL_ID
from gateway.nhsa.tracing import TraceInfo, codes_of
from gateway.nhsa.transaction import Call, Transaction
from shared.contracts.v1.inventory import DeletionIn, MovementIn, MovementOut, Operation


def _date(value: Any) -> Any:
    """``yyyy-MM-dd`` (a time after it, as some HIS send, is dropped); empty is absent."""
    if isinstance(value, str):
        value = value.strip()[:10]
        return value or None
    return value


class Goods(WireNode):
    """What every inventory node carries: the drug, the batch and its traceability codes."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    med_list_codg: str = Field(min_length=1, max_length=50)
    fixmedins_hilist_id: str = Field(default="", max_length=30)
    fixmedins_hilist_name: str = Field(default="", max_length=200)
    fixmedins_bchno: str = Field(min_length=1, max_length=30)
    manu_lotnum: str | None = Field(default=None, max_length=30)
    manu_date: date | None = None
    expy_end: date | None = None
    drug_trac_codg: str | None = Field(default=None, max_length=4000)
    drugtracinfo: list[TraceInfo] | None = Field(default=None, max_length=1000)

    _dates = field_validator("manu_date", "expy_end", mode="before")(_date)

    @model_validator(mode="after")
    def _codes(self) -> Goods:
        codes_of(self.drug_trac_codg, self.drugtracinfo)
        return self

    def movement(self, call: Call, operation: Operation, cnt: Decimal, **more: Any) -> MovementIn:
        return MovementIn(
            fixmedins_code=call.envelope.fixmedins_code,
            operation=operation,
            fixmedins_bchno=self.fixmedins_bchno,
            med_list_codg=self.med_list_codg,
            fixmedins_hilist_id=self.fixmedins_hilist_id,
            fixmedins_hilist_name=self.fixmedins_hilist_name,
            cnt=cnt,
            manu_lotnum=self.manu_lotnum,
            manu_date=self.manu_date,
            expy_end=self.expy_end,
            trace_codes=codes_of(self.drug_trac_codg, self.drugtracinfo),
            **more,
        )


Count = Field(ge=0, max_digits=16, decimal_places=4)


class StockTake(Goods):
    inv_cnt: Decimal = Count
    invdate: date | None = None

    _invdate = field_validator("invdate", mode="before")(_date)


class StockChange(Goods):
    inv_chg_type: str = Field(pattern=r"^10[1-7]$")
    cnt: Decimal = Count


class Purchase(Goods):
    purc_retn_cnt: Decimal = Count


class Sale(Goods):
    sel_retn_cnt: Decimal = Count
    setl_id: str | None = Field(default=None, pattern=SETL_ID)
    psn_no: str | None = Field(default=None, max_length=30)

    @field_validator("setl_id", "psn_no", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


class Input3501(BaseModel):
    model_config = ConfigDict(extra="ignore")

    invinfo: StockTake


class Input3502(BaseModel):
    model_config = ConfigDict(extra="ignore")

    invinfo: StockChange


class Input3503(BaseModel):
    model_config = ConfigDict(extra="ignore")

    purcinfo: Purchase


class Input3505(BaseModel):
    model_config = ConfigDict(extra="ignore")

    selinfo: Sale


def _result(moved: MovementOut) -> dict[str, Any]:
    return {
        "result": {
            "fixmedins_bchno": moved.batch.fixmedins_bchno,
            "med_list_codg": moved.batch.med_list_codg,
            "inv_cnt": moved.batch.on_hand,
            "chg_cnt": moved.delta,
        }
    }


async def _handle_3501(call: Call, data: Input3501) -> dict[str, Any]:
    node = data.invinfo
    return _result(await call.downstream.inventory_movement(node.movement(call, "stocktake", node.inv_cnt)))


async def _handle_3502(call: Call, data: Input3502) -> dict[str, Any]:
    node = data.invinfo
    change = node.movement(call, "change", node.cnt, inv_chg_type=node.inv_chg_type)
    return _result(await call.downstream.inventory_movement(change))


async def _handle_3503(call: Call, data: Input3503) -> dict[str, Any]:
    node = data.purcinfo
    return _result(
        await call.downstream.inventory_movement(node.movement(call, "purchase", node.purc_retn_cnt))
    )


async def _handle_3504(call: Call, data: Input3503) -> dict[str, Any]:
    node = data.purcinfo
    back = node.movement(call, "purchase_return", node.purc_retn_cnt)
    return _result(await call.downstream.inventory_movement(back))


async def _handle_3505(call: Call, data: Input3505) -> dict[str, Any]:
    node = data.selinfo
    sale = node.movement(call, "sale", node.sel_retn_cnt, setl_id=node.setl_id, psn_no=node.psn_no)
    return _result(await call.downstream.inventory_movement(sale))


async def _handle_3506(call: Call, data: Input3505) -> dict[str, Any]:
    node = data.selinfo
    back = node.movement(call, "sale_return", node.sel_retn_cnt, setl_id=node.setl_id, psn_no=node.psn_no)
    return _result(await call.downstream.inventory_movement(back))


class Data3507(WireNode):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    fixmedins_bchno: str = Field(min_length=1, max_length=30)
    #: 1 盘存, 2 库存变更, 3 采购 (and returns), 4 销售 (and returns).
    inv_data_type: str = Field(pattern=r"^[1-4]$")


class Input3507(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data3507


async def _handle_3507(call: Call, data: Input3507) -> dict[str, Any]:
    d = data.data
    undone = await call.downstream.inventory_deletion(
        DeletionIn(
            fixmedins_code=call.envelope.fixmedins_code,
            fixmedins_bchno=d.fixmedins_bchno,
            inv_data_type=d.inv_data_type,
        )
    )
    batch = undone.batch
    return {
        "result": {
            "fixmedins_bchno": batch.fixmedins_bchno,
            "med_list_codg": batch.med_list_codg,
            "inv_cnt": batch.on_hand,
            "deleted_cnt": undone.undone,
        }
    }


def _declared(infno: str, label: str, model: type[BaseModel], handler: Any) -> Transaction:
    return Transaction(infno, "inventory", label, model, handler, changes_state=True, replayed=True)


TRANSACTIONS = (
    _declared("3501", "商品盘存信息上传", Input3501, _handle_3501),
    _declared("3502", "商品库存变更", Input3502, _handle_3502),
    _declared("3503", "商品采购", Input3503, _handle_3503),
    _declared("3504", "商品采购退货", Input3503, _handle_3504),
    _declared("3505", "商品销售", Input3505, _handle_3505),
    _declared("3506", "商品销售退货", Input3505, _handle_3506),
    _declared("3507", "商品信息删除", Input3507, _handle_3507),
)
