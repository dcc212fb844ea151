"""An inpatient stay: 2401 入院办理, 2402 出院办理 (docs/interface.md), 2403 住院信息变更, 2404 入院撤销, 2405
出院撤销; its fee lines 2301 / 2302 (§2.9) and its settlement 2303 / 2304 / 2305 (§2.10, §2.11). Admission
answers ``result.mdtrt_id``. What a stay shares with an outpatient visit is in ``encounter.py``,
``fees.py`` and ``settling.py``. The diagnosis rows (``diseinfo``) are kept as sent for 5202 (2401 and 2403
the admission's, 2402 the discharge's); the stay settles by its 医疗类别, 病种 and 生育类别."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from gateway.declaration import Call, Transaction
from gateway.nhsa import encounter, fees, pharmacy, settling
from gateway.nhsa.encounter import (
    ALL,
    INPATIENT,
    MDTRT_ID,
    DiseInfo,
    DiseInfoList,
    Insutype,
    MatnType,
    MdtrtCertType,
    MedType,
    OptionalWireTime,
    SignedYuanAsFen,
    WireNode,
    WireTime,
    iso,
)
from gateway.nhsa.fees import WRITE_OFF_UNSUPPORTED, FeeDetail, one_encounter
from gateway.nhsa.settling import SettleData
from gateway.protocol.envelope import Answer, RequestEnvelope
from shared.clock import format_wire_time, parse_wire_time
from shared.contracts.v1.settlement import DISCHARGE_DETAILS, EncounterOut


class MdtrtInfo2401(WireNode):
    psn_no: str = Field(min_length=1, max_length=30)
    insutype: Insutype
    coner_name: str | None = Field(default=None, max_length=50)
    tel: str | None = Field(default=None, max_length=50)
    begntime: WireTime
    mdtrt_cert_type: MdtrtCertType
    mdtrt_cert_no: str = Field(min_length=1, max_length=50)
    #: 21 普通住院 (and the other 2x), 52 生育住院 (docs/interface.md).
    med_type: MedType
    #: 住院号: the hospital's own number of the stay, unique in the hospital.
    ipt_no: str = Field(min_length=1, max_length=30)
    medrcdno: str | None = Field(default=None, max_length=30)
    atddr_no: str | None = Field(default=None, max_length=30)
    chfpdr_name: str | None = Field(default=None, max_length=50)
    adm_diag_dscr: str | None = Field(default=None, max_length=200)
    adm_dept_codg: str | None = Field(default=None, max_length=30)
    adm_dept_name: str | None = Field(default=None, max_length=100)
    adm_bed: str | None = Field(default=None, max_length=30)
    dscg_maindiag_code: str | None = Field(default=None, max_length=30)
    dscg_maindiag_name: str | None = Field(default=None, max_length=300)
    main_cond_dscr: str | None = Field(default=None, max_length=1000)
    dise_codg: str | None = Field(default=None, max_length=30)
    dise_name: str | None = Field(default=None, max_length=300)
    oprn_oprt_code: str | None = Field(default=None, max_length=30)
    oprn_oprt_name: str | None = Field(default=None, max_length=500)
    #: 生育类别 of a 52 stay: 1 顺产, 2 剖宫产; may also come later (2402 / 2403).
    matn_type: MatnType | None = None

    @model_validator(mode="after")
    def _inpatient(self) -> MdtrtInfo2401:
        encounter.check_med_type(INPATIENT, self.med_type)
        return self


#: What 2401 sends that the platform keeps for 5201 (``details``).
ADMISSION_DETAILS = (
    "coner_name",
    "tel",
    "medrcdno",
    "atddr_no",
    "chfpdr_name",
    "adm_dept_codg",
    "adm_dept_name",
    "adm_bed",
    "dscg_maindiag_code",
    "dscg_maindiag_name",
    "main_cond_dscr",
    "oprn_oprt_code",
    "oprn_oprt_name",
)


class Input2401(WireNode):
    mdtrtinfo: MdtrtInfo2401
    diseinfo: DiseInfoList = Field(default_factory=list)


def open_request(
    envelope: RequestEnvelope, info: MdtrtInfo2401, diseinfo: Sequence[DiseInfo] = ()
) -> dict[str, Any]:
    """``EncounterOpen``; the operation named (``oprn_oprt_code``) only when sent, to be checked against
    the procedure list (1308)."""
    request = encounter.open_request(
        envelope,
        setting=INPATIENT,
        psn_no=info.psn_no,
        insutype=info.insutype,
        ipt_otp_no=info.ipt_no,
        med_type=info.med_type,
        mdtrt_cert_type=info.mdtrt_cert_type,
        mdtrt_cert_no=info.mdtrt_cert_no,
        begntime=info.begntime,
        dise_codg=info.dise_codg,
        dise_name=info.dise_name,
        matn_type=info.matn_type,
        diseinfo=diseinfo,
        sent=encounter.details(info, ADMISSION_DETAILS),
    )
    if info.oprn_oprt_code:
        request["oprn_oprt_code"] = info.oprn_oprt_code
    return request


def build_2401_output(opened: EncounterOut, info: MdtrtInfo2401) -> dict[str, Any]:
    encounter.check_opened(opened, info.ipt_no)
    return {"result": {"mdtrt_id": opened.mdtrt_id}}


class DscgInfo(WireNode):
    mdtrt_id: str = Field(pattern=MDTRT_ID)
    psn_no: str = Field(min_length=1, max_length=30)
    insutype: Insutype
    endtime: WireTime
    dise_codg: str | None = Field(default=None, max_length=30)
    dise_name: str | None = Field(default=None, max_length=300)
    oprn_oprt_code: str | None = Field(default=None, max_length=30)
    oprn_oprt_name: str | None = Field(default=None, max_length=500)
    fpsc_no: str | None = Field(default=None, max_length=50)
    matn_type: MatnType | None = None
    birctrl_type: str | None = Field(default=None, max_length=6)
    latechb_flag: str | None = Field(default=None, max_length=3)
    geso_val: int | None = Field(default=None, ge=0, le=50)
    fetts: int | None = Field(default=None, ge=0, le=20)
    fetus_cnt: int | None = Field(default=None, ge=0, le=20)
    pret_flag: str | None = Field(default=None, max_length=3)
    birctrl_matn_date: str | None = Field(default=None, max_length=19)
    cop_flag: str | None = Field(default=None, max_length=3)
    dscg_dept_codg: str | None = Field(default=None, max_length=30)
    dscg_dept_name: str | None = Field(default=None, max_length=100)
    dscg_bed: str | None = Field(default=None, max_length=30)
    #: 离院方式: 1 医嘱离院, 2 医嘱转院, 3 转社区, 4 非医嘱离院, 5 死亡, 9 其他.
    dscg_way: str | None = Field(default=None, pattern=r"^[123459]$")
    die_date: str | None = Field(default=None, max_length=19)


class Input2402(WireNode):
    dscginfo: DscgInfo
    diseinfo: DiseInfoList = Field(default_factory=list)


def needs_matn_type(info: DscgInfo, found: EncounterOut) -> bool:
    """The way a birth went is known at discharge: a 2402 that names it (and the stay has another) records
    it before discharging, since the settlement of a 52 stay needs it."""
    return info.matn_type is not None and info.matn_type != found.matn_type


def discharge_request(
    envelope: RequestEnvelope, info: DscgInfo, diseinfo: Sequence[DiseInfo] = ()
) -> dict[str, Any]:
    """``Discharge`` (with the discharge diagnoses, and the operation named, when sent)."""
    request: dict[str, Any] = {
        "fixmedins_code": envelope.fixmedins_code,
        "endtime": iso(info.endtime),
        "dise_codg": info.dise_codg,
        "dise_name": info.dise_name,
        "diagnoses": encounter.diagnoses(diseinfo),
        **encounter.operator(envelope),
        "details": encounter.details(info, (*DISCHARGE_DETAILS, "oprn_oprt_code", "oprn_oprt_name")),
    }
    if info.oprn_oprt_code:
        request["oprn_oprt_code"] = info.oprn_oprt_code
    return request


class AdmInfo(WireNode):
    """2403 ``adminfo``: the admission as the HIS now has it. The platform keeps (and changes) the 医疗类别,
    病种 and 生育类别; the admission time is the stay's and cannot change."""

    mdtrt_id: str = Field(pattern=MDTRT_ID)
    psn_no: str = Field(min_length=1, max_length=30)
    begntime: OptionalWireTime = None
    med_type: MedType | None = None
    dise_codg: str | None = Field(default=None, max_length=30)
    dise_name: str | None = Field(default=None, max_length=300)
    matn_type: MatnType | None = None
    coner_name: str | None = Field(default=None, max_length=50)
    tel: str | None = Field(default=None, max_length=50)
    adm_diag_dscr: str | None = Field(default=None, max_length=200)
    adm_dept_codg: str | None = Field(default=None, max_length=30)
    adm_dept_name: str | None = Field(default=None, max_length=100)
    adm_bed: str | None = Field(default=None, max_length=30)
    main_cond_dscr: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _inpatient(self) -> AdmInfo:
        if self.med_type is not None:
            encounter.check_med_type(INPATIENT, self.med_type)
        return self


