"""2201 门诊挂号, 2202 门诊挂号撤销, 2203 / 2203A 门诊就诊信息上传 (docs/interface.md): an outpatient
visit is registered, cancelled while nothing is settled under it, and described (医疗类别, 病种). The
registration carries no med_type in the spec: it is 11 普通门诊 unless the HIS sends one, and 2203 sets the
one the visit is settled under."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.nhsa import encounter
from gateway.nhsa.encounter import (
    CERT_TYPE,
    MDTRT_ID,
    MED_TYPE,
    OUTPATIENT,
    DiseInfoList,
    Insutype,
    MatnType,
    WireNode,
    WireTime,
)
from gateway.nhsa.envelope import RequestEnvelope
from gateway.nhsa.errors import Refusal

#: 11 普通门诊: the visit's med_type until 2203 says otherwise.
DEFAULT_MED_TYPE = "11"
#: med_type 14xxxx 门诊慢特病: settled for a registered chronic or special disease, named in dise_codg.
CHRONIC_MED_TYPE_PREFIX = "14"


class Data2201(WireNode):
    psn_no: str = Field(min_length=1, max_length=30)
    insutype: Insutype
    begntime: WireTime
    mdtrt_cert_type: str = Field(pattern=CERT_TYPE)
    mdtrt_cert_no: str = Field(min_length=1, max_length=50)
    ipt_otp_no: str = Field(min_length=1, max_length=30)
    atddr_no: str | None = Field(default=None, max_length=30)
    dr_name: str | None = Field(default=None, max_length=50)
    dept_code: str | None = Field(default=None, max_length=30)
    dept_name: str | None = Field(default=None, max_length=100)
    caty: str | None = Field(default=None, max_length=10)
    med_type: str = Field(default=DEFAULT_MED_TYPE, pattern=MED_TYPE)

    @model_validator(mode="after")
    def _outpatient(self) -> Data2201:
        encounter.check_med_type(OUTPATIENT, self.med_type)
        return self


class Input2201(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data2201


def open_request(envelope: RequestEnvelope, data: Data2201) -> dict[str, Any]:
    return encounter.open_request(
        envelope,
        setting=OUTPATIENT,
        psn_no=data.psn_no,
        insutype=data.insutype,
        ipt_otp_no=data.ipt_otp_no,
        med_type=data.med_type,
        mdtrt_cert_type=data.mdtrt_cert_type,
        mdtrt_cert_no=data.mdtrt_cert_no,
        begntime=data.begntime,
    )


def build_2201_output(opened: dict[str, Any], data: Data2201) -> dict[str, Any]:
    encounter.check_opened(opened, data.ipt_otp_no)
    return {
        "data": {
            "mdtrt_id": opened["mdtrt_id"],
            "psn_no": opened["psn_no"],
            "ipt_otp_no": opened["ipt_otp_no"],
        }
    }


class Data2202(WireNode):
    psn_no: str = Field(min_length=1, max_length=30)
    mdtrt_id: str = Field(pattern=MDTRT_ID)
    ipt_otp_no: str = Field(min_length=1, max_length=30)


class Input2202(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data2202


def check_2202(envelope: RequestEnvelope, data: Data2202, found: dict[str, Any]) -> None:
    encounter.check_encounter(envelope, found, setting=OUTPATIENT, psn_no=data.psn_no)
    if found["ipt_otp_no"] != data.ipt_otp_no:
        raise Refusal(
            "IPT_OTP_NO_MISMATCH",
            f"门诊号 {data.ipt_otp_no} 与就诊ID {data.mdtrt_id} 登记的 {found['ipt_otp_no']} 不符",
        )


class MdtrtInfo2203(WireNode):
    mdtrt_id: str = Field(pattern=MDTRT_ID)
    psn_no: str = Field(min_length=1, max_length=30)
    med_type: str = Field(pattern=MED_TYPE)
    begntime: WireTime | None = None
    main_cond_dscr: str | None = Field(default=None, max_length=1000)
    dise_codg: str | None = Field(default=None, max_length=30)
    dise_name: str | None = Field(default=None, max_length=300)
    birctrl_type: str | None = Field(default=None, max_length=6)
    birctrl_matn_date: str | None = Field(default=None, max_length=19)
    matn_type: MatnType | None = None
    geso_val: int | None = Field(default=None, ge=0, le=50)

    @model_validator(mode="after")
    def _outpatient(self) -> MdtrtInfo2203:
        encounter.check_med_type(OUTPATIENT, self.med_type)
        if self.med_type.startswith(CHRONIC_MED_TYPE_PREFIX) and not self.dise_codg:
            raise ValueError("门诊慢特病(med_type 14xxxx)须填写病种编码 dise_codg")
        return self


class Input2203(WireNode):
    mdtrtinfo: MdtrtInfo2203
    diseinfo: DiseInfoList = Field(default_factory=list)


def diagnosis_request(envelope: RequestEnvelope, info: MdtrtInfo2203) -> dict[str, Any]:
    return encounter.diagnosis_request(
        envelope,
        med_type=info.med_type,
        dise_codg=info.dise_codg,
        dise_name=info.dise_name,
        matn_type=info.matn_type,
    )
