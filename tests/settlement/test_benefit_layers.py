"""Benefits right across a whole stay and a whole year (issue 23), through the settlement API on both
backends, demo policy (``jinzhai_yutian_demo``) at the level-2 hospital:

- inpatient: deductible 300.00 per admission (Jinzhai 002: 住院医药费用起付线为300元), half of it from the
  second admission of the year, then 60 %; pooled yearly ceiling 18,000.00 (Jinzhai: 每人每年最高补偿额为
  1.8万元) over inpatient, chronic and maternity payments;
- chronic outpatient: 100.00 fixed on a yearly cost up to 500.00, 25 % above it, 5,000.00 a year;
- catastrophic (390200): yearly policy-range personal burden of stays above 10,000.00, 50 % up to
  50,000.00 above it and 60 % beyond, 200,000.00 a year (Yutian 000: 大病保险住院医疗费用支付比例保持在
  50%以上: stays count, chronic outpatient visits do not);
- assistance (610100) for 低保 (2102): 70 % of what remains, no deductible, 30,000.00 a year.

Item A is 甲 at 0.50 a unit (its price cap): every amount is in the policy range. Every expected amount is
computed here from those rules (``Reference``), never read from the program.

Properties:
- stay invariant: a stay split into any number of parts (中途结算, mid_setl_flag) pays, per fund, what one
  settlement of the whole stay pays;
- year invariant: after any sequence of stays, chronic visits and reversals of ANY earlier settlement,
  each settlement pays per layer "entitlement on the surviving cumulative costs, this one included, minus
  what the surviving settlements got", never below zero and never above its own policy-range cost.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, rule, run_state_machine_as_test
from settlement.config import SettlementSettings
from settlement.encounters.models import Encounter as EncounterRecord
from settlement.encounters.models import FeeLineRecord
from settlement.main import create_app
from settlement.settlements.models import Settlement
from sqlmodel import select

from shared.clock import now_china
from shared.db import Database
from shared.events import CoverageActivated, IdentityCategory
from tests.conftest import DatabaseFactory
from tests.settlement.conftest import HOSPITAL, REGION, SettlementApi, new_person, seed_reference_data
from tests.support.apps import build, running

_seq = itertools.count(1)
DIBAO = IdentityCategory(psn_idet_type="2102", begin_date=date(2026, 1, 1))

# The demo policy's figures, in fen, as the rules above state them.
DEDUCTIBLE_LEVEL_2 = 300_00
LATER_ADMISSION_FACTOR = Decimal("0.5")
RATIO_LEVEL_2 = Decimal("0.6")
CEILING = 18_000_00
CHRONIC_THRESHOLD, CHRONIC_FIXED, CHRONIC_RATIO, CHRONIC_CAP = 500_00, 100_00, Decimal("0.25"), 5_000_00
CAT_THRESHOLD, CAT_BAND_TOP, CAT_LOW, CAT_HIGH, CAT_CAP = (
    10_000_00,
    50_000_00,
    Decimal("0.5"),
    Decimal("0.6"),
    200_000_00,
)
#: Yutian: 大病保险住院医疗费用 - a stay's burden counts toward catastrophic insurance, chronic visits' not.
CAT_KINDS = ("inpatient", "maternity")
AID_RATIO, AID_CAP = Decimal("0.7"), 30_000_00


def _round(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _catastrophic_entitlement(burden: int) -> int:
    above = max(0, burden - CAT_THRESHOLD)
    low = min(above, CAT_BAND_TOP)
    return min(_round(low * CAT_LOW + (above - low) * CAT_HIGH), CAT_CAP)


def _chronic_entitlement(cost: int) -> int:
    earned = min(CHRONIC_FIXED, cost) + _round(max(0, cost - CHRONIC_THRESHOLD) * CHRONIC_RATIO)
    return min(earned, CHRONIC_CAP)


@dataclass
class Paid:
    """One settlement as the reference sees it."""

    kind: str
    cost: int
    pooled: int
    catastrophic: int
    assistance: int
    stay_parts: list[int] = field(default_factory=list)

    @property
    def burden(self) -> int:
        return self.cost - self.pooled


@dataclass
class Reference:
    """The policy's rules on the surviving settlements of a 低保 person's year: what the next one pays."""

    assisted: bool = True
    alive: list[Paid] = field(default_factory=list)

    def _sum(self, name: str, kind: str | None = None) -> int:
        return sum(getattr(p, name) for p in self.alive if kind is None or p.kind == kind)

    def _layers_after_pooled(self, kind: str, cost: int, pooled: int) -> Paid:
        burden = cost - pooled
        catastrophic = 0
        if kind in CAT_KINDS:
            counted = sum(p.burden for p in self.alive if p.kind in CAT_KINDS)
            cat_entitled = _catastrophic_entitlement(counted + burden)
            catastrophic = max(0, min(cat_entitled - self._sum("catastrophic"), burden))
        assistance = 0
        if self.assisted:
            base = burden - catastrophic
            before_base = sum(p.burden - p.catastrophic for p in self.alive)
            aid_entitled = min(_round((before_base + base) * AID_RATIO), AID_CAP)
            assistance = max(0, min(aid_entitled - self._sum("assistance"), base))
        return Paid(kind, cost, pooled, catastrophic, assistance)

    def stay(self, parts: list[int]) -> Paid:
        """A stay (each part all in range) settled once or in parts: the stay's entitlement once."""
        cost = sum(parts)
        sequence = sum(1 for p in self.alive if p.kind == "inpatient") + 1
        deductible = (
            DEDUCTIBLE_LEVEL_2 if sequence == 1 else _round(DEDUCTIBLE_LEVEL_2 * LATER_ADMISSION_FACTOR)
        )
        by_ratio = _round((cost - min(cost, deductible)) * RATIO_LEVEL_2)
        pooled = min(by_ratio, max(0, CEILING - self._sum("pooled")))
        paid = self._layers_after_pooled("inpatient", cost, pooled)
        paid.stay_parts = parts
        return paid

    def chronic(self, cost: int) -> Paid:
        entitled = _chronic_entitlement(self._sum("cost", "chronic") + cost)
        owed = max(0, entitled - self._sum("pooled", "chronic"))
        pooled = min(owed, max(0, CEILING - self._sum("pooled")), cost)
        return self._layers_after_pooled("chronic", cost, pooled)


