"""What the outpatient (2201-2208) and inpatient (2401-2405, 2301-2305) transactions share: how their input
nodes are read, the diagnosis rows (``diseinfo``), which ``med_type`` belongs to which setting, and the checks
the gateway makes of an encounter before acting on it.

An encounter as the settlement service answers it (``EncounterOut``: ``mdtrt_id``, ``setting``
outpatient/inpatient, ``psn_no``, ``fixmedins_code``, ``ipt_otp_no``, ``med_type``, ``begntime`` ISO,
``status``...) is a plain dict here; the wire names are mapped in ``outpatient.py`` and ``inpatient.py``."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from gateway.declaration import Call
from gateway.protocol.code_tables import (  # noqa: F401  (the encounter families import them from here)
    INSUTYPE,
    Insutype,
    MatnType,
    MdtrtCertType,
    MedType,
)
from gateway.protocol.envelope import RequestEnvelope
from gateway.protocol.errors import Refusal
from shared.clock import format_wire_time, parse_client_time, parse_wire_time
from shared.contracts.v1.settlement import EncounterOut
from shared.money import yuan_to_fen

Setting = Literal["outpatient", "inpatient"]
OUTPATIENT: Setting = "outpatient"
INPATIENT: Setting = "inpatient"
SETTING_NAMES: dict[str, str] = {OUTPATIENT: "门诊", INPATIENT: "住院"}

#: mdtrt_id values the settlement service issues are letters and digits; nothing else may reach its URL path.
MDTRT_ID = r"^[0-9A-Za-z_-]{1,30}$"
#: The insurance types this platform settles (docs/interface.md): 城乡居民 390 and the legacy 391 / 380.
RESIDENT_INSUTYPES = tuple(INSUTYPE.values)
#: 2205 chrg_bchno / 2302 feedetl_sn meaning "every unsettled line of the encounter".
ALL = "0000"


WIRE_TIME_FORMS = "格式应为 yyyy-MM-dd HH:mm:ss"


def wire_time(value: str) -> str:
    """A client's date or time (``shared.clock.parse_client_time``) as ``yyyy-MM-dd HH:mm:ss``; the
    .NET unset value is refused here as missing (optional fields read it as absent: ``OptionalWireTime``)."""
    try:
        parsed = parse_client_time(value)
    except ValueError as exc:
        raise ValueError(WIRE_TIME_FORMS) from exc
    if parsed is None:
        raise ValueError("必填（0001-01-01T00:00:00 表示未填）")
    return format_wire_time(parsed)


def absent_if_unset(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    if isinstance(value, str):
        try:
            return None if parse_client_time(value) is None else value
        except ValueError:
            return value  # refused with the field named by ``wire_time``
    return value


def blank_is_absent(value: Any) -> Any:
    """An optional number a string-typed client sends as "" (C# models of 2102 declare every field a
    string): not sent."""
    return None if isinstance(value, str) and not value.strip() else value


#: The days' supply of a drug (prd_days): optional, a number, "" read as not sent.
DaysSupply = Annotated[
    Annotated[Decimal, Field(ge=0, max_digits=8, decimal_places=2)] | None, BeforeValidator(blank_is_absent)
]


def _signed_fen(value: Any) -> int:
    return yuan_to_fen(value, allow_negative=True)


#: ``yyyy-MM-dd HH:mm:ss`` Beijing time, normalised from the forms clients send (``iso`` turns it into the
#: settlement service's form).
WireTime = Annotated[str, AfterValidator(wire_time)]
#: The same where the field is optional: empty or the .NET unset ``0001-01-01T00:00:00`` is absent.
OptionalWireTime = Annotated[WireTime | None, BeforeValidator(absent_if_unset)]
#: A wire amount in yuan as integer fen, negative allowed (the model decides what a negative means).
SignedYuanAsFen = Annotated[int, BeforeValidator(_signed_fen)]


def iso(wire_time: str) -> str:
    return parse_wire_time(wire_time).isoformat()


class WireNode(BaseModel):
    """An input node as HIS software sends it: an optional field it has no value for comes as "" or null,
    and is taken as absent (a required one is then "必填")."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_absent(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: item
                for key, item in value.items()
                if item is not None and not (isinstance(item, str) and not item.strip())
            }
        return value


