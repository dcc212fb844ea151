"""Settlement lists 医保结算清单 (docs/interface.md, "Settlement lists"): 4101 / 4101A upload the list of one
inpatient settlement (4101 with the institution's fund split ``payinfo`` and fee classes ``iteminfo``, which
must be the settlement's; 4101A without them: the platform states the settlement's own), 4102 withdraws a
list or lets it stand again, 4103 answers it. The caller's own settlements only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.declaration import Call, Transaction
from gateway.nhsa import setlinfo
from gateway.nhsa.encounter import MDTRT_ID, OptionalWireTime, WireNode, WireTime, iso
from gateway.nhsa.pharmacy import SETL_ID
from gateway.protocol.errors import Refusal
from shared.clock import format_wire_time
from shared.contracts.v1.setl_lists import (
    ListDiagnosis,
    ListFund,
    ListItem,
    ListOperation,
    SettlementListOut,
    SettlementListUpload,
    StatusChange,
)
from shared.money import YuanAsFen

#: ICD-10 as the 1307 diagnosis catalogue writes it (J18.900, I63.900x001); ICD-9-CM-3 as the 1308
#: operation catalogue does (36.0601, 81.5100x001). The gateway checks their form; the settlement service
#: checks that they are on the lists in force on the day of discharge (docs/interface.md, "Settlement lists").
DIAGNOSIS_CODE = r"^[A-Z][0-9]{2}(\.[0-9A-Za-z+]{1,12})?$"
OPERATION_CODE = r"^[0-9]{2}(\.[0-9A-Za-z]{1,12})?$"


class SetlInfo(WireNode):
    """``setlinfo``: what the platform reads of it; every other field is kept as sent for 4103."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    psn_no: str = Field(min_length=1, max_length=30)
    mdtrt_id: str = Field(pattern=MDTRT_ID)
    setl_id: str = Field(pattern=SETL_ID)
    adm_time: WireTime
    dscg_time: WireTime
    #: 离院方式: 1 医嘱离院, 2 医嘱转院, 3 医嘱转社区, 4 非医嘱离院, 5 死亡, 9 其他.
    dscg_way: str = Field(pattern=r"^[1-59]$")
    medins_fill_dept: str = Field(min_length=1, max_length=100)
    medins_fill_psn: str = Field(min_length=1, max_length=50)


class Diagnosis(WireNode):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    diag_type: str = Field(pattern=r"^[123]$")
    diag_code: str = Field(pattern=DIAGNOSIS_CODE)
    diag_name: str = Field(min_length=1, max_length=200)
    maindiag_flag: str = Field(pattern=r"^[01]$")
    adm_cond_type: str | None = Field(default=None, max_length=3)


class Operation(WireNode):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    #: 1 主手术, 2 其他手术.
    oprn_oprt_type: str = Field(default="2", pattern=r"^[12]$")
    oprn_oprt_code: str = Field(pattern=OPERATION_CODE)
    oprn_oprt_name: str = Field(min_length=1, max_length=500)
    oprn_oprt_date: OptionalWireTime = None


class PayInfo(WireNode):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    fund_pay_type: str = Field(pattern=r"^\d{6}$")
    fund_payamt: YuanAsFen


class ItemInfo(WireNode):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    med_chrgitm: str = Field(min_length=1, max_length=6)
    amt: YuanAsFen


class Input4101A(BaseModel):
    model_config = ConfigDict(extra="ignore")

    setlinfo: SetlInfo
    diseinfo: list[Diagnosis] = Field(min_length=1, max_length=100)
    oprninfo: list[Operation] = Field(default_factory=list, max_length=100)
    opspdiseinfo: list[dict[str, Any]] = Field(default_factory=list, max_length=100)
    icuinfo: list[dict[str, Any]] = Field(default_factory=list, max_length=100)
    bldinfo: list[dict[str, Any]] = Field(default_factory=list, max_length=100)


class Input4101(Input4101A):
    payinfo: list[PayInfo] = Field(min_length=1, max_length=30)
    iteminfo: list[ItemInfo] = Field(min_length=1, max_length=30)


def upload_request(call: Call, version: str, data: Input4101A) -> SettlementListUpload:
    info = data.setlinfo
    if info.dscg_time < info.adm_time:
        raise Refusal("E_INPUT", "setlinfo.dscg_time 出院时间不能早于入院时间 adm_time")
    read = set(SetlInfo.model_fields)
    rest = {k: v for k, v in info.model_dump().items() if k not in read}
    funds = items = None
    if isinstance(data, Input4101):
        funds = [ListFund(fund_pay_type=p.fund_pay_type, paid_fen=p.fund_payamt) for p in data.payinfo]
        items = [ListItem(med_chrgitm_type=i.med_chrgitm, amount_fen=i.amt) for i in data.iteminfo]
    return SettlementListUpload(
        fixmedins_code=call.envelope.fixmedins_code,
        version=version,
        setl_id=info.setl_id,
        psn_no=info.psn_no,
        mdtrt_id=info.mdtrt_id,
        adm_time=datetime.fromisoformat(iso(info.adm_time)),
        dscg_time=datetime.fromisoformat(iso(info.dscg_time)),
        dscg_way=info.dscg_way,
        diagnoses=[ListDiagnosis.model_validate(d.model_dump()) for d in data.diseinfo],
        operations=[
            ListOperation(
                oprn_oprt_code=o.oprn_oprt_code,
                oprn_oprt_name=o.oprn_oprt_name,
                main_oprn_flag="1" if o.oprn_oprt_type == "1" else "0",
                oprn_oprt_date=o.oprn_oprt_date,
            )
            for o in data.oprninfo
        ],
        funds=funds,
        items=items,
        content={
            "setlinfo": {
                **rest,
                "medins_fill_dept": info.medins_fill_dept,
                "medins_fill_psn": info.medins_fill_psn,
            },
            "opspdiseinfo": data.opspdiseinfo,
            "icuinfo": data.icuinfo,
            "bldinfo": data.bldinfo,
        },
    )