def _funds(settlement: dict[str, Any]) -> dict[str, int]:
    return {f["fund_pay_type"]: f["paid_fen"] for f in settlement["funds"]}


def _expected_funds(paid: Paid, assisted: bool = True) -> dict[str, int]:
    """Each fund's amount: the pooled fund always, catastrophic insurance for the kinds it counts, the
    assistance fund for a person with a subsidised identity."""
    funds = {"390100": paid.pooled}
    if paid.kind in CAT_KINDS:
        funds["390200"] = paid.catastrophic
    return {**funds, "610100": paid.assistance} if assisted else funds


class Client:
    """A hospital's HIS against the settlement API: open, upload, discharge, settle, reverse."""

    def __init__(self, api: SettlementApi, psn_no: str, certno: str) -> None:
        self.api, self.psn_no, self.certno = api, psn_no, certno

    async def _ok(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.api.post(url, body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def _settle(self, total_fen: int, **extra: Any) -> dict[str, Any]:
        return {
            "msgid": f"{HOSPITAL}{next(_seq):012d}",
            "fixmedins_code": HOSPITAL,
            "psn_no": self.psn_no,
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": self.certno,
            "medfee_sumamt_fen": total_fen,
            **extra,
        }

    async def _open(self, setting: str, med_type: str, **extra: Any) -> str:
        opened = await self._ok(
            "/api/v1/encounters",
            {
                "msgid": f"{HOSPITAL}{next(_seq):012d}",
                "setting": setting,
                "fixmedins_code": HOSPITAL,
                "mdtrtarea_admvs": REGION,
                "insuplc_admdvs": REGION,
                "psn_no": self.psn_no,
                "insutype": "390",
                "ipt_otp_no": f"ZY{next(_seq):010d}",
                "med_type": med_type,
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": self.certno,
                "begntime": "2026-11-10T09:00:00+08:00",
                **extra,
            },
        )
        return str(opened["mdtrt_id"])

    async def _upload(self, mdtrt_id: str, amount_fen: int, batch: str = "") -> None:
        sn = str(next(_seq))
        line = {
            "feedetl_sn": sn,
            "chrg_bchno": batch,
            "med_list_codg": "A",
            "medins_list_codg": f"H{sn}",
            "cnt": str(amount_fen // 50),
            "pric": "0.5",
            "amount_fen": amount_fen,
            "fee_ocur_time": "2026-11-11T10:00:00+08:00",
        }
        await self._ok(f"/api/v1/encounters/{mdtrt_id}/fees", {"fixmedins_code": HOSPITAL, "lines": [line]})

    async def stay(self, parts: list[int]) -> list[dict[str, Any]]:
        """One stay, its fees settled part by part: every part but the last mid-stay (mid_setl_flag), the
        last at discharge."""
        mdtrt_id = await self._open("inpatient", "21")
        base = f"/api/v1/encounters/{mdtrt_id}"
        settled = []
        for number, part in enumerate(parts, start=1):
            await self._upload(mdtrt_id, part)
            if number < len(parts):
                settled.append(await self._ok(f"{base}/settlement", self._settle(part, mid_setl_flag=True)))
        await self._ok(
            f"{base}/discharge", {"fixmedins_code": HOSPITAL, "endtime": "2026-11-20T10:00:00+08:00"}
        )
        settled.append(await self._ok(f"{base}/settlement", self._settle(parts[-1])))
        return settled

    async def chronic(self, cost: int) -> dict[str, Any]:
        mdtrt_id = await self._open("outpatient", "140104", dise_codg="I10")
        await self._upload(mdtrt_id, cost, "C1")
        return await self._ok(
            f"/api/v1/encounters/{mdtrt_id}/settlement", self._settle(cost, chrg_bchno="C1")
        )

    async def reverse(self, setl_id: str) -> dict[str, Any]:
        return await self._ok(
            f"/api/v1/settlements/{setl_id}/reversal",
            {"msgid": f"{HOSPITAL}{next(_seq):012d}", "fixmedins_code": HOSPITAL, "psn_no": self.psn_no},
        )


@contextmanager
def _harness(databases: DatabaseFactory) -> Iterator[tuple[asyncio.Runner, SettlementApi]]:
    """The settlement app on a migrated database of the backend, driven from synchronous hypothesis code
    on one event loop."""
    url = databases.migrated("settlement")
    stack = AsyncExitStack()

    async def start() -> SettlementApi:
        app = build(create_app, SettlementSettings, database_url=url, run_background_workers=False)
        db = Database(url)
        stack.push_async_callback(db.dispose)
        client = await stack.enter_async_context(running(app))
        api = SettlementApi(client, db, app)
        await seed_reference_data(api)
        return api

    with asyncio.Runner() as runner:
        api = runner.run(start())
        try:
            yield runner, api
        finally:
            runner.run(stack.aclose())


async def _person(api: SettlementApi, *, assisted: bool = True) -> Client:
    psn_no, certno = new_person()
    await api.cover(psn_no, certno, identities=(DIBAO,) if assisted else ())
    await api.register_chronic(psn_no, "I10")  # its chronic visits are a registered patient's
    return Client(api, psn_no, certno)


def _summed(settlements: list[dict[str, Any]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for settlement in settlements:
        for fund, paid in _funds(settlement).items():
            total[fund] = total.get(fund, 0) + paid
    return total


# ---- hand-computed examples --------------------------------------------------------------------------


async def test_a_stay_settled_mid_stay_meets_its_deductible_once(settlement_api: SettlementApi) -> None:
    """The issue's example: a level-2 stay, deductible 300.00; 200.00 settled mid-stay, then 1,000.00 at
    discharge. The stay pays (1,200.00 - 300.00) x 60 % = 540.00 once: nothing on the first part (all of
    it deductible), then the other 100.00 of the deductible and 540.00 on the second - not 1,000.00 x 60 %
    = 600.00 with the deductible forgotten."""
    client = await _person(settlement_api, assisted=False)
    first, final = await client.stay([200_00, 1_000_00])
    assert (first["deductible_fen"], first["pooled_fund_paid_fen"]) == (200_00, 0)
    assert (final["deductible_fen"], final["pooled_fund_paid_fen"]) == (100_00, 540_00)
    assert "本次住院已付" in final["calc_trace"]


async def test_bands_continue_from_the_stays_total(settlement_api: SettlementApi) -> None:
    """Catastrophic bands on the stay's total: 30,000.00 in two parts of 15,000.00. Pooled (30,000 - 300)
    x 60 % = 17,820.00; burden 12,180.00, 2,180.00 above the 10,000.00 threshold at 50 % = 1,090.00;
    once or in parts, the same."""
    client = await _person(settlement_api, assisted=False)
    parts = await client.stay([15_000_00, 15_000_00])
    assert _summed(parts) == {"390100": 17_820_00, "390200": 1_090_00}


async def test_a_reversal_of_an_earlier_stay_leaves_the_next_paying_by_the_year(
    settlement_api: SettlementApi,
) -> None:
    """Catastrophic after reversing an earlier stay. Stay 1: 40,000.00 -> pooled (40,000 - 300) x 60 % =
    18,000.00 (the ceiling: 23,820.00 capped), burden 22,000.00, catastrophic 50 % x 12,000.00 = 6,000.00.
    Stay 2 (second admission, deductible 150.00): pooled 0 (ceiling reached), burden 5,000.00, yearly
    burden 27,000.00, catastrophic entitlement 8,500.00 - 6,000.00 = 2,500.00. Reverse stay 1: survivors
    are stay 2 alone with burden 5,000.00 and 2,500.00 catastrophic already paid. Stay 3 (second admission
    again, the first is gone): 10,000.00, pooled (10,000 - 150) x 60 % = 5,910.00, burden 4,090.00; yearly
    burden 9,090.00 is under the threshold: entitlement 0, already 2,500.00 -> 0 (the old way paid
    entitlement(9,090) - entitlement(5,000) = 0 too; so a fourth, 10,000.00 more, decides:) Stay 4 (third
    admission, 150.00): pooled 5,910.00, burden 4,090.00, yearly burden 13,180.00, entitlement 1,590.00 -
    2,500.00 -> 0; the old way paid entitlement(13,180) - entitlement(9,090) = 1,590.00 too much."""
    client = await _person(settlement_api, assisted=False)
    (one,) = await client.stay([40_000_00])
    assert _funds(one) == {"390100": 18_000_00, "390200": 6_000_00}
    (two,) = await client.stay([5_000_00])
    assert _funds(two) == {"390100": 0, "390200": 2_500_00}
    await client.reverse(one["setl_id"])
    (three,) = await client.stay([10_000_00])
    assert _funds(three) == {"390100": 5_910_00, "390200": 0}
    (four,) = await client.stay([10_000_00])
    assert _funds(four) == {"390100": 5_910_00, "390200": 0}
    assert "已付 2500.00" in four["calc_trace"]


async def test_chronic_after_a_reversal_pays_what_the_year_still_owes(settlement_api: SettlementApi) -> None:
    """Chronic, 100.00 fixed up to 500.00 then 25 %: visit 1 costs 100.00 (pays 100.00: the fixed sum
    never exceeds the cost), visit 2 600.00 (yearly 700.00: entitlement 100 + 50 = 150.00, pays 50.00).
    Reverse visit 1: 600.00 survive with 50.00 paid. Visit 3 costs 100.00: yearly 700.00, entitlement
    150.00 - 50.00 = 100.00 (the old way paid entitlement(700) - entitlement(600) = 25.00)."""
    client = await _person(settlement_api, assisted=False)
    one = await client.chronic(100_00)
    assert one["pooled_fund_paid_fen"] == 100_00
    two = await client.chronic(600_00)
    assert two["pooled_fund_paid_fen"] == 50_00
    await client.reverse(one["setl_id"])
    three = await client.chronic(100_00)
    assert three["pooled_fund_paid_fen"] == 100_00


# ---- stay invariant ----------------------------------------------------------------------------------

#: A part of a stay: 0.50 to 30,000.00 in 0.50 steps (item A's price).
part_amounts = st.integers(1, 60_000).map(lambda units: units * 50)


def test_a_stay_in_parts_pays_what_it_pays_once(databases: DatabaseFactory) -> None:
    """However a stay is split (one to four parts, any split points), each fund's total for the stay is
    what one settlement of the whole stay pays, and both are the policy's amounts."""
    with _harness(databases) as (runner, api):

        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
        @given(
            parts=st.lists(part_amounts, min_size=1, max_size=4), before=st.lists(part_amounts, max_size=2)
        )
        def check(parts: list[int], before: list[int]) -> None:
            async def scenario() -> None:
                split, whole = await _person(api), await _person(api)
                reference = Reference()
                for stay in before:  # earlier stays of the year, the same for both people
                    await split.stay([stay])
                    await whole.stay([stay])
                    reference.alive.append(reference.stay([stay]))
                expected = _expected_funds(reference.stay(parts))
                assert _summed(await split.stay(parts)) == expected
                assert _summed(await whole.stay([sum(parts)])) == expected

            runner.run(scenario())

        check()


# ---- year invariant ----------------------------------------------------------------------------------


class YearOfCare(RuleBasedStateMachine):
    """A 低保 person's year: stays (some in parts), chronic visits and reversals of any earlier
    settlement; every settlement pays per layer what the reference says on the surviving settlements."""

    runner: asyncio.Runner
    api: SettlementApi
    settled = Bundle("settled")

    def __init__(self) -> None:
        super().__init__()
        self.client = self.runner.run(_person(self.api))
        self.reference = Reference()
        #: setl_ids of a surviving settlement (a stay in parts is all its parts) -> the reference's record.
        self.records: dict[tuple[str, ...], Paid] = {}

    def _check(self, paid: Paid, settlements: list[dict[str, Any]]) -> tuple[str, ...]:
        assert _summed(settlements) == _expected_funds(paid)
        ids = tuple(s["setl_id"] for s in settlements)
        self.reference.alive.append(paid)
        self.records[ids] = paid
        return ids

    @rule(target=settled, parts=st.lists(part_amounts, min_size=1, max_size=3))
    def stay(self, parts: list[int]) -> tuple[str, ...]:
        expected = self.reference.stay(parts)
        return self._check(expected, self.runner.run(self.client.stay(parts)))

    @rule(target=settled, cost=st.integers(1, 8_000).map(lambda units: units * 50))
    def chronic(self, cost: int) -> tuple[str, ...]:
        expected = self.reference.chronic(cost)
        settlement = self.runner.run(self.client.chronic(cost))
        ids = self._check(expected, [settlement])
        layers = self._stored_layers(settlement["setl_id"])
        chronic_before = sum(p.pooled for p in self.reference.alive[:-1] if p.kind == "chronic")
        assert layers["chronic_before_fen"] == chronic_before
        return ids

    @rule(ids=consumes(settled))
    def reverse(self, ids: tuple[str, ...]) -> None:
        # A stay settled in parts is undone part by part, the last first (any order would do).
        for setl_id in reversed(ids):
            self.runner.run(self.client.reverse(setl_id))
        self.reference.alive.remove(self.records.pop(ids))

    def _stored_layers(self, setl_id: str) -> dict[str, int]:
        async def read() -> dict[str, int]:
            async with self.api.db.session() as session:
                row = await session.scalar(select(Settlement).where(Settlement.setl_id == setl_id))
            assert row is not None
            return dict(row.layers)

        return self.runner.run(read())


def test_year_invariant_under_reversals_of_any_earlier_settlement(databases: DatabaseFactory) -> None:
    with _harness(databases) as (runner, api):
        YearOfCare.runner, YearOfCare.api = runner, api
        run_state_machine_as_test(
            YearOfCare,
            settings=settings(
                max_examples=8,
                stateful_step_count=8,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            ),
        )


async def test_chronic_outpatient_costs_do_not_count_toward_catastrophic(
    settlement_api: SettlementApi,
) -> None:
    """Yutian counts 住院 costs toward catastrophic insurance: a chronic visit of 20,000.00 (100.00 fixed
    + 25 % x 19,500.00 = 4,975.00 from the pooled fund, 15,025.00 burden) pays no 390200 and leaves the
    catastrophic year untouched; a stay of 12,000.00 afterwards (pooled (12,000 - 300) x 60 % = 7,020.00,
    burden 4,980.00) stays under the 10,000.00 threshold."""
    client = await _person(settlement_api, assisted=False)
    visit = await client.chronic(20_000_00)
    assert _funds(visit) == {"390100": 4_975_00}
    (stay,) = await client.stay([12_000_00])
    assert _funds(stay) == {"390100": 7_020_00, "390200": 0}


# ---- when care may be dated --------------------------------------------------------------------------


async def test_care_dated_in_the_future_or_outside_cover_is_refused(settlement_api: SettlementApi) -> None:
    """Cover begins 2026-11-09; admission 2026-11-10; the demo policy allows pre-admission tests within
    3 days. A line of 11-09 (the day before admission, covered) is the stay's; one of 11-08 is within
    the 3 days but before cover; one of 11-05 is before the 3 days; one dated next year is in the future;
    a discharge dated next year too. Each refusal names its reason and stores nothing."""
    psn_no, certno = new_person()
    await settlement_api.identify(psn_no, certno)
    await settlement_api.apply(
        CoverageActivated(
            enrollment_id=1,
            psn_no=psn_no,
            insutype="390",
            psn_type="1501",
            insuplc_admdvs=REGION,
            year=2026,
            coverage_begin=date(2026, 11, 9),
            coverage_end=date(2026, 12, 31),
        )
    )
    client = Client(settlement_api, psn_no, certno)
    mdtrt_id = await client._open("inpatient", "21")
    base = f"/api/v1/encounters/{mdtrt_id}"
    future = (now_china() + timedelta(days=400)).isoformat()

    async def upload(sn: str, when: str) -> httpx.Response:
        line = {
            "feedetl_sn": sn,
            "med_list_codg": "A",
            "medins_list_codg": f"H{sn}",
            "cnt": "100",
            "pric": "0.5",
            "amount_fen": 50_00,
            "fee_ocur_time": when,
        }
        return await settlement_api.post(f"{base}/fees", {"fixmedins_code": HOSPITAL, "lines": [line]})

    for sn, when, code in (
        ("1", "2026-11-08T10:00:00+08:00", "FEE_NOT_COVERED"),
        ("2", "2026-11-05T10:00:00+08:00", "FEE_BEFORE_ADMISSION"),
        ("3", future, "FUTURE_TIME"),
    ):
        refused = await upload(sn, when)
        assert (refused.status_code, refused.json()["error"]["code"]) == (422, code), refused.text
    assert (await upload("4", "2026-11-09T10:00:00+08:00")).status_code == 200
    discharge = await settlement_api.post(
        f"{base}/discharge", {"fixmedins_code": HOSPITAL, "endtime": future}
    )
    assert (discharge.status_code, discharge.json()["error"]["code"]) == (422, "FUTURE_TIME")
    async with settlement_api.db.session() as session:
        stored = list(await session.scalars(select(FeeLineRecord).where(FeeLineRecord.mdtrt_id == mdtrt_id)))
        stay = await session.scalar(select(EncounterRecord).where(EncounterRecord.mdtrt_id == mdtrt_id))
    assert [x.feedetl_sn for x in stored] == ["4"]
    assert stay is not None and (stay.status, stay.endtime) == ("open", None)