class Input2403(WireNode):
    adminfo: AdmInfo
    diseinfo: DiseInfoList = Field(default_factory=list)


def admission_time_warning(info: AdmInfo, found: EncounterOut) -> str | None:
    if info.begntime is None:
        return None
    if parse_wire_time(info.begntime) == found.begntime:
        return None
    return f"入院时间不能变更，仍为 {format_wire_time(found.begntime)} (传入 {info.begntime} 未采用)"


class DataMdtrt(WireNode):
    """2404 入院撤销 / 2405 出院撤销."""

    mdtrt_id: str = Field(pattern=MDTRT_ID)
    psn_no: str = Field(min_length=1, max_length=30)


class InputMdtrt(WireNode):
    data: DataMdtrt


# --- 2301 / 2302 fee lines ------------------------------------------------------------------------------


class InpatientFee(FeeDetail):
    #: 原费用流水号 of a write-off line; a line naming itself (as some HIS software sends) is ordinary.
    init_feedetl_sn: str | None = Field(default=None, max_length=30)
    drord_no: str | None = Field(default=None, max_length=30)
    med_type: MedType | None = None
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


class Input2301(WireNode):
    feedetail: list[InpatientFee] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _one(self) -> Input2301:
        one_encounter(self.feedetail)
        return self


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


