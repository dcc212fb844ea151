"""The insured platform's side of the inter-platform protocol (docs/interface.md, "Between platforms"):
what a treating platform sends and reads. Domain names, amounts in integer fen."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator


class EligibilityQuery(BaseModel):
    """Is the person covered here for care on ``begntime``, under which scheme, with which yearly totals and
    filings? Writes nothing."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    #: The treating platform's message id (logged with the request; a read needs no replay).
    msgid: str = Field(min_length=1, max_length=40)
    #: The treating platform's id, as its service token names it.
    platform: str = Field(pattern=r"^[A-Za-z0-9_-]{1,30}$")
    psn_no: str = Field(min_length=1, max_length=30)
    insutype: str = Field(pattern=r"^(390|391|380)$")
    begntime: datetime

    @field_validator("begntime")
    @classmethod
    def _dated(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("begntime must carry a timezone")
        if not 2000 <= value.year <= 2999:
            raise ValueError("begntime out of range")
        return value


class EligibilityAnswer(BaseModel):
    psn_no: str
    #: The day of care (Beijing date of ``begntime``).
    on: date
    covered: bool
    #: Why not (the refusal's ``[CODE] text``), when not covered or no policy is in force.
    reason: str | None = None
    #: The scheme the person is settled and booked under, and the one whose coverage admits them (differs
    #: for a legacy scheme after its region's switch-over).
    insutype: str | None = None
    coverage_insutype: str | None = None
    insuplc_admdvs: str | None = None
    psn_type: str | None = None
    #: Identity categories (特困, 低保…) valid on the day.
    identities: list[str] = Field(default_factory=list)
    #: The year's totals the insured region's policy reads (the accumulator's columns), fen or counts.
    totals: dict[str, int] = Field(default_factory=dict)
    settlement_count: int = 0
    #: The filings in force on the day: 门慢门特 diseases, regions and institutions filed for referral /
    #: out-of-area care.
    chronic_diseases: list[str] = Field(default_factory=list)
    referral_regions: list[str] = Field(default_factory=list)
    referral_facilities: list[str] = Field(default_factory=list)
