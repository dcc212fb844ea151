"""City-level pooling (市级统筹): which counties pool into which city, from when."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field

from fund_ledger.db import Base
from shared.db import timestamp_field


class CityPooling(Base, table=True):
    """From ``effective_from`` the county's collected income goes to the city's special account (统收统支)
    and the city pays the county's expenditure account by monthly fund-use plans."""

    __tablename__ = "city_pooling"

    county_admdvs: str = Field(primary_key=True, max_length=6)
    city_admdvs: str = Field(max_length=6, index=True)
    effective_from: date
    approved_by: str = Field(max_length=50)
    document_ref: str = Field(max_length=100)
    created_at: datetime = timestamp_field()