class DiseInfo(WireNode):
    """One diagnosis row of 2203 / 2401 / 2402 / 2403 (docs/interface.md): the settlement service keeps
    the rows as sent (``diagnoses``) for 5202; the encounter settles by its 病种 (dise_codg / dise_name)."""

    diag_type: str = Field(pattern=r"^[123]$")
    diag_srt_no: int = Field(ge=0, le=9999)
    diag_code: str = Field(min_length=1, max_length=30)
    diag_name: str = Field(min_length=1, max_length=300)
    diag_dept: str | None = Field(default=None, max_length=100)
    dise_dor_no: str | None = Field(default=None, max_length=30)
    dise_dor_name: str | None = Field(default=None, max_length=50)
    diag_time: OptionalWireTime = None
    vali_flag: str | None = Field(default=None, pattern=r"^[01]$")
    maindiag_flag: str | None = Field(default=None, pattern=r"^[01]$")
    adm_cond: str | None = Field(default=None, max_length=500)


DiseInfoList = Annotated[list[DiseInfo], Field(max_length=100)]


def diagnoses(rows: Sequence[DiseInfo]) -> list[dict[str, Any]] | None:
    """``EncounterDiagnosis`` rows of a ``diseinfo`` list; none sent is None (the rows kept stay). When no
    row carries ``maindiag_flag`` (2203 has none), the first row with the lowest ``diag_srt_no`` is the main
    one; otherwise a row without it is not."""
    if not rows:
        return None
    flags = [r.maindiag_flag or "0" for r in rows]
    if not any(r.maindiag_flag for r in rows):
        first = min(r.diag_srt_no for r in rows)
        flags[next(i for i, r in enumerate(rows) if r.diag_srt_no == first)] = "1"
    return [
        {
            "diag_type": r.diag_type,
            "diag_srt_no": r.diag_srt_no,
            "diag_code": r.diag_code,
            "diag_name": r.diag_name,
            "maindiag_flag": flag,
            "adm_cond": r.adm_cond,
            "diag_dept": r.diag_dept,
            "dise_dor_no": r.dise_dor_no,
            "dise_dor_name": r.dise_dor_name,
            "diag_time": iso(r.diag_time) if r.diag_time else None,
            "vali_flag": r.vali_flag or "1",
        }
        for r, flag in zip(rows, flags, strict=True)
    ]


def is_inpatient_med_type(med_type: str) -> bool:
    """21-29 住院 and their sub-codes, 52 生育住院 (docs/interface.md, "Code tables used")."""
    return med_type.startswith(("2", "52"))


def check_med_type(setting: Setting, med_type: str) -> None:
    """Raises ValueError (for a model validator) when med_type does not belong to the setting."""
    if setting == OUTPATIENT and is_inpatient_med_type(med_type):
        raise ValueError(f"医疗类别 {med_type} 是住院类别，门诊请用门诊类别 (如 11 普通门诊、14 门诊慢特病)")
    if setting == INPATIENT and not is_inpatient_med_type(med_type):
        raise ValueError(f"医疗类别 {med_type} 不是住院类别 (如 21 普通住院、52 生育住院)")


def require_insuplc(envelope: RequestEnvelope) -> str:
    if not envelope.insuplc_admdvs:
        raise Refusal("E_INPUT", "insuplc_admdvs: 交易含人员编号时参保地医保区划必填 (可由1101获取)")
    return envelope.insuplc_admdvs


def operator(envelope: RequestEnvelope) -> dict[str, str]:
    """Who sends the call (经办人), kept with what it records (5201, 5202, 5204 ``opter_id`` /
    ``opter_name``)."""
    return {"opter_id": envelope.opter, "opter_name": envelope.opter_name}


#: Fields kept as a day (``yyyy-MM-dd``): 死亡日期, 计划生育手术或生育日期.
DAY_FIELDS = frozenset({"die_date", "birctrl_matn_date"})


def details(node: BaseModel, names: Sequence[str], renamed: dict[str, str] | None = None) -> dict[str, str]:
    """The descriptive fields of an input node the HIS sent (``names``, and ``renamed``: the node's name
    to the national output name), as text for the settlement service to keep (``EncounterOpen.details``...).
    A day is kept as ``yyyy-MM-dd``; one no date can be read from is not kept."""
    fields = {**{name: name for name in names}, **(renamed or {})}
    kept: dict[str, str] = {}
    for source, name in fields.items():
        value = getattr(node, source, None)
        if value is None:
            continue
        if name in DAY_FIELDS:
            try:
                day = parse_client_time(str(value))
            except ValueError:
                continue
            if day is None:
                continue
            kept[name] = day.date().isoformat()
        else:
            kept[name] = str(value)
    return kept


