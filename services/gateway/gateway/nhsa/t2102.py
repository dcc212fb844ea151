"""2102 药店结算: a pharmacy purchase settled in one call (research doc §2.12). The mapping between the
wire names (``hifp_pay``, ``psn_cash_pay``...) and the settlement service's domain names lives here and in
``funds.py`` only."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.nhsa.envelope import RequestEnvelope
from gateway.nhsa.errors import Refusal
from gateway.nhsa.funds import FUND_NAMES, setlinfo_fund_columns
from shared.clock import format_wire_time, parse_wire_time
from shared.money import YuanAsFen, fen_to_yuan

RATIO = Decimal("0.0001")


def _wire_time(value: str) -> str:
    try:
        parse_wire_time(value)
    except ValueError as exc:
        raise ValueError("格式应为 yyyy-MM-dd HH:mm:ss") from exc
    return value


class DrugInfo(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    psn_no: str = Field(min_length=1, max_length=30)
    mdtrt_cert_type: str = Field(pattern=r"^(01|02|03)$")
    mdtrt_cert_no: str = Field(min_length=1, max_length=50)
    begntime: str
    medfee_sumamt: YuanAsFen
    invono: str | None = Field(default=None, max_length=20)
    insutype: str = Field(pattern=r"^\d{3}$")
    dise_codg: str | None = Field(default=None, max_length=30)
    dise_name: str | None = Field(default=None, max_length=300)
    acct_used_flag: str = Field(default="0", pattern=r"^(0|1)$")
    med_type: str = Field(pattern=r"^\d{2,6}$")

    _begntime = field_validator("begntime")(_wire_time)


class DrugDetail(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    feedetl_sn: str = Field(min_length=1, max_length=30)
    rxno: str | None = Field(default=None, max_length=30)
    rx_circ_flag: str | None = Field(default=None, max_length=3)
    fee_ocur_time: str | None = None
    med_list_codg: str = Field(min_length=1, max_length=50)
    medins_list_codg: str = Field(min_length=1, max_length=50)
    det_item_fee_sumamt: YuanAsFen
    cnt: Decimal = Field(gt=0, max_digits=16, decimal_places=4)
    pric: Decimal = Field(ge=0, max_digits=16, decimal_places=6)
    sin_dos_dscr: str | None = Field(default=None, max_length=200)
    used_frqu_dscr: str | None = Field(default=None, max_length=200)
    prd_days: Decimal | None = Field(default=None, ge=0, max_digits=8, decimal_places=2)
    medc_way_dscr: str | None = Field(default=None, max_length=200)
    bilg_dr_codg: str | None = Field(default=None, max_length=30)
    bilg_dr_name: str | None = Field(default=None, max_length=50)
    tcmdrug_used_way: str | None = Field(default=None, max_length=6)

    @field_validator("fee_ocur_time")
    @classmethod
    def _fee_time(cls, value: str | None) -> str | None:
        return _wire_time(value) if value else value

    @field_validator("cnt", "pric", mode="before")
    @classmethod
    def _no_float_special(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("必须是数字")
        if isinstance(value, float):
            return Decimal(repr(value))
        return value


class Input2102(BaseModel):
    model_config = ConfigDict(extra="ignore")

    druginfo: DrugInfo
    drugdetail: list[DrugDetail] = Field(min_length=1, max_length=500)


def settlement_request(envelope: RequestEnvelope, data: Input2102) -> dict[str, Any]:
    if not envelope.insuplc_admdvs:
        raise Refusal("E_INPUT", "insuplc_admdvs: 交易含人员编号时参保地医保区划必填 (可由1101获取)")
    info = data.druginfo
    return {
        "msgid": envelope.msgid,
        "fixmedins_code": envelope.fixmedins_code,
        "mdtrtarea_admvs": envelope.mdtrtarea_admvs,
        "insuplc_admdvs": envelope.insuplc_admdvs,
        "psn_no": info.psn_no,
        "mdtrt_cert_type": info.mdtrt_cert_type,
        "mdtrt_cert_no": info.mdtrt_cert_no,
        "begntime": parse_wire_time(info.begntime).isoformat(),
        "medfee_sumamt_fen": info.medfee_sumamt,
        "insutype": info.insutype,
        "med_type": info.med_type,
        "acct_used_flag": info.acct_used_flag,
        "invono": info.invono,
        "lines": [
            {
                "feedetl_sn": d.feedetl_sn,
                "med_list_codg": d.med_list_codg,
                "medins_list_codg": d.medins_list_codg,
                "cnt": str(d.cnt),
                "pric": str(d.pric),
                "amount_fen": d.det_item_fee_sumamt,
                "rxno": d.rxno,
                "fee_ocur_time": parse_wire_time(d.fee_ocur_time).isoformat() if d.fee_ocur_time else None,
            }
            for d in data.drugdetail
        ],
    }


def _yuan(fen: int) -> Decimal:
    return fen_to_yuan(int(fen))


def build_output(s: dict[str, Any]) -> dict[str, Any]:
    """Settlement service answer (domain names, fen) -> setlinfo / setldetail / detlcutinfo (wire, yuan)."""
    from datetime import datetime

    person = s["person"]
    setl_time = format_wire_time(datetime.fromisoformat(s["setl_time"]))
    fund_columns = setlinfo_fund_columns(s["funds"])
    setlinfo = {
        "mdtrt_id": s["mdtrt_id"],
        "setl_id": s["setl_id"],
        "psn_no": person["psn_no"],
        "psn_name": person["psn_name"],
        "psn_cert_type": "01",
        "certno": person["certno"],
        "gend": person["gend"],
        "brdy": person["brdy"],
        "age": person["age"],
        "insutype": s["insutype"],
        "psn_type": person["psn_type"],
        "cvlserv_flag": "0",
        "setl_time": setl_time,
        "mdtrt_cert_type": s["mdtrt_cert_type"],
        "med_type": s["med_type"],
        "medfee_sumamt": _yuan(s["medfee_sumamt_fen"]),
        "fulamt_ownpay_amt": _yuan(s["fully_self_paid_fen"]),
        "overlmt_selfpay": _yuan(s["over_price_cap_fen"]),
        "preselfpay_amt": _yuan(s["self_pay_first_fen"]),
        "inscp_scp_amt": _yuan(s["policy_range_fen"]),
        "act_pay_dedc": _yuan(s["deductible_fen"]),
        **{column: _yuan(fen) for column, fen in fund_columns.items()},
        "pool_prop_selfpay": Decimal(str(s["pool_ratio"])).quantize(RATIO),
        "fund_pay_sumamt": _yuan(s["fund_paid_total_fen"]),
        "psn_part_amt": _yuan(s["personal_burden_fen"]),
        "acct_pay": _yuan(s["account_paid_fen"]),
        "psn_cash_pay": _yuan(s["cash_paid_fen"]),
        "hosp_part_amt": _yuan(0),
        "balc": _yuan(0),
        "acct_mulaid_pay": _yuan(0),
        "medins_setl_id": s["msgid"],
        "clr_optins": s["insuplc_admdvs"],
        "clr_way": "01",
        "clr_type": s["clr_type"],
    }
    setldetail = [
        {
            "fund_pay_type": f["fund_pay_type"],
            "fund_pay_type_name": FUND_NAMES.get(f["fund_pay_type"], ""),
            "inscp_scp_amt": _yuan(f["policy_range_fen"]),
            "crt_payb_lmt_amt": _yuan(f["payable_limit_fen"]),
            "fund_payamt": _yuan(f["paid_fen"]),
            "setl_proc_info": f["calc_trace"],
        }
        for f in s["funds"]
    ]
    detlcutinfo = [
        {
            "feedetl_sn": line["feedetl_sn"],
            "det_item_fee_sumamt": _yuan(line["amount_fen"]),
            "cnt": Decimal(str(line["cnt"])),
            "pric": Decimal(str(line["pric"])),
            "pric_uplmt_amt": Decimal(str(line["price_cap"])) if line["price_cap"] is not None else None,
            "selfpay_prop": Decimal(str(line["selfpay_prop"])).quantize(RATIO),
            "fulamt_ownpay_amt": _yuan(line["fully_self_paid_fen"]),
            "overlmt_amt": _yuan(line["over_price_cap_fen"]),
            "preselfpay_amt": _yuan(line["self_pay_first_fen"]),
            "inscp_scp_amt": _yuan(line["policy_range_fen"]),
            "chrgitm_lv": line["chrgitm_lv"],
            "med_chrgitm_type": line["med_chrgitm_type"],
            "memo": line["memo"],
        }
        for line in s["lines"]
    ]
    return {"setlinfo": setlinfo, "setldetail": setldetail, "detlcutinfo": detlcutinfo}
