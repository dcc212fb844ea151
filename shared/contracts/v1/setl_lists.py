"""The settlement service's settlement-list API (医保结算清单) as the gateway calls it for 4101/4101A
(upload), 4102 (status) and 4103 (query), and as operators read the overdue report (version 1;
docs/interface.md, "Settlement lists")."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.contracts.v1.settlement import UtcTime


class ListDiagnosis(BaseModel):
    diag_type: str = Field(max_length=3)
    diag_code: str = Field(min_length=1, max_length=30)
    diag_name: str = Field(min_length=1, max_length=200)
    maindiag_flag: Literal["0", "1"]
    adm_cond_type: str | None = Field(default=None, max_length=3)


class ListOperation(BaseModel):
    oprn_oprt_code: str = Field(min_length=1, max_length=30)
    oprn_oprt_name: str = Field(min_length=1, max_length=500)
    main_oprn_flag: Literal["0", "1"] = "0"
    oprn_oprt_date: str | None = Field(default=None, max_length=19)


class ListFund(BaseModel):
    fund_pay_type: str = Field(pattern=r"^\d{6}$")
    paid_fen: int


class ListItem(BaseModel):
    med_chrgitm_type: str = Field(max_length=6)
    amount_fen: int = Field(ge=0)


class SettlementListUpload(BaseModel):
    fixmedins_code: str = Field(min_length=1, max_length=30)
    #: 4101 (the institution states the fund split and the fee classes) or 4101A (the platform fills them).
    version: Literal["4101", "4101A"]
    setl_id: str = Field(min_length=1, max_length=30)
    psn_no: str = Field(min_length=1, max_length=30)
    mdtrt_id: str = Field(min_length=1, max_length=30)
    adm_time: datetime
    dscg_time: datetime
    dscg_way: str = Field(pattern=r"^[1-59]$")
    diagnoses: list[ListDiagnosis] = Field(min_length=1, max_length=100)
    operations: list[ListOperation] = Field(default_factory=list, max_length=100)
    #: 4101 only: the institution's fund split (``payinfo``) and fee classes (``iteminfo``), checked against
    #: the settlement.
    funds: list[ListFund] | None = None
    items: list[ListItem] | None = None
    #: The rest of the list as sent (the other ``setlinfo`` fields, ``opspdiseinfo``, ``icuinfo``,
    #: ``bldinfo``), national names, kept for 4103.
    content: dict[str, Any] = Field(default_factory=dict)


class SettlementListOut(BaseModel):
    setl_list_id: str
    setl_id: str
    mdtrt_id: str
    psn_no: str
    fixmedins_code: str
    version: str
    #: 1 有效 (standing), 0 撤回 (withdrawn: not counted as uploaded; may be uploaded again).
    stas_type: Literal["0", "1"]
    adm_time: UtcTime
    dscg_time: UtcTime
    dscg_way: str
    diagnoses: list[ListDiagnosis]
    operations: list[ListOperation]
    funds: list[ListFund]
    items: list[ListItem]
    content: dict[str, Any]
    medfee_sumamt_fen: int
    uploaded_at: UtcTime
    replayed: bool = False


class StatusChange(BaseModel):
    fixmedins_code: str = Field(min_length=1, max_length=30)
    psn_no: str = Field(min_length=1, max_length=30)
    stas_type: Literal["0", "1"]


class OverdueList(BaseModel):
    """An inpatient settlement whose list is not uploaded (or was withdrawn) ``days`` after discharge."""

    setl_id: str
    mdtrt_id: str
    psn_no: str
    fixmedins_code: str
    dscg_time: UtcTime
    days_since_discharge: int


class OverdueReport(BaseModel):
    as_of: datetime
    deadline_days: int
    overdue: list[OverdueList]
