"""Fee lines of an encounter, as the outpatient and inpatient families share them: 2204
门诊费用明细上传 / 2205 撤销 (docs/interface.md) and 2301 住院费用明细上传 / 2302 撤销 (§2.9); their input
models are in ``outpatient.py`` / ``inpatient.py``. An upload is answered with each line's classification
(``result``: 甲/乙/丙, self-pay share, price cap), the same rows as a pharmacy settlement's
``detlcutinfo`` (``setlinfo.detlcutinfo``).

Outpatient lines are grouped by the HIS's charge batch (``chrg_bchno``), which 2206/2207 settle one at a
time; inpatient lines have none (2303/2304 settle the stay). Inpatient write-off lines (negative ``cnt``,
``init_feedetl_sn`` naming the original line) are not supported yet: the HIS withdraws the original line
with 2302 and uploads it again."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pydantic import Field, field_validator, model_validator

from gateway.declaration import Call
from gateway.nhsa import encounter, setlinfo
from gateway.nhsa.encounter import (
    MDTRT_ID,
    DaysSupply,
    Setting,
    WireNode,
    WireTime,
    iso,
)
from gateway.nhsa.tracing import TraceInfo, codes_of
from gateway.protocol.code_tables import HospApprFlag
from gateway.protocol.envelope import Answer, RequestEnvelope
from shared.contracts.v1.settlement import FeesOut
from shared.money import YuanAsFen

WRITE_OFF_UNSUPPORTED = "暂不支持负数(冲销)明细：请用2302撤销原明细后重新上传"


class FeeDetail(WireNode):
    """A ``feedetail`` row as 2204 and 2301 share it."""

    feedetl_sn: str = Field(min_length=1, max_length=30)
    mdtrt_id: str = Field(pattern=MDTRT_ID)
    psn_no: str = Field(min_length=1, max_length=30)
    dise_codg: str | None = Field(default=None, max_length=30)
    rxno: str | None = Field(default=None, max_length=30)
    rx_circ_flag: str | None = Field(default=None, max_length=3)
    fee_ocur_time: WireTime
    #: Empty: settled as the national code ``medins_list_codg`` is mapped to (3301) on the day of the fee.
    med_list_codg: str | None = Field(default=None, max_length=50)
    medins_list_codg: str = Field(min_length=1, max_length=50)
    det_item_fee_sumamt: YuanAsFen
    cnt: Decimal = Field(gt=0, max_digits=16, decimal_places=4)
    pric: Decimal = Field(ge=0, max_digits=16, decimal_places=6)
    sin_dos_dscr: str | None = Field(default=None, max_length=200)
    used_frqu_dscr: str | None = Field(default=None, max_length=200)
    prd_days: DaysSupply = None
    medc_way_dscr: str | None = Field(default=None, max_length=200)
    bilg_dept_codg: str | None = Field(default=None, max_length=30)
    bilg_dept_name: str | None = Field(default=None, max_length=100)
    bilg_dr_codg: str | None = Field(default=None, max_length=30)
    bilg_dr_name: str | None = Field(default=None, max_length=50)
    acord_dept_codg: str | None = Field(default=None, max_length=30)
    acord_dept_name: str | None = Field(default=None, max_length=100)
    orders_dr_code: str | None = Field(default=None, max_length=30)
    orders_dr_name: str | None = Field(default=None, max_length=50)
    #: 医院审批标志 of a restricted item: 0 无须审批, 1 审批通过, 2 审批不通过 (docs/interface.md).
    hosp_appr_flag: HospApprFlag | None = None
    tcmdrug_used_way: str | None = Field(default=None, max_length=6)
    etip_flag: str | None = Field(default=None, max_length=3)
    etip_hosp_code: str | None = Field(default=None, max_length=30)
    dscg_tkdrug_flag: str | None = Field(default=None, max_length=3)
    matn_fee_flag: str | None = Field(default=None, max_length=3)
    #: The traceability codes the line dispenses (docs/interface.md, "Inventory"), either form: required
    #: on an outpatient line of a drug the list marks as traced.
    drug_trac_codg: str | None = Field(default=None, max_length=4000)
    drugtracinfo: list[TraceInfo] | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _trace_codes(self) -> FeeDetail:
        codes_of(self.drug_trac_codg, self.drugtracinfo)  # refused here when malformed
        return self

    @property
    def trace_codes(self) -> list[str]:
        return codes_of(self.drug_trac_codg, self.drugtracinfo)

    @field_validator("cnt", "pric", mode="before")
    @classmethod
    def _no_float_special(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("必须是数字")
        if isinstance(value, float):
            return Decimal(repr(value))
        return value


def one_encounter(lines: Sequence[FeeDetail]) -> None:
    """One upload, one encounter and person, each line once."""
    mdtrt_ids = sorted({x.mdtrt_id for x in lines})
    if len(mdtrt_ids) > 1:
        raise ValueError(f"一次上传的费用明细须属于同一就诊，本次含多个就诊ID: {', '.join(mdtrt_ids)}")
    psn_nos = sorted({x.psn_no for x in lines})
    if len(psn_nos) > 1:
        raise ValueError(f"一次上传的费用明细须属于同一人员，本次含多个人员编号: {', '.join(psn_nos)}")
    repeated = sorted(sn for sn, n in Counter(x.feedetl_sn for x in lines).items() if n > 1)
    if repeated:
        raise ValueError(f"费用明细流水号重复: {', '.join(repeated)}")


def upload_request(envelope: RequestEnvelope, lines: Sequence[FeeDetail]) -> dict[str, Any]:
    """``FeesUpload``: domain names, integer fen, ISO times."""
    return {
        "fixmedins_code": envelope.fixmedins_code,
        "lines": [_line(x) for x in lines],
        **encounter.operator(envelope),
    }


#: What a line sends that the platform keeps for 5204 (``details``), under the 5204 names.
LINE_DETAILS = (
    "sin_dos_dscr",
    "used_frqu_dscr",
    "medc_way_dscr",
    "bilg_dept_codg",
    "bilg_dept_name",
    "bilg_dr_codg",
    "bilg_dr_name",
    "acord_dept_codg",
    "acord_dept_name",
    "orders_dr_code",
    "orders_dr_name",
    "tcmdrug_used_way",
    "etip_flag",
    "etip_hosp_code",
    "dscg_tkdrug_flag",
    "matn_fee_flag",
)


def _line(x: FeeDetail) -> dict[str, Any]:
    line: dict[str, Any] = {
        "feedetl_sn": x.feedetl_sn,
        "med_list_codg": x.med_list_codg or "",
        "medins_list_codg": x.medins_list_codg,
        "cnt": str(x.cnt),
        "pric": str(x.pric),
        "amount_fen": x.det_item_fee_sumamt,
        "fee_ocur_time": iso(x.fee_ocur_time),
        # 处方/医嘱号: an outpatient line's prescription (rxno), an inpatient line's order (drord_no).
        "details": encounter.details(x, LINE_DETAILS, {"rxno": "rx_drord_no", "drord_no": "rx_drord_no"}),
    }
    chrg_bchno = getattr(x, "chrg_bchno", None)  # outpatient lines only
    if chrg_bchno is not None:
        line["chrg_bchno"] = chrg_bchno
    if x.hosp_appr_flag:  # absent: the settlement service's default (no approval needed)
        line["hosp_appr_flag"] = x.hosp_appr_flag
    if x.trace_codes:
        line["drug_trac_codg"] = x.trace_codes
    return line


def build_upload_output(fees: FeesOut) -> dict[str, Any]:
    """``FeesOut`` (the per-line classification) -> ``result[]``."""
    return {"result": setlinfo.detlcutinfo(fees)}


def cancelled_warning(cancelled: int, what: str) -> str | None:
    """Withdrawing nothing is not an error, but the HIS should know (a settled batch needs 2208 / 2305)."""
    if cancelled == 0:
        return f"{what}没有未结算的费用明细，未撤销任何明细 (已结算的明细须先撤销结算)"
    return None


async def upload(call: Call, lines: Sequence[FeeDetail], setting: Setting) -> dict[str, Any]:
    """2204 / 2301: the encounter checked, the lines stored, answered with their classification."""
    mdtrt_id = lines[0].mdtrt_id  # one encounter per upload (checked by the input model)
    await encounter.checked(call, mdtrt_id, setting, lines[0].psn_no)
    fees = await call.downstream.upload_fees(mdtrt_id, upload_request(call.envelope, lines))
    return build_upload_output(fees)


async def cancel(call: Call, mdtrt_id: str, psn_no: str, setting: Setting, request: dict[str, Any]) -> int:
    """2205 / 2302: the encounter checked, its unsettled lines withdrawn; how many were."""
    await encounter.checked(call, mdtrt_id, setting, psn_no)
    answer = await call.downstream.cancel_fees(mdtrt_id, request)
    return answer.cancelled


def cancelled_answer(data: dict[str, Any], cancelled: int, warning: str | None) -> Answer:
    return Answer({"data": {**data, "cancelled": cancelled}}, warning)
