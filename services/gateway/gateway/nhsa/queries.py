"""Queries 5201-5206 (docs/interface.md, "Queries"): what an institution reads back of its own visits
(5201 就诊信息, 5202 诊断信息, 5203 结算信息, 5204 费用明细) and of a person it treats (5205 慢特病用药记录,
5206 人员累计信息, across institutions: the interface names the dispensing institution on each record).

5203: one settlement as stored, for an institution that lost its answer or reprints it. An
institution sees its own settlements only. The 5203 setlinfo model (public HIS code) carries, besides the
2207 fields, ``psn_pay`` / ``cash_payamt``, ``fixmedins_code`` and ``refd_setl_flag`` (退费结算标志)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.declaration import Call, Transaction
from gateway.nhsa import setlinfo
from gateway.nhsa.encounter import MDTRT_ID, OptionalWireTime, WireTime, iso
from gateway.nhsa.fees import LINE_DETAILS
from gateway.nhsa.pharmacy import SETL_ID
from gateway.protocol.code_tables import MedType
from gateway.protocol.envelope import RequestEnvelope
from gateway.protocol.errors import Refusal
from shared.clock import CHINA_TZ, format_wire_time, now_china
from shared.contracts.v1.queries import AccumulationOut, FeeDetailOut, VisitOut
from shared.contracts.v1.settlement import SettlementOut


class Data5203(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    setl_id: str = Field(pattern=SETL_ID)
    mdtrt_id: str | None = Field(default=None, max_length=30)
    psn_no: str | None = Field(default=None, max_length=30)


class Input5203(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data5203


def check_visible(envelope: RequestEnvelope, data: Data5203, s: SettlementOut) -> None:
    """Another institution's settlement is refused before anything of it is shown; an encounter or person
    given by the HIS must be the settlement's."""
    if s.fixmedins_code != envelope.fixmedins_code:
        raise Refusal("NOT_YOUR_SETTLEMENT", "只能查询本机构的结算")
    if data.mdtrt_id and data.mdtrt_id != s.mdtrt_id:
        raise Refusal("MDTRT_MISMATCH", f"就诊ID {data.mdtrt_id} 与结算 {data.setl_id} 不符")
    if data.psn_no and data.psn_no != s.person.psn_no:
        raise Refusal("PSN_MISMATCH", f"人员编号 {data.psn_no} 与结算 {data.setl_id} 不符")


def build_output(s: SettlementOut) -> dict[str, Any]:
    info = setlinfo.with_pharmacy_reversal_names(setlinfo.setlinfo(s))
    info["fixmedins_code"] = s.fixmedins_code
    # 1 for a reversal record (negative amounts); 0 for a settlement, also one that was reversed since.
    info["refd_setl_flag"] = "1" if s.status == "reversal" else "0"
    return {"setlinfo": info, "setldetail": setlinfo.setldetail(s)}


async def _handle_5203(call: Call, data: Input5203) -> dict[str, Any]:
    envelope = call.envelope
    settlement = await call.downstream.settlement(data.data.setl_id, envelope.fixmedins_code)
    check_visible(envelope, data.data, settlement)
    return build_output(settlement)


