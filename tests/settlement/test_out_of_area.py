"""Out-of-area care at the service (issue 23: every other settlement fixture is in one region, so the
service's own "is this out of area" was never exercised): a person insured in 341524 buying at a pharmacy
of another region, without a filing, gets the demo policy's pooled ratio 10 points lower
(docs/domain.md, "Money out"; the cut is illustrative).

Each purchase is 100 units of item A (甲, 0.50 each, its price cap): 50.00, all in the policy range; the
first purchase of the year meets the 20.00 outpatient deductible."""

from __future__ import annotations

from tests.settlement.conftest import REGION, SettlementApi, new_person, purchase

ELSEWHERE = "341522"
AWAY_PHARMACY = "P34152200001"


async def _settle(api: SettlementApi, fixmedins_code: str, mdtrtarea_admvs: str) -> dict[str, object]:
    psn_no, certno = new_person()
    await api.cover(psn_no, certno)
    body = purchase(psn_no, certno, [("A", "100", "0.5", 5000)], fixmedins_code=fixmedins_code)
    body["mdtrtarea_admvs"] = mdtrtarea_admvs
    response = await api.post("/api/v1/pharmacy-settlements", body)
    assert response.status_code == 200, response.text
    settled: dict[str, object] = response.json()
    return settled


async def test_an_unfiled_purchase_in_another_region_pays_the_lower_ratio(
    settlement_api: SettlementApi,
) -> None:
    created = await settlement_api.post(
        "/api/v1/institutions",
        {
            "fixmedins_code": AWAY_PHARMACY,
            "fixmedins_name": "霍邱县药房",
            "fixmedins_type": "2",
            "hosp_lv": "9",
            "admdvs": ELSEWHERE,
            "agreement_begin": "2025-01-01",
        },
    )
    assert created.status_code == 201, created.text
    local = await _settle(settlement_api, "P34152400001", REGION)
    away = await _settle(settlement_api, AWAY_PHARMACY, ELSEWHERE)
    # Local: (50.00 - 20.00) × 50 % = 15.00. Away, unfiled: (50.00 - 20.00) × (50 % - 10 %) = 12.00.
    assert (local["fund_paid_total_fen"], away["fund_paid_total_fen"]) == (1500, 1200)
    assert (local["deductible_fen"], away["deductible_fen"]) == (2000, 2000)
    assert (local["pool_ratio"], away["pool_ratio"]) == ("0.5000", "0.4000")
    assert "异地就医未备案" in str(away["calc_trace"])
    assert "异地就医未备案" not in str(local["calc_trace"])
