"""Reservations of the inter-platform protocol on the insured side (docs/interface.md,
"Between platforms"): the policy result computed for a treating platform and the person's yearly totals
held for it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field

from settlement.db import Base
from shared.db import AwareDateTime, BigIntPK, utcnow


class Reservation(Base, table=True):
    __tablename__ = "interplatform_reservations"
    __table_args__ = (UniqueConstraint("platform", "msgid", name="uq_reservation_msgid"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    reservation_id: str = Field(max_length=40, unique=True)
    platform: str = Field(max_length=30)
    #: The treating platform's msgid of the reserve call, and the digest of its body (a repeat with another
    #: body is refused).
    msgid: str = Field(max_length=40)
    request_sha256: str = Field(max_length=64)
    psn_no: str = Field(max_length=30, index=True)
    insutype: str = Field(max_length=6)
    year: int
    #: reserved, confirmed, released.
    status: str = Field(max_length=10)
    expires_at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))
    #: What the reservation added to the person's yearly totals (taken back on release).
    ytd_delta: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: The answer's amounts and trace (``ReservationOut`` without the state fields).
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    treating_setl_id: str | None = Field(default=None, max_length=40)
    confirm_msgid: str | None = Field(default=None, max_length=40)
    release_msgid: str | None = Field(default=None, max_length=40)
    release_reason: str | None = Field(default=None, max_length=10)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))
