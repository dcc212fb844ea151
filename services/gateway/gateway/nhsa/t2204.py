"""Fee lines of an encounter: 2204 门诊费用明细上传 / 2205 撤销 (docs/interface.md) and 2301
住院费用明细上传 / 2302 撤销 (§2.9). An upload is answered with each line's classification
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

from gateway.nhsa import setlinfo
from gateway.nhsa.encounter import (
    ALL,
    MDTRT_ID,
    MED_TYPE,
    SignedYuanAsFen,
    WireNode,
    WireTime,
    iso,
)
from gateway.nhsa.envelope import RequestEnvelope
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
    med_list_codg: str = Field(min_length=1, max_length=50)
    medins_list_codg: str = Field(min_length=1, max_length=50)
    det_item_fee_sumamt: YuanAsFen
    cnt: Decimal = Field(gt=0, max_digits=16, decimal_places=4)
    pric: Decimal = Field(ge=0, max_digits=16, decimal_places=6)
    sin_dos_dscr: str | None = Field(default=None, max_length=200)
    used_frqu_dscr: str | None = Field(default=None, max_length=200)
    prd_days: Decimal | None = Field(default=None, ge=0, max_digits=8, decimal_places=2)
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
    hosp_appr_flag: str | None = Field(default=None, pattern=r"^[012]$")
    tcmdrug_used_way: str | None = Field(default=None, max_length=6)
    etip_flag: str | None = Field(default=None, max_length=3)
    etip_hosp_code: str | None = Field(default=None, max_length=30)
    dscg_tkdrug_flag: str | None = Field(default=None, max_length=3)
    matn_fee_flag: str | None = Field(default=None, max_length=3)

    @field_validator("cnt", "pric", mode="before")
    @classmethod
    def _no_float_special(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("必须是数字")
        if isinstance(value, float):
            return Decimal(repr(value))
        return value


class OutpatientFee(FeeDetail):
    #: 收费批次号: "同一收费批次号病种编号必须一致"; the lines one 2206/2207 settles.
    chrg_bchno: str = Field(min_length=1, max_length=30)

    @field_validator("chrg_bchno")
    @classmethod
    def _not_all(cls, value: str) -> str:
        if value == ALL:
            raise ValueError(f"{ALL} 保留用于撤销全部未结算明细(2205)，不能用作收费批次号")
        return value


class InpatientFee(FeeDetail):
    #: 原费用流水号 of a write-off line; a line naming itself (as some HIS software sends) is ordinary.
    init_feedetl_sn: str | None = Field(default=None, max_length=30)
    drord_no: str | None = Field(default=None, max_length=30)
    med_type: str | None = Field(default=None, pattern=MED_TYPE)
    det_item_fee_sumamt: SignedYuanAsFen
    cnt: Decimal = Field(max_digits=16, decimal_places=4)

    @field_validator("cnt")
    @classmethod
    def _positive_cnt(cls, value: Decimal) -> Decimal:
        if value < 0:
            raise ValueError(WRITE_OFF_UNSUPPORTED)
        if value == 0:
            raise ValueError("必须大于0")
        return value

    @field_validator("det_item_fee_sumamt")
    @classmethod
    def _positive_amount(cls, value: int) -> int:
        if value < 0:
            raise ValueError(WRITE_OFF_UNSUPPORTED)
        return value

    @model_validator(mode="after")
    def _no_write_off(self) -> InpatientFee:
        if self.init_feedetl_sn and self.init_feedetl_sn != self.feedetl_sn:
            raise ValueError(
                f"init_feedetl_sn: 暂不支持冲销原明细 {self.init_feedetl_sn}：请用2302撤销原明细后重新上传"
            )
        return self


def _one_encounter(lines: Sequence[FeeDetail]) -> None:
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


class Input2204(WireNode):
    feedetail: list[OutpatientFee] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _one(self) -> Input2204:
        _one_encounter(self.feedetail)
        return self


class Input2301(WireNode):
    feedetail: list[InpatientFee] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _one(self) -> Input2301:
        _one_encounter(self.feedetail)
        return self


def upload_request(envelope: RequestEnvelope, lines: Sequence[FeeDetail]) -> dict[str, Any]:
    """``FeesUpload``: domain names, integer fen, ISO times."""
    return {"fixmedins_code": envelope.fixmedins_code, "lines": [_line(x) for x in lines]}


def _line(x: FeeDetail) -> dict[str, Any]:
    line: dict[str, Any] = {
        "feedetl_sn": x.feedetl_sn,
        "med_list_codg": x.med_list_codg,
        "medins_list_codg": x.medins_list_codg,
        "cnt": str(x.cnt),
        "pric": str(x.pric),
        "amount_fen": x.det_item_fee_sumamt,
        "fee_ocur_time": iso(x.fee_ocur_time),
    }
    if isinstance(x, OutpatientFee):
        line["chrg_bchno"] = x.chrg_bchno
    if x.hosp_appr_flag:  # absent: the settlement service's default (no approval needed)
        line["hosp_appr_flag"] = x.hosp_appr_flag
    return line


def build_upload_output(fees: dict[str, Any]) -> dict[str, Any]:
    """``FeesOut`` (the per-line classification) -> ``result[]``."""
    return {"result": setlinfo.detlcutinfo(fees)}


class Data2205(WireNode):
    mdtrt_id: str = Field(pattern=MDTRT_ID)
    #: "0000": every unsettled line of the visit.
    chrg_bchno: str = Field(min_length=1, max_length=30)
    psn_no: str = Field(min_length=1, max_length=30)


class Input2205(WireNode):
    data: Data2205


def cancel_batch_request(envelope: RequestEnvelope, data: Data2205) -> dict[str, Any]:
    """``FeesCancel`` by charge batch ("0000" is passed on: the settlement service reads it as all)."""
    return {"fixmedins_code": envelope.fixmedins_code, "chrg_bchno": data.chrg_bchno, "feedetl_sns": []}


class Data2302(WireNode):
    mdtrt_id: str = Field(pattern=MDTRT_ID)
    psn_no: str = Field(min_length=1, max_length=30)
    #: One line, or "0000": every unsettled line of the stay.
    feedetl_sn: str = Field(min_length=1, max_length=30)


class Input2302(WireNode):
    data: Data2302


def cancel_lines_request(envelope: RequestEnvelope, data: Data2302) -> dict[str, Any]:
    """``FeesCancel`` by line number; no line numbers means every unsettled line."""
    sns = [] if data.feedetl_sn == ALL else [data.feedetl_sn]
    return {"fixmedins_code": envelope.fixmedins_code, "feedetl_sns": sns}


def cancelled_warning(cancelled: int, what: str) -> str | None:
    """Withdrawing nothing is not an error, but the HIS should know (a settled batch needs 2208 / 2305)."""
    if cancelled == 0:
        return f"{what}没有未结算的费用明细，未撤销任何明细 (已结算的明细须先撤销结算)"
    return None