# --- 2303 / 2304 settling the stay ----------------------------------------------------------------------


class Data2304(SettleData):
    #: 中途结算标志: 1 settles what is uploaded so far without discharge.
    mid_setl_flag: str = Field(pattern=r"^(0|1)$")
    dscgTime: OptionalWireTime = None


class Input2304(WireNode):
    data: Data2304


def settle_request(envelope: RequestEnvelope, data: Data2304) -> dict[str, Any]:
    return settling.settle_request(envelope, data, setting=INPATIENT, mid_setl=data.mid_setl_flag == "1")


async def _handle_2401(call: Call, data: Input2401) -> dict[str, Any]:
    info = data.mdtrtinfo
    opened = await call.downstream.open_encounter(open_request(call.envelope, info, data.diseinfo))
    return build_2401_output(opened, info)


async def _handle_2402(call: Call, data: Input2402) -> dict[str, Any]:
    info, envelope, downstream = data.dscginfo, call.envelope, call.downstream
    found = await encounter.checked(call, info.mdtrt_id, INPATIENT, info.psn_no)
    if needs_matn_type(info, found):
        await downstream.update_diagnosis(
            info.mdtrt_id, encounter.diagnosis_request(envelope, matn_type=info.matn_type)
        )
    discharged = await downstream.discharge(info.mdtrt_id, discharge_request(envelope, info, data.diseinfo))
    return encounter.encounter_data(discharged)


