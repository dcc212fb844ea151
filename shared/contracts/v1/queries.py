"""The settlement service's query API as the gateway calls it for 5201-5206 (version 1): what an institution
may read back of its visits, their fee lines, a person's chronic-disease drug records and yearly totals
(docs/interface.md, "Queries"). Domain names and integer fen; the gateway maps them to the national
names and yuan."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from shared.contracts.v1.settlement import Price, Quantity, Ratio, UtcTime


class Operator(BaseModel):
    """Who recorded a row (经办人: the envelope's ``opter`` / ``opter_name`` of the call that sent it) and
    when the platform recorded it; the operator is "" for rows recorded before it was kept."""

    opter_id: str = ""
    opter_name: str = ""
    opt_time: UtcTime | None = None


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
    #: outpatient, inpatient (an encounter's), pharmacy (a purchase).
    setting: str = ""
    mdtrt_cert_type: str = ""
    #: The insured region (参保地医保区划), which insures the person (insu_optins).
    insuplc_admdvs: str = ""
    #: The person as the coverage read model knows them for the visit's year and insurance type; None
    #: (``""``) while their identity has not arrived.
    certno: str | None = None
    psn_name: str | None = None
    gend: str | None = None
    naty: str | None = None
    brdy: date | None = None
    #: Whole years on the day the visit began.
    age: int | None = None
    psn_type: str | None = None
    #: 1 when the person holds, on the day the visit began, an identity the policy in force gives medical
    #: assistance (医疗救助对象), 0 otherwise.
    maf_psn_flag: str = "0"
    #: The discharge's main diagnosis (the 2402 row with ``maindiag_flag`` 1), for a stay discharged.
    dscg_maindiag_code: str | None = None
    dscg_maindiag_name: str | None = None
    #: Days of a discharged stay: discharge day minus admission day (Beijing), a same-day stay 1.
    ipt_days: int | None = None
    #: The descriptive fields the HIS sent with the registration, admission, change and discharge (2201,
    #: 2401, 2403, 2402) under their national names, kept as sent (text).
    details: dict[str, str] = Field(default_factory=dict)
    registered_by: Operator = Field(default_factory=Operator)


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
    recorded_by: Operator = Field(default_factory=Operator)


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
    #: The list entry's name on the day of care (医保目录名称), and the list it is on (目录类别: 101 西药
    #: 中成药, 102 中药饮片, 201 医疗服务项目, 301 医用耗材).
    hilist_name: str = ""
    list_type: str = ""
    #: The institution's own name of the item (3301 ``fixmedins_hilist_name``) from its mapping in force
    #: on the day of care; "" when the item is not mapped.
    medins_list_name: str = ""
    #: The catalogue's marks on the entry that day (as settled): 限制使用, 基本药物, 医保谈判药品, 儿童用药,
    #: 目录特项, 直报.
    restricted: bool = False
    essential_drug: bool = False
    negotiated_drug: bool = False
    child_medicine: bool = False
    special_item: bool = False
    direct_reimbursement: bool = False
    memo: str = ""
    #: 医院审批标志 as uploaded (2204 / 2301); None for a pharmacy line.
    hosp_appr_flag: str | None = None
    #: The descriptive fields of the uploaded line (prescription, dosage, departments, doctors, flags)
    #: under their national names, kept as sent (text).
    details: dict[str, str] = Field(default_factory=dict)
    recorded_by: Operator = Field(default_factory=Operator)


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
