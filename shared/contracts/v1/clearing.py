"""The fund ledger's clearing applications (清算申请) as the gateway calls it for 3203/3204 (version 1;
docs/interface.md, "3203 / 3204 清算申请"): an institution applies for a period to be cleared, may revoke
the application until the fund clears it, and the clearing batch that pays it takes the application as its
input."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field


class ApplicationIn(BaseModel):
    fixmedins_code: str = Field(min_length=1, max_length=30)
    #: The fund's pooling area (清算经办机构) and scheme.
    admdvs: str = Field(pattern=r"^\d{6}$")
    insutype: str = Field(pattern=r"^\d{3}$")
    clr_type: str = Field(default="", max_length=6)
    period_from: date
    period_to: date


class RevocationIn(BaseModel):
    fixmedins_code: str = Field(min_length=1, max_length=30)


class ApplicationOut(BaseModel):
    clr_appy_evt_id: str
    fixmedins_code: str
    admdvs: str
    insutype: str
    clr_type: str
    period_from: date
    period_to: date
    #: applied (10 已申请), revoked, cleared (50 已清算).
    status: Literal["applied", "revoked", "cleared"]
    batch_id: str | None = None
    paid_fen: int | None = None
    applied_at: datetime
