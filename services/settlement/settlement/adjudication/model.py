"""What the benefit layers read and write: fee lines and catalogue entries, the encounter, the year's and
the stay's totals so far, and the adjudication with each fund's share. Amounts are integer fen.
The layers themselves are one module each (docs/domain.md, "Money out"); ``engine.adjudicate`` runs them
in order."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal
from typing import Literal

from shared.money import fen_to_yuan

POOLED_FUND = "390100"
CATASTROPHIC_FUND = "390200"
ASSISTANCE_FUND = "610100"
CLASS_A, CLASS_B, CLASS_C = "1", "2", "3"  # 甲, 乙, 丙

Kind = Literal["pharmacy", "outpatient", "chronic", "inpatient", "maternity"]
#: Kinds whose pooled payments count against the pooled yearly ceiling and that open medical assistance
#: (and catastrophic insurance, for those of them the policy counts: ``Catastrophic.kinds``).
MAJOR_KINDS = ("chronic", "inpatient", "maternity")


class NotEligible(ValueError):
    """The encounter does not qualify for the benefit it asks for (e.g. an unregistered chronic disease)."""


@dataclass(frozen=True, slots=True)
class FeeLine:
    feedetl_sn: str
    med_list_codg: str
    cnt: Decimal
    pric: Decimal
    amount_fen: int
    #: hosp_appr_flag: 0 no approval needed, 1 approved, 2 refused.
    hosp_appr_flag: str = "0"


@dataclass(frozen=True, slots=True)
class ListFlags:
    """What the catalogue marks an entry as, shown on every classified line (2204/2301 ``result``,
    ``detlcutinfo``: ``bas_medn_flag``, ``hi_nego_drug_flag``...; docs/interface.md). They do not change
    the classification, except ``restricted`` (which ``ListEntry.restricted`` applies)."""

    #: 基本药物 (national essential medicines list).
    essential_drug: bool = False
    #: 医保谈判药品 (a drug whose price was negotiated nationally).
    negotiated_drug: bool = False
    #: 儿童用药.
    child_medicine: bool = False
    #: 目录特项: 特检特治 items or special drugs.
    special_item: bool = False
    #: 限制使用 (paid only with the hospital's approval).
    restricted: bool = False
    #: 直报: a line the fund pays the institution for directly outside the settlement's own layers.
    direct_reimbursement: bool = False


NO_FLAGS = ListFlags()


#: The marks' names, read once: ``dataclasses.fields`` builds its tuple anew on every call, and a stay's
#: 100 lines asked for it 100 times per settlement.
FLAG_NAMES = tuple(f.name for f in fields(ListFlags))


def flag_columns(flags: ListFlags) -> dict[str, bool]:
    """The marks as the columns of a stored line (``settlement_lines``) and of ``LineOut``."""
    return {name: getattr(flags, name) for name in FLAG_NAMES}


@dataclass(frozen=True, slots=True)
class ListEntry:
    """What the catalogue says about a code on the day of service."""

    chrgitm_lv: str
    selfpay_prop: Decimal
    price_cap: Decimal | None
    med_chrgitm_type: str = "09"
    #: Price caps that differ by hospital level ("1", "2", "3"), overriding ``price_cap``.
    price_cap_by_level: dict[str, Decimal] = field(default_factory=dict)
    #: Caps a treating region sets for care at its institutions (就医地限价), overriding both above there.
    price_cap_by_admdvs: dict[str, Decimal] = field(default_factory=dict)
    #: 限制使用: covered only with the hospital's approval (hosp_appr_flag 1).
    restricted: bool = False
    #: The entry's other marks, shown on its lines (``flags.restricted`` mirrors ``restricted``).
    flags: ListFlags = NO_FLAGS

    def cap_for(self, level: str, admdvs: str | None = None) -> Decimal | None:
        """The cap at an institution of this level in the treating region ``admdvs``."""
        if admdvs is not None and admdvs in self.price_cap_by_admdvs:
            return self.price_cap_by_admdvs[admdvs]
        return self.price_cap_by_level.get(level, self.price_cap)


@dataclass(frozen=True, slots=True)
class InjuryFiling:
    trt_dcla_detl_sn: str
    third_party_liable: bool
    work_injury: bool


@dataclass(frozen=True, slots=True)
class Standing:
    """What the person's filings in force on one day say (``settlement.filings.service.standing``), read by
    the filings layer (``filings.py``)."""

    on: date
    chronic_diseases: frozenset[str] = frozenset()
    designated_facilities: frozenset[str] = frozenset()
    referral_regions: frozenset[str] = frozenset()
    referral_facilities: frozenset[str] = frozenset()
    #: The kinds (异地就医备案类别) of those referral / out-of-area filings: (region or institution, kind).
    referral_kinds: frozenset[tuple[str, str]] = frozenset()
    injuries: tuple[InjuryFiling, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Encounter:
    kind: Kind
    service_date: date
    institution_level: str
    #: This admission's number in the year (inpatient), 1 for the first.
    admission_sequence: int = 1
    out_of_area: bool = False
    filed: bool = False
    #: The 异地就医备案类别 of the filing that covers the care (``filed``): which filed ratio applies.
    filed_kind: str | None = None
    delivery_type: Literal["normal", "caesarean"] | None = None
    chronic_disease: str | None = None
    #: A later settlement of a stay already settled in part (中途结算): what its surviving earlier parts
    #: added up to. None: the stay's first settlement (or not a stay).
    stay: StaySoFar | None = None
    #: The person's filings in force on the service date (None: not read; the filings layer is skipped),
    #: and what they are checked against: the med_type, the institution and its region.
    standing: Standing | None = None
    med_type: str = ""
    fixmedins_code: str = ""
    mdtrtarea_admdvs: str = ""

    @property
    def continuing_stay(self) -> bool:
        return self.stay is not None


@dataclass(frozen=True, slots=True)
class StaySoFar:
    """A stay's surviving earlier settlements (中途结算 parts), summed: the next part pays the stay's
    entitlement on the cumulative cost less these."""

    policy_range_fen: int = 0
    deductible_fen: int = 0
    pooled_fen: int = 0
    #: The stay's deductible, fixed by its first settlement (hospital level, admission number in the year).
    stay_deductible_fen: int = 0


@dataclass(frozen=True, slots=True)
class YearToDate:
    """A person's totals for the year, by what they limit."""

    outpatient_deductible_fen: int = 0
    outpatient_paid_fen: int = 0
    pooled_paid_fen: int = 0  # inpatient, chronic and maternity: against the pooled yearly ceiling
    chronic_cost_fen: int = 0
    chronic_paid_fen: int = 0
    catastrophic_burden_fen: int = 0
    catastrophic_paid_fen: int = 0
    assistance_base_fen: int = 0
    assistance_paid_fen: int = 0
    admissions: int = 0

    def plus(self, other: YearToDate) -> YearToDate:
        return YearToDate(*(a + b for a, b in zip(_values(self), _values(other), strict=True)))

    def minus(self, other: YearToDate) -> YearToDate:
        return YearToDate(*(a - b for a, b in zip(_values(self), _values(other), strict=True)))