async def _handle_2403(call: Call, data: Input2403) -> Answer:
    info = data.adminfo
    found = await encounter.checked(call, info.mdtrt_id, INPATIENT, info.psn_no)
    updated = await call.downstream.update_diagnosis(
        info.mdtrt_id,
        encounter.diagnosis_request(
            call.envelope,
            med_type=info.med_type,
            dise_codg=info.dise_codg,
            dise_name=info.dise_name,
            matn_type=info.matn_type,
            diseinfo=data.diseinfo,
            sent=encounter.details(
                info, ("coner_name", "tel", "adm_dept_codg", "adm_dept_name", "adm_bed", "main_cond_dscr")
            ),
        ),
    )
    return Answer(encounter.encounter_data(updated), admission_time_warning(info, found))


async def _handle_2404(call: Call, data: InputMdtrt) -> dict[str, Any]:
    d, code = data.data, call.envelope.fixmedins_code
    await encounter.checked(call, d.mdtrt_id, INPATIENT, d.psn_no)
    return encounter.encounter_data(await call.downstream.cancel_encounter(d.mdtrt_id, code))


async def _handle_2405(call: Call, data: InputMdtrt) -> dict[str, Any]:
    d, code = data.data, call.envelope.fixmedins_code
    await encounter.checked(call, d.mdtrt_id, INPATIENT, d.psn_no)
    return encounter.encounter_data(await call.downstream.undo_discharge(d.mdtrt_id, code))


async def _handle_2301(call: Call, data: Input2301) -> dict[str, Any]:
    return await fees.upload(call, data.feedetail, INPATIENT)


async def _handle_2302(call: Call, data: Input2302) -> Answer:
    d = data.data
    cancelled = await fees.cancel(
        call, d.mdtrt_id, d.psn_no, INPATIENT, cancel_lines_request(call.envelope, d)
    )
    warning = fees.cancelled_warning(cancelled, "本次住院") if d.feedetl_sn == ALL else None
    return fees.cancelled_answer({"mdtrt_id": d.mdtrt_id, "feedetl_sn": d.feedetl_sn}, cancelled, warning)


async def _handle_2303(call: Call, data: Input2304) -> Answer:
    return await settling.settle(call, data.data, settle_request(call.envelope, data.data), binding=False)


async def _handle_2304(call: Call, data: Input2304) -> Answer:
    return await settling.settle(call, data.data, settle_request(call.envelope, data.data), binding=True)


async def _handle_2305(call: Call, data: pharmacy.Input2103) -> dict[str, Any]:
    return settling.build_output(await pharmacy.reverse(call, data.data), inpatient=True)


def _writes(infno: str, label: str, model: type[BaseModel], handler: Any, **flags: Any) -> Transaction:
    """A state-changing inpatient transaction: a lost answer is "outcome unknown", a repeat replays it."""
    return Transaction(infno, "inpatient", label, model, handler, changes_state=True, replayed=True, **flags)


TRANSACTIONS = (
    _writes("2401", "入院办理", Input2401, _handle_2401, reversed_by="2404"),
    _writes("2402", "出院办理", Input2402, _handle_2402, reversed_by="2405"),
    _writes("2403", "住院信息变更", Input2403, _handle_2403),
    _writes("2404", "入院撤销", InputMdtrt, _handle_2404),
    _writes("2405", "出院撤销", InputMdtrt, _handle_2405),
    _writes("2301", "住院费用明细上传", Input2301, _handle_2301, reversed_by="2302"),
    _writes("2302", "住院费用明细撤销", Input2302, _handle_2302),
    Transaction("2303", "inpatient", "住院预结算", Input2304, _handle_2303),
    _writes(
        "2304",
        "住院结算",
        Input2304,
        _handle_2304,
        settles=True,
        moves_money=True,
        voidable=True,
        reversed_by="2305",
    ),
    _writes("2305", "住院结算撤销", pharmacy.Input2103, _handle_2305, moves_money=True),
)