def open_request(
    envelope: RequestEnvelope,
    *,
    setting: Setting,
    psn_no: str,
    insutype: str,
    ipt_otp_no: str,
    med_type: str,
    mdtrt_cert_type: str,
    mdtrt_cert_no: str,
    begntime: str,
    dise_codg: str | None = None,
    dise_name: str | None = None,
    matn_type: str | None = None,
    diseinfo: Sequence[DiseInfo] = (),
    sent: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``EncounterOpen`` for 2201 / 2401, with what else the HIS ``sent`` (``details``)."""
    return {
        "msgid": envelope.msgid,
        "setting": setting,
        "fixmedins_code": envelope.fixmedins_code,
        "mdtrtarea_admvs": envelope.mdtrtarea_admvs,
        "insuplc_admdvs": require_insuplc(envelope),
        "psn_no": psn_no,
        "insutype": insutype,
        "ipt_otp_no": ipt_otp_no,
        "med_type": med_type,
        "mdtrt_cert_type": mdtrt_cert_type,
        "mdtrt_cert_no": mdtrt_cert_no,
        "begntime": iso(begntime),
        "dise_codg": dise_codg,
        "dise_name": dise_name,
        "matn_type": matn_type,
        "diagnoses": diagnoses(diseinfo) or [],
        **operator(envelope),
        "details": sent or {},
    }


def check_opened(encounter: EncounterOut, ipt_otp_no: str) -> None:
    """The settlement service answers a repeated hospital number with the encounter it already has: one that
    was cancelled since (2202 / 2404) cannot be registered again under that number."""
    if encounter.status == "cancelled":
        raise Refusal(
            "ENCOUNTER_CANCELLED",
            f"院内就诊流水号 {ipt_otp_no} 的就诊 {encounter.mdtrt_id} 已撤销，请使用新的院内流水号",
        )


def check_encounter(
    envelope: RequestEnvelope, encounter: EncounterOut, *, setting: Setting, psn_no: str
) -> None:
    """Before acting on an encounter: it is the caller's (the settlement service checks that too), of the
    setting the transaction is for (2202 must not cancel an admission, 2207 must not settle a stay), and of
    the person the HIS names."""
    mdtrt_id = encounter.mdtrt_id
    if encounter.fixmedins_code != envelope.fixmedins_code:
        raise Refusal("NOT_YOUR_ENCOUNTER", "只能操作本机构的就诊记录")
    if encounter.setting != setting:
        actual = SETTING_NAMES.get(encounter.setting, encounter.setting)
        raise Refusal(
            "SETTING_MISMATCH",
            f"就诊ID {mdtrt_id} 是{actual}就诊，不能用{SETTING_NAMES[setting]}交易 {envelope.infno} 办理",
        )
    if encounter.psn_no != psn_no:
        raise Refusal("PSN_MISMATCH", f"人员编号 {psn_no} 与就诊ID {mdtrt_id} 登记的人员不符")


async def checked(call: Call, mdtrt_id: str, setting: Setting, psn_no: str) -> EncounterOut:
    """The encounter a transaction acts on, checked (the caller's, the setting, the person) before acting."""
    found = await call.downstream.encounter(mdtrt_id, call.envelope.fixmedins_code)
    check_encounter(call.envelope, found, setting=setting, psn_no=psn_no)
    return found


def diagnosis_request(
    envelope: RequestEnvelope,
    *,
    med_type: str | None = None,
    dise_codg: str | None = None,
    dise_name: str | None = None,
    matn_type: str | None = None,
    diseinfo: Sequence[DiseInfo] = (),
    sent: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``DiagnosisUpdate``: a field left None is kept as it is (no ``diseinfo``: the rows kept stay); what
    else the HIS ``sent`` is merged into what is kept."""
    return {
        "fixmedins_code": envelope.fixmedins_code,
        "med_type": med_type,
        "dise_codg": dise_codg,
        "dise_name": dise_name,
        "matn_type": matn_type,
        "diagnoses": diagnoses(diseinfo),
        **operator(envelope),
        "details": sent or {},
    }


def encounter_data(encounter: EncounterOut) -> dict[str, Any]:
    """The answer of the transactions the spec gives no output for (2202, 2203, 2402-2405): the encounter
    acted on, so that the HIS can log it."""
    return {
        "data": {
            "mdtrt_id": encounter.mdtrt_id,
            "psn_no": encounter.psn_no,
            "ipt_otp_no": encounter.ipt_otp_no,
            "med_type": encounter.med_type,
        }
    }