async def _check_settlement(call: Call, setl_id: str, psn_no: str, mdtrt_id: str) -> None:
    """The settlement is the caller's, of the person and the stay named (before anything is stored)."""
    s = await call.downstream.settlement(setl_id, call.envelope.fixmedins_code)
    if s.fixmedins_code != call.envelope.fixmedins_code:
        raise Refusal("NOT_YOUR_SETTLEMENT", "只能查询本机构的结算")
    if s.mdtrt_id != mdtrt_id:
        raise Refusal("MDTRT_MISMATCH", f"就诊ID {mdtrt_id} 与结算 {setl_id} 不符")
    if s.person.psn_no != psn_no:
        raise Refusal("PSN_MISMATCH", f"人员编号 {psn_no} 与结算 {setl_id} 不符")


async def _upload(call: Call, version: str, data: Input4101A) -> dict[str, Any]:
    request = upload_request(call, version, data)
    await _check_settlement(call, request.setl_id, request.psn_no, request.mdtrt_id)
    stored = await call.downstream.upload_settlement_list(request)
    return {"setl_list_id": stored.setl_list_id, "data": {"setl_list_id": stored.setl_list_id}}


async def _handle_4101(call: Call, data: Input4101) -> dict[str, Any]:
    return await _upload(call, "4101", data)


async def _handle_4101a(call: Call, data: Input4101A) -> dict[str, Any]:
    return await _upload(call, "4101A", data)


class StatusRow(WireNode):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    psn_no: str = Field(min_length=1, max_length=30)
    setl_id: str = Field(pattern=SETL_ID)
    #: 0 撤回 (the list no longer counts as uploaded; upload it again), 1 有效.
    stas_type: str = Field(pattern=r"^[01]$")


class Data4102(BaseModel):
    model_config = ConfigDict(extra="ignore")

    stastinfo: list[StatusRow] = Field(min_length=1, max_length=100)


class Input4102(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data4102


async def _handle_4102(call: Call, data: Input4102) -> dict[str, Any]:
    rows = []
    for row in data.data.stastinfo:
        changed = await call.downstream.settlement_list_status(
            row.setl_id,
            StatusChange(
                fixmedins_code=call.envelope.fixmedins_code,
                psn_no=row.psn_no,
                stas_type=row.stas_type,
            ),
        )
        rows.append(
            {"setl_id": changed.setl_id, "setl_list_id": changed.setl_list_id, "stas_type": changed.stas_type}
        )
    return {"result": rows}


class Data4103(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    psn_no: str = Field(min_length=1, max_length=30)
    setl_id: str = Field(pattern=SETL_ID)


class Input4103(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data4103


def listed(found: SettlementListOut) -> dict[str, Any]:
    """The stored list under the 4103 names: the list's own fields, the amounts the settlement's."""
    ids = {"setl_id": found.setl_id, "mdtrt_id": found.mdtrt_id, "psn_no": found.psn_no}
    sent = dict(found.content.get("setlinfo", {}))
    info = {
        **sent,
        **ids,
        "setl_list_sn": found.setl_list_id,
        "fixmedins_code": found.fixmedins_code,
        "adm_time": format_wire_time(found.adm_time),
        "dscg_time": format_wire_time(found.dscg_time),
        "dscg_way": found.dscg_way,
        "medfee_sumamt": setlinfo.yuan(found.medfee_sumamt_fen),
        "diag_code_cnt": len(found.diagnoses),
        "oprn_oprt_code_cnt": len(found.operations),
        "stas_type": found.stas_type,
        "upload_type": found.version,
    }
    return {
        "setlinfo": info,
        "payinfo": [
            {**ids, "fund_pay_type": f.fund_pay_type, "fund_payamt": setlinfo.yuan(f.paid_fen)}
            for f in found.funds
        ],
        "diseinfo": [{**ids, **d.model_dump()} for d in found.diagnoses],
        "oprninfo": [{**ids, **o.model_dump()} for o in found.operations],
        "iteminfo": [
            {**ids, "med_chrgitm_type": i.med_chrgitm_type, "item_sumamt": setlinfo.yuan(i.amount_fen)}
            for i in found.items
        ],
        "opspdiseinfo": found.content.get("opspdiseinfo", []),
        "icuinfo": found.content.get("icuinfo", []),
        "bldinfo": found.content.get("bldinfo", []),
    }


async def _handle_4103(call: Call, data: Input4103) -> dict[str, Any]:
    d = data.data
    return listed(await call.downstream.settlement_list(d.setl_id, call.envelope.fixmedins_code, d.psn_no))


TRANSACTIONS = (
    Transaction(
        "4101",
        "settlement_lists",
        "医疗保障基金结算清单信息上传",
        Input4101,
        _handle_4101,
        changes_state=True,
        replayed=True,
    ),
    Transaction(
        "4101A",
        "settlement_lists",
        "医疗保障基金结算清单信息上传",
        Input4101A,
        _handle_4101a,
        changes_state=True,
        replayed=True,
    ),
    Transaction(
        "4102",
        "settlement_lists",
        "医疗保障基金结算清单信息状态修改",
        Input4102,
        _handle_4102,
        changes_state=True,
        replayed=True,
    ),
    Transaction("4103", "settlement_lists", "医疗保障基金结算清单信息查询", Input4103, _handle_4103),
)
