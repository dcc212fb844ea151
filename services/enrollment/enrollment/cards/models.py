from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field

from enrollment.db import Base
from shared.db import BigIntPK, timestamp_field


class Card(Base, table=True):
    """A social-security card (社会保障卡): number, chip serial (卡识别码) and status."""

    __tablename__ = "cards"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    card_no: str = Field(max_length=30, unique=True, index=True)
    card_sn: str = Field(max_length=32)
    psn_no: str = Field(max_length=30, index=True, foreign_key="persons.psn_no")
    #: active, lost (挂失), replaced (换卡).
    status: str = Field(default="active", max_length=10)
    issued_on: date
    changed_on: date
    replaced_by: str | None = Field(default=None, max_length=30)
    created_at: datetime = timestamp_field()
