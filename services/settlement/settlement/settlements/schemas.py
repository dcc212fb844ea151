from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator


def _scale(places: int) -> AfterValidator:
    """A decimal as its column stores it (NUMERIC(p, places), rounded half away from zero as PostgreSQL
    does), so that an answer built from what was just written reads exactly like one read back from
    either backend (SQLite keeps the text without trailing zeros)."""
    exponent = Decimal(1).scaleb(-places)
    return AfterValidator(lambda value: value.quantize(exponent, rounding=ROUND_HALF_UP))


Ratio = Annotated[Decimal, _scale(4)]
Quantity = Annotated[Decimal, _scale(4)]
Price = Annotated[Decimal, _scale(6)]
#: A stored instant, in UTC as both backends give it back.
UtcTime = Annotated[datetime, AfterValidator(lambda value: value.astimezone(UTC))]


class FeeLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feedetl_sn: str = Field(min_length=1, max_length=30)
    med_list_codg: str = Field(min_length=1, max_length=50)
    medins_list_codg: str = Field(min_length=1, max_length=50)
    cnt: Decimal = Field(gt=0, max_digits=16, decimal_places=4)
    pric: Decimal = Field(ge=0, max_digits=16, decimal_places=6)
    amount_fen: int = Field(ge=0)
    #: 医院审批标志 for restricted items: 0 none needed, 1 approved, 2 refused.
    hosp_appr_flag: str = Field(default="0", pattern=r"^[012]$")
    rxno: str | None = Field(default=None, max_length=30)
    fee_ocur_time: datetime | None = None
    #: Prescribed days' supply (prd_days), kept for the days'-supply fraud signal. Left out of the request
    #: digest (``exclude``): it moves no money, and requests settled before it existed must replay alike.
    prd_days: Decimal | None = Field(default=None, ge=0, max_digits=8, decimal_places=2, exclude=True)


class PharmacySettlementRequest(BaseModel):
    """A card-swipe purchase at a designated pharmacy (2102), in domain terms and fen."""

    model_config = ConfigDict(extra="forbid")

    msgid: str = Field(min_length=1, max_length=30)
    fixmedins_code: str = Field(min_length=1, max_length=30)
    mdtrtarea_admvs: str = Field(pattern=r"^\d{6}$")
    insuplc_admdvs: str = Field(pattern=r"^\d{6}$")
    psn_no: str = Field(min_length=1, max_length=30)
    mdtrt_cert_type: str = Field(pattern=r"^(01|02|03)$")
    mdtrt_cert_no: str = Field(min_length=1, max_length=50)
    begntime: datetime
    medfee_sumamt_fen: int = Field(ge=0)
    insutype: str = Field(pattern=r"^(390|391|380)$")
    #: 41 定点药店购药; 14xxxx 门诊慢特病购药 (with dise_codg, the registered disease).
    med_type: str = Field(pattern=r"^(41\d{0,4}|14\d{0,4})$")
    dise_codg: str | None = Field(default=None, max_length=30)
    acct_used_flag: str = Field(default="0", pattern=r"^(0|1)$")
    invono: str | None = Field(default=None, max_length=50)
    lines: list[FeeLineIn] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _consistent(self) -> PharmacySettlementRequest:
        seen: set[str] = set()
        for line in self.lines:
            if line.feedetl_sn in seen:
                raise ValueError(f"费用明细流水号重复: {line.feedetl_sn}")
            seen.add(line.feedetl_sn)
        if self.begntime.tzinfo is None:
            raise ValueError("begntime must carry a timezone")
        if self.med_type.startswith("14") and not self.dise_codg:
            raise ValueError("门诊慢特病购药须填写病种编码 dise_codg")
        return self


class ReversalRequest(BaseModel):
    """2103/2208/2305: undo one settlement of the calling institution."""

    model_config = ConfigDict(extra="forbid")

    msgid: str = Field(min_length=1, max_length=30)
    fixmedins_code: str = Field(min_length=1, max_length=30)
    psn_no: str | None = Field(default=None, max_length=30)


class VoidRequest(BaseModel):
    """2601 冲正 of the sender's message ``omsgid`` whose answer never arrived."""

    model_config = ConfigDict(extra="forbid")

    msgid: str = Field(min_length=1, max_length=30)
    omsgid: str = Field(min_length=1, max_length=30)
    oinfno: str = Field(pattern=r"^\d{4}$")
    fixmedins_code: str = Field(min_length=1, max_length=30)
    psn_no: str | None = Field(default=None, max_length=30)


class VoidOut(BaseModel):
    #: reversed (the original had settled and is now undone) or voided (nothing had settled).
    outcome: str
    reversal: SettlementOut | None = None


class LineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    feedetl_sn: str
    med_list_codg: str
    medins_list_codg: str
    cnt: Quantity
    pric: Price
    amount_fen: int
    price_cap: Price | None
    selfpay_prop: Ratio
    chrgitm_lv: str
    med_chrgitm_type: str
    fully_self_paid_fen: int
    over_price_cap_fen: int
    self_pay_first_fen: int
    policy_range_fen: int
    memo: str


class FundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    fund_pay_type: str
    policy_range_fen: int
    payable_limit_fen: int
    paid_fen: int
    calc_trace: str


class PersonSnapshot(BaseModel):
    psn_no: str
    psn_name: str
    certno: str
    gend: str
    brdy: date
    age: int
    psn_type: str


class SettlementOut(BaseModel):
    setl_id: str
    mdtrt_id: str
    msgid: str
    fixmedins_code: str
    person: PersonSnapshot
    insutype: str
    insuplc_admdvs: str
    med_type: str
    clr_type: str
    mdtrt_cert_type: str
    setl_time: UtcTime
    policy_id: int
    medfee_sumamt_fen: int
    fully_self_paid_fen: int
    over_price_cap_fen: int
    self_pay_first_fen: int
    policy_range_fen: int
    deductible_fen: int
    pool_ratio: Ratio
    pooled_fund_paid_fen: int
    catastrophic_paid_fen: int
    assistance_paid_fen: int
    fund_paid_total_fen: int
    personal_burden_fen: int
    account_paid_fen: int
    cash_paid_fen: int
    calc_trace: str
    encounter_kind: str
    #: settled, reversed, reversal, or preview (a pre-settlement: nothing was written).
    status: str
    reversal_of: str | None = None
    funds: list[FundOut]
    lines: list[LineOut]
    #: True when this answer is the stored result of an earlier request with the same msgid.
    replayed: bool = False
