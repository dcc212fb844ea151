from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date
from sqlmodel import Field

from settlement.db import Base
from shared.db import AwareDateTime, BigIntPK, timestamp_field


class Filing(Base, table=True):
    """A 备案 the engine reads (docs/domain.md, "Filings"): today the 门慢门特 registration of a person for
    one chronic or special disease (2503), in force from ``begndate`` to ``enddate`` until revoked (2504)."""

    __tablename__ = "filings"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    #: 待遇申报明细流水号, issued here and answered to the HIS; 2504 names the filing by it.
    trt_dcla_detl_sn: str = Field(max_length=30, unique=True, index=True)
    #: chronic (2503).
    kind: str = Field(max_length=12)
    psn_no: str = Field(max_length=30, index=True)
    insutype: str = Field(max_length=6)
    insuplc_admdvs: str = Field(max_length=6)
    #: The institution (or the office, for a clerk's REST filing) that filed it.
    fixmedins_code: str = Field(max_length=30)
    opsp_dise_code: str = Field(max_length=30)
    opsp_dise_name: str = Field(max_length=300)
    begndate: date = Field(sa_column=Column(Date(), nullable=False))
    enddate: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))
    memo: str | None = Field(default=None, max_length=500)
    #: active or revoked.
    status: str = Field(default="active", max_length=12)
    revoked_on: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))
    revoke_memo: str | None = Field(default=None, max_length=500)
    created_at: datetime = timestamp_field()
    revoked_at: datetime | None = Field(default=None, sa_column=Column(AwareDateTime(), nullable=True))
