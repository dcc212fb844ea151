from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, model_validator


class InstitutionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fixmedins_code: str = Field(pattern=r"^[A-Z0-9]{6,30}$")
    fixmedins_name: str = Field(min_length=1, max_length=200)
    fixmedins_type: str = Field(pattern=r"^(1|2)$", description="1 定点医疗机构, 2 定点零售药店")
    hosp_lv: str = Field(pattern=r"^(1|2|3|9)$", description="1/2/3 hospital level, 9 pharmacy")
    admdvs: str = Field(pattern=r"^\d{6}$")
    status: str = Field(default="active", pattern=r"^(active|suspended|terminated)$")
    agreement_begin: date
    agreement_end: date | None = None

    @model_validator(mode="after")
    def _period(self) -> InstitutionCreate:
        if self.agreement_end is not None and self.agreement_end < self.agreement_begin:
            raise ValueError("协议结束日期早于开始日期")
        return self


class InstitutionOut(InstitutionCreate):
    model_config = ConfigDict(from_attributes=True)
