from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ADMDVS = r"^\d{6}$"


class RegionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    admdvs: str = Field(pattern=ADMDVS)
    name: str = Field(min_length=1, max_length=100)
    collection_begin_month: int = Field(default=9, ge=1, le=12)
    collection_begin_day: int = Field(default=1, ge=1, le=31)
    collection_end_month: int = Field(default=12, ge=1, le=12)
    collection_end_day: int = Field(default=31, ge=1, le=31)
    late_until_month: int | None = Field(default=None, ge=1, le=12)
    late_until_day: int | None = Field(default=None, ge=1, le=31)
    late_waiting_days: int = Field(default=0, ge=0, le=366)
    newborn_grace_days: int = Field(default=90, ge=0, le=366)
    subsidy_central: int = Field(default=0, ge=0, le=1000)
    subsidy_provincial: int = Field(default=0, ge=0, le=1000)
    subsidy_city: int = Field(default=0, ge=0, le=1000)
    subsidy_county: int = Field(default=1, ge=0, le=1000)

    @model_validator(mode="after")
    def _consistent(self) -> RegionIn:
        if (self.late_until_month is None) != (self.late_until_day is None):
            raise ValueError("补缴截止日需同时给出月和日")
        if self.subsidy_central + self.subsidy_provincial + self.subsidy_city + self.subsidy_county == 0:
            raise ValueError("财政补助分担比例不能全为0")
        if (self.collection_begin_month, self.collection_begin_day) > (
            self.collection_end_month,
            self.collection_end_day,
        ):
            raise ValueError("集中缴费期开始日晚于结束日")
        return self


class RegionOut(RegionIn):
    model_config = ConfigDict(from_attributes=True)


class StandardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    year: int = Field(ge=2000, le=2100)
    category: str = Field(pattern=r"^(minor|adult)$")
    tier: str = Field(default="1", pattern=r"^[A-Za-z0-9]{1,10}$")
    personal_fen: int = Field(ge=0, le=10_000_00)
    subsidy_fen: int = Field(ge=0, le=10_000_00)

    @model_validator(mode="after")
    def _minor_has_one_standard(self) -> StandardIn:
        if self.category == "minor" and self.tier != "1":
            raise ValueError("学生和未成年人实行统一缴费标准，档次只能为 1")
        return self


class StandardOut(StandardIn):
    model_config = ConfigDict(from_attributes=True)

    admdvs: str


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    population: int = Field(gt=0, le=100_000_000)


class EnrollmentRate(BaseModel):
    admdvs: str
    year: int
    target_population: int
    covered_persons: int
    rate: Decimal
