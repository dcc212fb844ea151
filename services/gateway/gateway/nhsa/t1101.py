"""1101 人员信息获取: the person's base information, insurance and identity categories (research doc §2.2)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.nhsa.errors import Refusal
from shared.clock import now_china, parse_wire_time
from shared.money import fen_to_yuan


class Input1101(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    mdtrt_cert_type: str = Field(pattern=r"^(01|02|03)$")
    mdtrt_cert_no: str = Field(min_length=1, max_length=50)
    card_sn: str | None = Field(default=None, max_length=32)
    begntime: str | None = None
    psn_cert_type: str | None = Field(default=None, max_length=6)
    certno: str | None = Field(default=None, max_length=50)
    psn_name: str | None = Field(default=None, max_length=50)


class Envelope1101(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Input1101


def lookup_certno(data: Input1101) -> str:
    if data.mdtrt_cert_type == "02":
        return data.mdtrt_cert_no
    if data.certno and (data.psn_cert_type in (None, "", "01")):
        return data.certno
    raise Refusal("E_CERT_TYPE", "暂不支持该就诊凭证类型查询，请使用身份证(02)或同时传入 certno")


def reference_year(data: Input1101) -> int:
    if data.begntime:
        try:
            return parse_wire_time(data.begntime).year
        except ValueError as exc:
            raise Refusal("E_INPUT", "input.data.begntime: 格式应为 yyyy-MM-dd HH:mm:ss") from exc
    return now_china().year


def build_output(coverage: dict[str, Any], year: int) -> dict[str, Any]:
    person = coverage["person"]
    insured = [e for e in coverage["enrollments"] if e["year"] == year]
    if not insured:
        raise Refusal("E_NOT_INSURED", f"该人员在 {year} 年度无参保信息")
    identities = coverage["identities"]
    return {
        "baseinfo": {
            "psn_no": person["psn_no"],
            "psn_cert_type": person["psn_cert_type"],
            "certno": person["certno"],
            "psn_name": person["psn_name"],
            "gend": person["gend"],
            "naty": person["naty"],
            "brdy": person["brdy"],
            "age": coverage["age"],
            "exp_content": "",
        },
        "insuinfo": [
            {
                "balc": fen_to_yuan(0),  # residents have no personal account
                "insutype": e["insutype"],
                "psn_type": e["psn_type"],
                "psn_insu_stas": e["status"],
                "psn_insu_date": e["coverage_begin"],
                "paus_insu_date": None,
                "cvlserv_flag": "0",
                "insuplc_admdvs": e["insuplc_admdvs"],
                "emp_name": "",
            }
            for e in insured
        ],
        "idetinfo": [
            {
                "psn_idet_type": i["psn_idet_type"],
                "psn_type_lv": "",
                "memo": "",
                "begntime": i["begin_date"],
                "endtime": i["end_date"],
            }
            for i in identities
            if i["end_date"] is None or date.fromisoformat(i["end_date"]).year >= year
        ],
    }
