"""The benefit layers through the whole platform: HIS -> gateway (2401, 2301, 2402, 2303/2304, 2305) ->
settlement -> outbox -> Kafka -> fund ledger, with real processes, broker and databases (issue 23).

Demo policy (platformctl.demo, numbers by source in docs/domain.md), at 金寨县人民医院 (level 2):
inpatient deductible 300.00 (Jinzhai 002), half from the 2nd admission of the year, 60 %; pooled yearly
ceiling 18,000.00 (Jinzhai 002); catastrophic insurance (390200) on the year's inpatient policy-range
burden above 10,000.00 at 50 % (Yutian 000); medical assistance (610100) for 低保 (2102): 70 % of the
policy-range burden left, no deductible. Every line is captopril (甲, no price cap): all of it is in the
policy range. Every expected amount is worked out by hand in the comments."""

from __future__ import annotations

import functools
import itertools
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from platformctl import examples
from platformctl.demo import CATALOGUE, INSTITUTIONS, REGION
from shared.clock import now_china
from shared.idcard import make_id_number
from tests.conftest import eventually
from tests.e2e.conftest import Stack
from tests.e2e.test_card_swipe import OPERATOR, _all_entries, _covered

pytestmark = pytest.mark.e2e

HOSPITAL = INSTITUTIONS[0]  # level 2
CAPTOPRIL = str(CATALOGUE[1]["med_list_codg"])
FUNDS = {"hifp_pay": "390100", "hifmi_pay": "390200", "maf_pay": "610100"}
_sequence = itertools.count(5000)
_people = itertools.count(60)


def _hospital(infno: str, body: dict[str, Any]) -> dict[str, Any]:
    code = HOSPITAL["fixmedins_code"]
    return examples.envelope(
        infno,
        examples.msgid(next(_sequence), code),
        body,
        insuplc_admdvs=REGION,
        fixmedins_code=code,
        fixmedins_name=HOSPITAL["fixmedins_name"],
    )


def _now() -> str:
    return now_china().strftime("%Y-%m-%d %H:%M:%S")


async def _ok(stack: Stack, client: httpx.AsyncClient, envelope: dict[str, Any]) -> dict[str, Any]:
    answer = await stack.call(client, envelope)
    assert answer["infcode"] == 0, (envelope["infno"], answer["err_msg"])
    output: dict[str, Any] = answer["output"]
    return output


async def _insured(client: httpx.AsyncClient, stack: Stack, identity: str | None = None) -> tuple[str, str]:
    """A person covered this year (with a subsidised identity, whose contribution assistance pays)."""
    i = next(_people)
    year = now_china().year
    certno = make_id_number(REGION, date(1966, 3, 1 + i % 28), 501 + 2 * i)
    created = await client.post(
        f"{stack.url('enrollment')}/api/v1/persons", json={"certno": certno, "psn_name": f"分层{i}"}
    )
    assert created.status_code == 201, created.text
    psn_no = created.json()["psn_no"]
    enrollment: dict[str, Any] = {"psn_no": psn_no, "year": year}
    if identity:
        # Added before the enrollment: settlement reads both from the person's events in order, so once
        # the coverage has arrived the identity has too.
        added = await client.post(
            f"{stack.url('enrollment')}/api/v1/persons/{psn_no}/identities",
            json={"psn_idet_type": identity, "begin_date": f"{year}-01-01"},
        )
        assert added.status_code in (200, 201), added.text
    else:
        enrollment["payment"] = {
            "payer": "individual",
            "amount_fen": 30_00,
            "receipt_no": f"ML{i:05d}",
            "paid_on": str(now_china().date()),
        }
    enrolled = await client.post(f"{stack.url('enrollment')}/api/v1/enrollments", json=enrollment)
    assert enrolled.status_code == 201, enrolled.text
    await eventually(functools.partial(_covered, client, stack, psn_no), timeout_s=30)
    return psn_no, certno


