"""One day at the pharmacy, computed by hand (demo policy: 20.00 deductible, 50 %):

* three README baskets by three new persons: 60 amoxicillin at 0.50 + 3 danshen at 20.00 = 90.00,
  6.00 self-pay first, 84.00 in range, 20.00 deductible, fund (84.00 - 20.00) x 50 % = 32.00 each;
* one 丙类 item of 10.00 by a fourth person: fully self-paid, the fund pays 0 (so no ledger entry);
* the third basket reversed: -90.00 medical fees, -32.00 fund.

Net: 4 settlements, 1 reversal, net count 3; medfee 3 x 90.00 + 10.00 - 90.00 = 190.00 (19000 fen);
fund 3 x 32.00 - 32.00 = 64.00 (6400 fen)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.reconciliation.conftest import Platform

BASKET = [("A", "60", "0.5", 3000), ("B", "3", "20", 6000)]
SELF_PAID = [("C", "1", "10", 1000)]


@dataclass
class Day:
    first: dict[str, Any]
    second: dict[str, Any]
    third: dict[str, Any]
    self_paid: dict[str, Any]
    reversal: dict[str, Any]


async def pharmacy_day(platform: Platform) -> Day:
    first = await platform.buy(BASKET, 21)
    second = await platform.buy(BASKET, 22)
    third = await platform.buy(BASKET, 23)
    self_paid = await platform.buy(SELF_PAID, 24)
    for settled in (first, second, third):
        assert (settled["medfee_sumamt_fen"], settled["fund_paid_total_fen"]) == (9000, 3200)
    assert (self_paid["medfee_sumamt_fen"], self_paid["fund_paid_total_fen"]) == (1000, 0)
    reversal = await platform.reverse(third, "P341524000019999000000000001")
    return Day(first, second, third, self_paid, reversal)
