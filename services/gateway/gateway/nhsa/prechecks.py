"""Pre-checks 事前事中 (docs/interface.md, "Pre-checks"): 3101 (before the order, 事前) and 3102 (while
charging, 事中) put a prescription or order to the supervision rules that also run at settlement, and answer
the violations (rule, severity, the lines concerned) without anything being written; 3103 records the
institution's feedback on a warning (went on, with a reason, or went back to change the order)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.nhsa import setlinfo
from gateway.nhsa.encounter import MED_TYPE, OptionalWireTime, WireNode, iso
from gateway.nhsa.errors import Refusal
from gateway.nhsa.transaction import Call, Transaction
from shared.clock import now_china
from shared.contracts.v1.prechecks import (
    WARNING_ID,
    Feedback,
    FeedbackRequest,
    PrecheckRequest,
    ProposedItem,
    Violation,
)
from shared.money import yuan_to_fen


class Order(WireNode):
    """``fsi_order_dtos[]``: one line of the prescription or order."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    rx_id: str = Field(min_length=1, max_length=50)
    rxno: str | None = Field(default=None, max_length=30)
    hilist_code: str = Field(min_length=1, max_length=50)
    hosplist_code: str | None = Field(default=None, max_length=50)
    cnt: Decimal = Field(ge=0, max_digits=16, decimal_places=4)
    pric: Decimal = Field(ge=0, max_digits=16, decimal_places=6)
    sumamt: Decimal = Field(ge=0, max_digits=16, decimal_places=2)
    drord_begn_date: OptionalWireTime = None
    #: 1 the order being checked, 0 an earlier one sent as history (the platform has its own).
    curr_drord_flag: str = Field(default="1", pattern=r"^[01]$")


class Encounter(WireNode):
    """``fsi_encounter_dtos[]``."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    mdtrt_id: str = Field(min_length=1, max_length=30)
    med_type: str = Field(pattern=MED_TYPE)
    insutype: str | None = Field(default=None, max_length=6)
    adm_date: OptionalWireTime = None
    fsi_order_dtos: list[Order] = Field(min_length=1, max_length=500)


class Patient(WireNode):
    """``patient_dtos[]``: the insured person (``patn_id`` is the ``psn_no``) and the current visit."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    patn_id: str = Field(min_length=1, max_length=30)
    curr_mdtrt_id: str | None = Field(default=None, max_length=30)
    fsi_encounter_dtos: list[Encounter] = Field(min_length=1, max_length=20)


class Data3101(BaseModel):
    model_config = ConfigDict(extra="ignore")

    patient_dtos: list[Patient] = Field(min_length=1, max_length=10)
    #: 规则标识集合: a list, or one string separated by commas (both are sent); empty: every rule.
    rule_ids: list[str] = Field(default_factory=list, max_length=50)
    #: 触发场景 (1 门诊挂号 ... 9 住院预结算), read for shape.
    trig_scen: str | None = Field(default=None, max_length=3)

    @field_validator("rule_ids", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class Input3101(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data3101


def _current(patient: Patient) -> Encounter:
    for encounter in patient.fsi_encounter_dtos:
        if encounter.mdtrt_id == patient.curr_mdtrt_id:
            return encounter
    return patient.fsi_encounter_dtos[0]


def proposal(fixmedins_code: str, patient: Patient, rule_ids: list[str]) -> PrecheckRequest:
    """The current visit's current orders as a proposal; its time is the earliest order's start, else the
    admission's, else now."""
    encounter = _current(patient)
    orders = [o for o in encounter.fsi_order_dtos if o.curr_drord_flag == "1"]
    if not orders:
        raise Refusal("E_INPUT", "fsi_order_dtos: 没有当前处方(医嘱) (curr_drord_flag 为 1)")
    starts = sorted(o.drord_begn_date for o in orders if o.drord_begn_date)
    when = starts[0] if starts else encounter.adm_date
    return PrecheckRequest(
        fixmedins_code=fixmedins_code,
        psn_no=patient.patn_id,
        mdtrt_id=encounter.mdtrt_id,
        med_type=encounter.med_type,
        insutype=encounter.insutype or "390",
        begntime=datetime.fromisoformat(iso(when)) if when else now_china(),
        items=[
            ProposedItem(
                rx_id=o.rx_id,
                med_list_codg=o.hilist_code,
                medins_list_codg=o.hosplist_code or "",
                cnt=o.cnt,
                pric=o.pric,
                amount_fen=yuan_to_fen(o.sumamt),
            )
            for o in orders
        ],
        rule_codes=rule_ids,
    )


def result_row(patient: Patient, encounter_id: str, v: Violation, amounts: dict[str, int]) -> dict[str, Any]:
    """A violation under the national 3101 ``result`` names, its lines as ``judge_result_detail_dtos``."""
    involved = sum(amounts[rx] for rx in v.rx_ids)
    return {
        "jr_id": v.jr_id,
        "rule_id": v.rule_code,
        "rule_name": v.rule_name,
        "vola_cont": v.summary,
        "patn_id": patient.patn_id,
        "mdtrt_id": encounter_id,
        "vola_amt": setlinfo.yuan(involved),
        "sev_deg": v.severity,
        "vola_evid": json.dumps(v.evidence, ensure_ascii=False, sort_keys=True)[:500],
        "judge_result_detail_dtos": [
            {
                "jrd_id": f"{v.jr_id[:40]}-{number}",
                "patn_id": patient.patn_id,
                "mdtrt_id": encounter_id,
                "rx_id": rx,
                "vola_item_type": "1",
                "vola_amt": setlinfo.yuan(amounts[rx]),
            }
            for number, rx in enumerate(v.rx_ids, start=1)
        ],
    }


async def _handle_3101(call: Call, data: Input3101) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for patient in data.data.patient_dtos:
        request = proposal(call.envelope.fixmedins_code, patient, data.data.rule_ids)
        answer = await call.downstream.precheck(request)
        amounts: dict[str, int] = {}
        for item in request.items:
            amounts[item.rx_id] = amounts.get(item.rx_id, 0) + item.amount_fen
        rows.extend(result_row(patient, request.mdtrt_id or "", v, amounts) for v in answer.violations)
    return {"result": rows}


class Warn(WireNode):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    warn_rslt_id: str = Field(pattern=WARNING_ID)
    dspo_way: str = Field(pattern=r"^[12]$")
    dspo_way_rea: str = Field(default="", max_length=500)


class Data3103(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    warn_type: str = Field(pattern=r"^[12]$")
    warns: list[Warn] = Field(min_length=1, max_length=100)


class Input3103(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data3103


async def _handle_3103(call: Call, data: Input3103) -> dict[str, Any]:
    d = data.data
    recorded = await call.downstream.precheck_feedback(
        FeedbackRequest(
            fixmedins_code=call.envelope.fixmedins_code,
            warn_type=d.warn_type,
            warns=[
                Feedback(warn_rslt_id=w.warn_rslt_id, dspo_way=w.dspo_way, dspo_way_rea=w.dspo_way_rea)
                for w in d.warns
            ],
        )
    )
    return {"result": {"warn_type": recorded.warn_type, "warn_rslt_id": recorded.recorded}}


TRANSACTIONS = (
    Transaction("3101", "prechecks", "明细审核事前分析服务", Input3101, _handle_3101),
    Transaction("3102", "prechecks", "明细审核事中分析服务", Input3101, _handle_3101),
    Transaction(
        "3103",
        "prechecks",
        "事前事中服务反馈服务",
        Input3103,
        _handle_3103,
        changes_state=True,
        replayed=True,
    ),
)
