"""1901 字典表查询 (docs/interface.md, "1901 dictionary"): the code tables the gateway reads the wire with
(``gateway.protocol.code_tables``), one row per code, answered by the gateway itself. A HIS that builds its
lists from this answer sends only codes the gateway accepts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.declaration import Call, Transaction
from gateway.protocol.code_tables import TABLES, CodeTable
from gateway.protocol.errors import Refusal


class Data1901(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    #: 字典类型: the field whose codes are wanted (``med_type``...); empty for every table.
    type: str | None = Field(default=None, max_length=30)
    #: 父字典值, 医保区划, 查询日期, 有效标志: read for shape; the tables here are flat and the region's own.
    parentValue: str | None = Field(default=None, max_length=30)
    admdvs: str | None = Field(default=None, max_length=6)
    date: str | None = Field(default=None, max_length=19)
    vali_flag: str | None = Field(default=None, max_length=3)


class Input1901(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data1901 = Field(default_factory=Data1901)


def rows(table: CodeTable) -> list[dict[str, Any]]:
    return [
        {
            "type": table.type,
            "label": label,
            "value": value,
            "parent_value": "",
            "sort": sort,
            "vali_flag": "1",
        }
        for sort, (value, label) in enumerate(table.values.items(), start=1)
    ]


async def _handle_1901(call: Call, data: Input1901) -> dict[str, Any]:
    wanted = data.data.type
    if wanted:
        table = TABLES.get(wanted)
        if table is None:
            known = "、".join(TABLES)
            raise Refusal("E_INPUT", f"input.data.type: 字典类型 {wanted} 不存在，可查询: {known}")
        return {"list": rows(table)}
    return {"list": [row for table in TABLES.values() for row in rows(table)]}


TRANSACTIONS = (Transaction("1901", "dictionary", "字典表查询", Input1901, _handle_1901, downstream=False),)
