"""Fund statements from the journal: income and expenditure statement (收支表), balance sheet (资产负债表)
and the fund risk indicator (可支付月数). Read-only; dates are Beijing business dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from prometheus_client import Gauge
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from fund_ledger.books.bank import BANK_ACCOUNT_CODES
from fund_ledger.books.chart import (
    ASSISTANCE_EXPENSE,
    BENEFIT_EXPENSE_BY_CLR_TYPE,
    CATASTROPHIC_EXPENSE,
    CHART,
    CHRONIC_DISEASE_EXPENSE,
    MATERNITY_EXPENSE,
)
from fund_ledger.books.models import Account, JournalEntry, Posting
from fund_ledger.books.service import normal_balance
from fund_ledger.clearing.service import day_end, day_start
from fund_ledger.pooling.service import INTER_REGION_CODES

FUND_MONTHS_OF_PAYMENT = Gauge(
    "ledger_fund_months_of_payment",
    "Months of benefit spending the fund's bank balances cover (NaN when there was no spending)",
    ["admdvs", "insutype"],
)

#: Benefit expenditure counted by the fund risk indicator: 51xx, 5201, 5301.
BENEFIT_EXPENSE_CODES = frozenset(
    {
        *(spec.code for spec in BENEFIT_EXPENSE_BY_CLR_TYPE.values()),
        CHRONIC_DISEASE_EXPENSE.code,
        MATERNITY_EXPENSE.code,
        CATASTROPHIC_EXPENSE.code,
        ASSISTANCE_EXPENSE.code,
    }
)


@dataclass(frozen=True)
class CodeTotal:
    code: str
    name: str
    kind: str
    #: On the account's normal side.
    amount_fen: int


#: One pooling region, or several seen as one (the city view of city-level pooling: the city and its pooled
#: counties, whose pooling accounts 1301 / 2301 cancel out and are left out).
Regions = str | tuple[str, ...]


def _region_list(admdvs: Regions) -> list[str]:
    return [admdvs] if isinstance(admdvs, str) else list(admdvs)


async def totals_by_code(
    session: AsyncSession,
    admdvs: Regions,
    insutype: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict[str, CodeTotal]:
    """Normal-side balance per account code (all funds and counterparties together) over the entries posted
    in [start, end)."""
    query = (
        select(Account.code, func.sum(Posting.debit_fen), func.sum(Posting.credit_fen))
        .join(Posting, col(Posting.account_id) == col(Account.id))
        .join(JournalEntry, col(JournalEntry.id) == col(Posting.entry_id))
        .where(col(Account.admdvs).in_(_region_list(admdvs)), Account.insutype == insutype)
        .group_by(col(Account.code))
        .order_by(col(Account.code))
    )
    if len(_region_list(admdvs)) > 1:
        query = query.where(col(Account.code).not_in(INTER_REGION_CODES))
    if start is not None:
        query = query.where(col(JournalEntry.posted_at) >= start)
    if end is not None:
        query = query.where(col(JournalEntry.posted_at) < end)
    result: dict[str, CodeTotal] = {}
    for code, debits, credits in await session.execute(query):
        spec = CHART.get(code)
        kind = spec.kind if spec is not None else "unknown"
        name = spec.name if spec is not None else code
        result[code] = CodeTotal(code, name, kind, normal_balance(kind, int(debits or 0), int(credits or 0)))
    return result


def _of_kind(totals: dict[str, CodeTotal], kind: str) -> list[CodeTotal]:
    return [t for t in totals.values() if t.kind == kind]


@dataclass(frozen=True)
class IncomeExpenditure:
    income: list[CodeTotal]
    expenditure: list[CodeTotal]
    income_total_fen: int
    expenditure_total_fen: int
    surplus_fen: int


async def income_expenditure(
    session: AsyncSession, admdvs: Regions, insutype: str, date_from: date, date_to: date
) -> IncomeExpenditure:
    totals = await totals_by_code(session, admdvs, insutype, start=day_start(date_from), end=day_end(date_to))
    income = _of_kind(totals, "income")
    expenditure = _of_kind(totals, "expense")
    income_total = sum(t.amount_fen for t in income)
    expenditure_total = sum(t.amount_fen for t in expenditure)
    return IncomeExpenditure(
        income, expenditure, income_total, expenditure_total, income_total - expenditure_total
    )


@dataclass(frozen=True)
class BalanceSheet:
    assets: list[CodeTotal]
    liabilities: list[CodeTotal]
    assets_total_fen: int
    liabilities_total_fen: int
    #: Assets minus liabilities.
    fund_balance_fen: int
    #: The fund balance account (3001), carried from earlier years.
    opening_fund_balance_fen: int
    cumulative_income_fen: int
    cumulative_expenditure_fen: int
    #: fund_balance == opening fund balance + cumulative income - cumulative expenditure.
    balanced: bool


async def balance_sheet(session: AsyncSession, admdvs: Regions, insutype: str, as_of: date) -> BalanceSheet:
    totals = await totals_by_code(session, admdvs, insutype, end=day_end(as_of))
    assets = _of_kind(totals, "asset")
    liabilities = _of_kind(totals, "liability")
    assets_total = sum(t.amount_fen for t in assets)
    liabilities_total = sum(t.amount_fen for t in liabilities)
    opening = sum(t.amount_fen for t in _of_kind(totals, "equity"))
    income = sum(t.amount_fen for t in _of_kind(totals, "income"))
    expenditure = sum(t.amount_fen for t in _of_kind(totals, "expense"))
    fund_balance = assets_total - liabilities_total
    return BalanceSheet(
        assets,
        liabilities,
        assets_total,
        liabilities_total,
        fund_balance,
        opening,
        income,
        expenditure,
        balanced=fund_balance == opening + income - expenditure,
    )


@dataclass(frozen=True)
class FundRisk:
    #: 1001 + 1002 + 1003 at the end of as_of.
    bank_balance_fen: int
    window_from: date
    window_to: date
    #: Net benefit expenditure over the 12 months ending with as_of.
    expenditure_12m_fen: int
    #: expenditure_12m / 12 (months without spending count as zero), to the fen, half-up.
    average_monthly_expenditure_fen: int
    #: bank balance / average monthly expenditure, two decimals half-up; None without spending.
    months_of_payment: Decimal | None
    #: ok, warning, danger, or "no spending".
    status: str
    warning_months: Decimal
    danger_months: Decimal


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


async def fund_risk(
    session: AsyncSession,
    admdvs: str,
    insutype: str,
    as_of: date,
    *,
    warning_months: Decimal,
    danger_months: Decimal,
) -> FundRisk:
    """Months of payment (可支付月数) = bank balances / average monthly benefit spending of the 12 months up
    to and including ``as_of`` ([as_of + 1 day - 1 year, as_of]). Updates the
    ``ledger_fund_months_of_payment`` gauge."""
    end_day = as_of + timedelta(days=1)
    window_from = _year_before(end_day)
    balances = await totals_by_code(session, admdvs, insutype, end=day_start(end_day))
    bank = sum(t.amount_fen for code, t in balances.items() if code in BANK_ACCOUNT_CODES)
    spending = await totals_by_code(
        session, admdvs, insutype, start=day_start(window_from), end=day_start(end_day)
    )
    expenditure = sum(t.amount_fen for code, t in spending.items() if code in BENEFIT_EXPENSE_CODES)
    average = (Decimal(expenditure) / 12).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    months: Decimal | None
    if expenditure <= 0:
        months, status = None, "no spending"
    else:
        months = (Decimal(bank) * 12 / Decimal(expenditure)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        status = "danger" if months < danger_months else "warning" if months < warning_months else "ok"
    FUND_MONTHS_OF_PAYMENT.labels(admdvs, insutype).set(float("nan") if months is None else float(months))
    return FundRisk(
        bank_balance_fen=bank,
        window_from=window_from,
        window_to=as_of,
        expenditure_12m_fen=expenditure,
        average_monthly_expenditure_fen=int(average),
        months_of_payment=months,
        status=status,
        warning_months=warning_months,
        danger_months=danger_months,
    )


# --- public disclosure (基金收支情况公示) ---------------------------------------------------------------

#: How the public disclosure groups the chart: (heading, account codes). Every income and expense code of
#: the chart falls in exactly one line (a test holds this), so the lines always add up to the totals.
DISCLOSURE_INCOME_LINES: tuple[tuple[str, frozenset[str]], ...] = (
    ("个人缴费收入", frozenset({"4001"})),
    ("医疗救助资助参保收入", frozenset({"4002"})),
    ("集体扶持及单位资助收入", frozenset({"4003", "4004"})),
    ("财政补助收入", frozenset({"4101", "4102", "4103", "4104"})),
    ("利息收入", frozenset({"4201"})),
)
DISCLOSURE_EXPENDITURE_LINES: tuple[tuple[str, frozenset[str]], ...] = (
    ("住院待遇支出", frozenset({"5102"})),
    ("普通门诊待遇支出（含药店购药）", frozenset({"5101", "5103", "5109"})),
    ("门诊慢特病待遇支出", frozenset({"5104"})),
    ("生育待遇支出", frozenset({"5105"})),
    ("大病保险支出", frozenset({"5201"})),
    ("医疗救助支出", frozenset({"5301"})),
)


@dataclass(frozen=True)
class Disclosure:
    """The fund's income, spending and balance for the public (基金收支情况公示), per region and scheme."""

    date_from: date
    date_to: date
    #: Fund balance (assets - liabilities) at the start of date_from and at the end of date_to.
    opening_balance_fen: int
    income: list[tuple[str, int]]
    expenditure: list[tuple[str, int]]
    income_total_fen: int
    expenditure_total_fen: int
    surplus_fen: int
    closing_balance_fen: int
    #: Settlements the funds paid for in the period (net of reversals), from the journal.
    settlements: int


