"""Filings (备案, docs/interface.md "Filings"): 2503 门慢门特病种备案 registers a person for a chronic or
special disease of the insured region's policy, with the dates it is valid; 2504 revokes it; 5301 lists a
person's 门慢门特 filings. The filings are stored in the settlement service, which the engine reads them from.

Field names as the national interface and deployed HIS code send them: 2503 ``data`` carries ``psn_no``,
``insutype``, ``opsp_dise_code`` / ``opsp_dise_name``, ``begndate`` / ``enddate`` (yyyy-MM-dd) and the
identifying institution's details (``ide_fixmedins_no``, ``hosp_ide_date``, ``diag_dr_codg``...), and is
answered ``result.trt_dcla_detl_sn`` (待遇申报明细流水号); 2504 ``data`` names ``psn_no``,
``trt_dcla_detl_sn`` and a ``memo``; 5301 ``data.psn_no`` is answered with ``feedetail`` rows
(``opsp_dise_code``, ``opsp_dise_name``, ``begndate``, ``enddate``). 2505 人员定点备案 names the facility
(``fixmedins_code``, ``fix_srt_no``, ``biz_appy_type``, ``begndate`` / ``enddate``, the 代办人 ``agnter_*``
read for shape); 2506 revokes it as 2504 does; 5302 answers ``psnfixmedin`` rows."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.nhsa.encounter import Insutype, WireNode, require_insuplc
from gateway.nhsa.transaction import Call, Transaction

#: What the settlement service issues as 待遇申报明细流水号: letters and digits only (it reaches a URL path).
TRT_DCLA_DETL_SN = r"^[0-9A-Za-z_-]{1,30}$"


class Data2503(WireNode):
    psn_no: str = Field(min_length=1, max_length=30)
    insutype: Insutype
    opsp_dise_code: str = Field(min_length=1, max_length=30)
    opsp_dise_name: str = Field(min_length=1, max_length=300)
    begndate: date
    enddate: date | None = None
    tel: str | None = Field(default=None, max_length=50)
    addr: str | None = Field(default=None, max_length=200)
    insu_optins: str | None = Field(default=None, max_length=6)
    ide_fixmedins_no: str | None = Field(default=None, max_length=30)
    ide_fixmedins_name: str | None = Field(default=None, max_length=200)
    hosp_ide_date: date | None = None
    diag_dr_codg: str | None = Field(default=None, max_length=30)
    diag_dr_name: str | None = Field(default=None, max_length=50)
    memo: str | None = Field(default=None, max_length=500)


class Input2503(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data2503


class Data2504(WireNode):
    psn_no: str = Field(min_length=1, max_length=30)
    trt_dcla_detl_sn: str = Field(pattern=TRT_DCLA_DETL_SN)
    memo: str | None = Field(default=None, max_length=500)


class Input2504(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data2504


class Data2505(WireNode):
    psn_no: str = Field(min_length=1, max_length=30)
    insutype: Insutype = "390"
    biz_appy_type: str | None = Field(default=None, max_length=3)
    begndate: date
    enddate: date | None = None
    fix_srt_no: str | None = Field(default=None, max_length=3)
    fixmedins_code: str = Field(min_length=1, max_length=30)
    fixmedins_name: str | None = Field(default=None, max_length=200)
    tel: str | None = Field(default=None, max_length=50)
    addr: str | None = Field(default=None, max_length=200)
    agnter_name: str | None = Field(default=None, max_length=50)
    agnter_cert_type: str | None = Field(default=None, max_length=6)
    agnter_certno: str | None = Field(default=None, max_length=50)
    agnter_tel: str | None = Field(default=None, max_length=50)
    agnter_addr: str | None = Field(default=None, max_length=200)
    agnter_rlts: str | None = Field(default=None, max_length=6)
    memo: str | None = Field(default=None, max_length=500)


class Input2505(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data2505


class Data5302(WireNode):
    psn_no: str = Field(min_length=1, max_length=30)
    biz_appy_type: str | None = Field(default=None, max_length=3)


class Input5302(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data5302


class Data5301(WireNode):
    psn_no: str = Field(min_length=1, max_length=30)


class Input5301(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data5301


async def _handle_2503(call: Call, data: Input2503) -> dict[str, Any]:
    d = data.data
    filing = await call.downstream.file_chronic(
        {
            "psn_no": d.psn_no,
            "insutype": d.insutype,
            "insuplc_admdvs": require_insuplc(call.envelope),
            "fixmedins_code": call.envelope.fixmedins_code,
            "opsp_dise_code": d.opsp_dise_code,
            "opsp_dise_name": d.opsp_dise_name,
            "begndate": d.begndate.isoformat(),
            "enddate": d.enddate.isoformat() if d.enddate else None,
            "memo": d.memo,
        }
    )
    return {"result": {"trt_dcla_detl_sn": filing["trt_dcla_detl_sn"]}}


async def _revoke(call: Call, d: Data2504, kind: str) -> dict[str, Any]:
    filing = await call.downstream.revoke_filing(
        d.trt_dcla_detl_sn,
        {"psn_no": d.psn_no, "kind": kind, "fixmedins_code": call.envelope.fixmedins_code, "memo": d.memo},
    )
    return {"result": {"trt_dcla_detl_sn": filing["trt_dcla_detl_sn"], "revoked_on": filing["revoked_on"]}}


async def _handle_2504(call: Call, data: Input2504) -> dict[str, Any]:
    return await _revoke(call, data.data, "chronic")


async def _handle_2505(call: Call, data: Input2505) -> dict[str, Any]:
    d = data.data
    filing = await call.downstream.file_designated(
        {
            "psn_no": d.psn_no,
            "insutype": d.insutype,
            "insuplc_admdvs": require_insuplc(call.envelope),
            "fixmedins_code": call.envelope.fixmedins_code,
            "designated_fixmedins_code": d.fixmedins_code,
            "fix_srt_no": d.fix_srt_no,
            "biz_appy_type": d.biz_appy_type,
            "begndate": d.begndate.isoformat(),
            "enddate": d.enddate.isoformat() if d.enddate else None,
            "memo": d.memo,
        }
    )
    return {"result": {"trt_dcla_detl_sn": filing["trt_dcla_detl_sn"]}}


async def _handle_2506(call: Call, data: Input2504) -> dict[str, Any]:
    return await _revoke(call, data.data, "designated")


async def _handle_5302(call: Call, data: Input5302) -> dict[str, Any]:
    answer = await call.downstream.person_filings(data.data.psn_no, "designated")
    return {
        "psnfixmedin": [
            {
                "trt_dcla_detl_sn": f["trt_dcla_detl_sn"],
                "psn_no": f["psn_no"],
                "insutype": f["insutype"],
                "fix_srt_no": f["fix_srt_no"],
                "fixmedins_code": f["designated_fixmedins_code"],
                "fixmedins_name": f["designated_fixmedins_name"],
                "begndate": f["begndate"],
                "enddate": _last_day(f),
                "memo": f["memo"],
            }
            for f in answer["filings"]
        ]
    }


async def _handle_5301(call: Call, data: Input5301) -> dict[str, Any]:
    answer = await call.downstream.person_filings(data.data.psn_no, "chronic")
    return {
        "feedetail": [
            {
                "trt_dcla_detl_sn": f["trt_dcla_detl_sn"],
                "opsp_dise_code": f["opsp_dise_code"],
                "opsp_dise_name": f["opsp_dise_name"],
                "begndate": f["begndate"],
                # A revoked filing ends the day before its revocation applies.
                "enddate": _last_day(f),
                "vali_flag": "1" if f["status"] == "active" else "0",
            }
            for f in answer["filings"]
        ]
    }


def _last_day(filing: dict[str, Any]) -> str | None:
    end = filing["enddate"]
    if filing["revoked_on"] is not None:
        revoked_last = date.fromordinal(date.fromisoformat(filing["revoked_on"]).toordinal() - 1)
        if end is None or revoked_last.isoformat() < end:
            return max(revoked_last, date.fromisoformat(filing["begndate"])).isoformat()
    return str(end) if end is not None else None


TRANSACTIONS = (
    Transaction(
        "2503", "filings", "门慢门特病种备案", Input2503, _handle_2503, changes_state=True, replayed=True
    ),
    Transaction(
        "2504", "filings", "门慢门特病种备案撤销", Input2504, _handle_2504, changes_state=True, replayed=True
    ),
    Transaction(
        "2505", "filings", "人员定点备案", Input2505, _handle_2505, changes_state=True, replayed=True
    ),
    Transaction(
        "2506", "filings", "人员定点备案撤销", Input2504, _handle_2506, changes_state=True, replayed=True
    ),
    Transaction("5301", "filings", "人员慢特病备案查询", Input5301, _handle_5301),
    Transaction("5302", "filings", "人员定点信息查询", Input5302, _handle_5302),
)
