"""The settlement service's per-settlement amounts for a period (``GET /api/v1/reconciliation/settlements``),
as the ledger's reconciliation and the gateway's 3202 detail reconciliation read them (version 1;
docs/interface.md, "3202 对明细账")."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field


class SettlementAmount(BaseModel):
    setl_id: str
    kind: Literal["settlement", "reversal"]
    #: For a reversal, the settlement it undoes.
    reversal_of: str | None = None
    fixmedins_code: str
    insutype: str
    clr_type: str
    day: date
    setl_time: datetime
    medfee_sumamt_fen: int
    #: Negative for a reversal.
    fund_pay_sumamt_fen: int
    acct_pay_fen: int
    mdtrt_id: str = ""
    psn_no: str = ""
    #: Each fund's payment (fund_pay_type -> fen; negative for a reversal).
    funds: dict[str, int] = Field(default_factory=dict)


class SettlementsOut(BaseModel):
    settlements: list[SettlementAmount]