class Stay:
    """One admission of one person, as the hospital's HIS drives it."""

    def __init__(self, stack: Stack, client: httpx.AsyncClient, psn_no: str, certno: str) -> None:
        self.stack, self.client, self.psn_no, self.certno = stack, client, psn_no, certno
        self.mdtrt_id = ""
        self._lines = 0

    async def admit(self) -> Stay:
        admitted = await _ok(
            self.stack,
            self.client,
            _hospital(
                "2401",
                {
                    "mdtrtinfo": {
                        "psn_no": self.psn_no,
                        "insutype": "390",
                        "begntime": _now(),
                        "mdtrt_cert_type": "02",
                        "mdtrt_cert_no": self.certno,
                        "med_type": "21",
                        "ipt_no": f"ZY{next(_sequence)}",
                    }
                },
            ),
        )
        self.mdtrt_id = admitted["result"]["mdtrt_id"]
        return self

    async def fees(self, *amounts: str) -> None:
        """One captopril line per amount (1 unit at that price)."""
        lines = []
        for amount in amounts:
            self._lines += 1
            lines.append(
                {
                    "feedetl_sn": str(self._lines),
                    "mdtrt_id": self.mdtrt_id,
                    "psn_no": self.psn_no,
                    "med_list_codg": CAPTOPRIL,
                    "medins_list_codg": f"HIS-{self._lines}",
                    "det_item_fee_sumamt": amount,
                    "cnt": "1",
                    "pric": amount,
                    "fee_ocur_time": _now(),
                }
            )
        await _ok(self.stack, self.client, _hospital("2301", {"feedetail": lines}))

    async def discharge(self) -> None:
        await _ok(
            self.stack,
            self.client,
            _hospital(
                "2402",
                {
                    "dscginfo": {
                        "mdtrt_id": self.mdtrt_id,
                        "psn_no": self.psn_no,
                        "insutype": "390",
                        "endtime": _now(),
                    }
                },
            ),
        )

    async def settle(self, total: str, *, interim: bool) -> dict[str, Any]:
        """2303 (preview) then 2304; ``interim``: 中途结算 (mid_setl_flag 1), the stay stays open."""
        body = {
            "data": {
                "psn_no": self.psn_no,
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": self.certno,
                "medfee_sumamt": total,
                "psn_setlway": "01",
                "mdtrt_id": self.mdtrt_id,
                "insutype": "390",
                "acct_used_flag": "0",
                "mid_setl_flag": "1" if interim else "0",
            }
        }
        preview = await _ok(self.stack, self.client, _hospital("2303", body))
        settled = await _ok(self.stack, self.client, _hospital("2304", body))
        assert _paid(preview["setlinfo"]) == _paid(settled["setlinfo"])
        info: dict[str, Any] = settled["setlinfo"]
        return info

    async def reverse(self, setl_id: str) -> dict[str, Any]:
        undone = await _ok(
            self.stack,
            self.client,
            _hospital(
                "2305", {"data": {"mdtrt_id": self.mdtrt_id, "setl_id": setl_id, "psn_no": self.psn_no}}
            ),
        )
        info: dict[str, Any] = undone["setlinfo"]
        return info


def _paid(setlinfo: dict[str, Any]) -> dict[str, str]:
    """Each fund's payment and the cash, as the wire has them (yuan, two decimals)."""
    return {**{FUNDS[k]: str(setlinfo[k]) for k in FUNDS}, "cash": str(setlinfo["psn_cash_pay"])}


def _sum(*answers: dict[str, str]) -> dict[str, str]:
    return {k: str(sum((Decimal(a[k]) for a in answers), Decimal("0.00"))) for k in answers[0]}


async def _booked(client: httpx.AsyncClient, stack: Stack, setl_ids: set[str]) -> dict[str, int]:
    """Once the ledger has booked every one of ``setl_ids``: debit minus credit by account code."""

    async def all_there() -> list[dict[str, Any]] | None:
        mine = [e for e in await _all_entries(client, stack) if e["source_id"] in setl_ids]
        return mine if len(mine) == len(setl_ids) else None

    by_account: dict[str, int] = {}
    for entry in await eventually(all_there, timeout_s=60):
        for p in entry["postings"]:
            by_account[p["account_code"]] = (
                by_account.get(p["account_code"], 0) + p["debit_fen"] - p["credit_fen"]
            )
    return by_account


