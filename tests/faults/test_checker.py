"""The nemesis checker is the oracle of the fault runs: it must see each kind of broken book. Fed canned
rows (no processes), it passes a consistent day and names what is wrong in each broken one."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.faults.nemesis import Message, check

S1, S2, R1 = "S1", "S2", "R1"


def _setl(setl_id: str, fund: str, cash: str) -> dict[str, Any]:
    return {"setlinfo": {"setl_id": setl_id, "fund_pay_sumamt": fund, "psn_cash_pay": cash}}


@dataclass
class Day:
    """A consistent day: M1 settled S1 (fund 17.00, cash 43.00) and was reversed by 2601 M3 (R1); M2 settled
    S2 (fund 27.00, cash 33.00) and stands."""

    settlements: list[list[Any]] = field(
        default_factory=lambda: [
            [S1, "M1", "P", "reversed", None, R1, 1700, 4300, json.dumps({"outpatient_paid_fen": 1700})],
            [S2, "M2", "P", "settled", None, None, 2700, 3300, json.dumps({"outpatient_paid_fen": 2700})],
            [R1, "M3", "P", "reversal", S1, None, -1700, -4300, json.dumps({"outpatient_paid_fen": -1700})],
        ]
    )
    accumulators: list[list[Any]] = field(default_factory=lambda: [["P", 0, 2700, 0, 0, 1]])
    entries: list[list[Any]] = field(default_factory=lambda: [[S1, 1700], [S2, 2700], [R1, 1700]])
    imbalance: int = 0
    messages: dict[str, Message] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ok = {"infcode": 0}
        self.add("2102", "M1", {**ok, "output": _setl(S1, "17.00", "43.00")})
        self.add("2102", "M2", {**ok, "output": _setl(S2, "27.00", "33.00")})
        reversed_ = {"omsgid": "M1", "oinfno": "2102", "outcome": "reversed", "setl_id": R1}
        self.add("2601", "M3", {**ok, "output": {"data": reversed_, **_setl(R1, "-17.00", "-43.00")}})

    def add(self, infno: str, msgid: str, *answers: dict[str, Any]) -> None:
        self.messages[msgid] = Message(infno, {"msgid": msgid}, list(answers))

    async def query(self, service: str, sql: str) -> list[tuple[Any, ...]]:
        if "FROM settlements" in sql:
            return [tuple(r) for r in self.settlements]
        if "FROM year_accumulators" in sql:
            return [tuple(r) for r in self.accumulators]
        if "FROM journal_entries" in sql:
            return [tuple(r) for r in self.entries]
        if "FROM postings" in sql:
            return [(self.imbalance,)]
        raise AssertionError(sql)


async def _problems(day: Day) -> list[str]:
    return await check(day, day)  # type: ignore[arg-type]


async def test_a_consistent_day_passes() -> None:
    assert await _problems(Day()) == []


def _second_reversal(day: Day) -> None:
    day.settlements.append(["R2", "M4", "P", "reversal", S1, None, -1700, -4300, "{}"])
    day.entries.append(["R2", 1700])


def _voided_but_settled(day: Day) -> None:
    voided = {"omsgid": "M2", "oinfno": "2102", "outcome": "voided", "setl_id": ""}
    day.add("2601", "M5", {"infcode": 0, "output": {"data": voided}})


def _told_but_missing(day: Day) -> None:
    day.add("2102", "M6", {"infcode": 0, "output": _setl("S9", "1.00", "1.00")})


def _told_other_amounts(day: Day) -> None:
    day.messages["M2"].answers[0]["output"]["setlinfo"]["fund_pay_sumamt"] = "27.01"


def _never_told(day: Day) -> None:
    day.messages["M2"].answers[0] = {"infcode": -1, "err_msg": "[E_OUTCOME_UNKNOWN] 超时"}


def _repeat_differs(day: Day) -> None:
    day.messages["M2"].answers.append({"infcode": 0, "output": _setl("S3", "27.00", "33.00")})


def _totals_off(day: Day) -> None:
    day.accumulators[0][2] = 4400  # still counting the reversed S1


def _booked_twice(day: Day) -> None:
    day.entries.append([S2, 2700])


def _not_booked(day: Day) -> None:
    day.entries.remove([R1, 1700])


def _booked_other_amount(day: Day) -> None:
    day.entries[1][1] = 2600


def _unbalanced(day: Day) -> None:
    day.imbalance = 1


def _still_unknown(day: Day) -> None:
    day.add("2102", "M7", {"infcode": -1, "err_msg": "[E_OUTCOME_UNKNOWN] 超时"})


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (_second_reversal, "reversed 2 times"),
        (_voided_but_settled, "answered voided, but M2 settled"),
        (_told_but_missing, "told S9, no such row"),
        (_told_other_amounts, "HIS told 27.01"),
        (_never_told, "HIS was never told"),
        (_repeat_differs, "repeated answer differs"),
        (_totals_off, "totals of P"),
        (_booked_twice, "booked 2 times"),
        (_not_booked, "booked 0 times"),
        (_booked_other_amount, "booked 2600"),
        (_unbalanced, "trial balance off by 1"),
        (_still_unknown, "outcome still unknown"),
    ],
)
async def test_each_broken_book_is_named(breakage: Any, expected: str) -> None:
    day = Day()
    breakage(day)
    problems = await _problems(day)
    assert any(expected in p for p in problems), problems
