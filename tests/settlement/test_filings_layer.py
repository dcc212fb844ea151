"""The engine's filings layer (settlement.adjudication.filings; docs/domain.md, "Filings") in hand-computed
tables, then the rule "a settlement applies the filings in force on its service date" as a property over
any order of filings, revocations and settlements. The demo policy's rules (``jinzhai_yutian_demo``):
chronic care for registered patients only, no designated facility required, injury (22) and referral (23)
stays only when filed, filed out-of-area care at the local ratio; level-1 stays 200.00 deductible, 75 %,
unfiled out-of-area 10 points less; chronic 100.00 fixed up to 500.00 a year. Amounts in fen."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from settlement.adjudication import filings
from settlement.adjudication.engine import adjudicate
from settlement.adjudication.model import (
    Encounter,
    FeeLine,
    InjuryFiling,
    Kind,
    ListEntry,
    Standing,
    YearToDate,
)
from settlement.filings.models import Filing
from settlement.filings.service import in_force
from settlement.policy.document import jinzhai_yutian_demo

from shared.error_codes import ErrorCode
from shared.errors import DomainError

DEMO = jinzhai_yutian_demo()
assert DEMO.filings is not None
RULES = DEMO.filings
DAY = date(2026, 11, 20)
HERE, AWAY, AWAY_REGION = "H1", "H2", "341502"
A = {"A": ListEntry("1", Decimal(0), None)}


def bill(fen: int) -> list[FeeLine]:
    """One line of 甲 item A: all of it in the policy range."""
    return [FeeLine("1", "A", Decimal(1), Decimal(fen) / 100, fen)]


def encounter(kind: Kind, med_type: str, standing: Standing | None, **kw: object) -> Encounter:
    values: dict[str, object] = {
        "institution_level": "1",
        "fixmedins_code": HERE,
        "mdtrtarea_admdvs": "341524",
    }
    values.update(kw)
    return Encounter(kind, DAY, standing=standing, med_type=med_type, **values)  # type: ignore[arg-type]


def refusal_code(enc: Encounter, policy: object = DEMO) -> str | None:
    """The refusal's code; each filings refusal is the client's to fix (HTTP 422, unprocessable: the request
    is well formed, the person's filings do not allow it), never 400 or 5xx, as the catalogue states."""
    try:
        adjudicate(bill(1000_00), A, enc, [], policy, YearToDate())  # type: ignore[arg-type]
    except DomainError as exc:
        assert exc.status_code == 422, (exc.code, exc.status_code)
        assert ErrorCode[exc.code].statuses == (422,)
        return exc.code
    return None


NONE = Standing(on=DAY)
E11 = Standing(on=DAY, chronic_diseases=frozenset({"E11"}))
PAYABLE = InjuryFiling("B1", third_party_liable=False, work_injury=False)
LIABLE = InjuryFiling("B2", third_party_liable=True, work_injury=False)
WORK = InjuryFiling("B3", third_party_liable=False, work_injury=True)


@pytest.mark.parametrize(
    ("kind", "med_type", "standing", "extra", "code"),
    [
        # Chronic care: registered for the disease, or refused; registered for another disease: refused.
        ("chronic", "140104", E11, {"chronic_disease": "E11"}, None),
        ("chronic", "140104", NONE, {"chronic_disease": "E11"}, "CHRONIC_NOT_FILED"),
        ("chronic", "140104", E11, {"chronic_disease": "I10"}, "CHRONIC_NOT_FILED"),
        # Injury stays: a payable filing, none, one declaring a liable third party, a work injury; a payable
        # one beside an excluded one (two accidents) settles.
        ("inpatient", "22", Standing(on=DAY, injuries=(PAYABLE,)), {}, None),
        ("inpatient", "22", NONE, {}, "INJURY_NOT_FILED"),
        ("inpatient", "22", Standing(on=DAY, injuries=(LIABLE,)), {}, "EXCLUDED_THIRD_PARTY"),
        ("inpatient", "22", Standing(on=DAY, injuries=(WORK,)), {}, "EXCLUDED_WORK_INJURY"),
        ("inpatient", "22", Standing(on=DAY, injuries=(LIABLE, PAYABLE)), {}, None),
        # Referral stays: filed for the institution's region, for the institution, not at all, for
        # another region.
        ("inpatient", "23", Standing(on=DAY, referral_regions=frozenset({AWAY_REGION})),
         {"fixmedins_code": AWAY, "mdtrtarea_admdvs": AWAY_REGION}, None),
        ("inpatient", "23", Standing(on=DAY, referral_facilities=frozenset({AWAY})),
         {"fixmedins_code": AWAY, "mdtrtarea_admdvs": AWAY_REGION}, None),
        ("inpatient", "23", NONE,
         {"fixmedins_code": AWAY, "mdtrtarea_admdvs": AWAY_REGION}, "REFERRAL_NOT_FILED"),
        ("inpatient", "23", Standing(on=DAY, referral_regions=frozenset({"341503"})),
         {"fixmedins_code": AWAY, "mdtrtarea_admdvs": AWAY_REGION}, "REFERRAL_NOT_FILED"),
        # Ordinary care needs no filing.
        ("inpatient", "21", NONE, {}, None),
        ("outpatient", "11", NONE, {}, None),
        # Filings not read (None): the layer is skipped, as for a settlement computed before filings.
        ("chronic", "140104", None, {"chronic_disease": "E11"}, None),
    ],
)  # fmt: skip
def test_what_the_filings_allow(
    kind: Kind, med_type: str, standing: Standing | None, extra: dict[str, str], code: str | None
) -> None:
    assert refusal_code(encounter(kind, med_type, standing, **extra)) == code


def test_the_designated_facility_when_the_policy_says_so() -> None:
    tianjin = DEMO.model_copy(
        update={"filings": RULES.model_copy(update={"chronic_requires_designated_facility": True})}
    )
    at_here = Standing(on=DAY, chronic_diseases=frozenset({"E11"}), designated_facilities=frozenset({HERE}))
    assert refusal_code(encounter("chronic", "140104", at_here, chronic_disease="E11"), tianjin) is None
    elsewhere = encounter("chronic", "140104", at_here, chronic_disease="E11", fixmedins_code=AWAY)
    assert refusal_code(elsewhere, tianjin) == "CHRONIC_NOT_DESIGNATED"
    assert refusal_code(elsewhere, DEMO) is None  # the demo (Jinzhai) names no facility
    # A policy stored before filing rules: nothing required.
    assert refusal_code(encounter("chronic", "140104", NONE, chronic_disease="E11"), DEMO.model_copy(
        update={"filings": None})) is None  # fmt: skip


@pytest.mark.parametrize(
    ("standing", "filed_points", "pooled"),
    [
        # 1,000.00 in range at a level-1 hospital out of area: 200.00 deductible, 800.00 left.
        # Unfiled: 800.00 × (0.75 − 0.10) = 520.00.
        (NONE, "0", 520_00),
        # Filed for the region, the demo's filed points 0: 800.00 × 0.75 = 600.00.
        (Standing(on=DAY, referral_regions=frozenset({AWAY_REGION})), "0", 600_00),
        # Filed for the institution only: the same 600.00.
        (Standing(on=DAY, referral_facilities=frozenset({AWAY})), "0", 600_00),
        # A policy taking 0.05 off filed care: 800.00 × 0.70 = 560.00.
        (Standing(on=DAY, referral_regions=frozenset({AWAY_REGION})), "0.05", 560_00),
        # Filed for another region: unfiled, 520.00.
        (Standing(on=DAY, referral_regions=frozenset({"341503"})), "0", 520_00),
    ],
)
def test_filed_out_of_area_care_gets_the_filed_ratio(
    standing: Standing, filed_points: str, pooled: int
) -> None:
    policy = DEMO.model_copy(
        update={"filings": RULES.model_copy(update={"filed_out_of_area_reduction": Decimal(filed_points)})}
    )
    enc = encounter(
        "inpatient", "21", standing, out_of_area=True, fixmedins_code=AWAY, mdtrtarea_admdvs=AWAY_REGION
    )
    assert adjudicate(bill(1000_00), A, enc, [], policy, YearToDate()).pooled_fen == pooled


def test_a_filed_ratio_worse_than_the_unfiled_one_is_refused() -> None:
    with pytest.raises(ValueError, match="已备案异地就医"):
        DEMO.model_validate(
            {**DEMO.model_dump(), "filings": {**RULES.model_dump(), "filed_out_of_area_reduction": "0.2"}}
        )


# --- any order of filings, revocations and settlements ----------------------------------------------------

TODAY = date(2026, 12, 6)
DAYS = st.integers(min_value=-40, max_value=5).map(lambda n: TODAY + timedelta(days=n))
#: file (first day, last day or open), revoke the n-th filing (from today or a later day), settle on a day.
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("file"), DAYS, st.none() | DAYS),
        st.tuples(st.just("revoke"), st.integers(0, 3), st.integers(0, 3)),
        st.tuples(st.just("settle"), DAYS, st.none()),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(ops=OPS)
