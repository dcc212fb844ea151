"""The settlement service's query API as the gateway calls it for 5201-5206 (version 1): what an institution
may read back of its visits, their fee lines, a person's chronic-disease drug records and yearly totals
(docs/interface.md, "Queries"). Domain names and integer fen; the gateway maps them to the national
names and yuan."""

from __future__ import annotations

from pydantic import BaseModel

from shared.contracts.v1.settlement import Price, Quantity, Ratio, UtcTime


class VisitOut(BaseModel):
    """One encounter (2201 visit, 2401 stay) or one pharmacy purchase (2102, which makes its encounter
    implicitly): 5201 lists them, 5202 reads the diagnosis of one."""

    mdtrt_id: str
    psn_no: str
    fixmedins_code: str
    #: The hospital's own number; none for a pharmacy purchase.
    ipt_otp_no: str | None
    insutype: str
    med_type: str
    begntime: UtcTime
    endtime: UtcTime | None
    dise_codg: str | None
    dise_name: str | None
    matn_type: str | None
    #: open, discharged, settled, cancelled (an encounter); settled or reversed (a purchase).
    status: str


class VisitList(BaseModel):
    visits: list[VisitOut]


class DiagnosisOut(BaseModel):
    """One diagnosis of a visit as 5202 answers it: as the HIS sent it (2203, 2401-2403), or, for a visit
    whose HIS sent no rows, its main diagnosis (``dise_codg``) as the only one."""

    #: The row's id; "" for a main diagnosis read from the visit.
    diag_info_id: str
    mdtrt_id: str
    psn_no: str
    #: 1 入院诊断 (an outpatient visit's diagnoses too), 2 出院诊断.
    inout_diag_type: str
    diag_type: str
    maindiag_flag: str
    diag_srt_no: int
    diag_code: str
    diag_name: str
    adm_cond: str | None = None
    diag_dept: str | None = None
    dise_dor_no: str | None = None
    dise_dor_name: str | None = None
    diag_time: UtcTime | None = None
    vali_flag: str = "1"


class DiagnosisList(BaseModel):
    diagnoses: list[DiagnosisOut]


class FeeDetailOut(BaseModel):
    """A settled fee line with its classification, and the settlement and institution it belongs to."""

    setl_id: str
    mdtrt_id: str
    psn_no: str
    fixmedins_code: str
    fixmedins_name: str
    med_type: str
    setl_time: UtcTime
    #: When the care was given (the uploaded line's time; a purchase's time for a pharmacy line).
    fee_ocur_time: UtcTime
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
    prd_days: Quantity | None = None


class FeeDetailList(BaseModel):
    lines: list[FeeDetailOut]


class AccumulationOut(BaseModel):
    """A person's year-to-date totals for one insurance type (what the benefit layers count against)."""

    year: int
    insutype: str
    outpatient_deductible_fen: int
    outpatient_paid_fen: int
    pooled_paid_fen: int
    chronic_cost_fen: int
    chronic_paid_fen: int
    catastrophic_burden_fen: int
    catastrophic_paid_fen: int
    assistance_paid_fen: int
    admissions: int
    settlement_count: int


class AccumulationList(BaseModel):
    accumulations: list[AccumulationOut]
