"""Out-of-area filings by kind (异地就医备案类别; docs/domain.md, "Filings" and "Out-of-area care") through
the gateway in front of the real settlement service on both backends: a person insured in region A
(341524) stays at a level-2 hospital of region B (341502), filed with 2501 as a resident elsewhere, as a
referral, as temporary care, or not at all; a filing revoked (2502) and one expired.

A's policy (``by_kind_policy``, illustrative; scheme 391): the demo's level-2 deductible 300.00 at the
year's first admission and 60 %; out of area 20 points off unfiled, filed 0 points for a resident elsewhere
(01-03), 5 for a referral (04), 10 for temporary care (05-06).

The bill (``tests/gateway/test_out_of_area.py``): 100 × B at 50.00 (10 % paid first) and 10 × K at 12.00,
capped at 10.00 at level 2: bill 5,120.00, over the cap 20.00, paid first 500.00, policy range 4,600.00;
after the deductible 4,600.00 − 300.00 = 4,300.00."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from shared.clock import now_china
from tests.gateway.office import Office, refused
from tests.gateway.test_filed_care import referral
from tests.gateway.test_out_of_area import (
    AWAY_HOSPITAL,
    AWAY_REGION,
    Counter,
    amounts,
    away,
    region_b,
    regions,
)
from tests.settlement.conftest import HOSPITAL, REGION, new_person
from tests.settlement.test_interplatform_filings import SCHEME, post_by_kind_policy


async def person(office: Office, sequence: int) -> str:
    """A person of A covered by the scheme 391 for 2026."""
    psn_no, certno = new_person(sequence)
    await office.api.cover(psn_no, certno, 2026, insutype=SCHEME)
    office.certnos[psn_no] = certno
    return psn_no


def filed_as(psn_no: str, dcla_type: str | None, **changes: Any) -> dict[str, Any]:
    """2501 for region B (from 2026-11-01 to 2026-12-31) under 391, of the kind given (None: not sent)."""
    body = referral(psn_no, insutype=SCHEME, **changes)
    if dcla_type is not None:
        body["refmedin"]["dcla_type"] = dcla_type
    return body


def money(answer: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal]:
    """(ratio, pooled fund, cash)."""
    ratio, pooled, cash = amounts(answer)[5:]
    return ratio, pooled, cash


@pytest.mark.parametrize(
    ("dcla_type", "stored", "expected"),
    [
        # 异地长期居住 (02): A's resident ratio, the local 0.60: 4,300.00 × 0.60 = 2,580.00 pooled;
        # cash 5,120.00 − 2,580.00 = 2,540.00.
        ("02", "02", ("0.6", "2580.00", "2540.00")),
        # 常驻异地工作 (03) is a resident elsewhere too.
        ("03", "03", ("0.6", "2580.00", "2540.00")),
        # 异地转诊 (04): 0.60 − 0.05 = 0.55: 4,300.00 × 0.55 = 2,365.00; cash 2,755.00.
        ("04", "04", ("0.55", "2365.00", "2755.00")),
        # Not sent: a 2501 is a 转院备案, 04.
        (None, "04", ("0.55", "2365.00", "2755.00")),
        # 其他临时外出就医 (06): 0.60 − 0.10 = 0.50: 4,300.00 × 0.50 = 2,150.00; cash 2,970.00.
        ("06", "06", ("0.5", "2150.00", "2970.00")),
        # 异地急诊抢救 (05) is temporary care too.
        ("05", "05", ("0.5", "2150.00", "2970.00")),
    ],
)
async def test_a_stay_at_b_gets_a_s_ratio_for_the_kind_filed(
    office: Office, dcla_type: str | None, stored: str, expected: tuple[str, str, str]
) -> None:
    await region_b(office)
    await post_by_kind_policy(office.api)
    psn_no = await person(office, 21)
    filed = await office.send("2501", filed_as(psn_no, dcla_type))
    assert filed["infcode"] == 0, filed["err_msg"]
    assert filed["output"]["result"]["dcla_type"] == stored
    _, settled = await away(office).stay(psn_no, insutype=SCHEME)
    assert money(settled) == tuple(Decimal(v) for v in expected)
    # Deductible 300.00 (A's level-2, the year's first admission), over the cap 20.00, range 4,600.00.
    assert amounts(settled)[:5] == (
        Decimal("5120.00"), Decimal("20.00"), Decimal("500.00"), Decimal("4600.00"), Decimal("300.00")
    )  # fmt: skip
    assert regions(settled) == (REGION, AWAY_REGION, "3", AWAY_REGION)


async def test_unfiled_and_expired_filings_get_the_unfiled_cut(office: Office) -> None:
    """Unfiled: 0.60 − 0.20 = 0.40: 4,300.00 × 0.40 = 1,720.00 pooled; cash 5,120.00 − 1,720.00 = 3,400.00.
    A resident filing that ended on 2026-11-19 does not file the stay of 2026-11-20: the same."""
    await region_b(office)
    await post_by_kind_policy(office.api)
    unfiled, expired = await person(office, 22), await person(office, 23)
    ended = await office.send("2501", filed_as(expired, "02", enddate="2026-11-19 00:00:00"))
    assert ended["infcode"] == 0, ended["err_msg"]
    for psn_no in (unfiled, expired):
        _, settled = await away(office).stay(psn_no, insutype=SCHEME)
        assert money(settled) == (Decimal("0.4"), Decimal("1720.00"), Decimal("3400.00"))


async def test_a_revoked_filing_files_the_days_before_its_revocation_only(office: Office) -> None:
    """A resident filing (02) from 2026-11-01, revoked with 2502 today: the stay of 2026-11-20 was filed
    (0.60: 2,580.00 pooled, 2,540.00 cash); a stay today is not: the year's second admission, deductible
    300.00 × 0.5 = 150.00 (the demo's factor), (4,600.00 − 150.00) × 0.40 = 1,780.00 pooled, cash
    5,120.00 − 1,780.00 = 3,340.00."""
    await region_b(office)
    await post_by_kind_policy(office.api)
    psn_no = await person(office, 24)
    filed = await office.send("2501", filed_as(psn_no, "02"))
    sn = filed["output"]["result"]["trt_dcla_detl_sn"]
    revoked = await office.send("2502", {"data": {"psn_no": psn_no, "trt_dcla_detl_sn": sn, "memo": "回乡"}})
    assert revoked["infcode"] == 0, revoked["err_msg"]
    today = now_china()
    assert revoked["output"]["result"]["revoked_on"] == today.date().isoformat()
    counter = away(office)
    _, before = await counter.stay(psn_no, insutype=SCHEME)
    assert money(before) == (Decimal("0.6"), Decimal("2580.00"), Decimal("2540.00"))
    when = (today - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")
    _, after = await counter.stay(psn_no, insutype=SCHEME, when=when)
    assert amounts(after)[4:] == (Decimal("150.00"), Decimal("0.4"), Decimal("1780.00"), Decimal("3340.00"))


async def test_an_unknown_kind_is_refused_and_nothing_is_filed(office: Office) -> None:
    psn_no = await person(office, 25)
    for kind in ("07", "00", "长期"):
        refused(await office.send("2501", filed_as(psn_no, kind)), "E_INPUT")
    assert await office.filings() == 0


def trtinfo(answer: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """2001's rows: (fund, entitled, check type, kind of the filing covering the care)."""
    assert answer["infcode"] == 0, answer["err_msg"]
    rows = answer["output"]["trtinfo"]
    return [(r["fund_pay_type"], r["trt_enjymnt_flag"], r["trt_chk_type"], r["dcla_type"]) for r in rows]


def both(kind: str) -> list[tuple[str, str, str, str]]:
    """The pooled fund's and catastrophic insurance's rows of an entitled stay (the policy counts stays
    toward 390200), each with the kind ``kind``."""
    return [("390100", "1", "01", kind), ("390200", "1", "01", kind)]


async def test_2001_and_5304_show_the_kind_of_the_filing(office: Office) -> None:
    """2001 answers the kind whose filed ratio a stay would get (``dcla_type``); 5304 转院信息查询 lists the
    person's referral / out-of-area filings with their kinds. The person files temporary care (06) for
    region B, then as a resident elsewhere (02) for B's hospital, and had a 05 filing for B that ended on
    2026-11-10. At B's hospital on 2026-11-20 the 06 alone would take 10 points off, the 02 none: the 02 is
    the one that applies (the fewest points off)."""
    await region_b(office)
    await post_by_kind_policy(office.api)
    psn_no = await person(office, 26)
    ask = {
        "data": {"psn_no": psn_no, "insutype": SCHEME, "med_type": "21", "begntime": "2026-11-20 10:00:00"}
    }
    counter = away(office)
    # Unfiled: entitled at B's hospital (the unfiled cut applies), no kind.
    assert trtinfo(await counter.send("2001", ask)) == both("")
    ended = filed_as(psn_no, "05", begndate="2026-11-01 00:00:00", enddate="2026-11-10 00:00:00",
                     refl_date="2026-11-01 00:00:00")  # fmt: skip
    temporary = await office.send("2501", ended)
    assert temporary["infcode"] == 0, temporary["err_msg"]
    first = await office.send("2501", filed_as(psn_no, "06"))
    assert first["infcode"] == 0, first["err_msg"]
    assert trtinfo(await counter.send("2001", ask)) == both("06")
    second = await office.send("2501", filed_as(psn_no, "02", reflin_medins_no=AWAY_HOSPITAL))
    assert second["infcode"] == 0, second["err_msg"]
    assert trtinfo(await counter.send("2001", ask)) == both("02")
    # At A's own hospital no out-of-area filing covers the care: no kind.
    home = Counter(office, HOSPITAL, REGION, sign_as=None)
    assert trtinfo(await home.send("2001", ask)) == both("")

    def listed(answer: dict[str, Any]) -> list[tuple[str, str, str, str, str | None, str]]:
        assert answer["infcode"] == 0, answer["err_msg"]
        return [
            (r["trt_dcla_detl_sn"], r["dcla_type"], r["mdtrtarea_admdvs"], r["reflin_medins_no"],
             r.get("enddate"), r["vali_flag"])
            for r in answer["output"]["refmedin"]
        ]  # fmt: skip

    sn_05, sn_06, sn_02 = (a["output"]["result"]["trt_dcla_detl_sn"] for a in (temporary, first, second))
    everything = await office.send("5304", {"data": {"psn_no": psn_no}})
    assert listed(everything) == [
        (sn_05, "05", AWAY_REGION, "", "2026-11-10", "0"),
        (sn_06, "06", AWAY_REGION, "", "2026-12-31", "1"),
        (sn_02, "02", AWAY_REGION, AWAY_HOSPITAL, "2026-12-31", "1"),
    ]
    row = everything["output"]["refmedin"][1]
    assert (row["psn_no"], row["insutype"], row["begndate"], row["refl_date"]) == (
        psn_no, SCHEME, "2026-11-01", "2026-11-01",
    )  # fmt: skip
    assert (row["diag_code"], row["refl_rea"], row["hosp_agre_refl_flag"]) == ("I63.900", "本院无条件", "1")
    # Valid in 2026-11-15..2026-11-30: not the 05 that ended on 2026-11-10.
    period = {"psn_no": psn_no, "begntime": "2026-11-15 00:00:00", "endtime": "2026-11-30 00:00:00"}
    assert [r[0] for r in listed(await office.send("5304", {"data": period}))] == [sn_06, sn_02]
    # The 02 revoked today: it ends yesterday and is no longer valid; 2001 falls back to the 06.
    revoked = await office.send("2502", {"data": {"psn_no": psn_no, "trt_dcla_detl_sn": sn_02, "memo": ""}})
    assert revoked["infcode"] == 0, revoked["err_msg"]
    yesterday = (now_china().date() - timedelta(days=1)).isoformat()
    after = listed(await office.send("5304", {"data": {"psn_no": psn_no}}))
    assert after[2] == (sn_02, "02", AWAY_REGION, AWAY_HOSPITAL, yesterday, "0")
    today = {"data": {**ask["data"], "begntime": now_china().strftime("%Y-%m-%d %H:%M:%S")}}
    assert trtinfo(await counter.send("2001", today)) == both("06")
    refused(await office.send("5304", {"data": {"begntime": "2026-11-15 00:00:00"}}), "E_INPUT")
