"""The filings' bodies between the gateway (2503/2504/5301) or an operator and this service."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from settlement.filings.models import Filing


class ChronicFilingCreate(BaseModel):
    """2503 门慢门特病种备案: the person, the disease, the validity dates."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    psn_no: str = Field(min_length=1, max_length=30)
    insutype: str = Field(min_length=1, max_length=6)
    insuplc_admdvs: str = Field(pattern=r"^\d{6}$")
    fixmedins_code: str = Field(min_length=1, max_length=30)
    opsp_dise_code: str = Field(min_length=1, max_length=30)
    opsp_dise_name: str = Field(min_length=1, max_length=300)
    begndate: date
    enddate: date | None = None
    memo: str | None = Field(default=None, max_length=500)


class DesignatedFilingCreate(BaseModel):
    """2505 人员定点备案: the facility a registered chronic patient is treated at, from ``begndate``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    psn_no: str = Field(min_length=1, max_length=30)
    insutype: str = Field(min_length=1, max_length=6)
    insuplc_admdvs: str = Field(pattern=r"^\d{6}$")
    fixmedins_code: str = Field(min_length=1, max_length=30)
    designated_fixmedins_code: str = Field(min_length=1, max_length=30)
    fix_srt_no: str | None = Field(default=None, max_length=3)
    biz_appy_type: str | None = Field(default=None, max_length=3)
    begndate: date
    enddate: date | None = None
    memo: str | None = Field(default=None, max_length=500)


FilingKind = Literal["chronic", "designated"]


class FilingRevoke(BaseModel):
    """2504 / 2506: the filing by its 待遇申报明细流水号, for the person named, of the kind the code
    revokes."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    psn_no: str = Field(min_length=1, max_length=30)
    kind: FilingKind | None = None
    fixmedins_code: str = Field(min_length=1, max_length=30)
    #: The day from which the filing no longer applies (defaults to today, Beijing time).
    revoked_on: date | None = None
    memo: str | None = Field(default=None, max_length=500)


class FilingOut(BaseModel):
    trt_dcla_detl_sn: str
    kind: str
    psn_no: str
    insutype: str
    fixmedins_code: str
    opsp_dise_code: str | None
    opsp_dise_name: str | None
    designated_fixmedins_code: str | None
    designated_fixmedins_name: str | None
    fix_srt_no: str | None
    begndate: date
    enddate: date | None
    status: str
    revoked_on: date | None
    memo: str | None

    @classmethod
    def of(cls, filing: Filing) -> FilingOut:
        return cls.model_validate(filing, from_attributes=True)


class FilingList(BaseModel):
    filings: list[FilingOut]
