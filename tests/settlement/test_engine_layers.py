"""The benefit engine layer by layer (one module each under settlement.adjudication), in hand-computed
tables. The figures are the demo policy's (settlement.policy.document.jinzhai_yutian_demo, by source in
docs/domain.md) unless a case builds its own policy to get ratios and limits that do not divide evenly:

- outpatient pooling: deductible 20 yuan a year, 50 %, 300 yuan a year;
- inpatient: deductible 200 / 300 / 500 yuan at level 1 / 2 / 3 (Jinzhai 002: 住院医药费用起付线为300元 at
  level 2), × 0.5 from the 2nd admission; 75 % (Yutian 000: 75%左右) / 60 % / level 3 in bands (40 % on
  the first 10,000 above the deductible, 60 % above); pooled yearly ceiling 18,000 (Jinzhai: 1.8万元);
- chronic outpatient: 100 fixed up to 500 a year, 25 % above, 5,000 a year at most (Jinzhai);
- maternity: 200 normal, 300 caesarean (Jinzhai);
- catastrophic: inpatient and maternity burden only (Yutian: 住院), above 10,000 a year, 50 % up to
  50,000 above it, 60 % beyond, 200,000 a year;
- assistance: 2101/2102 70 %, no deductible, 30,000 a year; 2103/2104 50 % above 500, 10,000 a year;
- out-of-area without a filing: 10 points off the pooled ratio.

Amounts are fen; every expected figure is worked out in the comment above its row, rounding half-up once.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from settlement.adjudication import (
    assistance,
    bands,
    catastrophic,
    chronic,
    deductible_ratio,
    lines,
    maternity,
    out_of_area,
)
from settlement.adjudication.engine import adjudicate
from settlement.adjudication.model import (
    ASSISTANCE_FUND,
    CATASTROPHIC_FUND,
    NO_FLAGS,
    POOLED_FUND,
    Encounter,
    FeeLine,
    Kind,
    ListEntry,
    ListFlags,
    NotEligible,
    StaySoFar,
    YearToDate,
    flag_columns,
    owed,
    pooled_room,
)
from settlement.policy.document import Assistance, Band, jinzhai_yutian_demo

DEMO = jinzhai_yutian_demo()
DAY = date(2027, 5, 10)


def enc(kind: Kind, level: str = "2", **kw: object) -> Encounter:
    return Encounter(kind, DAY, level, **kw)  # type: ignore[arg-type]


# --- lines ---------------------------------------------------------------------------------------------

A = ListEntry("1", Decimal(0), None)
#: 甲 with a price cap of 8.00, 10.00 at level-3 hospitals.
CAPPED = ListEntry("1", Decimal(0), Decimal("8.00"), price_cap_by_level={"3": Decimal("10.00")})
#: 乙, 15 % self-pay first, capped at 7.33.
B_CAPPED = ListEntry("2", Decimal("0.15"), Decimal("7.33"))
B = ListEntry("2", Decimal("0.15"), None)
C = ListEntry("3", Decimal(1), None)
RESTRICTED = ListEntry("1", Decimal(0), None, restricted=True)


@pytest.mark.parametrize(
    ("entry", "cnt", "pric", "amount", "level", "appr", "fully", "over", "first", "in_range"),
    [
        # Not on the list: all 333 fen self-paid.
        (None, "1", "3.33", 333, "2", "0", 333, 0, 0, 0),
        # 丙: all self-paid.
        (C, "2", "5.00", 1000, "2", "0", 1000, 0, 0, 0),
        # Restricted, no approval asked (0) or refused (2): all self-paid; approved (1): all in range.
        (RESTRICTED, "1", "50.00", 5000, "2", "0", 5000, 0, 0, 0),
        (RESTRICTED, "1", "50.00", 5000, "2", "2", 5000, 0, 0, 0),
        (RESTRICTED, "1", "50.00", 5000, "2", "1", 0, 0, 0, 5000),
        # 1.5 boxes at 9.00 = 13.50 against a cap of 8.00: allowed 1.5 × 8.00 = 12.00, 1.50 over.
        (CAPPED, "1.5", "9.00", 1350, "2", "0", 0, 150, 0, 1200),
        # The same at a level-3 hospital, whose cap is 10.00: 9.00 is under it, nothing over.
        (CAPPED, "1.5", "9.00", 1350, "3", "0", 0, 0, 0, 1350),
        # 0.333 × 9.99 = 3.32667 -> 333 fen sent; allowed 0.333 × 800 = 266.4 -> 266; over 333 - 266 = 67.
        (CAPPED, "0.333", "9.99", 333, "2", "0", 0, 67, 0, 266),
        # 0.5 × 7.33 = 366.5 fen allowed -> 367 half-up (366 half-even); 4.00 sent: over 400 - 367 = 33;
        # 乙 15 %: 367 × 0.15 = 55.05 -> 55 first; in range 367 - 55 = 312.
        (B_CAPPED, "0.5", "8.00", 400, "2", "0", 0, 33, 55, 312),
        # 3 × 9.00 = 27.00 against 7.33: allowed 21.99, over 5.01; 2199 × 0.15 = 329.85 -> 330 first;
        # in range 2199 - 330 = 1869.
        (B_CAPPED, "3", "9.00", 2700, "2", "0", 0, 501, 330, 1869),
        # A price exactly at the cap is not over it.
        (CAPPED, "2", "8.00", 1600, "2", "0", 0, 0, 0, 1600),
        # 乙 without a cap: 333 × 0.15 = 49.95 -> 50 first, 283 in range.
        (B, "1", "3.33", 333, "1", "0", 0, 0, 50, 283),
        # 乙 on 1 fen: 0.15 -> 0 first.
        (B, "1", "0.01", 1, "1", "0", 0, 0, 0, 1),
        # 甲: all in range.
        (A, "7", "1.11", 777, "1", "0", 0, 0, 0, 777),
        # Over the cap in price, but the amount sent (15.00, a discount) is under 2 × 8.00 = 16.00: nothing
        # over, never a negative excess.
        (CAPPED, "2", "9.00", 1500, "2", "0", 0, 0, 0, 1500),
    ],
)
def test_lines(
    entry: ListEntry | None,
    cnt: str,
    pric: str,
    amount: int,
    level: str,
    appr: str,
    fully: int,
    over: int,
    first: int,
    in_range: int,
) -> None:
    line = FeeLine("1", "X", Decimal(cnt), Decimal(pric), amount, appr)
    result = lines.classify_line(line, entry, level)
    # The self-pay proportion reported for the line (2301's selfpay_prop): 1 when it is all self-paid,
    # else the list's (0 for 甲).
    expected_prop = Decimal(1) if fully else (entry.selfpay_prop if entry else Decimal(1))
    assert result.selfpay_prop == expected_prop
    assert (
        result.fully_self_paid_fen,
        result.over_price_cap_fen,
        result.self_pay_first_fen,
        result.policy_range_fen,
    ) == (fully, over, first, in_range)


@pytest.mark.parametrize(
    ("entry", "pric", "amount", "appr", "memo"),
    [
        (None, "1.00", 100, "0", "非医保目录内项目，全自费"),
        (C, "1.00", 100, "0", "丙类，全自费"),
        (RESTRICTED, "1.00", 100, "0", "限制使用项目未经医院审批，全自费"),
        (RESTRICTED, "1.00", 100, "2", "医院审批不通过，全自费"),
        (RESTRICTED, "1.00", 100, "1", "甲类"),
        (CAPPED, "8.00", 800, "0", "甲类"),  # at the cap: not over it
        (CAPPED, "9.00", 900, "0", "单价9.00超限价8.00，超出部分自费；甲类"),
        (B, "1.00", 100, "0", "乙类，先行自付比例0.15"),
    ],
)
def test_line_memos(entry: ListEntry | None, pric: str, amount: int, appr: str, memo: str) -> None:
    line = FeeLine("1", "X", Decimal(1), Decimal(pric), amount, appr)
    assert lines.classify_line(line, entry, "2").memo == memo


def test_the_treating_regions_price_cap_applies_at_its_institutions() -> None:
    """就医地限价 (docs/domain.md, "Out-of-area care"): a cap set by region 341502 applies at its
    institutions, over the level's and the item's own; elsewhere the level's, else the item's."""
    entry = ListEntry(
        "1",
        Decimal(0),
        Decimal("12.00"),
        price_cap_by_level={"2": Decimal("10.00")},
        price_cap_by_admdvs={"341502": Decimal("9.00")},
    )
    line = FeeLine("1", "X", Decimal(10), Decimal("12.00"), 12000)
    # 10 × (12.00 − cap) over the cap, the rest in the policy range (甲).
    for level, admdvs, over in (
        ("2", "341502", 3000),
        ("1", "341502", 3000),
        ("2", "341524", 2000),
        ("1", "341524", 0),
    ):
        result = lines.classify_line(line, entry, level, admdvs)
        assert (result.over_price_cap_fen, result.policy_range_fen) == (over, 12000 - over), (level, admdvs)
    # No region told (a caller that does not know it): the level's cap.
    assert lines.classify_line(line, entry, "2").over_price_cap_fen == 2000


def test_lines_totals() -> None:
    catalogue = {"C": CAPPED, "B": B_CAPPED, "N": C}
    fee = [
        FeeLine("1", "C", Decimal("1.5"), Decimal("9.00"), 1350),  # 0 / 150 / 0 / 1200
        FeeLine("2", "B", Decimal("3"), Decimal("9.00"), 2700),  # 0 / 501 / 330 / 1869
        FeeLine("3", "N", Decimal("1"), Decimal("4.44"), 444),  # 444 / 0 / 0 / 0
        FeeLine("4", "?", Decimal("1"), Decimal("1.00"), 100),  # not listed: 100 / 0 / 0 / 0
    ]
    counted = lines.classify(fee, catalogue, "2")
    # Total 1350 + 2700 + 444 + 100 = 4594 = fully 544 + over 651 + first 330 + in range 3069.
    assert (
        counted.total_fen,
        counted.fully_self_paid_fen,
        counted.over_price_cap_fen,
        counted.self_pay_first_fen,
        counted.policy_range_fen,
    ) == (4594, 544, 651, 330, 3069)
    assert counted.note == "医疗费总额 45.94 = 全自费 5.44 + 超限价 6.51 + 先行自付 3.30 + 政策范围内 30.69"


# --- bands ---------------------------------------------------------------------------------------------

#: Limits and ratios that do not divide evenly: 37 % up to 333.33, 55 % up to 1,000.00, 83 % above.
ODD_BANDS = [
    Band(upto_fen=33_333, ratio=Decimal("0.37")),
    Band(upto_fen=100_000, ratio=Decimal("0.55")),
    Band(upto_fen=None, ratio=Decimal("0.83")),
]


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (0, 0),
        # 100 × 0.37 = 37.
        (100, 37),
        # 3 × 0.37 = 1.11 -> 1.
        (3, 1),
        # At the first limit: 33,333 × 0.37 = 12,333.21 -> 12,333.
        (33_333, 12_333),
        # One fen into the second band: 12,333.21 + 0.55 = 12,333.76 -> 12,334.
        (33_334, 12_334),
        # At the second limit: 12,333.21 + 66,667 × 0.55 (36,666.85) = 49,000.06 -> 49,000.
        (100_000, 49_000),
        # One fen above: 49,000.06 + 0.83 = 49,000.89 -> 49,001.
        (100_001, 49_001),
        # 150,000: 49,000.06 + 50,000 × 0.83 (41,500) = 90,500.06 -> 90,500.
        (150_000, 90_500),
    ],
)
def test_bands(amount: int, expected: int) -> None:
    assert bands.banded(amount, ODD_BANDS) == expected


def test_bands_round_once_on_the_total_half_up() -> None:
    # 35 % up to 10 fen, 35 % above: on 12 fen 3.5 + 0.7 = 4.2 -> 4 (per band it would be 4 + 1 = 5).
    assert (
        bands.banded(
            12, [Band(upto_fen=10, ratio=Decimal("0.35")), Band(upto_fen=None, ratio=Decimal("0.35"))]
        )
        == 4
    )
    # 50 % on 1 fen: 0.5 -> 1 half-up (half-even would give 0).
    assert bands.banded(1, [Band(upto_fen=None, ratio=Decimal("0.5"))]) == 1
    # A last band with a limit: nothing above it is paid. 10 % up to 100: on 300, 100 × 0.1 = 10.
    assert bands.banded(300, [Band(upto_fen=100, ratio=Decimal("0.1"))]) == 10


def test_bands_lowered_and_described() -> None:
    lowered = bands.lowered(ODD_BANDS, Decimal("0.4"))
    # 0.37 - 0.4 < 0 -> 0; 0.55 - 0.4 = 0.15; 0.83 - 0.4 = 0.43; the limits stay.
    assert [(b.upto_fen, b.ratio) for b in lowered] == [
        (33_333, Decimal(0)),
        (100_000, Decimal("0.15")),
        (None, Decimal("0.43")),
    ]
    assert bands.describe(ODD_BANDS) == "分段比例 333.33:0.37，1000.00:0.55，以上:0.83"


# --- out of area ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("out", "filed", "policy_points", "points"),
    [
        (False, False, "0.1", "0"),
        (True, False, "0.1", "0.1"),  # unfiled out-of-area: the policy's 10 points
        (True, True, "0.1", "0"),  # filed: none
        (False, True, "0.1", "0"),
        (True, False, "0", "0"),  # a policy without a reduction
        (True, False, "0.15", "0.15"),
    ],
)
def test_out_of_area_reduction(out: bool, filed: bool, policy_points: str, points: str) -> None:
    policy = DEMO.model_copy(update={"unfiled_out_of_area_reduction": Decimal(policy_points)})
    got = out_of_area.reduction(enc("outpatient", out_of_area=out, filed=filed), policy)
    assert got.points == Decimal(points)
    assert (got.note is not None) == (Decimal(points) > 0)


def _one(yuan_fen: int) -> list[FeeLine]:
    return [FeeLine("1", "A", Decimal(1), Decimal(yuan_fen) / 100, yuan_fen)]


@pytest.mark.parametrize(
    ("kind", "level", "extra", "local", "unfiled"),
    [
        # Pharmacy and ordinary outpatient, 333.33 in range: deductible 20; 313.33 × 50 % = 156.665 ->
        # 156.67 locally; × 40 % = 125.332 -> 125.33 out of area unfiled.
        ("pharmacy", "1", {}, 15_667, 12_533),
        ("outpatient", "2", {}, 15_667, 12_533),
        # Level-1 stay, 333.33: deductible 200; 133.33 × 75 % = 99.9975 -> 100.00; × 65 % = 86.6645 -> 86.66.
        ("inpatient", "1", {}, 10_000, 8_666),
        # Level-2 stay: deductible 300; 33.33 × 60 % = 19.998 -> 20.00; × 50 % = 16.665 -> 16.67.
        ("inpatient", "2", {}, 2_000, 1_667),
        # Level-3 stay (bands), 333.33: deductible 500 is more than the cost: nothing either way.
        ("inpatient", "3", {}, 0, 0),
        # Maternity, a fixed sum (200 normal): no ratio to lower.
        ("maternity", "2", {"delivery_type": "normal"}, 20_000, 20_000),
        # Chronic, 333.33 in the year: min(100, 333.33) = 100 + nothing above 500; the policy does not lower
        # the chronic benefit out of area.
        ("chronic", "2", {"chronic_disease": "I10"}, 10_000, 10_000),
    ],
)
def test_out_of_area_at_every_kind_of_care(
    kind: Kind, level: str, extra: dict[str, object], local: int, unfiled: int
) -> None:
    catalogue = {"A": A}

    def pooled(**where: object) -> int:
        encounter = enc(kind, level, **extra, **where)
        return adjudicate(_one(33_333), catalogue, encounter, [], DEMO, YearToDate()).pooled_fen

    assert pooled() == local
    assert pooled(out_of_area=True, filed=True) == local
    assert pooled(out_of_area=True) == unfiled


def test_out_of_area_level_3_bands() -> None:
    # 30,000 at level 3: 29,500 above the deductible. Local: 10,000 × 40 % + 19,500 × 60 % = 15,700.
    # Unfiled out of area: 10,000 × 30 % + 19,500 × 50 % = 3,000 + 9,750 = 12,750; headline ratio 0.3.
    result = deductible_ratio.inpatient(3_000_000, enc("inpatient", "3"), DEMO, YearToDate(), Decimal("0.1"))
    assert (result.paid_fen, result.ratio, result.deductible_fen) == (1_275_000, Decimal("0.3"), 50_000)
    local = deductible_ratio.inpatient(3_000_000, enc("inpatient", "3"), DEMO, YearToDate(), Decimal(0))
    assert (local.paid_fen, local.ratio) == (1_570_000, Decimal("0.4"))


# --- deductible and ratio: outpatient pooling ----------------------------------------------------------

#: Outpatient pooling at 55 %: deductible 20, 300 a year.
OUT55 = DEMO.model_copy(update={"outpatient": DEMO.outpatient.model_copy(update={"ratio": Decimal("0.55")})})


@pytest.mark.parametrize(
    ("in_range", "ytd", "reduction", "deductible", "paid", "room", "base"),
    [
        # 33.33, nothing yet this year: deductible 20.00; 13.33 × 55 % = 7.3315 -> 7.33; room 300.
        (3_333, YearToDate(), "0", 2_000, 733, 30_000, 1_333),
        # 15.00 of the deductible already met: 5.00 now; 28.33 × 55 % = 15.5815 -> 15.58.
        (3_333, YearToDate(outpatient_deductible_fen=1_500), "0", 500, 1_558, 30_000, 2_833),
        # The deductible met (20.00 or more): none; 33.33 × 55 % = 18.3315 -> 18.33.
        (3_333, YearToDate(outpatient_deductible_fen=2_500), "0", 0, 1_833, 30_000, 3_333),
        # Less than the deductible: all of it counts toward it, nothing paid.
        (1_000, YearToDate(), "0", 1_000, 0, 30_000, 0),
        # 299.00 of the 300 a year paid: 1.00 left, though 13.33 × 55 % = 7.33 is owed.
        (3_333, YearToDate(outpatient_paid_fen=29_900), "0", 2_000, 100, 100, 1_333),
        # Over the cap already (a lower cap since): nothing.
        (3_333, YearToDate(outpatient_paid_fen=31_000), "0", 2_000, 0, 0, 1_333),
        # Unfiled out of area: 45 %: 13.33 × 45 % = 5.9985 -> 6.00.
        (3_333, YearToDate(), "0.1", 2_000, 600, 30_000, 1_333),
        # A reduction above the ratio: 0.
        (3_333, YearToDate(), "0.6", 2_000, 0, 30_000, 1_333),
    ],
)
def test_outpatient_pooling(
    in_range: int, ytd: YearToDate, reduction: str, deductible: int, paid: int, room: int, base: int
) -> None:
    result = deductible_ratio.outpatient(in_range, OUT55, ytd, Decimal(reduction))
    assert (result.deductible_fen, result.paid_fen, result.share.room_fen, result.share.base_fen) == (
        deductible,
        paid,
        room,
        base,
    )
    assert result.share.fund_pay_type == POOLED_FUND
    assert result.delta == YearToDate(outpatient_deductible_fen=deductible, outpatient_paid_fen=paid)
    assert result.layers == {
        "outpatient_cap_entitled_fen": 30_000,
        "outpatient_cap_before_fen": ytd.outpatient_paid_fen,
    }


# --- deductible and ratio: inpatient -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("in_range", "level", "seq", "stay", "ytd", "deductible", "paid", "stay_deductible", "entitled"),
    [
        # Level 1, 1st admission, 333.33: deductible 200; 133.33 × 75 % = 99.9975 -> 100.00.
        (33_333, "1", 1, None, YearToDate(), 20_000, 10_000, 20_000, 10_000),
        # Level 2, 2nd admission, 1,000.01: deductible 300 × 0.5 = 150; 850.01 × 60 % = 510.006 -> 510.01.
        (100_001, "2", 2, None, YearToDate(), 15_000, 51_001, 15_000, 51_001),
        # Level 3, 3rd admission: the factors list ends at the 2nd (× 0.5): 250; 1,000 - 250 = 750 in the
        # first band: × 40 % = 300.
        (100_000, "3", 3, None, YearToDate(), 25_000, 30_000, 25_000, 30_000),
        # An admission number below 1 counts as the 1st: level 2, 300; 700 × 60 % = 420.
        (100_000, "2", 0, None, YearToDate(), 30_000, 42_000, 30_000, 42_000),
        # Less than the deductible: all of it counts toward it.
        (10_000, "2", 1, None, YearToDate(), 10_000, 0, 30_000, 0),
        # A later part of a level-2 stay whose first part (200 in range) met 200 of its 300 deductible and
        # was paid nothing: the stay is now 1,200; the deductible's last 100 now; (1,200 - 300) × 60 % = 540.
        (
            100_000,
            "2",
            1,
            StaySoFar(
                policy_range_fen=20_000, deductible_fen=20_000, pooled_fen=0, stay_deductible_fen=30_000
            ),
            YearToDate(),
            10_000,
            54_000,
            30_000,
            54_000,
        ),
        # A later part after the deductible was met: stay 800.01 + 333.33 = 1,133.34; (1,133.34 - 300) × 60 %
        # = 500.004 -> 500.00 for the stay, of which 300.01 paid: 199.99 now.
        (
            33_333,
            "2",
            1,
            StaySoFar(
                policy_range_fen=80_001, deductible_fen=30_000, pooled_fen=30_001, stay_deductible_fen=30_000
            ),
            YearToDate(),
            0,
            19_999,
            30_000,
            50_000,
        ),
        # A later part whose stay entitlement ((1,010 - 300) × 60 % = 426, nothing paid yet: the ceiling was
        # reached then) is more than its own 10.00: a fund never pays more than the part's policy range.
        (
            1_000,
            "2",
            1,
            StaySoFar(
                policy_range_fen=100_000, deductible_fen=30_000, pooled_fen=0, stay_deductible_fen=30_000
            ),
            YearToDate(),
            0,
            1_000,
            30_000,
            42_600,
        ),
        # 17,990 of the 18,000 ceiling paid this year: 10.00 left of the 420 owed.
        (100_000, "2", 1, None, YearToDate(pooled_paid_fen=1_799_000), 30_000, 1_000, 30_000, 42_000),
        # Level-3 bands: 30,000.01 - 500 = 29,500.01; 10,000 × 40 % + 19,500.01 × 60 % = 4,000 + 11,700.006
        # = 15,700.006 -> 15,700.01.
        (3_000_001, "3", 1, None, YearToDate(), 50_000, 1_570_001, 50_000, 1_570_001),
    ],
)
def test_inpatient(
    in_range: int,
    level: str,
    seq: int,
    stay: StaySoFar | None,
    ytd: YearToDate,
    deductible: int,
    paid: int,
    stay_deductible: int,
    entitled: int,
) -> None:
    encounter = enc("inpatient", level, admission_sequence=seq, stay=stay)
    result = deductible_ratio.inpatient(in_range, encounter, DEMO, ytd, Decimal(0))
    assert (result.deductible_fen, result.paid_fen) == (deductible, paid)
    assert result.share.base_fen == in_range - deductible
    assert result.share.room_fen == max(0, 1_800_000 - ytd.pooled_paid_fen)
    assert result.layers == {
        "stay_deductible_fen": stay_deductible,
        "stay_entitled_fen": entitled,
        "stay_before_fen": stay.pooled_fen if stay else 0,
        "pooled_ceiling_entitled_fen": 1_800_000,
        "pooled_ceiling_before_fen": ytd.pooled_paid_fen,
    }
    # A stay's first settlement counts an admission; its later parts do not.
    assert result.delta == YearToDate(pooled_paid_fen=paid, admissions=0 if stay else 1)


def test_an_empty_stay_so_far() -> None:
    # StaySoFar() is a stay with nothing surviving before and no deductible of its own: 333.33 at level 2
    # pays 333.33 × 60 % = 199.998 -> 200.00, no deductible, no admission counted.
    result = deductible_ratio.inpatient(
        33_333, enc("inpatient", stay=StaySoFar()), DEMO, YearToDate(), Decimal(0)
    )
    assert (result.deductible_fen, result.paid_fen) == (0, 20_000)
    assert result.layers["stay_deductible_fen"] == 0
    assert result.delta.admissions == 0


def test_inpatient_ratio_that_does_not_divide_evenly() -> None:
    # Level 2 at 0.6667: (1,000.01 - 300) × 0.6667 = 700.01 × 0.6667 = 466.696667 -> 466.70.
    rules = DEMO.inpatient.model_copy(
        update={"ratio_by_level": {**DEMO.inpatient.ratio_by_level, "2": Decimal("0.6667")}}
    )
    policy = DEMO.model_copy(update={"inpatient": rules})
    result = deductible_ratio.inpatient(100_001, enc("inpatient", "2"), policy, YearToDate(), Decimal(0))
    assert (result.paid_fen, result.ratio) == (46_670, Decimal("0.6667"))


# --- chronic -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("in_range", "ytd", "entitled", "paid"),
    [
        # 50.00 in the year: min(100, 50) = 50.
        (5_000, YearToDate(), 5_000, 5_000),
        # 533.33: 100 + (533.33 - 500) × 25 % = 100 + 8.3325 -> 108.33.
        (53_333, YearToDate(), 10_833, 10_833),
        # 400 earlier (100 paid), 133.33 now: the year's 533.33 entitles 108.33; 8.33 now.
        (13_333, YearToDate(chronic_cost_fen=40_000, chronic_paid_fen=10_000), 10_833, 833),
        # The year's cost 20,000 + 1,000 = 21,000: 100 + 20,500 × 25 % = 5,225 -> the cap 5,000; 4,900 paid:
        # 100 now.
        (100_000, YearToDate(chronic_cost_fen=2_000_000, chronic_paid_fen=490_000), 500_000, 10_000),
        # An earlier settlement reversed left the survivors with 200 for a year entitling 108.33: nothing
        # now, nothing clawed back.
        (13_333, YearToDate(chronic_cost_fen=40_000, chronic_paid_fen=20_000), 10_833, 0),
        # 17,999.99 of the pooled ceiling paid: 0.01 left of the 100 owed.
        (50_000, YearToDate(pooled_paid_fen=1_799_999), 10_000, 1),
        # 0.01 in range, 1,000 earlier and nothing paid (ceiling reached then): owed 225, but only 0.01 now.
        (1, YearToDate(chronic_cost_fen=100_000), 22_500, 1),
    ],
)
def test_chronic(in_range: int, ytd: YearToDate, entitled: int, paid: int) -> None:
    result = chronic.pay(in_range, enc("chronic", chronic_disease="I10"), DEMO, ytd)
    assert result.paid_fen == paid
    assert (result.deductible_fen, result.ratio) == (0, Decimal("0.25"))
    assert result.layers == {"chronic_entitled_fen": entitled, "chronic_before_fen": ytd.chronic_paid_fen}
    assert result.delta == YearToDate(chronic_cost_fen=in_range, chronic_paid_fen=paid, pooled_paid_fen=paid)
    assert (result.share.base_fen, result.share.room_fen) == (
        in_range,
        max(0, 1_800_000 - ytd.pooled_paid_fen),
    )


def test_chronic_entitlement_at_a_ratio_of_a_half_or_more() -> None:
    # A policy paying 60 % above the 500.00 threshold: 300.00 earns min(100, 300) = 100.00 and nothing
    # above (a zero excess, not a fen of it); 533.33 earns 100 + 33.33 × 60 % = 19.998 -> 120.00.
    assert DEMO.chronic is not None
    rules = DEMO.chronic.model_copy(update={"ratio_above": Decimal("0.6")})
    assert [chronic.entitlement(rules, cost) for cost in (30_000, 50_000, 53_333)] == [10_000, 10_000, 12_000]


def test_chronic_needs_a_listed_disease() -> None:
    for disease in (None, "Z99"):
        with pytest.raises(NotEligible):
            chronic.pay(10_000, enc("chronic", chronic_disease=disease), DEMO, YearToDate())
    with pytest.raises(NotEligible):
        chronic.pay(
            10_000,
            enc("chronic", chronic_disease="I10"),
            DEMO.model_copy(update={"chronic": None}),
            YearToDate(),
        )


# --- maternity -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delivery", "in_range", "stay", "ytd", "entitled", "paid"),
    [
        # Normal delivery, 150 in range: min(200, 150) = 150.
        ("normal", 15_000, None, YearToDate(), 15_000, 15_000),
        # Normal, 1,000: 200.
        ("normal", 100_000, None, YearToDate(), 20_000, 20_000),
        # Caesarean, 1,000: 300.
        ("caesarean", 100_000, None, YearToDate(), 30_000, 30_000),
        # A caesarean stay's later part: 100 earlier (100 paid) + 400 now = 500; 300 for the delivery,
        # 200 now.
        (
            "caesarean",
            40_000,
            StaySoFar(policy_range_fen=10_000, pooled_fen=10_000),
            YearToDate(),
            30_000,
            20_000,
        ),
        # The ceiling: 17,950 paid this year, 50 left.
        ("caesarean", 100_000, None, YearToDate(pooled_paid_fen=1_795_000), 30_000, 5_000),
    ],
)
def test_maternity(
    delivery: str, in_range: int, stay: StaySoFar | None, ytd: YearToDate, entitled: int, paid: int
) -> None:
    result = maternity.pay(in_range, enc("maternity", delivery_type=delivery, stay=stay), DEMO, ytd)
    assert result.paid_fen == paid
    assert (result.deductible_fen, result.ratio) == (0, Decimal(0))  # a fixed sum: no deductible, no ratio
    assert result.layers == {
        "stay_entitled_fen": entitled,
        "stay_before_fen": stay.pooled_fen if stay else 0,
        "pooled_ceiling_entitled_fen": 1_800_000,
        "pooled_ceiling_before_fen": ytd.pooled_paid_fen,
    }
    assert result.delta == YearToDate(pooled_paid_fen=paid, admissions=0 if stay else 1)
    assert (result.share.base_fen, result.share.room_fen) == (in_range, 1_800_000 - ytd.pooled_paid_fen)


def test_maternity_needs_a_delivery_type_and_a_policy() -> None:
    with pytest.raises(NotEligible):
        maternity.pay(10_000, enc("maternity"), DEMO, YearToDate())
    with pytest.raises(NotEligible):
        maternity.pay(
            10_000,
            enc("maternity", delivery_type="normal"),
            DEMO.model_copy(update={"maternity": None}),
            YearToDate(),
        )


# --- catastrophic --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("burden", "ytd", "entitled", "paid", "base", "room"),
    [
        # 10,000.01 of burden: 0.01 above the threshold × 50 % = 0.005 -> 0.01 (half-up).
        (1_000_001, YearToDate(), 1, 1, 1, 20_000_000),
        # 9,000 earlier + 3,333.33 now = 12,333.33: 2,333.33 × 50 % = 1,166.665 -> 1,166.67.
        (333_333, YearToDate(catastrophic_burden_fen=900_000), 116_667, 116_667, 233_333, 20_000_000),
        # Across the band limit: 59,000 earlier (24,500 paid) + 1,000.01 = 60,000.01; 50,000 × 50 % + 0.01 ×
        # 60 % = 25,000.006 -> 25,000.01; 500.01 now; base 60,000.01 - 59,000 = 1,000.01.
        (
            100_001,
            YearToDate(catastrophic_burden_fen=5_900_000, catastrophic_paid_fen=2_450_000),
            2_500_001,
            50_001,
            100_001,
            17_550_000,
        ),
        # The yearly cap: 410,000 of burden: 25,000 + 350,000 × 60 % = 235,000 -> 200,000; 199,900 paid:
        # 100 now, all that is left of the cap.
        (
            1_000_000,
            YearToDate(catastrophic_burden_fen=40_000_000, catastrophic_paid_fen=19_990_000),
            20_000_000,
            10_000,
            1_000_000,
            10_000,
        ),
        # Owed 10,000.50 (30,001 - 10,000 = 20,001 × 50 %) but this settlement's own burden is 1.00; its
        # base is what it adds above the threshold: 30,001 - 30,000 = 1.00.
        (100, YearToDate(catastrophic_burden_fen=3_000_000), 1_000_050, 100, 100, 20_000_000),
        # Below the threshold: nothing, no base.
        (500_000, YearToDate(catastrophic_burden_fen=400_000), 0, 0, 0, 20_000_000),
        # The yearly cap already paid: no room left, nothing; base 500,001 - 500,000 = 1.00.
        (
            100,
            YearToDate(catastrophic_burden_fen=50_000_000, catastrophic_paid_fen=20_000_000),
            20_000_000,
            0,
            100,
            0,
        ),
        # A reversal left survivors with 2,000 for 12,500 of burden (1,250 entitled): nothing now; base
        # 12,500 - 12,000 = 500.
        (
            50_000,
            YearToDate(catastrophic_burden_fen=1_200_000, catastrophic_paid_fen=200_000),
            125_000,
            0,
            50_000,
            19_800_000,
        ),
    ],
)
def test_catastrophic(burden: int, ytd: YearToDate, entitled: int, paid: int, base: int, room: int) -> None:
    result = catastrophic.pay(burden, enc("inpatient"), DEMO, ytd)
    assert result is not None
    assert (result.paid_fen, result.share.base_fen, result.share.room_fen) == (paid, base, room)
    assert result.share.fund_pay_type == CATASTROPHIC_FUND
    assert result.layers == {
        "catastrophic_entitled_fen": entitled,
        "catastrophic_before_fen": ytd.catastrophic_paid_fen,
    }
    assert result.delta == YearToDate(catastrophic_burden_fen=burden, catastrophic_paid_fen=paid)


@pytest.mark.parametrize(
    ("kind", "counted"),
    [
        ("inpatient", True),
        ("maternity", True),
        ("chronic", False),
        ("outpatient", False),
        ("pharmacy", False),
    ],
)
def test_catastrophic_counts_the_kinds_the_policy_names(kind: Kind, counted: bool) -> None:
    # Yutian: 住院 costs (the demo counts stays and deliveries). 20,000 of burden: 5,000.
    result = catastrophic.pay(2_000_000, enc(kind), DEMO, YearToDate())
    assert (result.paid_fen if result else None) == (500_000 if counted else None)
    # A policy counting chronic care too pays on it; none for outpatient pooling whatever the policy says.
    assert DEMO.catastrophic is not None
    wide_rules = DEMO.catastrophic.model_copy(update={"kinds": ["inpatient", "maternity", "chronic"]})
    wide = DEMO.model_copy(update={"catastrophic": wide_rules})
    wide_result = catastrophic.pay(2_000_000, enc(kind), wide, YearToDate())
    assert (wide_result.paid_fen if wide_result else None) == (
        500_000 if kind not in ("outpatient", "pharmacy") else None
    )
    assert (
        catastrophic.pay(2_000_000, enc(kind), DEMO.model_copy(update={"catastrophic": None}), YearToDate())
        is None
    )


# --- assistance ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identities", "base", "ytd", "entitled", "paid", "room"),
    [
        # 低保 (2102), 333.33: × 70 % = 233.331 -> 233.33.
        (["2102"], 33_333, YearToDate(), 23_333, 23_333, 3_000_000),
        # 2103: (533.33 - 500) × 50 % = 16.665 -> 16.67.
        (["2103"], 53_333, YearToDate(), 1_667, 1_667, 1_000_000),
        # 2103 and 2102 at once: 2102's 70 % is the more generous: 233.33.
        (["2103", "2102"], 33_333, YearToDate(), 23_333, 23_333, 3_000_000),
        (["2102", "2103"], 33_333, YearToDate(), 23_333, 23_333, 3_000_000),
        # An identity the policy does not assist beside one it does: 2103.
        (["1101", "2103"], 53_333, YearToDate(), 1_667, 1_667, 1_000_000),
        # 2103 over the year: 400 earlier + 133.33 now = 533.33 -> 16.67 entitled, none paid yet.
        (["2103"], 13_333, YearToDate(assistance_base_fen=40_000), 1_667, 1_667, 1_000_000),
        # The cap: 2102, 40,000 earlier (28,000 paid) + 10,000: 35,000 -> 30,000; 2,000 now.
        (
            ["2102"],
            1_000_000,
            YearToDate(assistance_base_fen=4_000_000, assistance_paid_fen=2_800_000),
            3_000_000,
            200_000,
            200_000,
        ),
        # Under 2103's deductible: nothing.
        (["2103"], 30_000, YearToDate(), 0, 0, 1_000_000),
        # 2102's yearly 30,000 already paid: no room left, nothing (50,001 × 70 % -> capped at 30,000).
        (
            ["2102"],
            100,
            YearToDate(assistance_base_fen=5_000_000, assistance_paid_fen=3_000_000),
            3_000_000,
            0,
            0,
        ),
        # Owed 700.07 on the year (1,000.10 × 70 %) but this settlement's own base is 0.10.
        (["2102"], 10, YearToDate(assistance_base_fen=100_000), 70_007, 10, 3_000_000),
    ],
)
def test_assistance(
    identities: list[str], base: int, ytd: YearToDate, entitled: int, paid: int, room: int
) -> None:
    result = assistance.pay(base, enc("inpatient"), identities, DEMO, ytd)
    assert result is not None
    assert (result.paid_fen, result.share.base_fen, result.share.room_fen) == (paid, base, room)
    assert result.share.fund_pay_type == ASSISTANCE_FUND
    assert result.layers == {
        "assistance_entitled_fen": entitled,
        "assistance_before_fen": ytd.assistance_paid_fen,
    }
    assert result.delta == YearToDate(assistance_base_fen=base, assistance_paid_fen=paid)


def test_assistance_picks_the_highest_ratio_then_the_highest_cap() -> None:
    policy = DEMO.model_copy(
        update={
            "assistance": {
                "2201": Assistance(deductible_fen=0, ratio=Decimal("0.5"), annual_cap_fen=10_000),
                "2202": Assistance(deductible_fen=0, ratio=Decimal("0.5"), annual_cap_fen=20_000),
                "2203": Assistance(deductible_fen=0, ratio=Decimal("0.6"), annual_cap_fen=5_000),
            }
        }
    )
    # Same ratio: the higher cap (2202): 300 × 50 % = 150 > 100 (2201's cap) -> 150.
    assert assistance.chosen(["2201", "2202"], policy) == ("2202", policy.assistance["2202"])
    result = assistance.pay(30_000, enc("inpatient"), ["2201", "2202"], policy, YearToDate())
    assert result is not None and result.paid_fen == 15_000
    # A higher ratio wins over a higher cap: 2203 (60 %): 300 × 60 % = 180 -> its cap 50.
    assert assistance.chosen(["2202", "2203"], policy) == ("2203", policy.assistance["2203"])
    assert assistance.chosen(["1101"], policy) is None


@pytest.mark.parametrize("kind", ["outpatient", "pharmacy"])
def test_no_assistance_for_outpatient_pooling(kind: Kind) -> None:
    assert assistance.pay(30_000, enc(kind), ["2102"], DEMO, YearToDate()) is None
    assert assistance.pay(30_000, enc("inpatient"), [], DEMO, YearToDate()) is None


# --- the shared helpers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entitled", "before", "expected"), [(500, 200, 300), (200, 500, 0), (0, 0, 0), (7, 7, 0)]
)
def test_owed(entitled: int, before: int, expected: int) -> None:
    assert owed(entitled, before) == expected


@pytest.mark.parametrize(
    ("paid", "expected"), [(0, 1_800_000), (1_799_999, 1), (1_800_000, 0), (1_900_000, 0)]
)
def test_pooled_room(paid: int, expected: int) -> None:
    assert pooled_room(1_800_000, YearToDate(pooled_paid_fen=paid)) == expected


def test_year_to_date_plus_and_minus() -> None:
    a = YearToDate(*range(1, 11))
    b = YearToDate(*range(10, 110, 10))
    assert a.plus(b) == YearToDate(11, 22, 33, 44, 55, 66, 77, 88, 99, 110)
    assert a.plus(b).minus(b) == a
    assert b.minus(a) == YearToDate(9, 18, 27, 36, 45, 54, 63, 72, 81, 90)


# --- all layers in order -------------------------------------------------------------------------------


def test_all_layers_several_identities() -> None:
    # A level-3 stay of 30,000.01 (甲) for a person holding 2103 and 2102:
    # pooled: 30,000.01 - 500 = 29,500.01; 4,000 + 19,500.01 × 60 % = 11,700.006 -> 15,700.01;
    # burden 30,000.01 - 15,700.01 = 14,300; catastrophic (14,300 - 10,000) × 50 % = 2,150;
    # assistance under 2102 (70 % beats 50 %): (14,300 - 2,150) × 70 % = 12,150 × 0.7 = 8,505;
    # cash 30,000.01 - 15,700.01 - 2,150 - 8,505 = 3,645.
    result = adjudicate(
        _one(3_000_001), {"A": A}, enc("inpatient", "3"), ["2103", "2102"], DEMO, YearToDate(admissions=0)
    )
    assert [(f.fund_pay_type, f.paid_fen) for f in result.funds] == [
        (POOLED_FUND, 1_570_001),
        (CATASTROPHIC_FUND, 215_000),
        (ASSISTANCE_FUND, 850_500),
    ]
    assert (result.deductible_fen, result.pooled_fen, result.catastrophic_fen, result.assistance_fen) == (
        50_000,
        1_570_001,
        215_000,
        850_500,
    )
    assert (result.fund_paid_total_fen, result.cash_paid_fen, result.personal_burden_fen) == (
        2_635_501,
        364_500,
        364_500,
    )
    assert result.delta == YearToDate(
        pooled_paid_fen=1_570_001,
        catastrophic_burden_fen=1_430_000,
        catastrophic_paid_fen=215_000,
        assistance_base_fen=1_215_000,
        assistance_paid_fen=850_500,
        admissions=1,
    )
    assert result.layers["assistance_entitled_fen"] == 850_500
    assert result.layers["catastrophic_entitled_fen"] == 215_000
    assert result.layers["stay_deductible_fen"] == 50_000
    assert result.trace[-1] == "基金支付合计 26355.01；个人现金支付 3645.00（居民医保无个人账户）"


def test_assistance_without_a_catastrophic_layer() -> None:
    # Chronic care (not counted by the demo's catastrophic insurance) for a 低保 person, 533.33 in the year:
    # pooled 100 + 33.33 × 25 % = 108.3325 -> 108.33; burden 533.33 - 108.33 = 425.00, all of it the
    # assistance base (no catastrophic layer took any): 425.00 × 70 % = 297.50; cash 533.33 - 405.83 = 127.50.
    result = adjudicate(
        _one(53_333), {"A": A}, enc("chronic", chronic_disease="I10"), ["2102"], DEMO, YearToDate()
    )
    assert [(f.fund_pay_type, f.paid_fen) for f in result.funds] == [
        (POOLED_FUND, 10_833),
        (ASSISTANCE_FUND, 29_750),
    ]
    assert (result.catastrophic_fen, result.assistance_fen, result.cash_paid_fen) == (0, 29_750, 12_750)
    assert result.delta == YearToDate(
        chronic_cost_fen=53_333,
        chronic_paid_fen=10_833,
        pooled_paid_fen=10_833,
        assistance_base_fen=42_500,
        assistance_paid_fen=29_750,
    )


def test_outpatient_pooling_alone() -> None:
    # A pharmacy purchase of 333.33 for a 低保 person: 313.33 × 50 % = 156.665 -> 156.67 pooled; no
    # catastrophic insurance or assistance for outpatient pooling; cash 333.33 - 156.67 = 176.66.
    result = adjudicate(_one(33_333), {"A": A}, enc("pharmacy", "1"), ["2102"], DEMO, YearToDate())
    assert [(f.fund_pay_type, f.paid_fen) for f in result.funds] == [(POOLED_FUND, 15_667)]
    assert (result.pooled_fen, result.catastrophic_fen, result.assistance_fen) == (15_667, 0, 0)
    assert (result.deductible_fen, result.pool_ratio, result.cash_paid_fen) == (2_000, Decimal("0.5"), 17_666)
    assert result.layers == {"outpatient_cap_entitled_fen": 30_000, "outpatient_cap_before_fen": 0}


def test_filed_out_of_area_care_under_a_policy_stored_before_filings_keeps_the_local_ratio() -> None:
    # A policy document without FilingRules (stored before filings existed): filed care out of the area
    # loses no points (0), unfiled care the policy's 0.1.
    policy = DEMO.model_copy(update={"filings": None, "unfiled_out_of_area_reduction": Decimal("0.1")})
    filed = out_of_area.reduction(enc("outpatient", out_of_area=True, filed=True), policy)
    assert (filed.points, filed.note) == (Decimal(0), None)
    unfiled = out_of_area.reduction(enc("outpatient", out_of_area=True, filed=False), policy)
    assert unfiled.points == Decimal("0.1")


def test_an_entry_the_catalogue_marks_nothing_on_shows_no_marks() -> None:
    """The catalogue's marks default to none: the lines of an entry marked nothing, and of a code the
    catalogue does not list, show 0 in every mark column of the 2204 / 2301 result and detlcutinfo
    (bas_medn_flag, hi_nego_drug_flag, ...), and a restricted item is restricted only when the catalogue
    says so."""
    none = {
        "essential_drug": False,
        "negotiated_drug": False,
        "child_medicine": False,
        "special_item": False,
        "restricted": False,
        "direct_reimbursement": False,
    }
    assert flag_columns(ListFlags()) == none
    assert flag_columns(NO_FLAGS) == none
    assert ListEntry("1", Decimal(0), None).flags == NO_FLAGS
