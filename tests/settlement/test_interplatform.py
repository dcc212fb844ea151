"""The insured platform's eligibility answer to a treating platform (docs/interface.md, "Between platforms"):
coverage, scheme and insured region on the day of care, the year's totals as the policy reads them and the
filings in force; nothing written. Over REST with a service token, on both backends.

The person's one purchase this year (demo policy, outpatient pooling: 20.00 yearly deductible, 50 %): 100 of
item A at 0.50 = 50.00 in the policy range; deductible 20.00; pooled (50.00 − 20.00) × 50 % = 15.00."""

from __future__ import annotations

from typing import Any

from settlement.eligibility.models import YearAccumulator
from sqlmodel import func, select

from shared.auth import ENROLLMENT_CLERK, SERVICE
from tests.settlement.conftest import REGION, SettlementApi, new_person, purchase
from tests.support.apps import bearer

URL = "/api/v1/interplatform/eligibility"


def query(psn_no: str, **changes: Any) -> dict[str, Any]:
    return {
        "msgid": "SZ-0001",
        "platform": "gd-shenzhen",
        "psn_no": psn_no,
        "insutype": "390",
        "begntime": "2026-11-21T09:00:00+08:00",
        **changes,
    }


async def ask(api: SettlementApi, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(URL, body, headers=bearer(SERVICE, subject="gd-shenzhen"))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def accumulator_rows(api: SettlementApi) -> int:
    async with api.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(YearAccumulator)) or 0)


async def test_a_treating_platform_reads_coverage_totals_and_filings(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    await settlement_api.register_chronic(psn_no, "E11")
    bought = await settlement_api.post(
        "/api/v1/pharmacy-settlements", purchase(psn_no, certno, [("A", "100", "0.5", 5000)])
    )
    assert bought.status_code == 200, bought.text
    assert bought.json()["fund_paid_total_fen"] == 1500  # (50.00 − 20.00) × 50 %
    rows = await accumulator_rows(settlement_api)

    answer = await ask(settlement_api, query(psn_no))
    assert (answer["covered"], answer["reason"], answer["on"]) == (True, None, "2026-11-21")
    assert (answer["insutype"], answer["coverage_insutype"], answer["insuplc_admdvs"]) == (
        "390",
        "390",
        REGION,
    )
    # The year so far: the 20.00 deductible met, 15.00 paid by outpatient pooling, one settlement.
    totals = answer["totals"]
    assert (totals["outpatient_deductible_fen"], totals["outpatient_paid_fen"], totals["admissions"]) == (
        2000,
        1500,
        0,
    )
    assert answer["settlement_count"] == 1
    assert (answer["chronic_diseases"], answer["referral_regions"]) == (["E11"], [])
    assert await accumulator_rows(settlement_api) == rows  # read, nothing written


async def test_not_covered_is_an_answer_with_its_reason(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    # A day of 2025, when the person was not insured; and a person this platform does not know.
    for body in (query(psn_no, begntime="2025-06-01T09:00:00+08:00"), query("999999999999")):
        answer = await ask(settlement_api, body)
        assert answer["covered"] is False and answer["reason"].startswith("[NOT_COVERED]"), answer
        assert answer["totals"] == {} and answer["insuplc_admdvs"] is None


async def test_bad_input_and_other_roles_are_refused(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    service = bearer(SERVICE, subject="gd-shenzhen")
    for body in (
        query(psn_no, insutype="999"),
        query(psn_no, platform="gd shenzhen; drop"),
        query(psn_no, begntime="yesterday"),
        query(psn_no, begntime="2026-11-21T09:00:00"),  # no timezone
        query(psn_no, begntime="9999-12-31T23:59:59-23:59"),
        {**query(psn_no), "fixmedins_code": "H1"},
    ):
        refused = await settlement_api.post(URL, body, headers=service)
        assert refused.status_code == 422, (body, refused.text)
        assert "sql" not in refused.text.lower()
    clerk = await settlement_api.post(URL, query(psn_no), headers=bearer(ENROLLMENT_CLERK))
    assert clerk.status_code == 403