async def disclosure(
    session: AsyncSession, admdvs: Regions, insutype: str, date_from: date, date_to: date
) -> Disclosure:
    period = await totals_by_code(session, admdvs, insutype, start=day_start(date_from), end=day_end(date_to))

    def lines(groups: tuple[tuple[str, frozenset[str]], ...]) -> list[tuple[str, int]]:
        return [
            (heading, sum(t.amount_fen for code, t in period.items() if code in codes))
            for heading, codes in groups
        ]

    income = lines(DISCLOSURE_INCOME_LINES)
    expenditure = lines(DISCLOSURE_EXPENDITURE_LINES)
    opening = await _fund_balance(session, admdvs, insutype, day_start(date_from))
    closing = await _fund_balance(session, admdvs, insutype, day_end(date_to))
    settled = await session.scalar(
        select(func.count())
        .select_from(JournalEntry)
        .where(
            col(JournalEntry.admdvs).in_(_region_list(admdvs)),
            JournalEntry.insutype == insutype,
            col(JournalEntry.posted_at) >= day_start(date_from),
            col(JournalEntry.posted_at) < day_end(date_to),
            JournalEntry.source_type == "settlement",
        )
    )
    reversed_ = await session.scalar(
        select(func.count())
        .select_from(JournalEntry)
        .where(
            col(JournalEntry.admdvs).in_(_region_list(admdvs)),
            JournalEntry.insutype == insutype,
            col(JournalEntry.posted_at) >= day_start(date_from),
            col(JournalEntry.posted_at) < day_end(date_to),
            JournalEntry.source_type == "settlement_reversal",
        )
    )
    income_total = sum(amount for _, amount in income)
    expenditure_total = sum(amount for _, amount in expenditure)
    return Disclosure(
        date_from=date_from,
        date_to=date_to,
        opening_balance_fen=opening,
        income=income,
        expenditure=expenditure,
        income_total_fen=income_total,
        expenditure_total_fen=expenditure_total,
        surplus_fen=income_total - expenditure_total,
        closing_balance_fen=closing,
        settlements=int(settled or 0) - int(reversed_ or 0),
    )


async def _fund_balance(session: AsyncSession, admdvs: Regions, insutype: str, before: datetime) -> int:
    totals = await totals_by_code(session, admdvs, insutype, end=before)
    assets = sum(t.amount_fen for t in _of_kind(totals, "asset"))
    liabilities = sum(t.amount_fen for t in _of_kind(totals, "liability"))
    return assets - liabilities
