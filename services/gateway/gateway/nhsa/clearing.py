"""3203 / 3204 清算申请 / 撤销 (docs/interface.md, "3203 / 3204 清算申请"): an institution applies to have a
period cleared, once its settlements of the period are reconciled in detail (the latest 3202 covering the
period found no difference), and may revoke the application until the fund clears it. The applications live
in the fund ledger, whose clearing batches take them as input."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from sqlmodel import col, select

from gateway.clearing.models import DetailReconciliation
from gateway.declaration import Call, Transaction
from gateway.nhsa.reconciliation import SignedYuanAsFen
from gateway.protocol.code_tables import ClrType
from gateway.protocol.errors import Refusal
from shared.contracts.v1.clearing import ApplicationIn


class Data3203(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    clr_type: Annotated[ClrType | None, BeforeValidator(lambda v: v or None)] = None
    clr_way: str | None = Field(default=None, max_length=6)
    #: 清算年月 yyyyMM, read for shape: the period is ``begndate``-``enddate``.
    setlym: str | None = Field(default=None, pattern=r"^(\d{4}(0[1-9]|1[0-2]))?$")
    psntime: int | None = Field(default=None, ge=0)
    medfee_sumamt: SignedYuanAsFen = 0
    med_sumfee: SignedYuanAsFen = 0
    fund_appy_sum: SignedYuanAsFen = 0
    cash_payamt: SignedYuanAsFen = 0
    acct_pay: SignedYuanAsFen = 0
    begndate: date
    enddate: date


class Input3203(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data3203


async def reconciled(call: Call, fixmedins_code: str, begin: date, end: date) -> None:
    """The latest 3202 of the institution whose period meets this one covered all of it and found no
    difference; else the month is not ready to clear."""
    async with call.db.session() as session:
        latest = await session.scalar(
            select(DetailReconciliation)
            .where(
                DetailReconciliation.fixmedins_code == fixmedins_code,
                col(DetailReconciliation.period_from) <= end,
                col(DetailReconciliation.period_to) >= begin,
            )
            .order_by(col(DetailReconciliation.id).desc())
            .limit(1)
        )
    period = f"{begin.isoformat()} 至 {end.isoformat()}"
    if latest is None:
        raise Refusal("CLEARING_NOT_RECONCILED", f"{period} 尚未做明细对账(3202)，不能申请清算")
    if latest.differences:
        raise Refusal(
            "CLEARING_NOT_RECONCILED",
            f"{period} 最近一次明细对账(3202)有 {latest.differences} 条不符，处理平帐后再申请清算",
        )
    if latest.period_from > begin or latest.period_to < end:
        raise Refusal(
            "CLEARING_NOT_RECONCILED",
            f"最近一次明细对账(3202)只覆盖 {latest.period_from} 至 {latest.period_to}，未覆盖 {period}",
        )


async def _handle_3203(call: Call, data: Input3203) -> dict[str, Any]:
    d = data.data
    if d.enddate < d.begndate:
        raise Refusal("E_INPUT", "结束日期 enddate 不能早于开始日期 begndate")
    fixmedins_code = call.envelope.fixmedins_code
    await reconciled(call, fixmedins_code, d.begndate, d.enddate)
    applied = await call.downstream.apply_for_clearing(
        ApplicationIn(
            fixmedins_code=fixmedins_code,
            admdvs=call.envelope.mdtrtarea_admvs,
            insutype="390",
            clr_type=d.clr_type or "",
            period_from=d.begndate,
            period_to=d.enddate,
        )
    )
    return {"result": {"clr_appy_evt_id": applied.clr_appy_evt_id}}


class Data3204(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    clr_appy_evt_id: str = Field(pattern=r"^[0-9A-Za-z_-]{1,30}$")


class Input3204(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data3204


async def _handle_3204(call: Call, data: Input3204) -> dict[str, Any]:
    revoked = await call.downstream.revoke_clearing(data.data.clr_appy_evt_id, call.envelope.fixmedins_code)
    return {"result": {"clr_appy_evt_id": revoked.clr_appy_evt_id, "status": revoked.status}}


TRANSACTIONS = (
    Transaction(
        "3203", "clearing", "医药机构费用清算申请", Input3203, _handle_3203, changes_state=True, replayed=True
    ),
    Transaction(
        "3204",
        "clearing",
        "医药机构费用清算申请撤销",
        Input3204,
        _handle_3204,
        changes_state=True,
        replayed=True,
    ),
)
