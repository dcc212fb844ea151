"""Queries 5201-5206 (docs/interface.md, "Queries"): what an institution reads back of its own visits
(5201 就诊信息, 5202 诊断信息, 5203 结算信息, 5204 费用明细) and of a person it treats (5205 慢特病用药记录,
5206 人员累计信息, across institutions: the interface names the dispensing institution on each record).

5203: one settlement as stored, for an institution that lost its answer or reprints it. An
institution sees its own settlements only. The 5203 setlinfo model (public HIS code) carries, besides the
2207 fields, ``psn_pay`` / ``cash_payamt``, ``fixmedins_code`` and ``refd_setl_flag`` (退费结算标志)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.declaration import Call, Transaction
from gateway.nhsa import setlinfo
from gateway.nhsa.encounter import MDTRT_ID, OptionalWireTime, WireTime, iso
from gateway.nhsa.pharmacy import SETL_ID
from gateway.protocol.code_tables import MedType
from gateway.protocol.envelope import RequestEnvelope
from gateway.protocol.errors import Refusal
from shared.clock import format_wire_time, now_china
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


def mdtrtinfo(visit: VisitOut) -> dict[str, Any]:
    """A visit under the national 5201 names; times as ``yyyy-MM-dd HH:mm:ss`` Beijing time."""
    return {
        "mdtrt_id": visit.mdtrt_id,
        "psn_no": visit.psn_no,
        "fixmedins_code": visit.fixmedins_code,
        "ipt_otp_no": visit.ipt_otp_no,
        "insutype": visit.insutype,
        "med_type": visit.med_type,
        "begntime": _wire(visit.begntime),
        "endtime": _wire(visit.endtime),
        "dise_codg": visit.dise_codg,
        "dise_name": visit.dise_name,
        "matn_type": visit.matn_type,
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


def feedetail(line: FeeDetailOut) -> dict[str, Any]:
    """A settled line under the 2204 ``result`` names, with the settlement and institution it is of."""
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
        "cnt": line.cnt,
        "pric": line.pric,
        "det_item_fee_sumamt": setlinfo.yuan(line.amount_fen),
        "pric_uplmt_amt": line.price_cap,
        "selfpay_prop": line.selfpay_prop.quantize(setlinfo.RATIO),
        "fulamt_ownpay_amt": setlinfo.yuan(line.fully_self_paid_fen),
        "overlmt_amt": setlinfo.yuan(line.over_price_cap_fen),
        "preselfpay_amt": setlinfo.yuan(line.self_pay_first_fen),
        "inscp_scp_amt": setlinfo.yuan(line.policy_range_fen),
        "chrgitm_lv": line.chrgitm_lv,
        "med_chrgitm_type": line.med_chrgitm_type,
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
    rows = []
    for line in found.lines:
        row = feedetail(line)
        row["prd_days"] = line.prd_days
        rows.append(row)
    return {"feedetail": rows}


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
