"""What a legacy migration leaves behind besides the persons, enrollments, payments, identities and cards
it creates: the legacy systems' own person ids, and one marker per migrated person (resume and re-runs)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from enrollment.db import Base
from shared.db import BigIntPK, timestamp_field


class LegacyPersonId(Base, table=True):
    """A person's id in a legacy system (URBMI 391 or NCMS 380), linked to the unified person."""

    __tablename__ = "legacy_person_ids"
    __table_args__ = (UniqueConstraint("insutype", "legacy_psn_id", name="uq_legacy_person_id"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    #: 391 (城镇居民医保) or 380 (新农合).
    insutype: str = Field(max_length=6)
    legacy_psn_id: str = Field(max_length=40)
    certno: str = Field(max_length=18, index=True)
    psn_no: str = Field(max_length=30, index=True, foreign_key="persons.psn_no")
    created_at: datetime = timestamp_field()


class MigratedPerson(Base, table=True):
    """One row per person the migration wrote, committed with that person's rows: a re-run (or a run
    resumed after a crash) skips the person, and the digest tells whether the exports still say the same."""

    __tablename__ = "legacy_migrated_persons"

    certno: str = Field(primary_key=True, max_length=18)
    psn_no: str = Field(max_length=30, index=True, foreign_key="persons.psn_no")
    #: SHA-256 of the person as resolved from the exports (names, years, payments, identities, cards).
    digest: str = Field(max_length=64)
    #: Which exports the person came from: "391", "380" or "391+380".
    sources: str = Field(max_length=10)
    migrated_at: datetime = timestamp_field()
