"""An inpatient stay: 2401 入院办理, 2402 出院办理 (docs/interface.md), 2403 住院信息变更, 2404 入院撤销, 2405
出院撤销. Admission answers ``result.mdtrt_id``; the stay's fee lines (2301/2302) and settlement (2303-2305)
are in ``t2204.py`` / ``t2207.py``. The diagnosis rows (``diseinfo``) are validated for shape; the settlement
service keeps only the stay's 医疗类别, 病种 and 生育类别."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, model_validator

from gateway.nhsa import encounter
from gateway.nhsa.encounter import (
    CERT_TYPE,
    INPATIENT,
    MDTRT_ID,
    MED_TYPE,
    DiseInfoList,
    Insutype,
    MatnType,
    WireNode,
    WireTime,
    iso,
    wire_time_of,
)
from gateway.nhsa.envelope import RequestEnvelope


class MdtrtInfo2401(WireNode):
    psn_no: str = Field(min_length=1, max_length=30)
    insutype: Insutype
    coner_name: str | None = Field(default=None, max_length=50)
    tel: str | None = Field(default=None, max_length=50)
    begntime: WireTime
    mdtrt_cert_type: str = Field(pattern=CERT_TYPE)
    mdtrt_cert_no: str = Field(min_length=1, max_length=50)
    #: 21 普通住院 (and the other 2x), 52 生育住院 (docs/interface.md, "Code tables used").
    med_type: str = Field(pattern=MED_TYPE)
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


class Input2401(WireNode):
    mdtrtinfo: MdtrtInfo2401
    diseinfo: DiseInfoList = Field(default_factory=list)


def open_request(envelope: RequestEnvelope, info: MdtrtInfo2401) -> dict[str, Any]:
    return encounter.open_request(
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
    )


def build_2401_output(opened: dict[str, Any], info: MdtrtInfo2401) -> dict[str, Any]:
    encounter.check_opened(opened, info.ipt_no)
    return {"result": {"mdtrt_id": opened["mdtrt_id"]}}


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


def needs_matn_type(info: DscgInfo, found: dict[str, Any]) -> bool:
    """The way a birth went is known at discharge: a 2402 that names it (and the stay has another) records
    it before discharging, since the settlement of a 52 stay needs it."""
    return info.matn_type is not None and info.matn_type != found.get("matn_type")


def discharge_request(envelope: RequestEnvelope, info: DscgInfo) -> dict[str, Any]:
    """``Discharge``."""
    return {
        "fixmedins_code": envelope.fixmedins_code,
        "endtime": iso(info.endtime),
        "dise_codg": info.dise_codg,
        "dise_name": info.dise_name,
    }


class AdmInfo(WireNode):
    """2403 ``adminfo``: the admission as the HIS now has it. The platform keeps (and changes) the 医疗类别,
    病种 and 生育类别; the admission time is the stay's and cannot change."""

    mdtrt_id: str = Field(pattern=MDTRT_ID)
    psn_no: str = Field(min_length=1, max_length=30)
    begntime: WireTime | None = None
    med_type: str | None = Field(default=None, pattern=MED_TYPE)
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


def admission_time_warning(info: AdmInfo, found: dict[str, Any]) -> str | None:
    if info.begntime is None:
        return None
    if datetime.fromisoformat(iso(info.begntime)) == datetime.fromisoformat(found["begntime"]):
        return None
    return f"入院时间不能变更，仍为 {wire_time_of(found['begntime'])} (传入 {info.begntime} 未采用)"


class DataMdtrt(WireNode):
    """2404 入院撤销 / 2405 出院撤销."""

    mdtrt_id: str = Field(pattern=MDTRT_ID)
    psn_no: str = Field(min_length=1, max_length=30)


class InputMdtrt(WireNode):
    data: DataMdtrt