async def test_a_stay_settled_in_three_parts_pays_what_one_settlement_pays(stack: Stack) -> None:
    """Two 低保 patients with the same 1,233.33 of care: one settled in three parts (two interim
    settlements, then the discharge), one settled once. Each fund pays both the same, to the fen.

    Once: (1,233.33 - 300.00) × 60 % = 559.998 -> 560.00 pooled; burden 1,233.33 - 560.00 = 673.33;
    assistance 673.33 × 70 % = 471.331 -> 471.33; cash 1,233.33 - 560.00 - 471.33 = 202.00.

    In parts, 200.00 then 1,000.00 then 33.33:
    1. 200.00, under the deductible: pooled 0; assistance 200.00 × 70 % = 140.00; cash 60.00.
    2. the stay at 1,200.00: (1,200.00 - 300.00) × 60 % = 540.00 for the stay, 540.00 now (the last 100.00
       of the deductible is met now); burden this part 1,000.00 - 540.00 = 460.00; the year's burden
       660.00 × 70 % = 462.00, less 140.00 already = 322.00; cash 1,000.00 - 540.00 - 322.00 = 138.00.
    3. the stay at 1,233.33: 560.00 for the stay, less 540.00 = 20.00; burden 13.33; the year's 673.33
       × 70 % = 471.33, less 462.00 = 9.33; cash 33.33 - 20.00 - 9.33 = 4.00.
    Sums: pooled 0 + 540.00 + 20.00 = 560.00; assistance 140.00 + 322.00 + 9.33 = 471.33; cash 202.00."""
    async with httpx.AsyncClient(timeout=30, headers=OPERATOR) as client:
        parts_person = await _insured(client, stack, identity="2102")
        once_person = await _insured(client, stack, identity="2102")

        split = await Stay(stack, client, *parts_person).admit()
        await split.fees("200.00")
        first = await split.settle("200.00", interim=True)
        await split.fees("600.00", "400.00")
        second = await split.settle("1000.00", interim=True)
        await split.fees("33.33")
        await split.discharge()
        third = await split.settle("33.33", interim=False)
        assert [_paid(x) for x in (first, second, third)] == [
            {"390100": "0.00", "390200": "0.00", "610100": "140.00", "cash": "60.00"},
            {"390100": "540.00", "390200": "0.00", "610100": "322.00", "cash": "138.00"},
            {"390100": "20.00", "390200": "0.00", "610100": "9.33", "cash": "4.00"},
        ]
        # The deductible is met once for the stay: 200.00, then the remaining 100.00, then nothing.
        assert [str(x["act_pay_dedc"]) for x in (first, second, third)] == ["200.00", "100.00", "0.00"]

        whole = await Stay(stack, client, *once_person).admit()
        await whole.fees("200.00", "600.00", "400.00", "33.33")
        await whole.discharge()
        once = await whole.settle("1233.33", interim=False)
        expected = {"390100": "560.00", "390200": "0.00", "610100": "471.33", "cash": "202.00"}
        assert _paid(once) == expected
        assert _sum(*(_paid(x) for x in (first, second, third))) == expected

        # The ledger books both stays alike: 560.00 inpatient (5102) and 471.33 assistance (5301) each.
        split_books = await _booked(client, stack, {first["setl_id"], second["setl_id"], third["setl_id"]})
        once_books = await _booked(client, stack, {once["setl_id"]})
        assert (split_books["5102"], split_books["5301"]) == (56000, 47133)
        assert split_books == once_books


async def test_catastrophic_and_assistance_reach_their_own_ledger_accounts(stack: Stack) -> None:
    """A 40,000.00 stay for an insured person: (40,000.00 - 300.00) × 60 % = 23,820.00, held to the
    pooled ceiling of 18,000.00; burden 40,000.00 - 18,000.00 = 22,000.00; catastrophic (22,000.00 -
    10,000.00) × 50 % = 6,000.00; cash 16,000.00.
    A 5,000.00 stay for a 低保 person: (5,000.00 - 300.00) × 60 % = 2,820.00; burden 2,180.00, under the
    catastrophic threshold; assistance 2,180.00 × 70 % = 1,526.00; cash 654.00."""
    async with httpx.AsyncClient(timeout=30, headers=OPERATOR) as client:
        big = Stay(stack, client, *await _insured(client, stack))
        await big.admit()
        await big.fees("25000.00", "15000.00")
        await big.discharge()
        catastrophic = await big.settle("40000.00", interim=False)
        assert _paid(catastrophic) == {
            "390100": "18000.00",
            "390200": "6000.00",
            "610100": "0.00",
            "cash": "16000.00",
        }

        poor = Stay(stack, client, *await _insured(client, stack, identity="2102"))
        await poor.admit()
        await poor.fees("5000.00")
        await poor.discharge()
        assisted = await poor.settle("5000.00", interim=False)
        assert _paid(assisted) == {
            "390100": "2820.00",
            "390200": "0.00",
            "610100": "1526.00",
            "cash": "654.00",
        }

        # Each fund's payment on its own expenditure account (5102 inpatient pooled, 5201 catastrophic
        # insurance, 5301 medical assistance); what the funds owe the hospital is payable (2101, a credit).
        big_books = await _booked(client, stack, {catastrophic["setl_id"]})
        assert big_books == {"5102": 1_800_000, "5201": 600_000, "2101": -2_400_000}
        poor_books = await _booked(client, stack, {assisted["setl_id"]})
        assert poor_books == {"5102": 282_000, "5301": 152_600, "2101": -434_600}


