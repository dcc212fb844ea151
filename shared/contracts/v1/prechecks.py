"""The settlement service's pre-check API as the gateway calls it for 3101/3102 (a proposed prescription or
order judged by the supervision rules before it is charged, nothing written) and 3103 (the institution's
feedback on a warning), version 1 (docs/interface.md, "Pre-checks")."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

#: A warning's id as a pre-check answers it (``jr_id``) and 3103 names it (``warn_rslt_id``).
WARNING_ID = r"^W[0-9a-f]{40}$"


class ProposedItem(BaseModel):
    """One line of the prescription or order (``fsi_order_dtos``)."""

    rx_id: str = Field(min_length=1, max_length=50)
    med_list_codg: str = Field(min_length=1, max_length=50)
    medins_list_codg: str = Field(default="", max_length=50)
    cnt: Decimal = Field(ge=0, max_digits=16, decimal_places=4)
    pric: Decimal = Field(ge=0, max_digits=16, decimal_places=6)
    amount_fen: int = Field(ge=0)


class PrecheckRequest(BaseModel):
    fixmedins_code: str = Field(min_length=1, max_length=30)
    psn_no: str = Field(min_length=1, max_length=30)
    #: The visit or stay the order is for (a 2201/2401 ``mdtrt_id``), if it has one yet.
    mdtrt_id: str | None = Field(default=None, max_length=30)
    med_type: str = Field(pattern=r"^\d{2,6}$")
    insutype: str = Field(default="390", pattern=r"^\d{3}$")
    #: When the care would be given (the order's start).
    begntime: datetime
    items: list[ProposedItem] = Field(min_length=1, max_length=500)
    #: Only these rules (3101 ``rule_ids``); every enabled one when empty.
    rule_codes: list[str] = Field(default_factory=list, max_length=50)


class Violation(BaseModel):
    jr_id: str
    rule_code: str
    rule_name: str
    #: 1 严重 (care elsewhere at the same time), 2 一般 (buying again before the supply runs out, one card in
    #: two places), 3 提示 (many settlements in a day): docs/domain.md, "Pre-checks".
    severity: Literal["1", "2", "3"]
    summary: str
    #: The order's lines the finding is about (``rx_id``); empty: the order as a whole.
    rx_ids: list[str]
    evidence: dict[str, Any]


class PrecheckOut(BaseModel):
    violations: list[Violation]


class Feedback(BaseModel):
    warn_rslt_id: str = Field(pattern=WARNING_ID)
    #: 1 继续执行医嘱 (a reason is then required), 2 返回修改医嘱.
    dspo_way: Literal["1", "2"]
    dspo_way_rea: str = Field(default="", max_length=500)


class FeedbackRequest(BaseModel):
    fixmedins_code: str = Field(min_length=1, max_length=30)
    #: 1 事前 (3101), 2 事中 (3102).
    warn_type: Literal["1", "2"]
    warns: list[Feedback] = Field(min_length=1, max_length=100)


class FeedbackOut(BaseModel):
    warn_type: str
    recorded: list[str]
