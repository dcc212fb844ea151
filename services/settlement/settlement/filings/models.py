from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date
from sqlmodel import Field

from settlement.db import Base
from shared.db import AwareDateTime, BigIntPK, timestamp_field


class Filing(Base, table=True):
    """A 备案 the engine reads (docs/domain.md, "Filings"), in force from ``begndate`` to ``enddate`` until
    revoked: a 门慢门特 registration for one chronic or special disease (kind ``chronic``, 2503/2504), or the
    facility a chronic patient is to be treated at (``designated``, 2505/2506), a referral or out-of-area
    care filing (``referral``, 2501/2502: 转院备案, the region and the institution the person goes to), or an
    accident injury (``injury``, 2507: the cause and the person's declaration that no third party is liable
    and that it is no work injury; Tianjin art. 18 excludes both)."""

    __tablename__ = "filings"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    #: 待遇申报明细流水号, issued here and answered to the HIS; 2504 names the filing by it.
    trt_dcla_detl_sn: str = Field(max_length=30, unique=True, index=True)
    #: chronic (2503), designated (2505), referral (2501) or injury (2507).
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
    #: referral: 就医地 (the region care is filed for), 转往定点医药机构 (if named), 转院类型 / 日期 / 原因 /
    #: 意见, the diagnosis and the hospital's consent flag, and (2501A) the visit transferred from.
    mdtrtarea_admdvs: str | None = Field(default=None, max_length=6)
    reflin_medins_no: str | None = Field(default=None, max_length=30)
    reflin_medins_name: str | None = Field(default=None, max_length=200)
    #: referral: 异地就医备案类别 (01-03 resident elsewhere, 04 referred, 05-06 temporary): which of the
    #: insured policy's filed ratios applies (docs/domain.md, "Filings"). None only on rows stored before.
    dcla_type: str | None = Field(default=None, max_length=3)
    refl_type: str | None = Field(default=None, max_length=6)
    refl_date: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))
    refl_rea: str | None = Field(default=None, max_length=300)
    refl_opnn: str | None = Field(default=None, max_length=300)
    hosp_agre_refl_flag: str | None = Field(default=None, max_length=3)
    refl_old_mdtrt_id: str | None = Field(default=None, max_length=30)
    diag_code: str | None = Field(default=None, max_length=30)
    diag_name: str | None = Field(default=None, max_length=300)
    #: injury: when and where, the cause (致伤原因), whether a third party is liable and whether it is a
    #: work injury as declared (docs/domain.md, "Filings": either one excludes the pooled fund).
    trum_time: datetime | None = Field(default=None, sa_column=Column(AwareDateTime(), nullable=True))
    trum_site: str | None = Field(default=None, max_length=200)
    trum_rea: str | None = Field(default=None, max_length=300)
    thrd_pty_resp_flag: str | None = Field(default=None, max_length=1)
    wrk_inj_flag: str | None = Field(default=None, max_length=1)
    begndate: date = Field(sa_column=Column(Date(), nullable=False))
    enddate: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))
    memo: str | None = Field(default=None, max_length=500)
    #: active or revoked.
    status: str = Field(default="active", max_length=12)
    revoked_on: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))
    revoke_memo: str | None = Field(default=None, max_length=500)
    created_at: datetime = timestamp_field()
    revoked_at: datetime | None = Field(default=None, sa_column=Column(AwareDateTime(), nullable=True))
