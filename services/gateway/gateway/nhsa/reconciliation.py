"""3201 医药机构费用结算对总账: an institution compares its totals for a period, insutype and clr_type
with the platform's (docs/interface.md, "3201 对总账"); 3202 对明细账 compares its settlements one by one
(below).

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

from gateway.clearing.models import DetailReconciliation
from gateway.declaration import Call, Transaction
from gateway.protocol.code_tables import ClrType, Insutype
from gateway.protocol.errors import Refusal
from shared.clock import format_wire_time
from shared.contracts.v1.reconciliation import SettlementAmount
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

    insutype: Insutype
    clr_type: ClrType
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


# --- 3202 对明细账 ------------------------------------------------------------------------------------------
#
# The institution uploads its settlements of the period as a file (9101) and names it with its totals. The
# file's rows must add up to those totals (else nothing is compared: the file is not the one meant). The
# answer lists, settlement by settlement, what only one side has and what differs, by figure and, for the
# platform's side, by fund; the same rows go into a result file (9102). docs/interface.md, "3202 对明细账".

#: 对账结果 of a row: 1 only the platform has it, 2 only the institution, 3 amounts differ.
ONLY_PLATFORM, ONLY_INSTITUTION, AMOUNTS_DIFFER = "1", "2", "3"
_FILE_FIELDS = (
    "setl_id",
    "mdtrt_id",
    "psn_no",
    "medfee_sumamt",
    "fund_pay_sumamt",
    "acct_pay",
    "refd_setl_flag",
)
_SETL_ID = re.compile(r"^[0-9A-Za-z_-]{1,30}$")


class Data3202(Data3201):
    #: Optional on 3202 (every scheme, every clearing type when absent).
    insutype: Annotated[Insutype | None, BeforeValidator(lambda v: v or None)] = None  # type: ignore[assignment]
    clr_type: Annotated[ClrType | None, BeforeValidator(lambda v: v or None)] = None  # type: ignore[assignment]
    file_qury_no: str = Field(min_length=1, max_length=30)
    #: Cash the institution collected (Σ medfee - fund - account) over the file's rows.
    cash_payamt: SignedYuanAsFen = 0


class Input3202(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Data3202


@dataclass(frozen=True)
class FileRow:
    setl_id: str
    mdtrt_id: str
    psn_no: str
    medfee_fen: int
    fund_fen: int
    acct_fen: int
    refund: bool


def read_rows(text: str) -> list[FileRow]:
    """One settlement record a line, its fields separated by tabs (or commas, or ``|``), in the order of
    ``_FILE_FIELDS``; a first line naming the fields is skipped. A reversal record is ``refd_setl_flag`` 1
    with its amounts negative, as the reversal answered them."""
    rows: list[FileRow] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().lstrip("\ufeff")
        if not line:
            continue
        fields = [f.strip() for f in re.split(r"\t|,|\|", line)]
        if number == 1 and fields[0] == "setl_id":
            continue
        if len(fields) < 6:
            raise Refusal("E_FILE_ROWS", f"明细文件第 {number} 行字段不足（应为 {', '.join(_FILE_FIELDS)}）")
        setl_id, mdtrt_id, psn_no = fields[:3]
        if not _SETL_ID.fullmatch(setl_id):
            raise Refusal("E_FILE_ROWS", f"明细文件第 {number} 行结算ID无效")
        if setl_id in seen:
            raise Refusal("E_FILE_ROWS", f"明细文件第 {number} 行结算ID {setl_id} 重复")
        seen.add(setl_id)
        try:
            medfee, fund, acct = (yuan_to_fen(fields[i], allow_negative=True) for i in (3, 4, 5))
        except ValueError as exc:
            raise Refusal("E_FILE_ROWS", f"明细文件第 {number} 行金额无效") from exc
        flag = fields[6] if len(fields) > 6 else ""
        if flag not in ("", "0", "1"):
            raise Refusal("E_FILE_ROWS", f"明细文件第 {number} 行退费结算标志只能是 0、1 或空")
        rows.append(FileRow(setl_id, mdtrt_id[:30], psn_no[:30], medfee, fund, acct, flag == "1"))
    return rows


def check_totals(rows: list[FileRow], d: Data3202) -> None:
    """The file is the one the totals describe: its rows add up to them (net, as 3201 counts)."""
    medfee = sum(r.medfee_fen for r in rows)
    fund = sum(r.fund_fen for r in rows)
    cash = sum(r.medfee_fen - r.fund_fen - r.acct_fen for r in rows)
    count = sum(-1 if r.refund else 1 for r in rows)
    problems = [
        f"{name}：明细合计 {_yuan(listed)}，传入 {_yuan(stated)}"
        for name, listed, stated in (
            ("医疗费总额", medfee, d.medfee_sumamt),
            ("基金支付总额", fund, d.fund_pay_sumamt),
            ("现金支付总额", cash, d.cash_payamt),
        )
        if listed != stated
    ]
    if count != d.fixmedins_setl_cnt:
        problems.append(f"结算笔数：明细 {count} 笔（退费记录冲减），传入 {d.fixmedins_setl_cnt} 笔")
    if problems:
        raise Refusal("E_FILE_TOTALS", "明细文件与传入的合计不符：" + "；".join(problems))


def _funds(amount: SettlementAmount) -> str:
    return "，".join(f"{fund} {_yuan(fen)}" for fund, fen in sorted(amount.funds.items())) or "无基金支付"


def compare_rows(rows: list[FileRow], platform: list[SettlementAmount]) -> list[dict[str, Any]]:
    """The rows that are not the same on both sides, in the platform's order, then the institution's."""
    theirs = {r.setl_id: r for r in rows}
    ours = {a.setl_id: a for a in platform}
    out: list[dict[str, Any]] = []
    for a in platform:
        r = theirs.get(a.setl_id)
        refund = "1" if a.kind == "reversal" else "0"
        base = {"setl_id": a.setl_id, "mdtrt_id": a.mdtrt_id, "psn_no": a.psn_no, "refd_setl_flag": refund}
        figures = {
            "medfee_sumamt": fen_to_yuan(a.medfee_sumamt_fen),
            "fund_pay_sumamt": fen_to_yuan(a.fund_pay_sumamt_fen),
            "acct_pay": fen_to_yuan(a.acct_pay_fen),
        }
        if r is None:
            out.append(
                {
                    **base,
                    **figures,
                    "stmt_rslt": ONLY_PLATFORM,
                    "memo": f"机构无此结算；医保中心基金：{_funds(a)}",
                }
            )
            continue
        differences = [
            f"{name}：医保中心 {_yuan(mine)}，机构 {_yuan(other)}"
            for name, mine, other in (
                ("医疗费总额", a.medfee_sumamt_fen, r.medfee_fen),
                ("基金支付总额", a.fund_pay_sumamt_fen, r.fund_fen),
                ("个人账户支付", a.acct_pay_fen, r.acct_fen),
            )
            if mine != other
        ]
        if differences:
            memo = "；".join(differences) + f"；医保中心基金：{_funds(a)}"
            out.append({**base, **figures, "stmt_rslt": AMOUNTS_DIFFER, "memo": memo})
    for r in rows:
        if r.setl_id not in ours:
            out.append(
                {
                    "setl_id": r.setl_id,
                    "mdtrt_id": r.mdtrt_id,
                    "psn_no": r.psn_no,
                    "refd_setl_flag": "1" if r.refund else "0",
                    "medfee_sumamt": fen_to_yuan(r.medfee_fen),
                    "fund_pay_sumamt": fen_to_yuan(r.fund_fen),
                    "acct_pay": fen_to_yuan(r.acct_fen),
                    "stmt_rslt": ONLY_INSTITUTION,
                    "memo": "医保中心无此结算（或不在对账期间、清算类别内）",
                }
            )
    return out


_RESULT_FIELDS = (
    "setl_id",
    "mdtrt_id",
    "psn_no",
    "stmt_rslt",
    "refd_setl_flag",
    "medfee_sumamt",
    "fund_pay_sumamt",
    "acct_pay",
    "memo",
)


async def _handle_3202(call: Call, data: Input3202) -> dict[str, Any]:
    """3202 对明细账 on the settlement service's records (never the gateway's log)."""
    d = data.data
    fixmedins_code = call.envelope.fixmedins_code
    text = (await call.files.read_text(call.db, d.file_qury_no, fixmedins_code)).text
    rows = read_rows(text)
    check_totals(rows, d)
    platform = await call.downstream.reconciliation_settlements(
        fixmedins_code, d.clr_type or None, d.begin, d.end
    )
    differences = compare_rows(rows, platform.settlements)
    async with call.db.transaction() as session:  # what 3203 reads: is the period reconciled?
        session.add(
            DetailReconciliation(
                fixmedins_code=fixmedins_code,
                period_from=d.begin,
                period_to=d.end,
                clr_type=d.clr_type or "",
                differences=len(differences),
                msgid=call.envelope.msgid,
            )
        )
    lines = ["\t".join(_RESULT_FIELDS)]
    lines += ["\t".join(str(row[f]) for f in _RESULT_FIELDS) for row in differences]
    made = await call.files.make(
        call.db,
        fixmedins_code=fixmedins_code,
        filename=f"3202_{d.stmt_begndate}_{d.stmt_enddate}.zip",
        text="\n".join(lines) + "\n",
        kind="result",
        inner_name=f"3202_{d.stmt_begndate}_{d.stmt_enddate}.txt",
    )
    period = f"{d.stmt_begndate} 至 {d.stmt_enddate}"
    return {
        "fileinfo": {
            "file_qury_no": made.file_qury_no,
            "filename": made.filename,
            "dld_endtime": format_wire_time(made.expires_at),
        },
        "stmtinfo": {
            "setl_optins": d.setl_optins,
            "stmt_rslt": "0" if not differences else "1",
            "stmt_rslt_dscr": f"明细对账 {period}：{len(rows)} 条明细，{len(differences)} 条不符"
            if differences
            else f"明细对账 {period}：{len(rows)} 条明细全部相符",
        },
        "result": differences,
    }


TRANSACTIONS = (
    Transaction("3201", "reconciliation", "医药机构费用结算对总账", Input3201, _handle_3201),
    Transaction(
        "3202",
        "reconciliation",
        "医药机构费用结算对明细账",
        Input3202,
        _handle_3202,
        changes_state=True,
        replayed=True,
    ),
)
