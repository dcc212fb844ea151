"""An outpatient visit, 2201-2208 (docs/interface.md): 2201 门诊挂号, 2202 门诊挂号撤销, 2203 /
2203A 门诊就诊信息上传 (医疗类别, 病种), 2204 / 2205 费用明细上传 / 撤销 (by charge batch), 2206 / 2207
门诊预结算 / 结算 (one charge batch), 2208 门诊结算撤销. The registration carries no med_type in the
spec: it is 11 普通门诊 unless the HIS sends one, and 2203 sets the one the visit is settled under. What
the visit shares with an inpatient stay is in ``encounter.py``, ``fees.py`` and ``settling.py``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.declaration import Call, Transaction
from gateway.nhsa import encounter, fees, pharmacy, settling
from gateway.nhsa.encounter import (
    ALL,
    MDTRT_ID,
    OUTPATIENT,
    DiseInfo,
    DiseInfoList,
    Insutype,
    MatnType,
    MdtrtCertType,
    MedType,
    OptionalWireTime,
    WireNode,
    WireTime,
)
from gateway.nhsa.fees import FeeDetail, one_encounter
from gateway.nhsa.settling import SettleData
from gateway.protocol.envelope import Answer, RequestEnvelope
from gateway.protocol.errors import Refusal
from shared.contracts.v1.settlement import EncounterOut

#: 11 普通门诊: the visit's med_type until 2203 says otherwise.
DEFAULT_MED_TYPE = "11"
#: med_type 14xxxx 门诊慢特病: settled for a registered chronic or special disease, named in dise_codg.
CHRONIC_MED_TYPE_PREFIX = "14"


class Data2201(WireNode):
    psn_no: str = Field(min_length=1, max_length=30)
    insutype: Insutype
    begntime: WireTime
    mdtrt_cert_type: MdtrtCertType
    mdtrt_cert_no: str = Field(min_length=1, max_length=50)
    #: Some HIS clients leave it out: the envelope's msgid (unique per institution, at most 30 characters)
    #: then stands for it, and the answer tells it (docs/interface.md, "Dates and times").
    ipt_otp_no: str | None = Field(default=None, max_length=30)
    atddr_no: str | None = Field(default=None, max_length=30)
    dr_name: str | None = Field(default=None, max_length=50)
    dept_code: str | None = Field(default=None, max_length=30)
    dept_name: str | None = Field(default=None, max_length=100)
    caty: str | None = Field(default=None, max_length=10)
    med_type: MedType = DEFAULT_MED_TYPE

    @model_validator(mode="after")
    def _outpatient(self) -> Data2201:
        encounter.check_med_type(OUTPATIENT, self.med_type)
        return self


class Input2201(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data2201


def ipt_otp_no_of(envelope: RequestEnvelope, data: Data2201) -> str:
    """The visit's hospital number: as sent, or the envelope's msgid where the client left it out."""
    return data.ipt_otp_no or envelope.msgid


def open_request(envelope: RequestEnvelope, data: Data2201) -> dict[str, Any]:
    return encounter.open_request(
        envelope,
        setting=OUTPATIENT,
        psn_no=data.psn_no,
        insutype=data.insutype,
        ipt_otp_no=ipt_otp_no_of(envelope, data),
        med_type=data.med_type,
        mdtrt_cert_type=data.mdtrt_cert_type,
        mdtrt_cert_no=data.mdtrt_cert_no,
        begntime=data.begntime,
        # The registration's doctor and department, under the 5201 names.
        sent=encounter.details(
            data,
            ("atddr_no",),
            {"dr_name": "chfpdr_name", "dept_code": "adm_dept_codg", "dept_name": "adm_dept_name"},
        ),
    )


def build_2201_output(opened: EncounterOut, data: Data2201, ipt_otp_no: str) -> dict[str, Any]:
    encounter.check_opened(opened, ipt_otp_no)
    return {
        "data": {
            "mdtrt_id": opened.mdtrt_id,
            "psn_no": opened.psn_no,
            "ipt_otp_no": opened.ipt_otp_no,
        }
    }


class Data2202(WireNode):
    psn_no: str = Field(min_length=1, max_length=30)
    mdtrt_id: str = Field(pattern=MDTRT_ID)
    ipt_otp_no: str = Field(min_length=1, max_length=30)


class Input2202(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data2202


def check_2202(envelope: RequestEnvelope, data: Data2202, found: EncounterOut) -> None:
    encounter.check_encounter(envelope, found, setting=OUTPATIENT, psn_no=data.psn_no)
    if found.ipt_otp_no != data.ipt_otp_no:
        raise Refusal(
            "IPT_OTP_NO_MISMATCH",
            f"门诊号 {data.ipt_otp_no} 与就诊ID {data.mdtrt_id} 登记的 {found.ipt_otp_no} 不符",
        )


class MdtrtInfo2203(WireNode):
    mdtrt_id: str = Field(pattern=MDTRT_ID)
    psn_no: str = Field(min_length=1, max_length=30)
    med_type: MedType
    begntime: OptionalWireTime = None
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


def diagnosis_request(
    envelope: RequestEnvelope, info: MdtrtInfo2203, diseinfo: Sequence[DiseInfo] = ()
) -> dict[str, Any]:
    return encounter.diagnosis_request(
        envelope,
        med_type=info.med_type,
        dise_codg=info.dise_codg,
        dise_name=info.dise_name,
        matn_type=info.matn_type,
        diseinfo=diseinfo,
        sent=encounter.details(info, ("main_cond_dscr", "birctrl_type", "birctrl_matn_date", "geso_val")),
    )


# --- 2204 / 2205 fee lines, by charge batch -----------------------------------------------------------------


class OutpatientFee(FeeDetail):
    #: 收费批次号: "同一收费批次号病种编号必须一致"; the lines one 2206/2207 settles.
    chrg_bchno: str = Field(min_length=1, max_length=30)

    @field_validator("chrg_bchno")
    @classmethod
    def _not_all(cls, value: str) -> str:
        if value == ALL:
            raise ValueError(f"{ALL} 保留用于撤销全部未结算明细(2205)，不能用作收费批次号")
        return value


class Input2204(WireNode):
    feedetail: list[OutpatientFee] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _one(self) -> Input2204:
        one_encounter(self.feedetail)
        return self


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


# --- 2206 / 2207 settling one charge batch --------------------------------------------------------------


class Data2207(SettleData):
    med_type: MedType
    chrg_bchno: str = Field(min_length=1, max_length=30)


class Input2207(WireNode):
    data: Data2207


def settle_request(envelope: RequestEnvelope, data: Data2207) -> dict[str, Any]:
    return settling.settle_request(
        envelope, data, setting=OUTPATIENT, chrg_bchno=data.chrg_bchno, med_type=data.med_type
    )


async def _handle_2201(call: Call, data: Input2201) -> dict[str, Any]:
    opened = await call.downstream.open_encounter(open_request(call.envelope, data.data))
    return build_2201_output(opened, data.data, ipt_otp_no_of(call.envelope, data.data))


async def _handle_2202(call: Call, data: Input2202) -> dict[str, Any]:
    envelope, mdtrt_id = call.envelope, data.data.mdtrt_id
    check_2202(envelope, data.data, await call.downstream.encounter(mdtrt_id, envelope.fixmedins_code))
    return encounter.encounter_data(await call.downstream.cancel_encounter(mdtrt_id, envelope.fixmedins_code))


async def _handle_2203(call: Call, data: Input2203) -> dict[str, Any]:
    info = data.mdtrtinfo
    await encounter.checked(call, info.mdtrt_id, OUTPATIENT, info.psn_no)
    updated = await call.downstream.update_diagnosis(
        info.mdtrt_id, diagnosis_request(call.envelope, info, data.diseinfo)
    )
    return encounter.encounter_data(updated)


async def _handle_2204(call: Call, data: Input2204) -> dict[str, Any]:
    return await fees.upload(call, data.feedetail, OUTPATIENT)


async def _handle_2205(call: Call, data: Input2205) -> Answer:
    d = data.data
    cancelled = await fees.cancel(
        call, d.mdtrt_id, d.psn_no, OUTPATIENT, cancel_batch_request(call.envelope, d)
    )
    batch = "本次就诊" if d.chrg_bchno == encounter.ALL else f"收费批次 {d.chrg_bchno} "
    return fees.cancelled_answer(
        {"mdtrt_id": d.mdtrt_id, "chrg_bchno": d.chrg_bchno},
        cancelled,
        fees.cancelled_warning(cancelled, batch),
    )


async def _handle_2206(call: Call, data: Input2207) -> Answer:
    return await settling.settle(call, data.data, settle_request(call.envelope, data.data), binding=False)


async def _handle_2207(call: Call, data: Input2207) -> Answer:
    return await settling.settle(call, data.data, settle_request(call.envelope, data.data), binding=True)


async def _handle_2208(call: Call, data: pharmacy.Input2103) -> dict[str, Any]:
    return settling.build_output(await pharmacy.reverse(call, data.data), inpatient=False)


def _writes(infno: str, label: str, model: type[BaseModel], handler: Any, **flags: Any) -> Transaction:
    """A state-changing outpatient transaction: a lost answer is "outcome unknown", a repeat replays it."""
    return Transaction(infno, "outpatient", label, model, handler, changes_state=True, replayed=True, **flags)


TRANSACTIONS = (
    _writes("2201", "门诊挂号", Input2201, _handle_2201, reversed_by="2202"),
    _writes("2202", "门诊挂号撤销", Input2202, _handle_2202),
    _writes("2203", "门诊就诊信息上传", Input2203, _handle_2203),
    _writes("2203A", "门诊就诊信息上传", Input2203, _handle_2203),
    _writes("2204", "门诊费用明细上传", Input2204, _handle_2204, reversed_by="2205"),
    _writes("2205", "门诊费用明细撤销", Input2205, _handle_2205),
    Transaction("2206", "outpatient", "门诊预结算", Input2207, _handle_2206),
    _writes(
        "2207",
        "门诊结算",
        Input2207,
        _handle_2207,
        settles=True,
        moves_money=True,
        voidable=True,
        reversed_by="2208",
    ),
    _writes("2208", "门诊结算撤销", pharmacy.Input2103, _handle_2208, moves_money=True),
)
