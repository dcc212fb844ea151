"""2101 药店预结算 / 2102 药店结算: a pharmacy purchase (pre-)settled in one call (docs/interface.md); both
carry the same input. 2103 药店结算撤销 undoes one (§2.12, §4.1): the reversal is a settlement record of its
own, with a new ``setl_id`` and every amount negated; the HIS keeps it next to the original (``cxsetl_id``).
2208 门诊结算撤销 and 2305 住院结算撤销 (§2.7, §2.11) take the same input and are checked the same way
(``reverse``); each undoes only its own kind of settlement (by clr_type). The mapping between the wire
names (``hifp_pay``, ``psn_cash_pay``...) and the settlement service's domain names lives here, in
``setlinfo.py`` and in ``funds.py`` only."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from gateway.declaration import Call, Transaction
from gateway.nhsa import setlinfo
from gateway.nhsa.encounter import WIRE_TIME_FORMS, DaysSupply, wire_time
from gateway.nhsa.tracing import TraceInfo, codes_of
from gateway.protocol.code_tables import HospApprFlag, Insutype, MdtrtCertType, MedType
from gateway.protocol.envelope import RequestEnvelope
from gateway.protocol.errors import Refusal
from shared.clock import format_wire_time, parse_client_time, parse_wire_time
from shared.contracts.v1.settlement import SettlementOut
from shared.money import YuanAsFen

#: med_type 14xxxx 门诊慢特病购药: bought for a registered chronic or special disease, named in dise_codg.
CHRONIC_MED_TYPE_PREFIX = "14"


def _wire_time(value: str) -> str:
    return wire_time(value)


class DrugInfo(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    psn_no: str = Field(min_length=1, max_length=30)
    mdtrt_cert_type: MdtrtCertType
    mdtrt_cert_no: str = Field(min_length=1, max_length=50)
    begntime: str
    medfee_sumamt: YuanAsFen
    invono: str | None = Field(default=None, max_length=20)
    insutype: Insutype
    dise_codg: str | None = Field(default=None, max_length=30)
    dise_name: str | None = Field(default=None, max_length=300)
    acct_used_flag: str = Field(default="0", pattern=r"^(0|1)$")
    med_type: MedType

    _begntime = field_validator("begntime")(_wire_time)

    @model_validator(mode="after")
    def _chronic_needs_disease(self) -> DrugInfo:
        if self.med_type.startswith(CHRONIC_MED_TYPE_PREFIX) and not self.dise_codg:
            raise ValueError("门诊慢特病购药(med_type 14xxxx)须填写病种编码 dise_codg")
        return self


class DrugDetail(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    feedetl_sn: str = Field(min_length=1, max_length=30)
    rxno: str | None = Field(default=None, max_length=30)
    rx_circ_flag: str | None = Field(default=None, max_length=3)
    fee_ocur_time: str | None = None
    #: Empty or absent: settled as the national code ``medins_list_codg`` is mapped to (3301) on the day
    #: of the purchase, as a POS that has mapped its catalogue sends the line.
    med_list_codg: str | None = Field(default=None, max_length=50)
    medins_list_codg: str = Field(min_length=1, max_length=50)
    det_item_fee_sumamt: YuanAsFen
    cnt: Decimal = Field(gt=0, max_digits=16, decimal_places=4)
    pric: Decimal = Field(ge=0, max_digits=16, decimal_places=6)
    sin_dos_dscr: str | None = Field(default=None, max_length=200)
    used_frqu_dscr: str | None = Field(default=None, max_length=200)
    prd_days: DaysSupply = None
    medc_way_dscr: str | None = Field(default=None, max_length=200)
    bilg_dr_codg: str | None = Field(default=None, max_length=30)
    bilg_dr_name: str | None = Field(default=None, max_length=50)
    tcmdrug_used_way: str | None = Field(default=None, max_length=6)
    #: 医院审批标志 of a restricted item: 0 无须审批, 1 审批通过, 2 审批不通过 (docs/interface.md).
    #: "" is absent, as HIS software sends an unset code.
    hosp_appr_flag: Annotated[HospApprFlag | None, BeforeValidator(lambda v: v or None)] = None
    #: The traceability codes the line dispenses (docs/interface.md, "Inventory"), either form.
    drug_trac_codg: str | None = Field(default=None, max_length=4000)
    drugtracinfo: list[TraceInfo] | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _trace_codes(self) -> DrugDetail:
        codes_of(self.drug_trac_codg, self.drugtracinfo)  # refused here when malformed
        return self

    @property
    def trace_codes(self) -> list[str]:
        return codes_of(self.drug_trac_codg, self.drugtracinfo)

    @field_validator("fee_ocur_time")
    @classmethod
    def _fee_time(cls, value: str | None) -> str | None:
        """Blank or the .NET unset value: absent; else a client's time as on the wire (read once per
        line, where ``absent_if_unset`` and then ``wire_time`` read it twice)."""
        if not value or not value.strip():
            return None
        try:
            parsed = parse_client_time(value)
        except ValueError as exc:
            raise ValueError(WIRE_TIME_FORMS) from exc
        return None if parsed is None else format_wire_time(parsed)

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
        "dise_codg": info.dise_codg or None,
        "acct_used_flag": info.acct_used_flag,
        "invono": info.invono,
        "lines": [_line(d) for d in data.drugdetail],
    }


def _line(d: DrugDetail) -> dict[str, Any]:
    line: dict[str, Any] = {
        "feedetl_sn": d.feedetl_sn,
        "med_list_codg": d.med_list_codg or "",
        "medins_list_codg": d.medins_list_codg,
        "cnt": str(d.cnt),
        "pric": str(d.pric),
        "amount_fen": d.det_item_fee_sumamt,
        "rxno": d.rxno,
        "fee_ocur_time": parse_wire_time(d.fee_ocur_time).isoformat() if d.fee_ocur_time else None,
    }
    if d.hosp_appr_flag:  # absent or "": the settlement service's default (no approval needed)
        line["hosp_appr_flag"] = d.hosp_appr_flag
    if d.prd_days is not None:  # the days' supply, for the supervision rule on repeated purchases
        line["prd_days"] = str(d.prd_days)
    if d.trace_codes:  # each must be held in stock by the pharmacy
        line["drug_trac_codg"] = d.trace_codes
    return line


def build_output(s: SettlementOut) -> dict[str, Any]:
    """Settlement service answer (domain names, fen) -> setlinfo / setldetail / detlcutinfo (wire, yuan).
    A pre-settlement (2101) has the same shape with ``setl_id`` "" (nothing was settled)."""
    return {
        "setlinfo": setlinfo.setlinfo(s),
        "setldetail": setlinfo.setldetail(s),
        "detlcutinfo": setlinfo.detlcutinfo(s),
    }


# --- 2103 (and the checks 2208 / 2305 share) ----------------------------------------------------------------

#: setl_id values the settlement service issues are letters and digits; nothing else may reach its URL path.
SETL_ID = r"^[0-9A-Za-z_-]{1,30}$"

#: clr_type 清算类别 (docs/interface.md) of the settlements each reversal transaction undoes.
CLR_TYPE_OF_REVERSAL = {"2103": "41", "2208": "11", "2305": "21"}
_KIND_OF_CLR_TYPE = {"41": "药店结算", "11": "门诊结算", "21": "住院结算"}


class Data2103(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    setl_id: str = Field(pattern=SETL_ID)
    mdtrt_id: str = Field(min_length=1, max_length=30)
    psn_no: str = Field(min_length=1, max_length=30)


class Input2103(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data2103


def check_original(envelope: RequestEnvelope, data: Data2103, original: SettlementOut) -> None:
    """Before reversing: the settlement is the caller's and belongs to the encounter the HIS named. The
    settlement service checks the institution and the person again when reversing; the encounter only
    the gateway can check, because the reversal endpoint does not take it."""
    if original.fixmedins_code != envelope.fixmedins_code:
        raise Refusal("NOT_YOUR_SETTLEMENT", "只能撤销本机构的结算")
    if original.mdtrt_id != data.mdtrt_id:
        raise Refusal("MDTRT_MISMATCH", f"就诊ID {data.mdtrt_id} 与原结算 {data.setl_id} 不符")
    expected = CLR_TYPE_OF_REVERSAL.get(envelope.infno)
    if expected is not None and original.clr_type != expected:
        kind = _KIND_OF_CLR_TYPE.get(original.clr_type, f"清算类别 {original.clr_type} 的结算")
        by = {clr_type: infno for infno, clr_type in CLR_TYPE_OF_REVERSAL.items()}.get(original.clr_type)
        raise Refusal(
            "WRONG_REVERSAL",
            f"结算 {data.setl_id} 是{kind}，不能用 {envelope.infno} 撤销" + (f"，请用 {by}" if by else ""),
        )


def reversal_request(envelope: RequestEnvelope, data: Data2103) -> dict[str, Any]:
    return {"msgid": envelope.msgid, "fixmedins_code": envelope.fixmedins_code, "psn_no": data.psn_no}


def build_reversal_output(reversal: SettlementOut) -> dict[str, Any]:
    """The reversal's setlinfo (its own setl_id, negative amounts) and setldetail."""
    return {
        "setlinfo": setlinfo.with_pharmacy_reversal_names(setlinfo.setlinfo(reversal)),
        "setldetail": setlinfo.setldetail(reversal),
    }


