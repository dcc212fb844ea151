"""The pharmacy / outpatient pooling calculation, case by case, with every expected amount worked out by
hand from the policy (20.00 yuan yearly deductible, 50 %, 300.00 yuan yearly cap) and the catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from settlement.adjudication.outpatient import FeeLine, ListEntry, OutpatientPolicy, YearToDate, adjudicate

POLICY = OutpatientPolicy(deductible_fen=2000, pool_ratio=Decimal("0.5"), annual_cap_fen=30000)
CATALOGUE = {
    "A": ListEntry("1", Decimal(0), Decimal("0.50")),  # 甲, capped at 0.50 a unit
    "B": ListEntry("2", Decimal("0.10"), None),  # 乙, 10 % self-pay first
    "C": ListEntry("3", Decimal(0), None),  # 丙
    "D": ListEntry("2", Decimal("0.05"), Decimal("2.50")),  # 乙 5 %, capped at 2.50 a unit
}


def line(sn: str, code: str, cnt: str, pric: str, amount_fen: int) -> FeeLine:
    return FeeLine(sn, code, Decimal(cnt), Decimal(pric), amount_fen)


@dataclass
class Case:
    name: str
    lines: list[FeeLine]
    ytd: YearToDate
    fully: int
    over: int
    first: int
    in_range: int
    deductible: int
    fund: int
    cash: int


CASES = [
    Case(
        "first purchase of the year: 甲 and 乙",
        [line("1", "A", "60", "0.5", 3000), line("2", "B", "3", "20", 6000)],
        YearToDate(),
        # A: 30.00 in range; B: 60.00, 6.00 first, 54.00 in range; 84.00 - 20.00 deductible = 64.00 x 50 %
        fully=0,
        over=0,
        first=600,
        in_range=8400,
        deductible=2000,
        fund=3200,
        cash=5800,
    ),
    Case(
        "deductible partly used earlier in the year",
        [line("1", "B", "1", "10", 1000)],
        YearToDate(deductible_used_fen=1500),
        # B: 10.00, 1.00 first, 9.00 in range; 5.00 of deductible left; 4.00 x 50 % = 2.00
        fully=0,
        over=0,
        first=100,
        in_range=900,
        deductible=500,
        fund=200,
        cash=800,
    ),
    Case(
        "over the price cap, 乙 share, half a fen rounds up",
        [line("1", "D", "10", "3.00", 3000)],
        YearToDate(deductible_used_fen=2000),
        # 10 x 2.50 = 25.00 allowed, 5.00 over cap; 5 % of 25.00 = 1.25 first; 23.75 in range;
        # 23.75 x 50 % = 11.875 yuan = 1187.5 fen -> 1188 fen
        fully=0,
        over=500,
        first=125,
        in_range=2375,
        deductible=0,
        fund=1188,
        cash=1812,
    ),
    Case(
        "yearly cap nearly reached",
        [line("1", "A", "20", "0.5", 1000)],
        YearToDate(deductible_used_fen=2000, fund_paid_fen=29900),
        # 10.00 in range x 50 % = 5.00, but only 1.00 of the 300.00 cap is left
        fully=0,
        over=0,
        first=0,
        in_range=1000,
        deductible=0,
        fund=100,
        cash=900,
    ),
    Case(
        "yearly cap exhausted",
        [line("1", "A", "20", "0.5", 1000)],
        YearToDate(deductible_used_fen=2000, fund_paid_fen=30000),
        fully=0,
        over=0,
        first=0,
        in_range=1000,
        deductible=0,
        fund=0,
        cash=1000,
    ),
    Case(
        "丙类 and an item not in the list are fully self-paid",
        [line("1", "C", "2", "15", 3000), line("2", "NOT-LISTED", "1", "8.8", 880)],
        YearToDate(),
        fully=3880,
        over=0,
        first=0,
        in_range=0,
        deductible=0,
        fund=0,
        cash=3880,
    ),
    Case(
        "the whole policy-range amount goes to the deductible",
        [line("1", "A", "10", "0.5", 500)],
        YearToDate(),
        fully=0,
        over=0,
        first=0,
        in_range=500,
        deductible=500,
        fund=0,
        cash=500,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_outpatient_pooling(case: Case) -> None:
    result = adjudicate(case.lines, CATALOGUE, POLICY, case.ytd)
    assert (
        result.fully_self_paid_fen,
        result.over_price_cap_fen,
        result.self_pay_first_fen,
        result.policy_range_fen,
    ) == (case.fully, case.over, case.first, case.in_range)
    assert result.deductible_fen == case.deductible
    assert result.pooled_fund_paid_fen == case.fund
    assert result.fund_paid_total_fen == case.fund
    assert result.cash_paid_fen == case.cash
    # The bill is fully accounted for, and the year-to-date totals move by exactly this settlement.
    total = sum(x.amount_fen for x in case.lines)
    assert result.medfee_sumamt_fen == total
    assert case.fully + case.over + case.first + case.in_range == total
    assert case.fund + case.cash == total
    assert result.year_to_date_after == YearToDate(
        case.ytd.deductible_used_fen + case.deductible, case.ytd.fund_paid_fen + case.fund
    )


def test_line_classification_and_trace() -> None:
    result = adjudicate(
        [line("1", "D", "10", "3.00", 3000), line("2", "C", "1", "1", 100)], CATALOGUE, POLICY, YearToDate()
    )
    capped, self_paid = result.lines
    assert (
        capped.chrgitm_lv,
        capped.over_price_cap_fen,
        capped.self_pay_first_fen,
        capped.policy_range_fen,
    ) == ("2", 500, 125, 2375)
    assert "超限价" in capped.memo and "乙类" in capped.memo
    assert (self_paid.fully_self_paid_fen, self_paid.memo) == (100, "丙类，全自费")
    assert any("起付线 20.00" in step for step in result.trace)
    # 23.75 - 20.00 = 3.75 x 50 % = 1.875 yuan -> 1.88 yuan
    assert result.pooled_fund_paid_fen == 188
    assert any("支付 1.88" in step for step in result.trace)
