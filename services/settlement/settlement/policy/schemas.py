from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, model_validator

from settlement.policy.document import PolicyDocument


class PolicyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    admdvs: str = Field(pattern=r"^\d{6}$")
    insutype: str = Field(pattern=r"^(390|391|380)$")
    name: str = Field(min_length=1, max_length=200)
    effective_from: date
    effective_to: date | None = None
    document: PolicyDocument

    @model_validator(mode="after")
    def _period(self) -> PolicyCreate:
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError("政策失效日期早于生效日期")
        return self


class PolicyOut(PolicyCreate):
    model_config = ConfigDict(from_attributes=True)

    id: int
