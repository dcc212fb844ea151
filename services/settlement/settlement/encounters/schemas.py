from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from settlement.settlements.schemas import LineOut


class EncounterOpen(BaseModel):
    """2201 门诊挂号 / 2401 入院办理."""

    model_config = ConfigDict(extra="forbid")

    msgid: str = Field(min_length=1, max_length=30)
    setting: Literal["outpatient", "inpatient"]
    fixmedins_code: str = Field(min_length=1, max_length=30)
    mdtrtarea_admvs: str = Field(pattern=r"^\d{6}$")
    insuplc_admdvs: str = Field(pattern=r"^\d{6}$")
    psn_no: str = Field(min_length=1, max_length=30)
    insutype: str = Field(pattern=r"^(390|391|380)$")
    ipt_otp_no: str = Field(min_length=1, max_length=30)
    med_type: str = Field(pattern=r"^\d{2,6}$")
    mdtrt_cert_type: str = Field(pattern=r"^(01|02|03)$")
    mdtrt_cert_no: str = Field(min_length=1, max_length=50)
    begntime: datetime
    dise_codg: str | None = Field(default=None, max_length=30)
    dise_name: str | None = Field(default=None, max_length=300)
    matn_type: str | None = Field(default=None, pattern=r"^[12]$")
    filed: bool = False


class DiagnosisUpdate(BaseModel):
    """2203 门诊就诊信息上传 / 2403 住院信息变更."""

    model_config = ConfigDict(extra="forbid")

    fixmedins_code: str = Field(min_length=1, max_length=30)
    med_type: str | None = Field(default=None, pattern=r"^\d{2,6}$")
    dise_codg: str | None = Field(default=None, max_length=30)
    dise_name: str | None = Field(default=None, max_length=300)
    matn_type: str | None = Field(default=None, pattern=r"^[12]$")


class FeeUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feedetl_sn: str = Field(min_length=1, max_length=30)
    chrg_bchno: str = Field(default="", max_length=30)
    med_list_codg: str = Field(min_length=1, max_length=50)
    medins_list_codg: str = Field(min_length=1, max_length=50)
    cnt: Decimal = Field(gt=0, max_digits=16, decimal_places=4)
    pric: Decimal = Field(ge=0, max_digits=16, decimal_places=6)
    amount_fen: int = Field(ge=0)
    hosp_appr_flag: str = Field(default="0", pattern=r"^[012]$")
    fee_ocur_time: datetime


class FeesUpload(BaseModel):
    """2204 门诊费用明细上传 / 2301 住院费用明细上传."""

    model_config = ConfigDict(extra="forbid")

    fixmedins_code: str = Field(min_length=1, max_length=30)
    lines: list[FeeUpload] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _unique(self) -> FeesUpload:
        sns = [x.feedetl_sn for x in self.lines]
        if len(set(sns)) != len(sns):
            raise ValueError("费用明细流水号重复")
        return self


class FeesCancel(BaseModel):
    """2205 (by charge batch, "0000" = every unsettled line) / 2302 (by line numbers, empty = all)."""

    model_config = ConfigDict(extra="forbid")

    fixmedins_code: str = Field(min_length=1, max_length=30)
    chrg_bchno: str | None = Field(default=None, max_length=30)
    feedetl_sns: list[str] = Field(default_factory=list, max_length=1000)


class Discharge(BaseModel):
    """2402 出院办理."""

    model_config = ConfigDict(extra="forbid")

    fixmedins_code: str = Field(min_length=1, max_length=30)
    endtime: datetime
    dise_codg: str | None = Field(default=None, max_length=30)
    dise_name: str | None = Field(default=None, max_length=300)


class EncounterSettle(BaseModel):
    """2206/2207 (outpatient: one charge batch) and 2303/2304 (inpatient: the whole stay)."""

    model_config = ConfigDict(extra="forbid")

    msgid: str = Field(min_length=1, max_length=30)
    fixmedins_code: str = Field(min_length=1, max_length=30)
    psn_no: str = Field(min_length=1, max_length=30)
    mdtrt_cert_type: str = Field(pattern=r"^(01|02|03)$")
    mdtrt_cert_no: str = Field(min_length=1, max_length=50)
    medfee_sumamt_fen: int = Field(ge=0)
    chrg_bchno: str | None = Field(default=None, max_length=30)
    #: 中途结算: settle what is uploaded so far during a long stay, without discharge.
    mid_setl_flag: bool = False
    invono: str | None = Field(default=None, max_length=50)
    #: What the caller settles it as (the gateway: 2206/2207 a visit, 2303/2304 a stay), checked against the
    #: encounter in the settling transaction; None: not checked.
    setting: Literal["outpatient", "inpatient"] | None = None
    #: The med_type the caller settles a visit under (2206/2207), checked against the one registered.
    med_type: str | None = Field(default=None, pattern=r"^\d{2,6}$")


class EncounterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    mdtrt_id: str
    setting: str
    psn_no: str
    fixmedins_code: str
    ipt_otp_no: str
    #: The scheme the encounter settles under, decided at registration / admission (dual track).
    insutype: str
    med_type: str
    begntime: datetime
    endtime: datetime | None
    dise_codg: str | None
    matn_type: str | None
    status: str


class FeesCancelled(BaseModel):
    """2205 / 2302: how many unsettled lines were withdrawn (0 is an answer, not an error)."""

    cancelled: int


class FeesOut(BaseModel):
    """The per-line classification (2204/2301 result), as NHSA returns it."""

    mdtrt_id: str
    lines: list[LineOut]
