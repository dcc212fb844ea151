"""The insured platform's side of the inter-platform protocol (docs/interface.md, "Between platforms"):
what a treating platform sends and reads. Domain names, amounts in integer fen."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.contracts.v1.settlement import UtcTime


def _dated(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("begntime must carry a timezone")
    if not 2000 <= value.year <= 2999:
        raise ValueError("begntime out of range")
    return value


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
        return _dated(value)


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
    #: The kinds (异地就医备案类别, ``shared.contracts.v1.filings.DclaType``) those filings are of, by the
    #: region or institution filed for: what sets the insured policy's filed ratio (docs/domain.md,
    #: "Filings"). Optional: an older insured side does not send it.
    referral_kinds: dict[str, list[str]] = Field(default_factory=dict)
    #: Who the person is, for the treating platform's answer to its institution (setlinfo's name, ID
    #: number, sex, birth date, 民族); absent when not covered.
    psn_name: str | None = None
    certno: str | None = None
    gend: str | None = None
    brdy: date | None = None
    naty: str | None = None


class PersonQuery(BaseModel):
    """Who is the person with this ID number (or social-security card), insured here? What a treating
    platform asks before a peer's insured is settled (its institution's 1101). Writes nothing."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    msgid: str = Field(min_length=1, max_length=40)
    platform: str = Field(pattern=r"^[A-Za-z0-9_-]{1,30}$")
    certno: str | None = Field(default=None, min_length=1, max_length=50)
    card_no: str | None = Field(default=None, min_length=1, max_length=30)
    card_sn: str | None = Field(default=None, min_length=1, max_length=32)

    @model_validator(mode="after")
    def _one_key(self) -> PersonQuery:
        if (self.certno is None) == (self.card_no is None):
            raise ValueError("certno 与 card_no 须且只须提供其一")
        return self


class PeerEnrollment(BaseModel):
    """One year's cover of the person as the insured platform holds it (its 1101 ``insuinfo`` row)."""

    year: int
    insutype: str
    psn_type: str
    insuplc_admdvs: str
    #: active or terminated (a pending enrollment is not cover and is never sent).
    status: str
    coverage_begin: date
    coverage_end: date
    terminated_on: date | None = None
    continuous_years: int = 0
    psn_insu_date: date | None = None


class PeerIdentity(BaseModel):
    """An identity category (人员身份类别: 特困, 低保…) over its dates."""

    psn_idet_type: str
    begin_date: date
    end_date: date | None = None


class PersonAnswer(BaseModel):
    """The person as the insured platform knows them: identity, every year's cover and identity
    categories; the treating platform answers its institution's 1101 with it."""

    psn_no: str
    #: 人员证件类型 of ``certno`` (01 居民身份证).
    psn_cert_type: str = "01"
    certno: str
    psn_name: str
    gend: str
    brdy: date
    naty: str = ""
    enrollments: list[PeerEnrollment]
    identities: list[PeerIdentity] = Field(default_factory=list)


class PeerPersonQuery(PersonQuery):
    """The gateway to its own settlement service: ask the peer platform hosting ``insuplc_admdvs``
    (``platform`` is filled in by the treating side)."""

    platform: str = Field(default="local", pattern=r"^[A-Za-z0-9_-]{1,30}$")
    insuplc_admdvs: str = Field(pattern=r"^\d{6}$")


#: The kinds of care a treating platform may reserve for: ordinary outpatient care (11), a pharmacy
#: purchase (41) and inpatient stays (21-29); chronic care and deliveries need the insured side's own data.
RESERVABLE_MED_TYPE = r"^(11|41|2[1-9])$"


