"""3201 医药机构费用结算对总账: an institution compares its totals for a period, insutype and clr_type
with the platform's (docs/interface.md, "3201 对总账").

The platform's figures come from settlement's totals for the envelope's ``fixmedins_code`` only (an
institution only ever sees its own). ``setl_optins`` (结算经办机构) is echoed; the platform has one
settlement office per deployment, so it does not narrow the figures.

How reversals count (``refd_setl_flag``; region-specific in the field; docs/interface.md). Our choice:

* ``""`` / absent / ``"0"`` (S2 sends ""): net figures. Amounts are net (a reversal record's negated amounts
  subtract, on the day the reversal was made); ``fixmedins_setl_cnt`` = originals minus reversals made in
  the period. Amounts may therefore be negative.
* ``"1"``: refunds only. The reversal records of the period: their count, and their amounts compared by
  absolute value (an HIS may keep refunds positive or negative).

``stmt_rslt`` "0" (平帐) when every figure agrees, else "1" with ``stmt_rslt_dscr`` naming each differing
figure with both values (amounts in yuan)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from gateway.nhsa.transaction import Call, Transaction
from shared.contracts.v1.settlement import TotalsOut
from shared.money import fen_to_yuan, yuan_to_fen

DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
#: The longest statement period (settlement refuses longer ones too).
MAX_DAYS = 367


def _signed_fen(value: Any) -> int:
    return yuan_to_fen(value, allow_negative=True)


#: A wire amount in yuan that may be negative (net totals), held as integer fen.
SignedYuanAsFen = Annotated[int, BeforeValidator(_signed_fen)]


_DAY_AT_MIDNIGHT = re.compile(r"(\d{4}-\d{2}-\d{2})[ T]00:00:00(?:\.0+)?", re.ASCII)


class Data3201(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    insutype: str = Field(min_length=1, max_length=6)
    clr_type: str = Field(min_length=1, max_length=6)
    setl_optins: str = Field(min_length=1, max_length=6)
    stmt_begndate: str = Field(pattern=DATE_PATTERN)
    stmt_enddate: str = Field(pattern=DATE_PATTERN)
    medfee_sumamt: SignedYuanAsFen
    fund_pay_sumamt: SignedYuanAsFen
    acct_pay: SignedYuanAsFen = 0
    fixmedins_setl_cnt: int = Field(ge=-(10**10) + 1, le=10**10 - 1)
    refd_setl_flag: str | None = Field(default=None, max_length=3)

    @field_validator("refd_setl_flag")
    @classmethod
    def _flag(cls, value: str | None) -> str | None:
        if value not in (None, "", "0", "1"):
            raise ValueError("退费结算标志只能是 0、1 或空")
        return value

    @field_validator("stmt_begndate", "stmt_enddate", mode="before")
    @classmethod
    def _midnight_is_the_day(cls, value: Any) -> Any:
        # Clients send the statement days as times too (`2026-12-01 00:00:00`, `2026-12-01T00:00:00`): the
        # day, when the time is midnight; any other time leaves the period in doubt and stays refused.
        if isinstance(value, str):
            match = _DAY_AT_MIDNIGHT.fullmatch(value.strip())
            if match is not None:
                return match.group(1)
        return value

    @field_validator("stmt_begndate", "stmt_enddate")
    @classmethod
    def _real_date(cls, value: str) -> str:
        try:
            datetime.strptime(value, "%Y-%m-%d")
        except ValueError as exc:
            raise ValueError(f"日期无效: {value}") from exc
        return value

    @model_validator(mode="after")
    def _period(self) -> Data3201:
        if self.end < self.begin:
            raise ValueError("对账终止日期早于开始日期")
        if (self.end - self.begin).days + 1 > MAX_DAYS:
            raise ValueError(f"对账期间最长 {MAX_DAYS} 天")
        return self

    @property
    def begin(self) -> date:
        return date.fromisoformat(self.stmt_begndate)

    @property
    def end(self) -> date:
        return date.fromisoformat(self.stmt_enddate)

    @property
    def refunds_only(self) -> bool:
        return self.refd_setl_flag == "1"


class Input3201(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data3201


@dataclass(frozen=True)
class Figures:
    medfee_fen: int
    fund_fen: int
    acct_fen: int
    count: int


def platform_figures(totals: TotalsOut, data: Data3201) -> Figures:
    """Sum settlement's per-day rows (already narrowed to the institution, insutype and clr_type)."""
    medfee = fund = acct = count = 0
    for row in totals.rows:
        if data.refunds_only:
            medfee += row.reversal_medfee_sumamt_fen
            fund += row.reversal_fund_pay_sumamt_fen
            acct += row.reversal_acct_pay_fen
            count += row.reversal_cnt
        else:
            medfee += row.medfee_sumamt_fen
            fund += row.fund_pay_sumamt_fen
            acct += row.acct_pay_fen
            count += row.net_cnt
    if data.refunds_only:
        return Figures(abs(medfee), abs(fund), abs(acct), count)
    return Figures(medfee, fund, acct, count)


def institution_figures(data: Data3201) -> Figures:
    if data.refunds_only:
        return Figures(
            abs(data.medfee_sumamt), abs(data.fund_pay_sumamt), abs(data.acct_pay), data.fixmedins_setl_cnt
        )
    return Figures(data.medfee_sumamt, data.fund_pay_sumamt, data.acct_pay, data.fixmedins_setl_cnt)


def _yuan(fen: int) -> str:
    return f"{fen_to_yuan(fen)} 元"


def compare(platform: Figures, institution: Figures, data: Data3201) -> tuple[str, str]:
    """(stmt_rslt, stmt_rslt_dscr)."""
    scope = "退费结算" if data.refunds_only else "结算（已扣除撤销）"
    period = f"{data.stmt_begndate} 至 {data.stmt_enddate}"
    differences = []
    for name, ours, theirs in (
        ("医疗费总额", platform.medfee_fen, institution.medfee_fen),
        ("基金支付总额", platform.fund_fen, institution.fund_fen),
        ("个人账户支付总额", platform.acct_fen, institution.acct_fen),
    ):
        if ours != theirs:
            differences.append(f"{name}不符：医保中心 {_yuan(ours)}，机构 {_yuan(theirs)}")
    if platform.count != institution.count:
        differences.append(f"结算笔数不符：医保中心 {platform.count} 笔，机构 {institution.count} 笔")
    if not differences:
        return "0", (
            f"平帐：{period} {scope}医疗费总额 {_yuan(platform.medfee_fen)}、基金支付总额 "
            f"{_yuan(platform.fund_fen)}、结算笔数 {platform.count} 笔，与医保中心一致"
        )
    return "1", f"不平帐（{period} {scope}）：" + "；".join(differences)


def build_output(data: Data3201, totals: TotalsOut) -> dict[str, Any]:
    result, description = compare(platform_figures(totals, data), institution_figures(data), data)
    return {
        "stmtinfo": {
            "setl_optins": data.setl_optins,
            "stmt_rslt": result,
            "stmt_rslt_dscr": description,
        }
    }


async def _handle_3201(call: Call, data: Input3201) -> dict[str, Any]:
    """3201 对总账: the institution's totals against the platform's, for its own settlements only."""
    d = data.data
    totals = await call.downstream.reconciliation_totals(
        call.envelope.fixmedins_code, d.insutype, d.clr_type, d.begin, d.end
    )
    return build_output(d, totals)


TRANSACTIONS = (Transaction("3201", "reconciliation", "医药机构费用结算对总账", Input3201, _handle_3201),)
