"""Filings (备案, docs/interface.md "Filings"): 2501 / 2501A 转院备案 files a referral or out-of-area care
(the region and institution the person goes to), 2502 revokes it; 2503 门慢门特病种备案 registers a person for
a chronic or special disease of the insured region's policy, with the dates it is valid; 2504 revokes it;
2505 / 2506 the facility a chronic patient is treated at; 2507 意外伤害备案 files an injury with the person's
declaration whether a third party is liable (the interface has no revocation code for it: an office clerk
revokes it over REST); 5301 / 5302 / 5304 list a person's filings (5304 转院信息查询 the referral and
out-of-area ones, with their kind ``dcla_type``); 2001 人员待遇享受检查 answers what the person
may draw on for the care asked. The filings are stored in the settlement service, which the engine reads
them from.

Field names as the national interface and deployed HIS code send them: 2503 ``data`` carries ``psn_no``,
``insutype``, ``opsp_dise_code`` / ``opsp_dise_name``, ``begndate`` / ``enddate`` (yyyy-MM-dd) and the
identifying institution's details (``ide_fixmedins_no``, ``hosp_ide_date``, ``diag_dr_codg``...), and is
answered ``result.trt_dcla_detl_sn`` (待遇申报明细流水号); 2504 ``data`` names ``psn_no``,
``trt_dcla_detl_sn`` and a ``memo``; 5301 ``data.psn_no`` is answered with ``feedetail`` rows
(``opsp_dise_code``, ``opsp_dise_name``, ``begndate``, ``enddate``). 2505 人员定点备案 names the facility
(``fixmedins_code``, ``fix_srt_no``, ``biz_appy_type``, ``begndate`` / ``enddate``, the 代办人 ``agnter_*``
read for shape; ``insutype`` absent: the scheme the person is covered by); 2506 revokes it as 2504 does;
5302 answers ``psnfixmedin`` rows. 2501 ``refmedin`` (as deployed HIS code sends it) names ``psn_no``,
``insutype``, ``mdtrtarea_admdvs`` (就医地), ``reflin_medins_no`` / ``reflin_medins_name`` (转往机构),
``refl_type``, ``refl_date``, ``refl_rea``, ``refl_opnn``, ``hosp_agre_refl_flag``, ``diag_code`` /
``diag_name``, ``begndate`` / ``enddate``; 2501A adds ``refl_old_mdtrt_id``; 2502 ``data`` is 2504's.
2507 ``data`` names ``psn_no``, ``insutype``, ``trum_time``, ``trum_site``, ``trum_rea`` (致伤原因),
``begndate`` / ``enddate`` and, as this platform's extension (the national 2507 has no field for it), the
declaration ``thrd_pty_resp_flag`` (0 no liable third party / 1 a third party is liable) and
``wrk_inj_flag`` (1 a work injury); answered ``result.trt_dcla_detl_sn`` and ``chk_pay_flag``. 2001
``data`` names ``psn_no``, ``insutype``, ``fixmedins_code``, ``med_type``, ``begntime``, ``dise_codg``...
and is answered with ``trtinfo`` rows (``psn_no``, ``trt_chk_type``, ``fund_pay_type``,
``trt_enjymnt_flag``, ``begndate``, ``enddate``, ``trt_chk_rslt`` and ``dcla_type``, the kind of the
out-of-area filing covering the care). Dates are read in the forms deployed
clients send (``yyyy-MM-dd``, or with a time, which is dropped)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from gateway.declaration import Call, Transaction
from gateway.nhsa.encounter import (
    Insutype,
    OptionalWireTime,
    WireNode,
    WireTime,
    absent_if_unset,
    require_insuplc,
)
from gateway.protocol.code_tables import MatnType, MedType
from shared.clock import now_china, parse_client_time, parse_wire_time
from shared.contracts.v1.filings import (
    ChronicFilingCreate,
    DclaType,
    DesignatedFilingCreate,
    FilingKind,
    FilingOut,
    FilingRevoke,
    InjuryFilingCreate,
    ReferralFilingCreate,
)

#: What the settlement service issues as 待遇申报明细流水号: letters and digits only (it reaches a URL path).
TRT_DCLA_DETL_SN = r"^[0-9A-Za-z_-]{1,30}$"
ADMDVS = r"^\d{6}$"


def _wire_date(value: Any) -> Any:
    """A date as clients send it: ``yyyy-MM-dd``, or a time whose date is taken (``parse_client_time``)."""
    if isinstance(value, str):
        try:
            parsed = parse_client_time(value)
        except ValueError as exc:
            raise ValueError("格式应为 yyyy-MM-dd") from exc
        if parsed is None:
            raise ValueError("必填（0001-01-01T00:00:00 表示未填）")
        return parsed.date()
    return value


WireDate = Annotated[date, BeforeValidator(_wire_date)]
OptionalWireDate = Annotated[WireDate | None, BeforeValidator(absent_if_unset)]
Flag = Literal["0", "1"]


class Data2503(WireNode):
    psn_no: str = Field(min_length=1, max_length=30)
    insutype: Insutype
    opsp_dise_code: str = Field(min_length=1, max_length=30)
    opsp_dise_name: str = Field(min_length=1, max_length=300)
    begndate: WireDate
    enddate: OptionalWireDate = None
    tel: str | None = Field(default=None, max_length=50)
    addr: str | None = Field(default=None, max_length=200)
    insu_optins: str | None = Field(default=None, max_length=6)
    ide_fixmedins_no: str | None = Field(default=None, max_length=30)
    ide_fixmedins_name: str | None = Field(default=None, max_length=200)
    hosp_ide_date: OptionalWireDate = None
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
    #: Absent: the scheme the person is covered by on ``begndate`` (settlement looks it up).
    insutype: Insutype | None = None
    biz_appy_type: str | None = Field(default=None, max_length=3)
    begndate: WireDate
    enddate: OptionalWireDate = None
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


class Data2501(WireNode):
    psn_no: str = Field(min_length=1, max_length=30)
    insutype: Insutype | None = None
    tel: str | None = Field(default=None, max_length=50)
    addr: str | None = Field(default=None, max_length=200)
    insu_optins: str | None = Field(default=None, max_length=6)
    diag_code: str | None = Field(default=None, max_length=30)
    diag_name: str | None = Field(default=None, max_length=300)
    dise_cond_dscr: str | None = Field(default=None, max_length=500)
    reflin_medins_no: str | None = Field(default=None, max_length=30)
    reflin_medins_name: str | None = Field(default=None, max_length=200)
    mdtrtarea_admdvs: str = Field(pattern=ADMDVS)
    #: 异地就医备案类别 (docs/interface.md, "Filings"); absent: 04 异地转诊.
    dcla_type: DclaType | None = None
    hosp_agre_refl_flag: str | None = Field(default=None, max_length=3)
    refl_type: str | None = Field(default=None, max_length=6)
    refl_date: OptionalWireDate = None
    refl_rea: str | None = Field(default=None, max_length=300)
    refl_opnn: str | None = Field(default=None, max_length=300)
    begndate: WireDate
    enddate: OptionalWireDate = None
    memo: str | None = Field(default=None, max_length=500)


class Input2501(BaseModel):
    model_config = ConfigDict(extra="ignore")

    refmedin: Data2501


class Data2501A(Data2501):
    #: The visit the person is transferred from (转院前就诊ID).
    refl_old_mdtrt_id: str | None = Field(default=None, max_length=30)


class Input2501A(BaseModel):
    model_config = ConfigDict(extra="ignore")

    refmedin: Data2501A


class Data2507(WireNode):
    psn_no: str = Field(min_length=1, max_length=30)
    insutype: Insutype | None = None
    mdtrtarea_admdvs: str | None = Field(default=None, pattern=ADMDVS)
    adm_time: OptionalWireTime = None
    trum_time: WireTime
    trum_site: str | None = Field(default=None, max_length=200)
    trum_rea: str = Field(min_length=1, max_length=300)
    #: This platform's extension (docs/interface.md, "Filings"): the person's declaration.
    thrd_pty_resp_flag: Flag
    wrk_inj_flag: Flag = "0"
    begndate: WireDate
    enddate: OptionalWireDate = None
    memo: str | None = Field(default=None, max_length=500)


class Input2507(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data2507


class Data2001(WireNode):
    psn_no: str = Field(min_length=1, max_length=30)
    insutype: Insutype
    fixmedins_code: str | None = Field(default=None, max_length=30)
    med_type: MedType
    #: The time of care asked about; absent: today (Beijing time).
    begntime: OptionalWireTime = None
    endtime: OptionalWireTime = None
    dise_codg: str | None = Field(default=None, max_length=30)
    dise_name: str | None = Field(default=None, max_length=500)
    oprn_oprt_code: str | None = Field(default=None, max_length=30)
    oprn_oprt_name: str | None = Field(default=None, max_length=500)
    matn_type: Annotated[MatnType | None, BeforeValidator(lambda v: v or None)] = None
    birctrl_type: str | None = Field(default=None, max_length=6)


class Input2001(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data2001


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


class Data5304(WireNode):
    psn_no: str = Field(min_length=1, max_length=30)
    #: The period asked about (the filings valid on some day of it); absent: every filing of the person.
    begntime: OptionalWireTime = None
    endtime: OptionalWireTime = None


class Input5304(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data5304


Create = TypeVar("Create", bound=BaseModel)


def _body(model: type[Create], call: Call, d: WireNode, **differing: Any) -> Create:
    """The settlement service's filing body: every field the contract shares by name with the wire node
    (``psn_no``, ``insutype``, the dates, ``memo``, the kind's own fields), the filing institution and the
    insured region from the envelope, and the fields whose name or form differs (``differing``)."""
    same = {name: getattr(d, name) for name in model.model_fields if name in type(d).model_fields}
    filer = {"insuplc_admdvs": require_insuplc(call.envelope), "fixmedins_code": call.envelope.fixmedins_code}
    return model(**{**same, **filer, **differing})


def _filed(filing: FilingOut, **more: Any) -> dict[str, Any]:
    return {"result": {"trt_dcla_detl_sn": filing.trt_dcla_detl_sn, **more}}


async def _handle_2503(call: Call, data: Input2503) -> dict[str, Any]:
    return _filed(await call.downstream.file_chronic(_body(ChronicFilingCreate, call, data.data)))


async def _revoke(call: Call, d: Data2504, kind: FilingKind) -> dict[str, Any]:
    filing = await call.downstream.revoke_filing(
        d.trt_dcla_detl_sn,
        FilingRevoke(psn_no=d.psn_no, kind=kind, fixmedins_code=call.envelope.fixmedins_code, memo=d.memo),
    )
    return _filed(filing, revoked_on=_day(filing.revoked_on))


async def _handle_2504(call: Call, data: Input2504) -> dict[str, Any]:
    return await _revoke(call, data.data, "chronic")


async def _handle_2505(call: Call, data: Input2505) -> dict[str, Any]:
    # The wire's fixmedins_code is the facility filed for; the contract's is the institution filing.
    body = _body(DesignatedFilingCreate, call, data.data, designated_fixmedins_code=data.data.fixmedins_code)
    return _filed(await call.downstream.file_designated(body))


async def _handle_2506(call: Call, data: Input2504) -> dict[str, Any]:
    return await _revoke(call, data.data, "designated")


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


async def _handle_2501(call: Call, data: Input2501) -> dict[str, Any]:
    filing = await call.downstream.file_referral(_body(ReferralFilingCreate, call, data.refmedin))
    return _filed(filing, dcla_type=filing.dcla_type)


async def _handle_2501a(call: Call, data: Input2501A) -> dict[str, Any]:
    # Data2501A adds refl_old_mdtrt_id (the visit transferred from), which the contract shares by name.
    filing = await call.downstream.file_referral(_body(ReferralFilingCreate, call, data.refmedin))
    return _filed(filing, dcla_type=filing.dcla_type)


async def _handle_2502(call: Call, data: Input2504) -> dict[str, Any]:
    return await _revoke(call, data.data, "referral")


async def _handle_2507(call: Call, data: Input2507) -> dict[str, Any]:
    body = _body(InjuryFilingCreate, call, data.data, trum_time=parse_wire_time(data.data.trum_time))
    filing = await call.downstream.file_injury(body)
    return _filed(filing, chk_pay_flag=filing.chk_pay_flag)


async def _handle_2001(call: Call, data: Input2001) -> dict[str, Any]:
    d = data.data
    params = {
        "insutype": d.insutype,
        "med_type": d.med_type,
        "fixmedins_code": d.fixmedins_code or call.envelope.fixmedins_code,
    }
    if d.begntime is not None:
        params["on"] = parse_wire_time(d.begntime).date().isoformat()
    if d.dise_codg:
        params["dise_codg"] = d.dise_codg
    answer = await call.downstream.entitlement(d.psn_no, params)
    return {
        "trtinfo": [
            {
                "psn_no": answer.psn_no,
                "trt_chk_type": row.trt_chk_type,
                "fund_pay_type": row.fund_pay_type,
                "trt_enjymnt_flag": row.trt_enjymnt_flag,
                "begndate": _day(row.begndate),
                "enddate": _day(row.enddate),
                "trt_chk_rslt": row.trt_chk_rslt,
                "dcla_type": row.dcla_type,
            }
            for row in answer.rows
        ]
    }


async def _handle_5302(call: Call, data: Input5302) -> dict[str, Any]:
    answer = await call.downstream.person_filings(data.data.psn_no, "designated")
    return {
        "psnfixmedin": [
            {
                "trt_dcla_detl_sn": f.trt_dcla_detl_sn,
                "psn_no": f.psn_no,
                "insutype": f.insutype,
                "fix_srt_no": f.fix_srt_no,
                "fixmedins_code": f.designated_fixmedins_code,
                "fixmedins_name": f.designated_fixmedins_name,
                "begndate": _day(f.begndate),
                "enddate": _last_day(f),
                "memo": f.memo,
            }
            for f in answer.filings
        ]
    }


async def _handle_5301(call: Call, data: Input5301) -> dict[str, Any]:
    answer = await call.downstream.person_filings(data.data.psn_no, "chronic")
    today = now_china().date().isoformat()
    rows = []
    for f in answer.filings:
        # A revoked filing ends the day before its revocation applies.
        last = _last_day(f)
        # Valid (1): not revoked and not past its last day (one that has not begun yet is valid).
        valid = f.status == "active" and (last is None or last >= today)
        rows.append(
            {
                "trt_dcla_detl_sn": f.trt_dcla_detl_sn,
                "opsp_dise_code": f.opsp_dise_code,
                "opsp_dise_name": f.opsp_dise_name,
                "begndate": _day(f.begndate),
                "enddate": last,
                "vali_flag": "1" if valid else "0",
            }
        )
    return {"feedetail": rows}


async def _handle_5304(call: Call, data: Input5304) -> dict[str, Any]:
    """转院信息查询: the person's referral / out-of-area filings (2501) whose validity meets the period
    ``begntime``..``endtime``, each with its kind (``dcla_type``, 异地就医备案类别), oldest first."""
    d = data.data
    first = parse_wire_time(d.begntime).date().isoformat() if d.begntime is not None else None
    last = parse_wire_time(d.endtime).date().isoformat() if d.endtime is not None else None
    answer = await call.downstream.person_filings(d.psn_no, "referral")
    today = now_china().date().isoformat()
    rows = []
    for f in answer.filings:
        end = _last_day(f)
        begins = f.begndate.isoformat()
        if (last is not None and begins > last) or (first is not None and end is not None and end < first):
            continue
        valid = f.status == "active" and (end is None or end >= today)
        rows.append(
            {
                "trt_dcla_detl_sn": f.trt_dcla_detl_sn,
                "psn_no": f.psn_no,
                "insutype": f.insutype,
                "dcla_type": f.dcla_type,
                "mdtrtarea_admdvs": f.mdtrtarea_admdvs,
                "reflin_medins_no": f.reflin_medins_no,
                "reflin_medins_name": f.reflin_medins_name,
                "refl_date": _day(f.refl_date),
                "refl_rea": f.refl_rea,
                "hosp_agre_refl_flag": f.hosp_agre_refl_flag,
                "diag_code": f.diag_code,
                "diag_name": f.diag_name,
                "begndate": begins,
                "enddate": end,
                "vali_flag": "1" if valid else "0",
                "memo": f.memo,
            }
        )
    return {"refmedin": rows}


def _last_day(filing: FilingOut) -> str | None:
    end = filing.enddate
    if filing.revoked_on is not None:
        revoked_last = date.fromordinal(filing.revoked_on.toordinal() - 1)
        if end is None or revoked_last < end:
            return max(revoked_last, filing.begndate).isoformat()
    return _day(end)


TRANSACTIONS = (
    Transaction("2001", "filings", "人员待遇享受检查", Input2001, _handle_2001),
    Transaction("2501", "filings", "转院备案", Input2501, _handle_2501, changes_state=True, replayed=True),
    Transaction(
        "2501A",
        "filings",
        "转院备案（含转院前就诊ID）",
        Input2501A,
        _handle_2501a,
        changes_state=True,
        replayed=True,
    ),
    Transaction(
        "2502", "filings", "转院备案撤销", Input2504, _handle_2502, changes_state=True, replayed=True
    ),
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
    Transaction(
        "2507", "filings", "人员意外伤害备案", Input2507, _handle_2507, changes_state=True, replayed=True
    ),
    Transaction("5301", "filings", "人员慢特病备案查询", Input5301, _handle_5301),
    Transaction("5302", "filings", "人员定点信息查询", Input5302, _handle_5302),
    Transaction("5304", "filings", "转院信息查询", Input5304, _handle_5304),
)