def _values(ytd: YearToDate) -> tuple[int, ...]:
    return tuple(getattr(ytd, name) for name in YearToDate.__slots__)


@dataclass(frozen=True, slots=True)
class LineResult:
    line: FeeLine
    chrgitm_lv: str
    selfpay_prop: Decimal
    price_cap: Decimal | None
    med_chrgitm_type: str
    fully_self_paid_fen: int
    over_price_cap_fen: int
    self_pay_first_fen: int
    policy_range_fen: int
    memo: str
    flags: ListFlags = NO_FLAGS


@dataclass(frozen=True, slots=True)
class FundShare:
    fund_pay_type: str
    #: The amount this fund computed on (its policy-range base).
    base_fen: int
    #: What was left of its yearly room before this settlement.
    room_fen: int
    paid_fen: int
    trace: str


@dataclass(frozen=True, slots=True)
class LayerPayment:
    """One fund layer's answer for a settlement: its share, what it adds to the year's totals, and its
    entitlement / before figures for ``settlements.layers`` and the trace."""

    share: FundShare
    delta: YearToDate
    layers: dict[str, int]

    @property
    def paid_fen(self) -> int:
        return self.share.paid_fen


@dataclass(frozen=True, slots=True)
class PooledPayment(LayerPayment):
    """The pooled fund's (390100) layer also fixes the settlement's deductible and headline ratio."""

    deductible_fen: int = 0
    ratio: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Adjudication:
    lines: list[LineResult]
    medfee_sumamt_fen: int
    fully_self_paid_fen: int
    over_price_cap_fen: int
    self_pay_first_fen: int
    policy_range_fen: int
    deductible_fen: int
    pool_ratio: Decimal
    pooled_fen: int
    catastrophic_fen: int
    assistance_fen: int
    funds: list[FundShare]
    fund_paid_total_fen: int
    cash_paid_fen: int
    #: What this settlement adds to the year's totals (a reversal subtracts exactly this).
    delta: YearToDate
    trace: list[str]
    #: Per layer, the entitlement on the cumulative costs and what earlier surviving settlements had got
    #: (``<layer>_entitled_fen`` / ``<layer>_before_fen``), and the stay's deductible: stored with the
    #: settlement (its next part reads ``stay_deductible_fen``) and shown in the trace.
    layers: dict[str, int] = field(default_factory=dict)

    @property
    def personal_burden_fen(self) -> int:
        return self.medfee_sumamt_fen - self.fund_paid_total_fen


def yuan(fen: int) -> str:
    """An amount for the trace, in yuan with two decimals."""
    return str(fen_to_yuan(fen))


def owed(entitled: int, before: int) -> int:
    """A cumulative layer's payment: its entitlement on the cumulative costs less what surviving
    settlements already got from it, never below zero (a reversal of an earlier settlement may leave the
    survivors with more than the entitlement on what survives; nothing is clawed back from a new one).
    The caller also holds it to this settlement's own policy-range cost (a fund never hands the patient
    cash): a shortfall beyond that is still owed at the next settlement, which sees the same totals."""
    return max(0, entitled - before)


def pooled_room(policy_ceiling_fen: int, ytd: YearToDate) -> int:
    """What is left of the pooled yearly ceiling (inpatient, chronic and maternity payments share it)."""
    return max(0, policy_ceiling_fen - ytd.pooled_paid_fen)
