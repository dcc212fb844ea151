"""Reservations of the inter-platform protocol on the insured side (docs/interface.md,
"Between platforms"): the policy result computed for a treating platform and the person's yearly totals
held for it."""

from __future__ import annotations

from datetime import date, datetime
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
    #: Where the care was (the treating platform's institution, its level and region) and its kind: what
    #: the event of a confirmation names (None on reservations made before they were kept).
    fixmedins_code: str | None = Field(default=None, max_length=30)
    hosp_lv: str | None = Field(default=None, max_length=3)
    mdtrtarea_admvs: str | None = Field(default=None, max_length=6)
    med_type: str | None = Field(default=None, max_length=6)
    confirm_msgid: str | None = Field(default=None, max_length=40)
    release_msgid: str | None = Field(default=None, max_length=40)
    release_reason: str | None = Field(default=None, max_length=10)
    #: The time of care the treating platform named (the day the insured policy was read for).
    begntime: datetime | None = Field(default=None, sa_column=Column(AwareDateTime(), nullable=True))
    #: When it was confirmed and released: the setl_time of the settlement record and of its reversal
    #: (``interplatform.records``), the times of their events. A release without a confirmation before it
    #: has no record. Indexed: reconciliation reads them by period.
    confirmed_at: datetime | None = Field(
        default=None, sa_column=Column(AwareDateTime(), nullable=True, index=True)
    )
    released_at: datetime | None = Field(
        default=None, sa_column=Column(AwareDateTime(), nullable=True, index=True)
    )
    #: A confirmed reservation's release: when the treating platform reversed its settlement (the release
    #: call's ``reversed_at``, else the arrival). The one instant both platforms' monthly statements date
    #: the reversal by (``settlement.interplatform.clearing``).
    reversed_at: datetime | None = Field(
        default=None, sa_column=Column(AwareDateTime(), nullable=True, index=True)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))


class PeerSettlement(Base, table=True):
    """The treating side of the protocol: a settlement of this platform for a person insured on a peer
    platform (pay_loc 4), with the peer's reservation behind it and what is still owed to the peer (a
    confirmation after the settlement committed, a release after its reversal). Written in the
    settlement's or the reversal's transaction; the call to the peer follows the commit and is sent again
    until answered."""

    __tablename__ = "interplatform_peer_settlements"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    setl_id: str = Field(max_length=30, unique=True)
    peer: str = Field(max_length=30)
    #: The reserve call's msgid (the institution's msgid of the settlement: unique on this platform).
    msgid: str = Field(max_length=40)
    reservation_id: str = Field(max_length=40)
    #: reserved (the confirmation is owed), confirmed, releasing (the release is owed), released.
    status: str = Field(max_length=10, index=True)
    #: Until when the peer holds the reservation unconfirmed: a confirmation still owed after it is an
    #: outcome unknown past its window (the alert).
    expires_at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))
    reversal_setl_id: str | None = Field(default=None, max_length=30)
    #: When the peer answered the confirmation (None while owed, or when the settlement was reversed before
    #: it was sent): a reversal after it is a confirmed item reversed (the monthly statement).
    confirmed_at: datetime | None = Field(default=None, sa_column=Column(AwareDateTime(), nullable=True))
    #: Why the settlement was reversed: ``reversal`` (the institution's 2103/2601), ``timeout`` (the peer
    #: released its hold before the confirmation arrived: reversed here automatically); None while it stands.
    release_reason: str | None = Field(default=None, max_length=10)
    #: The person as the peer answered (setlinfo of the settlement and of queries).
    psn_name: str = Field(max_length=50)
    certno: str = Field(max_length=30)
    gend: str = Field(max_length=3)
    brdy: date
    naty: str = Field(default="", max_length=3)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))


class PeerVoid(Base, table=True):
    """The treating side of a 2601 that found nothing settled here for a peer's insured: the peer may still
    hold the year for a reservation whose answer was lost (``msgid``, the reserve call's msgid). The call
    that releases it (or, never reserved, makes sure a late reserve holds nothing) is owed from the 2601's
    transaction until the peer answers it (docs/interface.md, "Between platforms")."""

    __tablename__ = "interplatform_peer_voids"
    __table_args__ = (UniqueConstraint("peer", "msgid", name="uq_peer_void_msgid"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    peer: str = Field(max_length=30)
    msgid: str = Field(max_length=40)
    psn_no: str | None = Field(default=None, max_length=30)
    #: owed (the call not yet answered), sent (answered).
    status: str = Field(max_length=10, index=True)
    #: The peer's answer: released (it held the year and gave it back), voided (it held nothing, and a
    #: late reserve will hold nothing), released_before (its hold was already given back), confirmed
    #: (refused: it had confirmed; logged as an error).
    outcome: str | None = Field(default=None, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))