class Data5201(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    psn_no: str = Field(min_length=1, max_length=30)
    #: The period the visits began in; ``endtime`` open-ended when absent.
    begntime: WireTime
    endtime: OptionalWireTime = None
    med_type: MedType | None = None
    mdtrt_id: str | None = Field(default=None, pattern=MDTRT_ID)

    @field_validator("med_type", "mdtrt_id", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


class Input5201(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data5201


def _wire(value: Any) -> str | None:
    return format_wire_time(value) if value is not None else None


#: 5201 text fields the HIS sent with the visit (2201, 2401, 2403, 2402), answered as kept
#: (``VisitOut.details``).
VISIT_TEXTS = (
    "coner_name",
    "tel",
    "medrcdno",
    "atddr_no",
    "chfpdr_name",
    "adm_dept_codg",
    "adm_dept_name",
    "adm_bed",
    "dscg_dept_codg",
    "dscg_dept_name",
    "dscg_bed",
    "dscg_way",
    "main_cond_dscr",
    "oprn_oprt_code",
    "oprn_oprt_name",
    "fpsc_no",
    "birctrl_type",
    "latechb_flag",
    "pret_flag",
    "cop_flag",
)
#: ... and its numbers and dates, left out when not sent.
VISIT_NUMBERS = ("geso_val", "fetts", "fetus_cnt")
VISIT_DATES = ("die_date", "birctrl_matn_date")
#: 5201 fields the platform does not hold: answered "" (docs/interface.md, "Queries", "not held").
VISIT_NOT_HELD = ("flxempe_flag", "nwb_flag", "pre_pay_flag", "otp_diag_info", "memo")


#: What a kept number or day must look like to be answered (the gateway keeps them so; anything else,
#: written to the settlement service by another caller, is left out rather than sent mistyped).
_DIGITS = re.compile(r"^\d{1,4}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _cross_year(visit: VisitOut) -> str:
    """跨年度住院标志: 1 for a stay whose admission and discharge (today's date while it is open) fall in
    different years (Beijing), 0 otherwise and for any other visit."""
    if visit.setting != "inpatient":
        return "0"
    end = visit.endtime or now_china()
    return "1" if end.astimezone(CHINA_TZ).year != visit.begntime.astimezone(CHINA_TZ).year else "0"


def mdtrtinfo(visit: VisitOut) -> dict[str, Any]:
    """A visit under the national 5201 names; times as ``yyyy-MM-dd HH:mm:ss`` Beijing time. What the
    HIS sent is answered as kept; the person as covered (``cvlserv_flag`` 0 and no ``emp_name``: resident
    insurance has neither a civil-servant subsidy nor an employer)."""
    details = visit.details
    numbers = {k: Decimal(details[k]) for k in VISIT_NUMBERS if _DIGITS.match(details.get(k, ""))}
    dates = {k: details[k] for k in VISIT_DATES if _DAY.match(details.get(k, ""))}
    return {
        "mdtrt_id": visit.mdtrt_id,
        "psn_no": visit.psn_no,
        "psn_cert_type": "01" if visit.certno else "",
        "certno": visit.certno,
        "psn_name": visit.psn_name,
        "gend": visit.gend,
        "naty": visit.naty,
        "brdy": visit.brdy.isoformat() if visit.brdy else None,
        "age": visit.age,
        "insutype": visit.insutype,
        "psn_type": visit.psn_type,
        "maf_psn_flag": visit.maf_psn_flag,
        "cvlserv_flag": "0",
        "insu_optins": visit.insuplc_admdvs,
        "emp_name": "",
        "fixmedins_code": visit.fixmedins_code,
        "ipt_otp_no": visit.ipt_otp_no,
        "mdtrt_cert_type": visit.mdtrt_cert_type,
        "med_type": visit.med_type,
        "begntime": _wire(visit.begntime),
        "endtime": _wire(visit.endtime),
        "ars_year_ipt_flag": _cross_year(visit),
        "dise_codg": visit.dise_codg,
        "dise_name": visit.dise_name,
        # The discharge's main diagnosis row (2402); before one, what the admission named (2401).
        "dscg_maindiag_code": visit.dscg_maindiag_code or details.get("dscg_maindiag_code"),
        "dscg_maindiag_name": visit.dscg_maindiag_name or details.get("dscg_maindiag_name"),
        "inhosp_stas": "1" if visit.setting == "inpatient" and visit.endtime is None else "0",
        "ipt_days": visit.ipt_days,
        "matn_type": visit.matn_type,
        **{k: details.get(k) for k in VISIT_TEXTS},
        **numbers,
        **dates,
        **dict.fromkeys(VISIT_NOT_HELD, ""),
        "opter_id": visit.registered_by.opter_id,
        "opter_name": visit.registered_by.opter_name,
        "opt_time": _wire(visit.registered_by.opt_time),
    }


async def _handle_5201(call: Call, data: Input5201) -> dict[str, Any]:
    d = data.data
    if d.endtime and d.endtime < d.begntime:
        raise Refusal("E_INPUT", "结束时间 endtime 不能早于开始时间 begntime")
    found = await call.downstream.visits(
        d.psn_no,
        call.envelope.fixmedins_code,
        begntime=iso(d.begntime),
        endtime=iso(d.endtime) if d.endtime else None,
        med_type=d.med_type,
        mdtrt_id=d.mdtrt_id,
    )
    return {"mdtrtinfo": [mdtrtinfo(v) for v in found.visits]}


class Data5202(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    psn_no: str = Field(min_length=1, max_length=30)
    mdtrt_id: str = Field(pattern=MDTRT_ID)


class Input5202(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data5202


async def _handle_5202(call: Call, data: Input5202) -> dict[str, Any]:
    """Every diagnosis of the visit as the HIS sent it (2203, 2401, 2402, 2403 ``diseinfo``), admission
    (or visit) rows then discharge rows; a visit sent without rows answers its main ``dise_codg``."""
    d = data.data
    found = await call.downstream.diagnoses(d.psn_no, call.envelope.fixmedins_code, d.mdtrt_id)
    return {
        "diseinfo": [
            {
                "diag_info_id": r.diag_info_id,
                "mdtrt_id": r.mdtrt_id,
                "psn_no": r.psn_no,
                "inout_diag_type": r.inout_diag_type,
                "diag_type": r.diag_type,
                "maindiag_flag": r.maindiag_flag,
                "diag_srt_no": r.diag_srt_no,
                "diag_code": r.diag_code,
                "diag_name": r.diag_name,
                "adm_cond": r.adm_cond,
                "diag_dept": r.diag_dept,
                "dise_dor_no": r.dise_dor_no,
                "dise_dor_name": r.dise_dor_name,
                "diag_time": _wire(r.diag_time),
                "vali_flag": r.vali_flag,
                "opter_id": r.recorded_by.opter_id,
                "opter_name": r.recorded_by.opter_name,
                "opt_time": _wire(r.recorded_by.opt_time),
            }
            for r in found.diagnoses
        ]
    }


class Data5204(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    psn_no: str = Field(min_length=1, max_length=30)
    mdtrt_id: str = Field(pattern=MDTRT_ID)
    setl_id: str | None = Field(default=None, pattern=SETL_ID)

    @field_validator("setl_id", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


class Input5204(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data5204


#: 5204 text fields of the uploaded line (2204 / 2301), answered as kept (``FeeDetailOut.details``).
LINE_TEXTS = ("rx_drord_no", *LINE_DETAILS)
#: 5204 fields the platform does not hold (the list keeps no product data): answered "" (docs/interface.md,
#: "Queries", "not held").
LINE_NOT_HELD = ("prodname", "spec", "dosform_name", "hosp_prep_flag", "prodplac_type")


def _flag(value: bool) -> str:
    return "1" if value else "0"


def feedetail(line: FeeDetailOut) -> dict[str, Any]:
    """A settled line under the 2204 ``result`` names, with the settlement and institution it is of, the
    list entry (name, list, marks as settled), the institution's own name of its item, and what the HIS
    uploaded with the line."""
    details = line.details
    return {
        "feedetl_sn": line.feedetl_sn,
        "mdtrt_id": line.mdtrt_id,
        "setl_id": line.setl_id,
        "psn_no": line.psn_no,
        "med_type": line.med_type,
        "fixmedins_code": line.fixmedins_code,
        "fixmedins_name": line.fixmedins_name,
        "fee_ocur_time": format_wire_time(line.fee_ocur_time),
        "med_list_codg": line.med_list_codg,
        "medins_list_codg": line.medins_list_codg,
        "medins_list_name": line.medins_list_name,
        "hilist_code": line.med_list_codg,
        "hilist_name": line.hilist_name,
        "list_type": line.list_type,
        "cnt": line.cnt,
        "pric": line.pric,
        "prd_days": line.prd_days,
        "det_item_fee_sumamt": setlinfo.yuan(line.amount_fen),
        "pric_uplmt_amt": line.price_cap,
        "selfpay_prop": line.selfpay_prop.quantize(setlinfo.RATIO),
        "fulamt_ownpay_amt": setlinfo.yuan(line.fully_self_paid_fen),
        "overlmt_amt": setlinfo.yuan(line.over_price_cap_fen),
        "preselfpay_amt": setlinfo.yuan(line.self_pay_first_fen),
        "inscp_scp_amt": setlinfo.yuan(line.policy_range_fen),
        "chrgitm_lv": line.chrgitm_lv,
        "med_chrgitm_type": line.med_chrgitm_type,
        "lmt_used_flag": _flag(line.restricted),
        "bas_medn_flag": _flag(line.essential_drug),
        "hi_nego_drug_flag": _flag(line.negotiated_drug),
        "chld_medc_flag": _flag(line.child_medicine),
        "list_sp_item_flag": _flag(line.special_item),
        "drt_reim_flag": _flag(line.direct_reimbursement),
        "hosp_appr_flag": line.hosp_appr_flag,
        **{k: details.get(k) for k in LINE_TEXTS},
        **dict.fromkeys(LINE_NOT_HELD, ""),
        "memo": line.memo,
        "opter_id": line.recorded_by.opter_id,
        "opter_name": line.recorded_by.opter_name,
        "opt_time": _wire(line.recorded_by.opt_time),
    }


async def _handle_5204(call: Call, data: Input5204) -> dict[str, Any]:
    d = data.data
    found = await call.downstream.fee_details(d.psn_no, call.envelope.fixmedins_code, d.mdtrt_id, d.setl_id)
    return {"feedetail": [feedetail(line) for line in found.lines]}


class Data5205(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    psn_no: str = Field(min_length=1, max_length=30)
    begntime: WireTime
    endtime: OptionalWireTime = None


class Input5205(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data5205


async def _handle_5205(call: Call, data: Input5205) -> dict[str, Any]:
    d = data.data
    if d.endtime and d.endtime < d.begntime:
        raise Refusal("E_INPUT", "结束时间 endtime 不能早于开始时间 begntime")
    found = await call.downstream.chronic_drugs(
        d.psn_no, iso(d.begntime), iso(d.endtime) if d.endtime else None
    )
    return {"feedetail": [feedetail(line) for line in found.lines]}


class Data5206(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    psn_no: str = Field(min_length=1, max_length=30)
    #: 累计年月 ``yyyyMM``: the year's totals up to now; this month when absent.
    cum_ym: str | None = Field(default=None, pattern=r"^\d{4}(0[1-9]|1[0-2])$")

    @field_validator("cum_ym", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


class Input5206(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data5206


#: 累计类别代码 this platform answers (docs/interface.md, "Queries"): the yearly totals the benefit layers
#: count against, in the deployed code's forms (``Q0000`` 起付线累计, ``C0000`` 住院次数, ``D`` + fund code
#: for a fund's payments, ``_BIZ`` + med_type for one kind of care). Amounts in yuan, counts whole numbers.
CUM_TYPES: tuple[tuple[str, Callable[[AccumulationOut], int], bool], ...] = (
    ("Q0000", lambda a: a.outpatient_deductible_fen, True),  # 门诊统筹起付线累计
    ("D390100", lambda a: a.outpatient_paid_fen + a.pooled_paid_fen, True),  # 统筹基金支付累计
    ("D390100_BIZ11", lambda a: a.outpatient_paid_fen, True),  # 其中门诊统筹
    ("D390100_BIZ14", lambda a: a.chronic_paid_fen, True),  # 其中门诊慢特病
    ("D390200", lambda a: a.catastrophic_paid_fen, True),  # 大病保险支付累计
    ("D610100", lambda a: a.assistance_paid_fen, True),  # 医疗救助支付累计
    ("C0000", lambda a: a.admissions, False),  # 住院次数
)


def cuminfo(a: AccumulationOut, cum_ym: str) -> list[dict[str, Any]]:
    return [
        {
            "insutype": a.insutype,
            "year": str(a.year),
            "cum_ym": cum_ym,
            "cum_type_code": code,
            "cum": setlinfo.yuan(value(a)) if money else Decimal(value(a)),
        }
        for code, value, money in CUM_TYPES
    ]


async def _handle_5206(call: Call, data: Input5206) -> dict[str, Any]:
    d = data.data
    cum_ym = d.cum_ym or now_china().strftime("%Y%m")
    year = int(cum_ym[:4])
    if year > date.today().year + 1:
        raise Refusal("E_INPUT", f"累计年月 cum_ym {cum_ym} 无效")
    found = await call.downstream.accumulations(d.psn_no, year)
    return {"cuminfo": [row for a in found.accumulations for row in cuminfo(a, cum_ym)]}


TRANSACTIONS = (
    Transaction("5201", "queries", "就诊信息查询", Input5201, _handle_5201),
    Transaction("5202", "queries", "诊断信息查询", Input5202, _handle_5202),
    Transaction("5203", "queries", "结算信息查询", Input5203, _handle_5203),
    Transaction("5204", "queries", "费用明细查询", Input5204, _handle_5204),
    Transaction("5205", "queries", "人员慢特病用药记录查询", Input5205, _handle_5205),
    Transaction("5206", "queries", "人员累计信息查询", Input5206, _handle_5206),
)
