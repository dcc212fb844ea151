"""The settlement service's API as the gateway calls it (version 1): the request and response bodies,
imported by both sides (settlement's endpoints declare them, the gateway's ``Downstream`` builds and
reads them). Domain names and integer fen; the wire's names and yuan are the gateway's (``gateway.nhsa``).

A change that an older peer could not read is a new version (``shared.contracts.v2``), served next to
this one until every caller has moved."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

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
    #: Empty: settled as the national code ``medins_list_codg`` is mapped to (3301) on the day of purchase.
    med_list_codg: str = Field(default="", max_length=50)
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
    #: The drug's traceability codes (追溯码) the line dispenses: each must be one the institution holds
    #: in stock (docs/domain.md, "Inventory"). Left out of the digest as ``prd_days`` is.
    drug_trac_codg: list[str] = Field(default_factory=list, max_length=100, exclude=True)


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
    #: The envelope's insured region: a peer platform hosting it is told of a void that found nothing
    #: settled here (it may hold the year for a reserve whose answer was lost).
    insuplc_admdvs: str | None = Field(default=None, pattern=r"^\d{6}$")


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
    #: The catalogue's marks on the line's entry (``bas_medn_flag``... on the wire). Defaults: answers
    #: stored before the marks existed are read as unmarked.
    essential_drug: bool = False
    negotiated_drug: bool = False
    child_medicine: bool = False
    special_item: bool = False
    restricted: bool = False
    direct_reimbursement: bool = False


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
    #: 民族 code; "" when not known (answers stored before it was kept read the same).
    naty: str = ""


class SettlementOut(BaseModel):
    setl_id: str
    mdtrt_id: str
    msgid: str
    fixmedins_code: str
    person: PersonSnapshot
    insutype: str
    insuplc_admdvs: str
    #: The treating institution's region (就医地); "" from a service that did not send it yet.
    mdtrtarea_admvs: str = ""
    #: 支付地点类别 (docs/interface.md, "Out-of-area care"): 2 settled at the institution in the person's
    #: insured region, 3 in another region of this platform (省内异地).
    pay_loc: str = "2"
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


# --- encounters: outpatient visits (2201-2208) and inpatient stays (2401-2405, 2301-2305) --------------


class EncounterDiagnosis(BaseModel):
    """One ``diseinfo`` row of 2203 / 2401 / 2402 / 2403 as the HIS sends it (national names)."""

    model_config = ConfigDict(extra="forbid")

    #: 1 西医诊断, 2 中医主病诊断, 3 中医主证诊断.
    diag_type: str = Field(pattern=r"^[123]$")
    diag_srt_no: int = Field(ge=0, le=9999)
    diag_code: str = Field(min_length=1, max_length=30)
    diag_name: str = Field(min_length=1, max_length=300)
    maindiag_flag: Literal["0", "1"]
    adm_cond: str | None = Field(default=None, max_length=500)
    diag_dept: str | None = Field(default=None, max_length=100)
    dise_dor_no: str | None = Field(default=None, max_length=30)
    dise_dor_name: str | None = Field(default=None, max_length=50)
    diag_time: datetime | None = None
    vali_flag: Literal["0", "1"] = "1"


#: What a HIS sent beyond what settling uses: national field names to their text, kept as sent. Left out
#: of a request's digest (``exclude``, as ``prd_days``): it moves nothing, and a request recorded before it
#: was kept must replay alike.
Details = Annotated[
    dict[Annotated[str, Field(max_length=30)], Annotated[str, Field(max_length=1000)]], Field(max_length=40)
]
#: The fields of ``Discharge.details`` (2402), which 2405 takes back with the discharge.
DISCHARGE_DETAILS = (
    "dscg_dept_codg",
    "dscg_dept_name",
    "dscg_bed",
    "dscg_way",
    "die_date",
    "fpsc_no",
    "birctrl_type",
    "latechb_flag",
    "geso_val",
    "fetts",
    "fetus_cnt",
    "pret_flag",
    "birctrl_matn_date",
    "cop_flag",
)


class EncounterOpen(BaseModel):
    """2201 门诊挂号 / 2401 入院办理."""

    model_config = ConfigDict(extra="forbid")

    msgid: str = Field(min_length=1, max_length=30)
    setting: Literal["outpatient", "inpatient"]
    fixmedins_code: str = Field(min_length=1, max_length=30)
    mdtrtarea_admvs: str = Field(pattern=r"^\d{6}$")
    insuplc_admdvs: str = Field(pattern=r"^\d{6}$")
    psn_no: str = Field(min_length=1, max_length=30)
    insutype: str = Field(pattern=r"^(390|391|380)$")
    ipt_otp_no: str = Field(min_length=1, max_length=30)
    med_type: str = Field(pattern=r"^\d{2,6}$")
    mdtrt_cert_type: str = Field(pattern=r"^(01|02|03)$")
    mdtrt_cert_no: str = Field(min_length=1, max_length=50)
    begntime: datetime
    dise_codg: str | None = Field(default=None, max_length=30)
    dise_name: str | None = Field(default=None, max_length=300)
    matn_type: str | None = Field(default=None, pattern=r"^[12]$")
    #: 手术操作代码 of 2401 ``mdtrtinfo``: checked against the procedure list (1308), not kept.
    oprn_oprt_code: str | None = Field(default=None, max_length=30)
    #: The admission's (2401) or the visit's diagnoses (``diseinfo``), kept for 5202.
    diagnoses: list[EncounterDiagnosis] = Field(default_factory=list, max_length=100)
    #: The operator of the call (the envelope's ``opter`` / ``opter_name``), kept as who recorded it (5201,
    #: 5202, 5204 ``opter_id`` / ``opter_name``); not part of the request's digest (``exclude``): a retry
    #: of the message from another desk is the same request.
    opter_id: str = Field(default="", max_length=30, exclude=True)
    opter_name: str = Field(default="", max_length=50, exclude=True)
    #: The descriptive fields the HIS sent (national names, text), kept as sent for 5201 / 5204.
    details: Details = Field(default_factory=dict, exclude=True)


class DiagnosisUpdate(BaseModel):
    """2203 门诊就诊信息上传 / 2403 住院信息变更."""

    model_config = ConfigDict(extra="forbid")

    fixmedins_code: str = Field(min_length=1, max_length=30)
    med_type: str | None = Field(default=None, pattern=r"^\d{2,6}$")
    dise_codg: str | None = Field(default=None, max_length=30)
    dise_name: str | None = Field(default=None, max_length=300)
    matn_type: str | None = Field(default=None, pattern=r"^[12]$")
    #: The visit's (2203) or the admission's (2403) diagnoses, replacing those kept; None keeps them.
    diagnoses: list[EncounterDiagnosis] | None = Field(default=None, max_length=100)
    #: The operator of the call (the envelope's ``opter`` / ``opter_name``), kept as who recorded it (5201,
    #: 5202, 5204 ``opter_id`` / ``opter_name``); not part of the request's digest (``exclude``): a retry
    #: of the message from another desk is the same request.
    opter_id: str = Field(default="", max_length=30, exclude=True)
    opter_name: str = Field(default="", max_length=50, exclude=True)
    #: Merged into those kept (a field sent again replaces its value).
    details: Details = Field(default_factory=dict, exclude=True)


class FeeUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feedetl_sn: str = Field(min_length=1, max_length=30)
    chrg_bchno: str = Field(default="", max_length=30)
    #: Empty: the line is settled as the national code the institution's ``medins_list_codg`` is mapped to
    #: (目录对照, 3301) on the day of the fee.
    med_list_codg: str = Field(default="", max_length=50)
    medins_list_codg: str = Field(min_length=1, max_length=50)
    cnt: Decimal = Field(gt=0, max_digits=16, decimal_places=4)
    pric: Decimal = Field(ge=0, max_digits=16, decimal_places=6)
    amount_fen: int = Field(ge=0)
    hosp_appr_flag: str = Field(default="0", pattern=r"^[012]$")
    fee_ocur_time: datetime
    #: The traceability codes (追溯码) the line dispenses: required for a drug the list marks as traced
    #: (outpatient lines; docs/domain.md, "Inventory"). Not stored, and left out of the request digest
    #: (``exclude``) as on a pharmacy line.
    drug_trac_codg: list[str] = Field(default_factory=list, max_length=100, exclude=True)
    #: The descriptive fields the HIS sent (national names, text), kept as sent for 5201 / 5204.
    details: Details = Field(default_factory=dict, exclude=True)


class FeesUpload(BaseModel):
    """2204 门诊费用明细上传 / 2301 住院费用明细上传."""

    model_config = ConfigDict(extra="forbid")

    fixmedins_code: str = Field(min_length=1, max_length=30)
    lines: list[FeeUpload] = Field(min_length=1, max_length=1000)
    #: The operator of the call (the envelope's ``opter`` / ``opter_name``), kept as who recorded it (5201,
    #: 5202, 5204 ``opter_id`` / ``opter_name``); not part of the request's digest (``exclude``): a retry
    #: of the message from another desk is the same request.
    opter_id: str = Field(default="", max_length=30, exclude=True)
    opter_name: str = Field(default="", max_length=50, exclude=True)

    @model_validator(mode="after")
    def _unique(self) -> FeesUpload:
        sns = [x.feedetl_sn for x in self.lines]
        if len(set(sns)) != len(sns):
            raise ValueError("费用明细流水号重复")
        return self


class FeesCancel(BaseModel):
    """2205 (by charge batch, "0000" = every unsettled line) / 2302 (by line numbers, empty = all)."""

    model_config = ConfigDict(extra="forbid")

    fixmedins_code: str = Field(min_length=1, max_length=30)
    chrg_bchno: str | None = Field(default=None, max_length=30)
    feedetl_sns: list[str] = Field(default_factory=list, max_length=1000)


class Discharge(BaseModel):
    """2402 出院办理."""

    model_config = ConfigDict(extra="forbid")

    fixmedins_code: str = Field(min_length=1, max_length=30)
    endtime: datetime
    dise_codg: str | None = Field(default=None, max_length=30)
    dise_name: str | None = Field(default=None, max_length=300)
    #: 手术操作代码 of 2402 ``dscginfo``: checked against the procedure list (1308), not kept.
    oprn_oprt_code: str | None = Field(default=None, max_length=30)
    #: The discharge diagnoses (2402 ``diseinfo``), replacing those kept; None keeps them.
    diagnoses: list[EncounterDiagnosis] | None = Field(default=None, max_length=100)
    #: The operator of the call (the envelope's ``opter`` / ``opter_name``), kept as who recorded it (5201,
    #: 5202, 5204 ``opter_id`` / ``opter_name``); not part of the request's digest (``exclude``): a retry
    #: of the message from another desk is the same request.
    opter_id: str = Field(default="", max_length=30, exclude=True)
    opter_name: str = Field(default="", max_length=50, exclude=True)
    #: Of ``DISCHARGE_DETAILS``, merged into those kept.
    details: Details = Field(default_factory=dict, exclude=True)


class EncounterSettle(BaseModel):
    """2206/2207 (outpatient: one charge batch) and 2303/2304 (inpatient: the whole stay)."""

    model_config = ConfigDict(extra="forbid")

    msgid: str = Field(min_length=1, max_length=30)
    fixmedins_code: str = Field(min_length=1, max_length=30)
    psn_no: str = Field(min_length=1, max_length=30)
    mdtrt_cert_type: str = Field(pattern=r"^(01|02|03)$")
    mdtrt_cert_no: str = Field(min_length=1, max_length=50)
    medfee_sumamt_fen: int = Field(ge=0)
    chrg_bchno: str | None = Field(default=None, max_length=30)
    #: 中途结算: settle what is uploaded so far during a long stay, without discharge.
    mid_setl_flag: bool = False
    invono: str | None = Field(default=None, max_length=50)
    #: What the caller settles it as (the gateway: 2206/2207 a visit, 2303/2304 a stay), checked against the
    #: encounter in the settling transaction; None: not checked.
    setting: Literal["outpatient", "inpatient"] | None = None
    #: The med_type the caller settles a visit under (2206/2207), checked against the one registered.
    med_type: str | None = Field(default=None, pattern=r"^\d{2,6}$")


class EncounterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    mdtrt_id: str
    setting: str
    psn_no: str
    fixmedins_code: str
    ipt_otp_no: str
    #: The scheme the encounter settles under, decided at registration / admission (dual track).
    insutype: str
    med_type: str
    begntime: datetime
    endtime: datetime | None
    dise_codg: str | None
    matn_type: str | None
    status: str


class FeesCancelled(BaseModel):
    """2205 / 2302: how many unsettled lines were withdrawn (0 is an answer, not an error)."""

    cancelled: int


class FeesOut(BaseModel):
    """The per-line classification (2204/2301 result), as NHSA returns it."""

    mdtrt_id: str
    lines: list[LineOut]


# --- reconciliation (3201) ----------------------------------------------------------------------------


class TotalsRow(BaseModel):
    fixmedins_code: str
    insutype: str
    clr_type: str
    #: Beijing calendar day of setl_time.
    day: date
    #: Original settlements (also those reversed since) made that day.
    settlement_cnt: int = 0
    #: Reversal records made that day.
    reversal_cnt: int = 0
    #: settlement_cnt - reversal_cnt.
    net_cnt: int = 0
    #: Net amounts in fen: reversals count negative.
    medfee_sumamt_fen: int = 0
    fund_pay_sumamt_fen: int = 0
    acct_pay_fen: int = 0
    #: The reversal records' share of the amounts above (negative), for a statement of refunds only.
    reversal_medfee_sumamt_fen: int = 0
    reversal_fund_pay_sumamt_fen: int = 0
    reversal_acct_pay_fen: int = 0


class TotalsOut(BaseModel):
    rows: list[TotalsRow]