def test_a_settlement_applies_the_filings_in_force_on_its_service_date(
    ops: list[tuple[str, date | int, date | int | None]],
) -> None:
    """However filings, revocations (today or later: never backdated) and chronic settlements of any day
    interleave, each settlement is chronic care exactly when a registration for its disease is in force on its
    service date as the filings stood when it was computed; revoking later never changes a settled day
    before the revocation."""
    stored: list[Filing] = []
    settled: list[tuple[date, bool]] = []
    for op, a, b in ops:
        if op == "file":
            assert isinstance(a, date) and (b is None or isinstance(b, date))
            begn, end = (a, b) if b is None or b >= a else (b, a)
            stored.append(Filing(trt_dcla_detl_sn=str(len(stored)), kind="chronic", psn_no="p",
                                 insutype="390", insuplc_admdvs="341524", fixmedins_code=HERE,
                                 opsp_dise_code="E11", begndate=begn, enddate=end))  # fmt: skip
        elif op == "revoke" and stored:
            assert isinstance(a, int) and isinstance(b, int)
            filing = stored[a % len(stored)]
            if filing.revoked_on is None:
                # As ``revoke`` stores it: today or b days later, never before the first day.
                filing.revoked_on = max(TODAY + timedelta(days=b), filing.begndate)
        elif op == "settle":
            assert isinstance(a, date)
            day = a
            live = [f for f in stored if in_force(f, day)]
            standing = Standing(on=day, chronic_diseases=frozenset(f.opsp_dise_code or "" for f in live))
            enc = Encounter("chronic", day, "1", chronic_disease="E11", standing=standing, med_type="140104",
                            fixmedins_code=HERE)  # fmt: skip
            try:
                paid = adjudicate(bill(30_00), A, enc, [], DEMO, YearToDate()).pooled_fen
            except DomainError as exc:
                assert exc.code == "CHRONIC_NOT_FILED"
                paid = None
            # A filing in force on the day: begun, not ended, not yet revoked on that day.
            expected = any(
                f.begndate <= day and (f.enddate is None or day <= f.enddate)
                and (f.revoked_on is None or day < f.revoked_on)
                for f in stored
            )  # fmt: skip
            # 30.00 in range, under the 500.00 threshold: min(100.00, 30.00) = 30.00.
            assert paid == (30_00 if expected else None)
            settled.append((day, expected))
    # Revocations are never dated before today: a day before today settled as filed stays covered by a
    # filing in force on it now, whatever was revoked afterwards.
    for day, was_filed in settled:
        if was_filed and day < TODAY:
            assert any(in_force(f, day) for f in stored)


def test_the_layer_notes_a_registration_and_a_filed_region() -> None:
    enc = encounter("chronic", "140104", E11, chronic_disease="E11")
    after, notes = filings.layer(enc, DEMO)
    assert after.filed is False and notes == ("门慢门特备案：病种 E11 在 2026-11-20 有效",)
    away = encounter("inpatient", "21", Standing(on=DAY, referral_regions=frozenset({AWAY_REGION})),
                     fixmedins_code=AWAY, mdtrtarea_admdvs=AWAY_REGION, out_of_area=True)  # fmt: skip
    after, notes = filings.layer(away, DEMO)
    assert after.filed is True and notes == ("转院/异地就医备案：就医地 341502 在 2026-11-20 已备案",)
