from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

ADMDVS = r"^\d{6}$"


class CityPoolingIn(BaseModel):
    county_admdvs: str = Field(pattern=ADMDVS)
    city_admdvs: str = Field(pattern=ADMDVS)
    effective_from: date
    approved_by: str = Field(min_length=1, max_length=50)
    document_ref: str = Field(min_length=1, max_length=100)


class CityPoolingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    county_admdvs: str
    city_admdvs: str
    effective_from: date
    approved_by: str
    document_ref: str
    created_at: datetime


class FundPlanIn(BaseModel):
    """A monthly fund-use plan (基金用款计划): the city pays a county's expenditure account."""

    plan_id: str = Field(min_length=1, max_length=40)
    county_admdvs: str = Field(pattern=ADMDVS)
    insutype: str = Field(pattern=r"^\d{3}$")
    fund_pay_type: str = Field(default="390100", pattern=r"^\d{6}$")
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    amount_fen: int = Field(gt=0, le=10**15)


class FundPlanOut(BaseModel):
    plan_id: str
    entry_id: int
    amount_fen: int
    replayed: bool