async def reverse(call: Call, data: Data2103) -> SettlementOut:
    """2103 / 2208 / 2305: the settlement is looked at first (the caller's, of the encounter named, of the
    kind the transaction undoes), then reversed."""
    envelope, downstream = call.envelope, call.downstream
    check_original(envelope, data, await downstream.settlement(data.setl_id, envelope.fixmedins_code))
    return await downstream.reverse_settlement(data.setl_id, reversal_request(envelope, data))


async def _handle_2101(call: Call, data: Input2102) -> dict[str, Any]:
    return build_output(await call.downstream.preview_pharmacy(settlement_request(call.envelope, data)))


async def _handle_2102(call: Call, data: Input2102) -> dict[str, Any]:
    return build_output(await call.downstream.settle_pharmacy(settlement_request(call.envelope, data)))


async def _handle_2103(call: Call, data: Input2103) -> dict[str, Any]:
    return build_reversal_output(await reverse(call, data.data))


TRANSACTIONS = (
    Transaction("2101", "pharmacy", "药店预结算", Input2102, _handle_2101),
    Transaction(
        "2102",
        "pharmacy",
        "药店结算",
        Input2102,
        _handle_2102,
        changes_state=True,
        settles=True,
        moves_money=True,
        voidable=True,
        reversed_by="2103",
        replayed=True,
    ),
    Transaction(
        "2103",
        "pharmacy",
        "药店结算撤销",
        Input2103,
        _handle_2103,
        changes_state=True,
        moves_money=True,
        replayed=True,
    ),
)