async def test_a_reversal_of_an_earlier_stay_then_a_new_stay_pays_by_the_year_invariant(stack: Stack) -> None:
    """One insured person's year: stay 1 (40,000.00), stay 2 (10,000.00), stay 1 reversed, stay 3
    (5,000.00). Each layer pays its entitlement on the year's surviving costs less what the surviving
    settlements already got from it.

    Stay 1: pooled 18,000.00 (the ceiling), burden 22,000.00, catastrophic 6,000.00 (as above).
    Stay 2, the 2nd admission: deductible 300.00 × 0.5 = 150.00; (10,000.00 - 150.00) × 60 % = 5,910.00
      but the ceiling is used up: pooled 0; burden 10,000.00; the year's burden 32,000.00: (32,000.00 -
      10,000.00) × 50 % = 11,000.00 less 6,000.00 = 5,000.00 catastrophic; cash 5,000.00.
    Stay 1 reversed: its 18,000.00 and 6,000.00 come back; what survives is stay 2 (burden 10,000.00,
      catastrophic 5,000.00, pooled 0, one admission).
    Stay 3, the 2nd admission of what survives: deductible 150.00; (5,000.00 - 150.00) × 60 % = 2,910.00,
      within the ceiling's 18,000.00 room; burden 2,090.00; the year's surviving burden 10,000.00 +
      2,090.00 = 12,090.00 entitles (12,090.00 - 10,000.00) × 50 % = 1,045.00, and the surviving stay 2
      already got 5,000.00: catastrophic 0 (paying the increase 1,045.00 - 0 would pay too much);
      cash 2,090.00."""
    async with httpx.AsyncClient(timeout=30, headers=OPERATOR) as client:
        person = await _insured(client, stack)
        one = await Stay(stack, client, *person).admit()
        await one.fees("40000.00")
        await one.discharge()
        first = await one.settle("40000.00", interim=False)
        assert _paid(first) == {
            "390100": "18000.00",
            "390200": "6000.00",
            "610100": "0.00",
            "cash": "16000.00",
        }

        two = await Stay(stack, client, *person).admit()
        await two.fees("10000.00")
        await two.discharge()
        second = await two.settle("10000.00", interim=False)
        assert str(second["act_pay_dedc"]) == "150.00"
        assert _paid(second) == {"390100": "0.00", "390200": "5000.00", "610100": "0.00", "cash": "5000.00"}

        undone = await one.reverse(first["setl_id"])
        assert _paid(undone) == {
            "390100": "-18000.00",
            "390200": "-6000.00",
            "610100": "0.00",
            "cash": "-16000.00",
        }

        three = await Stay(stack, client, *person).admit()
        await three.fees("5000.00")
        await three.discharge()
        third = await three.settle("5000.00", interim=False)
        assert str(third["act_pay_dedc"]) == "150.00"
        assert _paid(third) == {"390100": "2910.00", "390200": "0.00", "610100": "0.00", "cash": "2090.00"}

        # The ledger: stay 1 and its reversal net to nothing; what stands is stay 2's 5,000.00 catastrophic
        # and stay 3's 2,910.00 pooled, owed to the hospital.
        books = await _booked(
            client, stack, {first["setl_id"], undone["setl_id"], second["setl_id"], third["setl_id"]}
        )
        assert books == {"5102": 291_000, "5201": 500_000, "2101": -791_000}
