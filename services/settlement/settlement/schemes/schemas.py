from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class SwitchoverIn(BaseModel):
    admdvs: str = Field(pattern=r"^\d{6}$")
    unified_from: date
    approved_by: str = Field(min_length=1, max_length=50)
    document_ref: str = Field(min_length=1, max_length=100)


class SwitchoverOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    admdvs: str
    unified_from: date
    approved_by: str
    document_ref: str
    created_at: datetime
