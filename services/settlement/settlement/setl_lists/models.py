from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field

from settlement.db import Base
from shared.db import AwareDateTime, BigIntPK, timestamp_field


class SettlementList(Base, table=True):
    """The 医保结算清单 of one inpatient settlement (4101/4101A), checked against the settlement when
    uploaded (docs/domain.md, "Settlement lists"). One per settlement: a withdrawn list (4102 ``stas_type``
    0) is replaced by the next upload."""

    __tablename__ = "settlement_lists"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    setl_id: str = Field(max_length=30, unique=True, index=True)
    mdtrt_id: str = Field(max_length=30)
    psn_no: str = Field(max_length=30)
    fixmedins_code: str = Field(max_length=30, index=True)
    #: 4101 or 4101A.
    version: str = Field(max_length=6)
    #: 1 有效, 0 撤回.
    stas_type: str = Field(default="1", max_length=1)
    adm_time: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))
    dscg_time: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))
    dscg_way: str = Field(max_length=3)
    #: Diagnoses, operations, the fund split and fee classes as checked, and the rest as sent (JSON).
    document: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    uploaded_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