class ClassifiedLine(BaseModel):
    """One fee line as the treating platform's catalogue classified it (就医地目录): its amount split into
    fully self-paid + over the price cap + self-pay first + policy range."""

    model_config = ConfigDict(extra="forbid")

    feedetl_sn: str = Field(min_length=1, max_length=30)
    amount_fen: int = Field(ge=0, le=10**11)
    fully_self_paid_fen: int = Field(ge=0, le=10**11)
    over_price_cap_fen: int = Field(ge=0, le=10**11)
    self_pay_first_fen: int = Field(ge=0, le=10**11)
    policy_range_fen: int = Field(ge=0, le=10**11)

    @model_validator(mode="after")
    def _adds_up(self) -> ClassifiedLine:
        parts = self.fully_self_paid_fen + self.over_price_cap_fen + self.self_pay_first_fen
        if parts + self.policy_range_fen != self.amount_fen:
            raise ValueError(f"费用明细 {self.feedetl_sn} 的各部分之和不等于金额")
        return self


class ReservationRequest(BaseModel):
    """Reserve: the insured side computes its policy on the treating side's classified lines and holds the
    person's yearly totals for it until the reservation is confirmed or released."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    msgid: str = Field(min_length=1, max_length=40)
    platform: str = Field(pattern=r"^[A-Za-z0-9_-]{1,30}$")
    psn_no: str = Field(min_length=1, max_length=30)
    insutype: str = Field(pattern=r"^(390|391|380)$")
    begntime: datetime
    med_type: str = Field(pattern=RESERVABLE_MED_TYPE)
    fixmedins_code: str = Field(min_length=1, max_length=30)
    mdtrtarea_admvs: str = Field(pattern=r"^\d{6}$")
    hosp_lv: str = Field(pattern=r"^[1-3]$|^9$")
    lines: list[ClassifiedLine] = Field(min_length=1, max_length=5000)
    #: How long the reservation holds without a confirmation (then it is released: its totals given back).
    hold_s: int = Field(default=600, ge=1, le=86_400)

    @field_validator("begntime")
    @classmethod
    def _dated(cls, value: datetime) -> datetime:
        return _dated(value)

    @model_validator(mode="after")
    def _unique_lines(self) -> ReservationRequest:
        numbers = [line.feedetl_sn for line in self.lines]
        if len(numbers) != len(set(numbers)):
            raise ValueError("费用明细流水号重复")
        return self


class ReservedFund(BaseModel):
    fund_pay_type: str
    paid_fen: int


class ReservationOut(BaseModel):
    reservation_id: str
    #: reserved, confirmed, released.
    status: str
    platform: str
    psn_no: str
    insutype: str
    insuplc_admdvs: str
    medfee_sumamt_fen: int
    policy_range_fen: int
    deductible_fen: int
    pool_ratio: str
    funds: list[ReservedFund]
    fund_paid_total_fen: int
    cash_paid_fen: int
    calc_trace: str
    expires_at: UtcTime
    treating_setl_id: str | None = None
    release_reason: str | None = None
    replayed: bool = False


class ConfirmRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    msgid: str = Field(min_length=1, max_length=40)
    platform: str = Field(pattern=r"^[A-Za-z0-9_-]{1,30}$")
    #: The treating platform's settlement id of the care.
    treating_setl_id: str = Field(min_length=1, max_length=40)


class ReleaseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    msgid: str = Field(min_length=1, max_length=40)
    platform: str = Field(pattern=r"^[A-Za-z0-9_-]{1,30}$")
    reason: Literal["reversal", "timeout", "refused"]
    #: For a reversal: when the treating platform reversed its settlement (its reversal's setl_time). Both
    #: platforms' statements put a confirmed item reversed in a later month into the month of this one
    #: instant (``settlement.interplatform.clearing``). None from a platform that does not send it: the
    #: insured side then takes the time the release arrived.
    reversed_at: AwareDatetime | None = None


class ReservationVoid(BaseModel):
    """The treating platform's 2601 found nothing settled under ``reserve_msgid``: release a reservation
    made under it whose answer was lost, or, none made, refuse any reserve that arrives under it later."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    msgid: str = Field(min_length=1, max_length=40)
    platform: str = Field(pattern=r"^[A-Za-z0-9_-]{1,30}$")
    reserve_msgid: str = Field(min_length=1, max_length=40)
    psn_no: str | None = Field(default=None, max_length=30)


