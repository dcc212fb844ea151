from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field

from enrollment.db import Base
from shared.db import AwareDateTime, timestamp_field


class Voucher(Base, table=True):
    """An e-voucher token issued to an insured person (shared/voucher.py; docs/interface.md, "E-voucher"):
    the token itself says whose it is and until when; this row is the issuer's record, which says whether
    it was revoked."""

    __tablename__ = "vouchers"

    token: str = Field(primary_key=True, max_length=50)
    psn_no: str = Field(max_length=30, index=True)
    expires_at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(AwareDateTime(), nullable=True))
    issued_at: datetime = timestamp_field()
