"""The benefit engine, case by case, against the demo policy built from the Jinzhai and Yutian numbers
(settlement.policy.document.jinzhai_yutian_demo). Every expected amount is worked out by hand here:

- inpatient deductible 200 / 300 / 500 yuan at level 1 / 2 / 3, halved from the 2nd admission;
  ratio 75 % / 60 % / 50 %, at level 3 in bands (40 % up to 10,000 above the deductible, 60 % above);
  pooled yearly ceiling 18,000 yuan; out-of-area without filing: ratio 10 points lower;
- chronic outpatient: 100 yuan fixed up to 500 a year, 25 % above, 5,000 a year at most;
- maternity: 200 normal, 300 caesarean;
- catastrophic: above 10,000 yuan of yearly policy-range personal burden, 50 % up to 50,000, 60 % above;
- medical assistance for 低保 (2102): 70 % of the remaining policy-range burden, no deductible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from settlement.adjudication.engine import (
    Encounter,
    FeeLine,
    ListEntry,
    ListFlags,
    NotEligible,
    YearToDate,
    adjudicate,
    banded,
)
from settlement.policy.document import Band, PolicyDocument, jinzhai_yutian_demo

POLICY = jinzhai_yutian_demo()
CATALOGUE = {
    "A": ListEntry("1", Decimal(0), None),  # 甲, no cap
    "B": ListEntry("2", Decimal("0.1"), None),  # 乙, 10 % first
    "R": ListEntry("1", Decimal(0), None, restricted=True),  # 甲, restricted use
    "L": ListEntry("1", Decimal(0), Decimal("8.00"), price_cap_by_level={"3": Decimal("10.00")}),
}
DAY = date(2027, 5, 10)


def a(yuan: int) -> FeeLine:
    """One unit of item A costing ``yuan``."""
    return FeeLine("1", "A", Decimal(1), Decimal(yuan), yuan * 100)


def inpatient(level: str, seq: int = 1, **kw: object) -> Encounter:
    return Encounter("inpatient", DAY, level, admission_sequence=seq, **kw)  # type: ignore[arg-type]


@dataclass
class Case:
    name: str
    lines: list[FeeLine]
    encounter: Encounter
    ytd: YearToDate = field(default_factory=YearToDate)
    identities: list[str] = field(default_factory=list)
    deductible: int = 0
    pooled: int = 0
    catastrophic: int = 0
    assistance: int = 0


CASES = [
    # 8,000 in range; deductible 300 (Jinzhai); (8,000 - 300) x 60 % = 4,620.
    Case("level 2, first admission", [a(8000)], inpatient("2"), deductible=300_00, pooled=4620_00),
    # 2nd admission: deductible 300 x 0.5 = 150; (2,000 - 150) x 60 % = 1,110.
    Case(
        "level 2, second admission",
        [a(2000)],
        inpatient("2", 2),
        YearToDate(admissions=1),
        deductible=150_00,
        pooled=1110_00,
    ),
    # Level 3 bands: 30,000 - 500 = 29,500; 10,000 x 40 % + 19,500 x 60 % = 4,000 + 11,700 = 15,700.
    # Personal burden 30,000 - 15,700 = 14,300: catastrophic (14,300 - 10,000) x 50 % = 2,150.
    Case(
        "level 3 bands and catastrophic",
        [a(30000)],
        inpatient("3"),
        deductible=500_00,
        pooled=15700_00,
        catastrophic=2150_00,
    ),
    # Ceiling reached mid-settlement: 17,000 paid this year, 1,000 left of 18,000.
    # (5,000 - 200) x 75 % = 3,600, cut to 1,000.
    Case(
        "pooled ceiling reached",
        [a(5000)],
        inpatient("1"),
        YearToDate(pooled_paid_fen=17000_00),
        deductible=200_00,
        pooled=1000_00,
    ),
    # Catastrophic threshold crossed: burden so far 9,000; (4,000 - 200) x 75 % = 2,850 pooled; burden
    # 1,150 more -> 10,150, of which 150 above the threshold at 50 % = 75.
    Case(
        "catastrophic threshold crossed",
        [a(4000)],
        inpatient("1"),
        YearToDate(catastrophic_burden_fen=9000_00),
        deductible=200_00,
        pooled=2850_00,
        catastrophic=75_00,
    ),
    # 低保: (1,000 - 200) x 75 % = 600; burden 400 x 70 % = 280 from medical assistance.
    Case(
        "medical assistance for 低保",
        [a(1000)],
        inpatient("1"),
        identities=["2102"],
        deductible=200_00,
        pooled=600_00,
        assistance=280_00,
    ),
    # Out of area, not filed: 60 % - 10 = 50 %: (1,000 - 300) x 50 % = 350. Filed: x 60 % = 420.
    Case(
        "out of area without filing",
        [a(1000)],
        inpatient("2", out_of_area=True),
        deductible=300_00,
        pooled=350_00,
    ),
    Case(
        "out of area with filing",
        [a(1000)],
        inpatient("2", out_of_area=True, filed=True),
        deductible=300_00,
        pooled=420_00,
    ),
    # Chronic, first visit of the year: 300 < 500 -> the fixed 100.
    Case(
        "chronic under the threshold",
        [a(300)],
        Encounter("chronic", DAY, "1", chronic_disease="I10"),
        pooled=100_00,
    ),
    # Chronic, 300 already this year, 400 more: entitlement 100 + (700 - 500) x 25 % = 150, 100 paid: 50.
    Case(
        "chronic crossing the threshold",
        [a(400)],
        Encounter("chronic", DAY, "1", chronic_disease="I10"),
        YearToDate(chronic_cost_fen=300_00, chronic_paid_fen=100_00),
        pooled=50_00,
    ),
    # Chronic near the cap: 20,000 so far -> 100 + 19,500 x 25 % = 4,975; +1,000 -> 5,225, capped at 5,000:
    # 25 this time.
    Case(
        "chronic yearly cap",
        [a(1000)],
        Encounter("chronic", DAY, "1", chronic_disease="E11"),
        YearToDate(chronic_cost_fen=20000_00, chronic_paid_fen=4975_00),
        pooled=25_00,
    ),
    # Maternity: caesarean 300 fixed; normal delivery capped by a 150 policy-range bill.
    Case("caesarean", [a(5000)], Encounter("maternity", DAY, "2", delivery_type="caesarean"), pooled=300_00),
    Case(
        "normal delivery, small bill",
        [a(150)],
        Encounter("maternity", DAY, "1", delivery_type="normal"),
        pooled=150_00,
    ),
    # Pharmacy: outpatient pooling 20 deductible, 50 %: (90 - 20) x 50 % = 35. No catastrophic/assistance.
    Case(
        "pharmacy",
        [a(90)],
        Encounter("pharmacy", DAY, "9"),
        identities=["2102"],
        deductible=20_00,
        pooled=35_00,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_engine(case: Case) -> None:
    result = adjudicate(case.lines, CATALOGUE, case.encounter, case.identities, POLICY, case.ytd)
    assert (result.deductible_fen, result.pooled_fen, result.catastrophic_fen, result.assistance_fen) == (
        case.deductible,
        case.pooled,
        case.catastrophic,
        case.assistance,
    )
    total = sum(line.amount_fen for line in case.lines)
    funds = case.pooled + case.catastrophic + case.assistance
    assert result.fund_paid_total_fen == funds
    assert result.cash_paid_fen == total - funds
    assert {f.fund_pay_type: f.paid_fen for f in result.funds}.get("390100") == case.pooled
    assert sum(f.paid_fen for f in result.funds) == funds
    assert result.trace[-1].startswith("基金支付合计")


def test_line_rules_restricted_items_and_level_caps() -> None:
    lines = [
        FeeLine("1", "R", Decimal(1), Decimal(100), 100_00, hosp_appr_flag="0"),
        FeeLine("2", "R", Decimal(1), Decimal(100), 100_00, hosp_appr_flag="1"),
        FeeLine("3", "R", Decimal(1), Decimal(100), 100_00, hosp_appr_flag="2"),
        FeeLine("4", "L", Decimal(10), Decimal(12), 120_00),
        FeeLine("5", "B", Decimal(1), Decimal(50), 50_00),
    ]
    level3 = adjudicate(lines, CATALOGUE, inpatient("3"), [], POLICY, YearToDate())
    r0, r1, r2, capped, b = level3.lines
    assert (r0.fully_self_paid_fen, r1.policy_range_fen, r2.fully_self_paid_fen) == (100_00, 100_00, 100_00)
    assert "未经医院审批" in r0.memo and "审批不通过" in r2.memo
    # Level 3 cap 10.00: 10 x (12 - 10) = 20.00 over the cap; level 2 (default cap 8.00): 40.00.
    assert (capped.over_price_cap_fen, capped.policy_range_fen) == (20_00, 100_00)
    level2 = adjudicate(lines, CATALOGUE, inpatient("2"), [], POLICY, YearToDate())
    assert level2.lines[3].over_price_cap_fen == 40_00
    # 乙 50.00: 5.00 first.
    assert (b.self_pay_first_fen, b.policy_range_fen) == (5_00, 45_00)
    assert level3.medfee_sumamt_fen == 470_00
    assert level3.policy_range_fen == 100_00 + 100_00 + 45_00


def test_a_line_shows_the_catalogue_marks_of_its_entry_with_the_entrys_own_restricted_mark() -> None:
    """The marks shown on a line (``lmt_used_flag``... on the wire) are the entry's, except ``restricted``,
    which the entry's own mark decides whichever way its marks say it (a catalogue row built with one and
    not the other); an unlisted code shows none."""
    catalogue = {
        # Restricted, its marks silent on it: shown restricted, the other marks kept.
        "R1": ListEntry("1", Decimal(0), None, restricted=True, flags=ListFlags(essential_drug=True)),
        # Not restricted, its marks saying so: shown not restricted.
        "R0": ListEntry("1", Decimal(0), None, flags=ListFlags(restricted=True, child_medicine=True)),
        "P": ListEntry("1", Decimal(0), None, flags=ListFlags(negotiated_drug=True)),
    }
    lines = [
        FeeLine("1", "R1", Decimal(1), Decimal(10), 10_00, hosp_appr_flag="1"),
        FeeLine("2", "R0", Decimal(1), Decimal(10), 10_00),
        FeeLine("3", "P", Decimal(1), Decimal(10), 10_00),
        FeeLine("4", "NOT-LISTED", Decimal(1), Decimal(10), 10_00),
    ]
    shown = [x.flags for x in adjudicate(lines, catalogue, inpatient("3"), [], POLICY, YearToDate()).lines]
    assert shown == [
        ListFlags(essential_drug=True, restricted=True),
        ListFlags(child_medicine=True),
        ListFlags(negotiated_drug=True),
        ListFlags(),
    ]


def test_chronic_needs_a_registered_disease_and_maternity_a_delivery_type() -> None:
    with pytest.raises(NotEligible, match="慢性病"):
        adjudicate(
            [a(100)],
            CATALOGUE,
            Encounter("chronic", DAY, "1", chronic_disease="Z99"),
            [],
            POLICY,
            YearToDate(),
        )
    with pytest.raises(NotEligible, match="分娩"):
        adjudicate([a(100)], CATALOGUE, Encounter("maternity", DAY, "1"), [], POLICY, YearToDate())


def test_bands() -> None:
    bands = [Band(upto_fen=1000, ratio=Decimal("0.4")), Band(upto_fen=None, ratio=Decimal("0.6"))]
    assert banded(0, bands) == 0
    assert banded(500, bands) == 200
    assert banded(1000, bands) == 400
    assert banded(1500, bands) == 400 + 300
    # 1001: 400 + 0.6 = 400.6 -> 401 (rounded once, on the total).
    assert banded(1001, bands) == 401


def test_policy_validation_messages() -> None:
    document = POLICY.model_dump(mode="json")
    broken = {**document, "inpatient": {**document["inpatient"], "ratio_by_level": {"1": "0.7", "2": "0.6"}}}
    with pytest.raises(ValueError, match="1/2/3"):
        PolicyDocument.model_validate(broken)
    broken = {
        **document,
        "catastrophic": {**document["catastrophic"], "bands": [{"upto_fen": 100, "ratio": "0.5"}]},
    }
    with pytest.raises(ValueError, match="不封顶"):
        PolicyDocument.model_validate(broken)
    broken = {**document, "outpatient": {**document["outpatient"], "ratio": "1.5"}}
    with pytest.raises(ValueError, match="less than or equal to 1"):
        PolicyDocument.model_validate(broken)
    broken = {**document, "chronic": {**document["chronic"], "fixed_fen": 600_00}}
    with pytest.raises(ValueError, match="门槛"):
        PolicyDocument.model_validate(broken)


# --- properties ----------------------------------------------------------------------------------------

codes = st.sampled_from(["A", "B", "R", "L", "UNLISTED"])
lines_strategy = st.lists(
    st.builds(
        lambda code, cnt, cents, flag: FeeLine(
            "x", code, Decimal(cnt), Decimal(cents) / 100, cnt * cents, flag
        ),
        codes,
        st.integers(1, 20),
        st.integers(0, 2_000_000),
        st.sampled_from(["0", "1", "2"]),
    ),
    min_size=1,
    max_size=8,
)
encounters = st.one_of(
    st.builds(
        lambda lv, seq, out, filed: Encounter("inpatient", DAY, lv, seq, out, filed),
        st.sampled_from(["1", "2", "3"]),
        st.integers(1, 4),
        st.booleans(),
        st.booleans(),
    ),
    st.builds(lambda d: Encounter("chronic", DAY, "1", chronic_disease=d), st.sampled_from(["I10", "E11"])),
    st.builds(
        lambda t: Encounter("maternity", DAY, "2", delivery_type=t), st.sampled_from(["normal", "caesarean"])
    ),
    st.just(Encounter("pharmacy", DAY, "9")),
    st.just(Encounter("outpatient", DAY, "1")),
)
year_to_date = st.builds(
    YearToDate,
    outpatient_deductible_fen=st.integers(0, 5000),
    outpatient_paid_fen=st.integers(0, 40000),
    pooled_paid_fen=st.integers(0, 2_000_000),
    chronic_cost_fen=st.integers(0, 3_000_000),
    chronic_paid_fen=st.integers(0, 500_000),
    catastrophic_burden_fen=st.integers(0, 30_000_000),
    catastrophic_paid_fen=st.integers(0, 20_000_000),
    assistance_base_fen=st.integers(0, 5_000_000),
    assistance_paid_fen=st.integers(0, 3_000_000),
)


@settings(max_examples=400, deadline=None)
@given(
    lines_strategy,
    encounters,
    year_to_date,
    st.lists(st.sampled_from(["2101", "2102", "2103", "2199"]), max_size=2),
)
def test_identities_always_hold(
    lines: list[FeeLine], encounter: Encounter, ytd: YearToDate, identities: list[str]
) -> None:
    r = adjudicate(lines, CATALOGUE, encounter, identities, POLICY, ytd)
    assert (
        r.medfee_sumamt_fen
        == r.fully_self_paid_fen + r.over_price_cap_fen + r.self_pay_first_fen + r.policy_range_fen
    )
    assert r.fund_paid_total_fen == sum(f.paid_fen for f in r.funds)
    assert r.cash_paid_fen == r.medfee_sumamt_fen - r.fund_paid_total_fen
    assert all(f.paid_fen >= 0 for f in r.funds)
    # No fund pays past what is left of its yearly room, and funds never pay self-paid parts.
    assert all(f.paid_fen <= f.room_fen for f in r.funds)
    assert r.fund_paid_total_fen <= r.policy_range_fen
    # The year's totals move by what the funds actually paid, layer by layer, so a reversal subtracting the
    # delta takes back exactly the money paid: catastrophic insurance (390200) and medical assistance (610100)
    # from their own funds, pooled inpatient + outpatient pooling from the rest of the fund list.
    paid = {c: sum(f.paid_fen for f in r.funds if f.fund_pay_type == c) for c in ("390200", "610100")}
    assert r.delta.catastrophic_paid_fen == paid["390200"]
    assert r.delta.assistance_paid_fen == paid["610100"]
    assert r.delta.pooled_paid_fen + r.delta.outpatient_paid_fen == (
        r.fund_paid_total_fen - paid["390200"] - paid["610100"]
    )