class ReservationVoidOut(BaseModel):
    reserve_msgid: str
    #: released (a hold given back), voided (nothing was held: a late reserve is refused
    #: ``RESERVATION_VOIDED``), released_before (by a release, or its time running out).
    outcome: Literal["released", "voided", "released_before"]
    reservation_id: str | None = None
    replayed: bool = False


class PeerSettlementOut(BaseModel):
    """The treating side's record of a settlement of a peer's insured (``GET
    /api/v1/interplatform/peer-settlements``): what the peer still owes or was told."""

    setl_id: str
    peer: str
    reservation_id: str
    #: reserved (the confirmation owed), confirmed, releasing (the release owed), released, expired.
    status: str
    #: reversal (the institution reversed), timeout (the peer released its hold before the confirmation:
    #: reversed here automatically); None while the settlement stands.
    release_reason: str | None = None
    reversal_setl_id: str | None = None
    expires_at: UtcTime


# --- the monthly clearing between platforms (docs/interface.md, "Between platforms", "Clearing") ---------

Month = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


class StatementItem(BaseModel):
    """One reservation of the month as one platform's own records have it."""

    reservation_id: str
    #: The treating platform's settlement (None on the insured side for a reservation never confirmed).
    treating_setl_id: str | None = None
    #: The region whose books hold it: the treating institution's on the treating side, the insured region
    #: on the insured side.
    admdvs: str
    insutype: str
    #: As at the month's end: confirmed (payable), released (reversed in the month or timed out: nothing
    #: payable), pending (not yet final); or ``reversed``: confirmed in an earlier month's item and
    #: reversed in this month, its funds NEGATIVE (what the insured platform paid for it comes back).
    status: Literal["confirmed", "released", "pending", "reversed"]
    #: What the insured platform's funds pay for it (0 unless confirmed; below 0 when reversed), per fund
    #: and in all.
    funds: list[ReservedFund] = Field(default_factory=list)
    fund_paid_total_fen: int = 0


class Statement(BaseModel):
    """One platform's statement of a month with a peer, from its own records only."""

    platform: str
    peer: str
    month: str
    #: This platform treated the peer's insured (the peer owes it).
    treated: list[StatementItem]
    #: The peer treated this platform's insured (this platform owes the peer).
    insured: list[StatementItem]


class ItemDifference(BaseModel):
    reservation_id: str
    treating_setl_id: str | None = None
    here_status: str | None = None
    there_status: str | None = None
    here_fen: int = 0
    there_fen: int = 0


class ClearingLine(BaseModel):
    admdvs: str
    insutype: str
    fund_pay_type: str
    amount_fen: int


class DirectionReport(BaseModel):
    """One direction of the month (who treated, whose fund pays), compared item by item by reservation."""

    treating_platform: str
    insured_platform: str
    #: Confirmed amounts of the month in each platform's statement.
    here_fen: int
    there_fen: int
    matched: int
    matched_fen: int
    #: Released on both sides (reversals, timeouts): nothing payable, counted.
    released: int
    only_here: list[ItemDifference]
    only_there: list[ItemDifference]
    amount_differences: list[ItemDifference]
    #: Not yet final on one side (a confirmation or release still owed).
    pending: list[ItemDifference]
    #: Both statements agree to the fen and nothing is pending: the month can be cleared.
    reconciled: bool
    #: This platform's side of the clearing, per region, scheme and fund (the matched confirmed items).
    books: list[ClearingLine]


class Reconciliation(BaseModel):
    """``POST /api/v1/interplatform/reconciliations``: this platform's statement and the peer's, compared."""

    platform: str
    peer: str
    month: str
    #: This platform treated, the peer pays (1303 due from the peer).
    receivable: DirectionReport
    #: The peer treated, this platform pays (2106 due to the peer).
    payable: DirectionReport


class ReconciliationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    month: Month
    peer: str = Field(pattern=r"^[A-Za-z0-9_-]{1,30}$")
