from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date
from sqlmodel import Field

from settlement.db import Base
from shared.db import AwareDateTime, BigIntPK, timestamp_field


class Filing(Base, table=True):
    """A 备案 the engine reads (docs/domain.md, "Filings"), in force from ``begndate`` to ``enddate`` until
    revoked: a 门慢门特 registration for one chronic or special disease (kind ``chronic``, 2503/2504), or the
    facility a chronic patient is to be treated at (``designated``, 2505/2506)."""

    __tablename__ = "filings"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    #: 待遇申报明细流水号, issued here and answered to the HIS; 2504 names the filing by it.
    trt_dcla_detl_sn: str = Field(max_length=30, unique=True, index=True)
    #: chronic (2503) or designated (2505).
    kind: str = Field(max_length=12)
    psn_no: str = Field(max_length=30, index=True)
    insutype: str = Field(max_length=6)
    insuplc_admdvs: str = Field(max_length=6)
    #: The institution (or the office, for a clerk's REST filing) that filed it.
    fixmedins_code: str = Field(max_length=30)
    #: chronic: the disease.
    opsp_dise_code: str | None = Field(default=None, max_length=30)
    opsp_dise_name: str | None = Field(default=None, max_length=300)
    #: designated: the facility (定点医药机构), its order among the person's (定点排序号) and the kind of
    #: application (业务申请类型, as sent).
    designated_fixmedins_code: str | None = Field(default=None, max_length=30)
    designated_fixmedins_name: str | None = Field(default=None, max_length=200)
    fix_srt_no: str | None = Field(default=None, max_length=3)
    biz_appy_type: str | None = Field(default=None, max_length=3)
    begndate: date = Field(sa_column=Column(Date(), nullable=False))
    enddate: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))
    memo: str | None = Field(default=None, max_length=500)
    #: active or revoked.
    status: str = Field(default="active", max_length=12)
    revoked_on: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))
    revoke_memo: str | None = Field(default=None, max_length=500)
    created_at: datetime = timestamp_field()
    revoked_at: datetime | None = Field(default=None, sa_column=Column(AwareDateTime(), nullable=True))
