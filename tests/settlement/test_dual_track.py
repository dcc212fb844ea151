"""Dual track (双轨运行) and switch-over in one pooling region: before the region's unified_from each person
settles under their legacy scheme's policy and on its sub-ledger, from it under 390; a stay admitted before
the switch-over settles under the scheme it was admitted under. Demo policies (policy/document.py):
391 outpatient 30.00 deductible, 40 %; 380 outpatient no deductible, 30 %, inpatient level 2 200.00,
55 %; 390 outpatient 20.00, 50 %. Item A is 甲 (all in range), B is 乙 (10 % paid first)."""

from __future__ import annotations

from typing import Any

from settlement.policy.document import jinzhai_legacy_demo

from tests.settlement.conftest import HOSPITAL, REGION, SettlementApi, new_person, purchase
from tests.settlement.test_encounters import _line, _ok, _open, _settle

SWITCHOVER = {
    "admdvs": REGION,
    "unified_from": "2026-01-01",
    "approved_by": "县医保局",
    "document_ref": "金政〔2025〕88号",
}


async def legacy_region(api: SettlementApi) -> None:
    for insutype in ("391", "380"):
        policy = {
            "admdvs": REGION,
            "insutype": insutype,
            "name": f"{insutype} 旧制度",
            "effective_from": "2025-01-01",
            "effective_to": "2025-12-31",
            "document": jinzhai_legacy_demo(insutype).model_dump(mode="json"),
        }
        response = await api.post("/api/v1/policies", policy)
        assert response.status_code == 201, response.text
    assert (await api.post("/api/v1/scheme-switchovers", SWITCHOVER)).status_code == 201


async def buy(
    api: SettlementApi, psn_no: str, certno: str, day: str, insutype: str = "390"
) -> dict[str, Any]:
    # 200 x 0.50 = 100.00 of item A, all in policy range.
    body = purchase(psn_no, certno, [("A", "200", "0.5", 10000)], begntime=f"{day}T10:00:00+08:00")
    response = await api.post("/api/v1/pharmacy-settlements", {**body, "insutype": insutype})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_each_person_settles_under_their_scheme_until_the_switchover(
    settlement_api: SettlementApi,
) -> None:
    api = settlement_api
    await legacy_region(api)
    urban_psn, urban_cert = new_person(21)
    rural_psn, rural_cert = new_person(23)
    await api.cover(urban_psn, urban_cert, 2025, insutype="391", enrollment_id=1)
    await api.cover(urban_psn, urban_cert, 2026, insutype="390", enrollment_id=2)
    await api.cover(rural_psn, rural_cert, 2025, insutype="380", enrollment_id=3)
    # Enrolled for 2026 before the merger was decided: still an NCMS enrollment.
    await api.cover(rural_psn, rural_cert, 2026, insutype="380", enrollment_id=4)

    # 2025, dual track. URBMI: (100.00 - 30.00) x 40 % = 28.00; NCMS: 100.00 x 30 % = 30.00.
    urban_2025 = await buy(api, urban_psn, urban_cert, "2025-11-20")
    rural_2025 = await buy(api, rural_psn, rural_cert, "2025-11-20")
    assert (urban_2025["insutype"], urban_2025["pooled_fund_paid_fen"], urban_2025["cash_paid_fen"]) == (
        "391",
        2800,
        7200,
    )
    assert (rural_2025["insutype"], rural_2025["pooled_fund_paid_fen"], rural_2025["cash_paid_fen"]) == (
        "380",
        3000,
        7000,
    )
    # A HIS that still names the legacy scheme gets the same.
    assert (await buy(api, rural_psn, rural_cert, "2025-11-21", insutype="380"))["insutype"] == "380"

    # 2026, unified: (100.00 - 20.00) x 50 % = 40.00 for both, on 390, whatever the request names.
    urban_2026 = await buy(api, urban_psn, urban_cert, "2026-11-20")
    rural_2026 = await buy(api, rural_psn, rural_cert, "2026-11-20", insutype="380")
    for answer in (urban_2026, rural_2026):
        assert (answer["insutype"], answer["pooled_fund_paid_fen"], answer["cash_paid_fen"]) == (
            "390",
            4000,
            6000,
        )


async def test_a_stay_admitted_before_the_switchover_settles_under_its_legacy_scheme(
    settlement_api: SettlementApi,
) -> None:
    api = settlement_api
    await legacy_region(api)
    psn_no, certno = new_person(25)
    await api.cover(psn_no, certno, 2025, insutype="380", enrollment_id=5)
    await api.cover(psn_no, certno, 2026, insutype="390", enrollment_id=6)
    stay = await _ok(
        api,
        "/api/v1/encounters",
        _open(psn_no, certno, "inpatient", "21", begntime="2025-12-20T09:00:00+08:00"),
    )
    assert stay["insutype"] == "380"
    base = f"/api/v1/encounters/{stay['mdtrt_id']}"
    line = {**_line("1", "B", "100", "50", 500000), "fee_ocur_time": "2025-12-21T10:00:00+08:00"}
    await _ok(api, f"{base}/fees", {"fixmedins_code": HOSPITAL, "lines": [line]})
    await _ok(api, f"{base}/discharge", {"fixmedins_code": HOSPITAL, "endtime": "2026-01-05T10:00:00+08:00"})
    settled = await _ok(api, f"{base}/settlement", _settle(psn_no, certno, 500000))
    # 5,000.00 = 500.00 paid first (乙 10 %) + 4,500.00 in range; NCMS level 2: deductible 200.00, 55 %:
    # (4,500.00 - 200.00) x 55 % = 2,365.00 from the fund, 2,635.00 for the patient.
    assert (settled["insutype"], settled["deductible_fen"], settled["pooled_fund_paid_fen"]) == (
        "380",
        20000,
        236500,
    )
    assert settled["cash_paid_fen"] == 263500


async def test_switchover_is_recorded_once_on_a_year_boundary(settlement_api: SettlementApi) -> None:
    api = settlement_api
    created = await api.post("/api/v1/scheme-switchovers", SWITCHOVER)
    assert created.status_code == 201
    again = await api.post("/api/v1/scheme-switchovers", SWITCHOVER)
    assert (again.status_code, again.json()["unified_from"]) == (200, "2026-01-01")
    moved = await api.post("/api/v1/scheme-switchovers", {**SWITCHOVER, "unified_from": "2027-01-01"})
    assert (moved.status_code, moved.json()["error"]["code"]) == (409, "SWITCHOVER_EXISTS")
    mid_year = await api.post(
        "/api/v1/scheme-switchovers", {**SWITCHOVER, "admdvs": "341522", "unified_from": "2026-07-01"}
    )
    assert (mid_year.status_code, mid_year.json()["error"]["code"]) == (422, "SWITCHOVER_NOT_YEAR_START")
    listed = (await api.client.get("/api/v1/scheme-switchovers")).json()
    assert [(s["admdvs"], s["unified_from"]) for s in listed] == [(REGION, "2026-01-01")]
