from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field

from settlement.db import Base
from shared.db import AwareDateTime, BigIntPK, utcnow

ACTIVE = "active"
TERMINATED = "terminated"


class Eligibility(Base, table=True):
    """Read model of who is covered when, fed by ``enrollment.events`` so that settling never waits on the
    enrollment service and survives its outage.

    The identity columns (certno, name, sex, birth date, ethnicity) are copied from ``Person`` (the
    restricted topic ``enrollment.identity``) so that a settlement reads one row; they are NULL while the
    person's identity has not arrived yet (the two topics are not ordered with each other), and a
    settlement is then refused as not yet ready (``covered``)."""

    __tablename__ = "eligibility"
    __table_args__ = (UniqueConstraint("psn_no", "insutype", "year", name="uq_eligibility_person_year"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    psn_no: str = Field(max_length=30, index=True)
    certno: str | None = Field(default=None, max_length=18, index=True)
    psn_name: str | None = Field(default=None, max_length=50)
    gend: str | None = Field(default=None, max_length=1)
    brdy: date | None = None
    #: 民族 code, when enrollment told it (setlinfo.naty; empty on the wire otherwise).
    naty: str | None = Field(default=None, max_length=3)
    insutype: str = Field(max_length=6)
    psn_type: str = Field(max_length=6)
    insuplc_admdvs: str = Field(max_length=6)
    year: int
    coverage_begin: date
    coverage_end: date
    enrollment_id: int
    identities: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: Consecutive insurance years up to this one, legacy schemes included (参保年限合并计算).
    continuous_years: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    #: First day of the current run of continuous cover (1101 psn_insu_date); None when not told.
    psn_insu_date: date | None = None
    #: "active", or "terminated" when enrollment ended the cover early (death, moving away, employee
    #: insurance): ``coverage_end`` is then the last covered day and ``terminated_on`` the day after it.
    status: str = Field(default=ACTIVE, max_length=12, sa_column_kwargs={"server_default": ACTIVE})
    terminated_on: date | None = None
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))


class Person(Base, table=True):
    """Read model of who a covered person is, fed by ``enrollment.person_identity`` on the restricted topic
    ``enrollment.identity`` (and by version 1 of ``coverage_activated`` during the rollout); copied onto
    the person's ``Eligibility`` rows (docs/architecture.md, "Personal data on the bus")."""

    __tablename__ = "persons"

    psn_no: str = Field(max_length=30, primary_key=True)
    certno: str = Field(max_length=18)
    psn_name: str = Field(max_length=50)
    gend: str = Field(max_length=1)
    brdy: date
    naty: str | None = Field(default=None, max_length=3)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))


class Card(Base, table=True):
    """Read model of social-security cards (社会保障卡), fed by ``enrollment.card_status_changed``: a card
    swiped at the counter (mdtrt_cert_type 03) settles only if it is the person's and still active."""

    __tablename__ = "cards"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    card_no: str = Field(max_length=30, unique=True, index=True)
    #: 卡识别码, printed in the chip; changes when the card is replaced.
    card_sn: str = Field(max_length=32)
    psn_no: str = Field(max_length=30, index=True)
    #: "active", "lost" (挂失) or "replaced" (换卡).
    status: str = Field(max_length=12)
    changed_on: date
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))


class VoucherRevocation(Base, table=True):
    """Read model of revoked e-voucher tokens (医保电子凭证), fed by ``enrollment.voucher_revoked``: a token
    whose digest (``shared.voucher.digest``) is here neither opens an encounter nor settles
    (docs/architecture.md, "E-voucher revocation")."""

    __tablename__ = "voucher_revocations"

    voucher_digest: str = Field(primary_key=True, max_length=64)
    psn_no: str = Field(max_length=30)
    revoked_at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))
    #: After this the token is refused as expired anyway: the row may be pruned.
    expires_at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))
    recorded_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))


class YearAccumulator(Base, table=True):
    """A person's year-to-date totals (one row per person, year and scheme), locked for the whole of a
    settlement so that parallel settlements can never pass a deductible, cap or ceiling together. The
    columns mirror settlement.adjudication.engine.YearToDate."""

    __tablename__ = "year_accumulators"
    __table_args__ = (UniqueConstraint("psn_no", "year", "insutype", name="uq_accumulator"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    psn_no: str = Field(max_length=30)
    year: int
    insutype: str = Field(max_length=6)
    outpatient_deductible_fen: int = 0
    outpatient_paid_fen: int = 0
    pooled_paid_fen: int = 0
    chronic_cost_fen: int = 0
    chronic_paid_fen: int = 0
    catastrophic_burden_fen: int = 0
    catastrophic_paid_fen: int = 0
    assistance_base_fen: int = 0
    assistance_paid_fen: int = 0
    admissions: int = 0
    settlement_count: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))
