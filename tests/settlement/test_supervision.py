"""Fraud-signal rules (each with a crafted scenario that raises it and one that must not), the review queue,
the daily batch, and sanctions: a suspended institution and a person on full self-advance cannot settle.
Every supervisory act records who did it as the bearer token names them (subject and roles), never as a
name typed into the request."""

from __future__ import annotations

import itertools
import json
from typing import Any

from settlement.supervision.models import Sanction, SignalHit, SignalRule, SupervisionAudit
from sqlmodel import col, select

from shared.auth import AUDITOR
from tests.settlement.conftest import HOSPITAL, PHARMACY, REGION, SettlementApi, new_person, purchase
from tests.support.apps import bearer

#: Two supervisors, each with their own token: who acts is the token's subject.
INSPECTOR = bearer(AUDITOR, subject="inspector-wangwu")
CHIEF = bearer(AUDITOR, subject="chief-zhaoliu")
_seq = itertools.count(1)
PHARMACY_2 = "P34152400002"
PHARMACY_3 = "P34152400003"
HOSPITAL_2 = "H34152400002"


async def _institution(api: SettlementApi, code: str, kind: str = "2", level: str = "9") -> None:
    body = {
        "fixmedins_code": code,
        "fixmedins_name": f"机构{code}",
        "fixmedins_type": kind,
        "hosp_lv": level,
        "admdvs": REGION,
        "agreement_begin": "2025-01-01",
    }
    assert (await api.post("/api/v1/institutions", body)).status_code == 201


async def _buy(
    api: SettlementApi,
    psn_no: str,
    certno: str,
    at: str,
    *,
    fixmedins_code: str = PHARMACY,
    lines: list[tuple[str, str, str, int]] | None = None,
    prd_days: str | None = None,
) -> dict[str, Any]:
    body = purchase(
        psn_no,
        certno,
        lines or [("A", "10", "0.5", 500)],
        fixmedins_code=fixmedins_code,
        begntime=f"2026-11-{at}:00+08:00",
    )
    if prd_days is not None:
        for line in body["lines"]:
            line["prd_days"] = prd_days
    response = await api.post("/api/v1/pharmacy-settlements", body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def _hits(api: SettlementApi, rule_code: str, subject: str) -> list[dict[str, Any]]:
    response = await api.client.get(
        "/api/v1/supervision/hits", params={"rule_code": rule_code, "subject": subject}
    )
    assert response.status_code == 200
    hits: list[dict[str, Any]] = response.json()
    return hits


async def _person(api: SettlementApi) -> tuple[str, str]:
    psn_no, certno = new_person()
    await api.cover(psn_no, certno)
    return psn_no, certno


# --- same card at two institutions within a short window ------------------------------------------------


async def test_one_card_at_two_pharmacies_within_the_window_is_a_hit(settlement_api: SettlementApi) -> None:
    await _institution(settlement_api, PHARMACY_2)
    psn_no, certno = await _person(settlement_api)
    first = await _buy(settlement_api, psn_no, certno, "20T10:00", fixmedins_code=PHARMACY)
    second = await _buy(settlement_api, psn_no, certno, "20T10:45", fixmedins_code=PHARMACY_2)
    [hit] = await _hits(settlement_api, "card_two_institutions", psn_no)
    assert (hit["found_by"], hit["status"], hit["setl_id"]) == ("settlement", "open", second["setl_id"])
    assert hit["evidence"]["gap_minutes"] == 45
    assert [s["setl_id"] for s in hit["evidence"]["settlements"]] == [first["setl_id"], second["setl_id"]]
    assert [s["fixmedins_code"] for s in hit["evidence"]["settlements"]] == [PHARMACY, PHARMACY_2]


async def test_two_pharmacies_hours_apart_or_one_pharmacy_twice_is_no_hit(
    settlement_api: SettlementApi,
) -> None:
    await _institution(settlement_api, PHARMACY_2)
    psn_no, certno = await _person(settlement_api)
    await _buy(settlement_api, psn_no, certno, "20T08:00", fixmedins_code=PHARMACY)
    await _buy(settlement_api, psn_no, certno, "20T08:30", fixmedins_code=PHARMACY)  # same place: no
    await _buy(settlement_api, psn_no, certno, "20T10:31", fixmedins_code=PHARMACY_2)  # 121 minutes: no
    assert await _hits(settlement_api, "card_two_institutions", psn_no) == []


# --- settlements per person per day ---------------------------------------------------------------------


async def test_more_settlements_in_a_day_than_the_threshold_is_one_hit(settlement_api: SettlementApi) -> None:
    psn_no, certno = await _person(settlement_api)
    settled = [await _buy(settlement_api, psn_no, certno, f"21T0{h}:00") for h in range(1, 6)]
    # Default threshold 3 a day: the 4th raises it, the 5th is the same person-day (one hit).
    [hit] = await _hits(settlement_api, "daily_count", psn_no)
    assert hit["setl_id"] == settled[3]["setl_id"]
    assert [s["setl_id"] for s in hit["evidence"]["settlements"]] == [s["setl_id"] for s in settled[:4]]


async def test_a_settlement_of_earlier_care_counts_in_its_place_in_the_day(
    settlement_api: SettlementApi,
) -> None:
    psn_no, certno = await _person(settlement_api)
    later = [
        await _buy(settlement_api, psn_no, certno, f"21T1{h}:00") for h in range(3)
    ]  # 10, 11, 12 o'clock
    earliest = await _buy(settlement_api, psn_no, certno, "21T09:00")  # sent last, care at 09:00
    [hit] = await _hits(settlement_api, "daily_count", psn_no)
    assert hit["setl_id"] == earliest["setl_id"]
    assert [s["setl_id"] for s in hit["evidence"]["settlements"]] == [
        s["setl_id"] for s in (earliest, *later)
    ]


async def test_settlements_up_to_the_threshold_or_on_two_days_are_no_hit(
    settlement_api: SettlementApi,
) -> None:
    psn_no, certno = await _person(settlement_api)
    for at in ("21T08:00", "21T09:00", "21T10:00", "22T08:00", "22T09:00"):
        await _buy(settlement_api, psn_no, certno, at)
    assert await _hits(settlement_api, "daily_count", psn_no) == []


async def test_a_configured_threshold_applies_and_the_change_is_audited(
    settlement_api: SettlementApi,
) -> None:
    changed = await settlement_api.client.put(
        "/api/v1/supervision/rules/daily_count", json={"params": {"max_per_day": 1}}, headers=INSPECTOR
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["params"] == {"max_per_day": 1}
    assert (changed.json()["updated_by"], changed.json()["updated_roles"]) == (
        "inspector-wangwu",
        ["auditor"],
    )
    psn_no, certno = await _person(settlement_api)
    await _buy(settlement_api, psn_no, certno, "21T08:00")
    assert await _hits(settlement_api, "daily_count", psn_no) == []
    await _buy(settlement_api, psn_no, certno, "21T09:00")
    assert len(await _hits(settlement_api, "daily_count", psn_no)) == 1
    audit = await settlement_api.client.get(
        "/api/v1/supervision/audit", params={"object_type": "rule", "object_id": "daily_count"}
    )
    [row] = audit.json()
    assert (row["operator"], row["roles"], row["action"]) == (
        "inspector-wangwu",
        ["auditor"],
        "rule_configured",
    )
    assert '"max_per_day": 1' in row["detail"]
    async with settlement_api.db.session() as session:
        stored = await session.get(SignalRule, "daily_count")
    assert stored is not None and (stored.updated_by, stored.updated_roles) == ("inspector-wangwu", "auditor")


async def test_a_disabled_rule_raises_nothing(settlement_api: SettlementApi) -> None:
    off = {"enabled": False, "params": {"max_per_day": 1}}
    assert (
        await settlement_api.client.put("/api/v1/supervision/rules/daily_count", json=off, headers=INSPECTOR)
    ).status_code == 200
    psn_no, certno = await _person(settlement_api)
    for at in ("21T08:00", "21T09:00", "21T10:00"):
        await _buy(settlement_api, psn_no, certno, at)
    assert await _hits(settlement_api, "daily_count", psn_no) == []


async def test_bad_rule_configuration_is_refused_and_changes_nothing(settlement_api: SettlementApi) -> None:
    for code, body, status, error in (
        ("daily_count", {"params": {"max_per_day": 0}}, 422, "BAD_RULE_PARAMS"),
        ("daily_count", {"params": {"nonsense": 1}}, 422, "BAD_RULE_PARAMS"),
        ("daily_count", {"params": {}, "enabled": "sometimes"}, 422, "VALIDATION_ERROR"),
        ("daily_count", {"params": {}, "operator": ""}, 422, "VALIDATION_ERROR"),
        # A name typed into the body that is not the token's subject is refused, not recorded.
        ("daily_count", {"params": {"max_per_day": 1}, "operator": "稽核科王五"}, 403, "OPERATOR_MISMATCH"),
        ("no_such_rule", {"params": {}}, 404, "RULE_NOT_FOUND"),
    ):
        response = await settlement_api.client.put(
            f"/api/v1/supervision/rules/{code}", json=body, headers=INSPECTOR
        )
        assert (response.status_code, response.json()["error"]["code"]) == (status, error)
    rules = (await settlement_api.client.get("/api/v1/supervision/rules")).json()
    daily = next(r for r in rules if r["code"] == "daily_count")
    assert (daily["params"], daily["updated_by"]) == ({"max_per_day": 3}, None)
    assert (await settlement_api.client.get("/api/v1/supervision/audit")).json() == []


# --- a drug bought again before the prescribed days' supply runs out -------------------------------------


async def test_buying_again_while_the_supply_lasts_is_a_hit(settlement_api: SettlementApi) -> None:
    psn_no, certno = await _person(settlement_api)
    first = await _buy(settlement_api, psn_no, certno, "01T09:00", prd_days="30")
    again = await _buy(settlement_api, psn_no, certno, "11T09:00", prd_days="30")
    [hit] = await _hits(settlement_api, "days_supply", psn_no)
    # 30 days from 1 November last until 1 December: on 11 November 20 days are left (tolerance 3).
    assert hit["evidence"]["supplied_until"] == "2026-12-01"
    assert hit["evidence"]["days_left"] == 20
    assert (hit["evidence"]["earlier"]["setl_id"], hit["setl_id"]) == (first["setl_id"], again["setl_id"])


async def test_buying_when_the_supply_is_nearly_used_is_no_hit(settlement_api: SettlementApi) -> None:
    psn_no, certno = await _person(settlement_api)
    await _buy(settlement_api, psn_no, certno, "01T09:00", prd_days="10")
    await _buy(settlement_api, psn_no, certno, "09T09:00", prd_days="10")  # 2 days left: within tolerance
    await _buy(settlement_api, psn_no, certno, "20T09:00")  # no days' supply sent: nothing to compare
    await _buy(settlement_api, psn_no, certno, "21T09:00", lines=[("B", "1", "10", 1000)], prd_days="5")
    assert await _hits(settlement_api, "days_supply", psn_no) == []


# --- the rules of one swipe together (one read for all of them) -----------------------------------------


async def _the_same_drug_four_times_in_a_morning(api: SettlementApi) -> tuple[str, list[dict[str, Any]]]:
    """Drug A with 30 days' supply at PHARMACY at 08:00, 09:00 and 10:00, then at PHARMACY_2 at 10:30."""
    psn_no, certno = await _person(api)
    settled = [
        await _buy(api, psn_no, certno, f"21T{at}", prd_days="30") for at in ("08:00", "09:00", "10:00")
    ]
    settled.append(await _buy(api, psn_no, certno, "21T10:30", fixmedins_code=PHARMACY_2, prd_days="30"))
    return psn_no, settled


async def test_one_swipe_raises_every_rule_it_breaks(settlement_api: SettlementApi) -> None:
    await _institution(settlement_api, PHARMACY_2)
    psn_no, settled = await _the_same_drug_four_times_in_a_morning(settlement_api)
    ids = [s["setl_id"] for s in settled]
    # The 4th of the day (threshold 3): one daily hit, its evidence the four in time order.
    [daily] = await _hits(settlement_api, "daily_count", psn_no)
    assert daily["setl_id"] == ids[3]
    assert [s["setl_id"] for s in daily["evidence"]["settlements"]] == ids
    # At PHARMACY_2 at 10:30: 09:00 (90 min) and 10:00 (30 min) at PHARMACY are within 120 min, 08:00 not.
    card = await _hits(settlement_api, "card_two_institutions", psn_no)
    assert sorted(h["evidence"]["gap_minutes"] for h in card) == [30, 90]
    assert {h["setl_id"] for h in card} == {ids[3]}
    # Each purchase while an earlier 30-day supply lasts (until 21 December, 30 days left): 1 + 2 + 3 hits.
    supply = await _hits(settlement_api, "days_supply", psn_no)
    pairs = sorted((h["evidence"]["earlier"]["setl_id"], h["setl_id"]) for h in supply)
    assert pairs == sorted((ids[i], ids[j]) for j in range(1, 4) for i in range(j))
    assert {(h["evidence"]["supplied_until"], h["evidence"]["days_left"]) for h in supply} == {
        ("2026-12-21", 30)
    }


async def test_a_rule_switched_off_leaves_the_others_of_the_swipe_working(
    settlement_api: SettlementApi,
) -> None:
    await _institution(settlement_api, PHARMACY_2)
    off = {"enabled": False, "params": {}}
    response = await settlement_api.client.put(
        "/api/v1/supervision/rules/days_supply", json=off, headers=INSPECTOR
    )
    assert response.status_code == 200
    psn_no, settled = await _the_same_drug_four_times_in_a_morning(settlement_api)
    assert await _hits(settlement_api, "days_supply", psn_no) == []
    [daily] = await _hits(settlement_api, "daily_count", psn_no)
    assert daily["setl_id"] == settled[3]["setl_id"]
    assert len(await _hits(settlement_api, "card_two_institutions", psn_no)) == 2


# --- overlapping admissions ------------------------------------------------------------------------------


async def _stay(
    api: SettlementApi, psn_no: str, certno: str, hospital: str, begin: str, end: str
) -> dict[str, Any]:
    n = next(_seq)
    opened = await api.post(
        "/api/v1/encounters",
        {
            "msgid": f"OPEN-SV{n:06d}",
            "setting": "inpatient",
            "fixmedins_code": hospital,
            "mdtrtarea_admvs": REGION,
            "insuplc_admdvs": REGION,
            "psn_no": psn_no,
            "insutype": "390",
            "ipt_otp_no": f"ZY-SV{n:06d}",
            "med_type": "21",
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": certno,
            "begntime": f"2026-11-{begin}:00+08:00",
        },
    )
    assert opened.status_code == 200, opened.text
    base = f"/api/v1/encounters/{opened.json()['mdtrt_id']}"
    line = {
        "feedetl_sn": "1",
        "med_list_codg": "B",
        "medins_list_codg": "H1",
        "cnt": "10",
        "pric": "50",
        "amount_fen": 50000,
        "fee_ocur_time": f"2026-11-{begin}:00+08:00",
    }
    for url, body in (
        (f"{base}/fees", {"fixmedins_code": hospital, "lines": [line]}),
        (f"{base}/discharge", {"fixmedins_code": hospital, "endtime": f"2026-11-{end}:00+08:00"}),
    ):
        assert (await api.post(url, body)).status_code == 200
    settled = await api.post(
        f"{base}/settlement",
        {
            "msgid": f"SETL-SV{n:06d}",
            "fixmedins_code": hospital,
            "psn_no": psn_no,
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": certno,
            "medfee_sumamt_fen": 50000,
        },
    )
    assert settled.status_code == 200, settled.text
    result: dict[str, Any] = settled.json()
    return result


async def test_two_stays_at_the_same_time_are_a_hit(settlement_api: SettlementApi) -> None:
    await _institution(settlement_api, HOSPITAL_2, kind="1", level="2")
    psn_no, certno = await _person(settlement_api)
    first = await _stay(settlement_api, psn_no, certno, HOSPITAL, "01T09:00", "10T09:00")
    second = await _stay(settlement_api, psn_no, certno, HOSPITAL_2, "05T09:00", "08T09:00")
    [hit] = await _hits(settlement_api, "overlapping_admissions", psn_no)
    assert hit["setl_id"] == second["setl_id"]
    assert hit["evidence"]["overlap_hours"] == 72  # 5 Nov 09:00 to 8 Nov 09:00, inside the first stay
    assert [s["mdtrt_id"] for s in hit["evidence"]["stays"]] == [first["mdtrt_id"], second["mdtrt_id"]]


async def test_a_transfer_on_the_discharge_day_is_no_hit(settlement_api: SettlementApi) -> None:
    await _institution(settlement_api, HOSPITAL_2, kind="1", level="2")
    psn_no, certno = await _person(settlement_api)
    await _stay(settlement_api, psn_no, certno, HOSPITAL, "01T09:00", "10T09:00")
    # Admitted at the second hospital 3 hours before the first discharge (a transfer): under 12 hours.
    await _stay(settlement_api, psn_no, certno, HOSPITAL_2, "10T06:00", "15T09:00")
    await _stay(settlement_api, psn_no, certno, HOSPITAL, "16T09:00", "18T09:00")
    assert await _hits(settlement_api, "overlapping_admissions", psn_no) == []


# --- the daily batch: institutions against their peers ---------------------------------------------------


async def _peer_setup(api: SettlementApi) -> None:
    for code in (PHARMACY_2, PHARMACY_3):
        await _institution(api, code)
    for rule in ("peer_average_cost", "peer_refusal_rate"):
        body = {"params": {"min_settlements": 2, "min_peers": 2}}
        url = f"/api/v1/supervision/rules/{rule}"
        assert (await api.client.put(url, json=body, headers=INSPECTOR)).status_code == 200


async def test_an_institution_far_above_its_peers_is_found_by_the_batch(
    settlement_api: SettlementApi,
) -> None:
    await _peer_setup(settlement_api)
    # Each purchase by a different person (no person-level signal), on 18 November.
    bills = {
        # P1: two purchases of 40.00 (class A at the 0.5 cap): average 40.00.
        PHARMACY: [[("A", "80", "0.5", 4000)], [("A", "80", "0.5", 4000)]],
        # P2 and P3: 10.00 each, P3 with 6.00 丙类 in each purchase: refused 12.00 of 20.00 = 60 %.
        PHARMACY_2: [[("A", "20", "0.5", 1000)], [("A", "20", "0.5", 1000)]],
        PHARMACY_3: [[("A", "8", "0.5", 400), ("C", "1", "6", 600)]] * 2,
    }
    for code, purchases in bills.items():
        for i, lines in enumerate(purchases):
            psn_no, certno = await _person(settlement_api)
            await _buy(settlement_api, psn_no, certno, f"18T1{i}:00", fixmedins_code=code, lines=lines)
    scan = await settlement_api.client.post("/api/v1/supervision/scans", params={"day": "2026-11-18"})
    assert scan.status_code == 200, scan.text
    found = {(h["rule_code"], h["subject"]) for h in scan.json()["hits"]}
    # Average cost: P1 40.00 against its peers' (4 x 10.00) / 4 = 10.00 -> 4 x > 1.5 x: a hit. P2 and P3
    # 10.00 against (80.00 + 20.00) / 4 = 25.00: no.
    # Refusal rate: P3 12.00 / 20.00 = 60 % against 0 / 100.00 = 0 % -> a hit; P1 and P2 0 %: no.
    assert found == {("peer_average_cost", PHARMACY), ("peer_refusal_rate", PHARMACY_3)}
    assert scan.json()["settlements_checked"] == 6
    cost = next(h for h in scan.json()["hits"] if h["rule_code"] == "peer_average_cost")
    assert cost["evidence"]["institution"] == {
        "fixmedins_code": PHARMACY,
        "settlements": 2,
        "medfee_sumamt_fen": 8000,
        "refused_fen": 0,
    }
    assert sum(p["medfee_sumamt_fen"] for p in cost["evidence"]["peers"]) == 4000
    # A rerun of the batch raises nothing new.
    rerun = await settlement_api.client.post("/api/v1/supervision/scans", params={"day": "2026-11-18"})
    assert rerun.json()["new_hits"] == 0


async def test_institutions_close_to_their_peers_raise_nothing(settlement_api: SettlementApi) -> None:
    await _peer_setup(settlement_api)
    for code, amount in ((PHARMACY, 1400), (PHARMACY_2, 1000), (PHARMACY_3, 1000)):
        for i in range(2):
            psn_no, certno = await _person(settlement_api)
            cnt = str(amount // 50)
            await _buy(
                settlement_api,
                psn_no,
                certno,
                f"17T1{i}:00",
                fixmedins_code=code,
                lines=[("A", cnt, "0.5", amount)],
            )
    # P1: 14.00 against (4 x 10.00) / 4 = 10.00: 1.4 x, under 1.5 x. Nobody refused anything.
    scan = await settlement_api.client.post("/api/v1/supervision/scans", params={"day": "2026-11-17"})
    assert (scan.json()["settlements_checked"], scan.json()["hits"]) == (6, [])


async def test_the_batch_finds_what_settlement_time_did_not(settlement_api: SettlementApi) -> None:
    rule = "/api/v1/supervision/rules/daily_count"
    off = {"enabled": False, "params": {}}
    assert (await settlement_api.client.put(rule, json=off, headers=INSPECTOR)).status_code == 200
    psn_no, certno = await _person(settlement_api)
    for h in range(1, 5):
        await _buy(settlement_api, psn_no, certno, f"16T0{h}:00")
    on = {"enabled": True, "params": {}}
    assert (await settlement_api.client.put(rule, json=on, headers=INSPECTOR)).status_code == 200
    scan = await settlement_api.client.post(
        "/api/v1/supervision/scans", params={"day": "2026-11-16"}, headers=CHIEF
    )
    [hit] = scan.json()["hits"]
    assert (hit["rule_code"], hit["subject"], hit["found_by"]) == ("daily_count", psn_no, "batch")
    assert len(hit["evidence"]["settlements"]) == 4
    # The run is audited with who ran it and what it raised.
    audit = await settlement_api.client.get(
        "/api/v1/supervision/audit", params={"object_type": "day", "object_id": "2026-11-16"}
    )
    [run] = audit.json()
    assert (run["operator"], run["roles"], run["action"]) == ("chief-zhaoliu", ["auditor"], "scan_run")
    assert json.loads(run["detail"]) == {"settlements_checked": 4, "new_hits": [hit["id"]]}


# --- review ---------------------------------------------------------------------------------------------


async def test_a_hit_is_reviewed_once_with_who_and_why(settlement_api: SettlementApi) -> None:
    psn_no, certno = await _person(settlement_api)
    for h in range(1, 5):
        await _buy(settlement_api, psn_no, certno, f"15T0{h}:00")
    [hit] = await _hits(settlement_api, "daily_count", psn_no)
    url = f"/api/v1/supervision/hits/{hit['id']}/review"
    bad = await settlement_api.client.post(url, json={"decision": "maybe", "note": "x"}, headers=INSPECTOR)
    assert bad.status_code == 422
    review = {"decision": "confirmed", "note": "约谈核实，系代他人购药"}
    typed = await settlement_api.client.post(
        url, json={**review, "operator": "稽核科王五"}, headers=INSPECTOR
    )
    assert (typed.status_code, typed.json()["error"]["code"]) == (403, "OPERATOR_MISMATCH")
    # An older client's `operator` naming the token's own subject is accepted.
    reviewed = await settlement_api.client.post(
        url, json={**review, "operator": "inspector-wangwu"}, headers=INSPECTOR
    )
    assert reviewed.status_code == 200
    assert (
        reviewed.json()["status"],
        reviewed.json()["reviewed_by"],
        reviewed.json()["reviewed_roles"],
    ) == ("confirmed", "inspector-wangwu", ["auditor"])
    again = await settlement_api.client.post(url, json={**review, "decision": "dismissed"}, headers=CHIEF)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "HIT_ALREADY_REVIEWED")
    missing = await settlement_api.client.post(
        "/api/v1/supervision/hits/999999/review", json=review, headers=INSPECTOR
    )
    assert missing.status_code == 404
    async with settlement_api.db.session() as session:
        stored = await session.scalar(select(SignalHit).where(SignalHit.id == hit["id"]))
        audit = list(await session.scalars(select(SupervisionAudit).order_by(col(SupervisionAudit.id))))
    assert stored is not None
    assert (stored.status, stored.reviewed_by, stored.reviewed_roles) == (
        "confirmed",
        "inspector-wangwu",
        "auditor",
    )
    assert [(a.action, a.object_id, a.operator, a.roles) for a in audit] == [
        ("hit_reviewed", str(hit["id"]), "inspector-wangwu", "auditor")
    ]


# --- sanctions ------------------------------------------------------------------------------------------


async def _sanction(api: SettlementApi, **body: Any) -> dict[str, Any]:
    response = await api.post("/api/v1/supervision/sanctions", body, headers=INSPECTOR)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_a_suspended_institution_cannot_settle_in_the_suspension(settlement_api: SettlementApi) -> None:
    psn_no, certno = await _person(settlement_api)
    sanction = await _sanction(
        settlement_api,
        kind="institution_suspension",
        subject=PHARMACY,
        begin_date="2026-11-10",
        end_date="2026-11-20",
        reason="串换药品，暂停医保结算",
    )
    before = await _buy(settlement_api, psn_no, certno, "09T10:00")  # the day before: settles
    assert before["status"] == "settled"
    refused = await settlement_api.post(
        "/api/v1/pharmacy-settlements",
        purchase(psn_no, certno, [("A", "10", "0.5", 500)], begntime="2026-11-15T10:00:00+08:00"),
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "INSTITUTION_SUSPENDED")
    assert "串换药品" in refused.json()["error"]["message"]
    await _buy(settlement_api, psn_no, certno, "21T10:00")  # after the end date: settles again
    assert (sanction["decided_by"], sanction["decided_roles"]) == ("inspector-wangwu", ["auditor"])
    # Ended early (audited), the suspension no longer refuses 15 November.
    ended = await settlement_api.post(
        f"/api/v1/supervision/sanctions/{sanction['id']}/end",
        {"end_date": "2026-11-12", "reason": "整改到位，恢复结算"},
        headers=CHIEF,
    )
    assert ended.status_code == 200
    assert (ended.json()["ended_by"], ended.json()["ended_roles"]) == ("chief-zhaoliu", ["auditor"])
    await _buy(settlement_api, psn_no, certno, "15T10:00")
    audit = (
        await settlement_api.client.get(
            "/api/v1/supervision/audit", params={"object_type": "sanction", "object_id": str(sanction["id"])}
        )
    ).json()
    assert [(a["action"], a["operator"], a["roles"]) for a in audit] == [
        ("sanction_imposed", "inspector-wangwu", ["auditor"]),
        ("sanction_ended", "chief-zhaoliu", ["auditor"]),
    ]
    async with settlement_api.db.session() as session:
        stored = await session.get(Sanction, sanction["id"])
    assert stored is not None
    assert (stored.decided_by, stored.decided_roles, stored.ended_by, stored.ended_roles) == (
        "inspector-wangwu",
        "auditor",
        "chief-zhaoliu",
        "auditor",
    )


async def test_a_suspended_hospital_cannot_admit(settlement_api: SettlementApi) -> None:
    psn_no, certno = await _person(settlement_api)
    await _sanction(
        settlement_api,
        kind="institution_suspension",
        subject=HOSPITAL,
        begin_date="2026-11-01",
        reason="虚假住院",
    )
    refused = await settlement_api.post(
        "/api/v1/encounters",
        {
            "msgid": "OPEN-SUSP-1",
            "setting": "inpatient",
            "fixmedins_code": HOSPITAL,
            "mdtrtarea_admvs": REGION,
            "insuplc_admdvs": REGION,
            "psn_no": psn_no,
            "insutype": "390",
            "ipt_otp_no": "ZY-SUSP-1",
            "med_type": "21",
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": certno,
            "begntime": "2026-11-05T09:00:00+08:00",
        },
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "INSTITUTION_SUSPENDED")


async def test_a_person_on_full_self_advance_settles_nothing(settlement_api: SettlementApi) -> None:
    psn_no, certno = await _person(settlement_api)
    other, other_cert = await _person(settlement_api)
    await _sanction(
        settlement_api,
        kind="full_self_advance",
        subject=psn_no,
        begin_date="2026-11-01",
        reason="出借社保卡且拒不配合调查",
        document_ref="金医保稽〔2026〕3号",
    )
    body = purchase(psn_no, certno, [("A", "10", "0.5", 500)], begntime="2026-11-20T10:00:00+08:00")
    for url in ("/api/v1/pharmacy-settlements/preview", "/api/v1/pharmacy-settlements"):
        refused = await settlement_api.post(url, body)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "FULL_SELF_ADVANCE")
        message = refused.json()["error"]["message"]
        assert "全额垫付" in message and "出借社保卡" in message and "零星报销" in message
    # Nothing was written for them; someone else settles as usual.
    async with settlement_api.db.session() as session:
        from settlement.settlements.models import Settlement

        assert list(await session.scalars(select(Settlement).where(Settlement.psn_no == psn_no))) == []
    await _buy(settlement_api, other, other_cert, "20T10:00")


async def test_bad_sanctions_are_refused_and_change_nothing(settlement_api: SettlementApi) -> None:
    psn_no, _ = await _person(settlement_api)
    base = {"begin_date": "2026-11-01", "reason": "原因说明"}
    for body, status, code in (
        # A name typed into the body that is not the token's subject is refused, not recorded.
        (
            {**base, "kind": "full_self_advance", "subject": psn_no, "operator": "稽核科王五"},
            403,
            "OPERATOR_MISMATCH",
        ),
        ({**base, "kind": "institution_suspension", "subject": "NOSUCH0001"}, 404, "INSTITUTION_NOT_FOUND"),
        ({**base, "kind": "full_self_advance", "subject": "NOBODY"}, 404, "PERSON_NOT_FOUND"),
        (
            {**base, "kind": "full_self_advance", "subject": psn_no, "end_date": "2026-10-01"},
            422,
            "VALIDATION_ERROR",
        ),
        ({**base, "kind": "banishment", "subject": psn_no}, 422, "VALIDATION_ERROR"),
        ({**base, "kind": "full_self_advance", "subject": psn_no, "reason": ""}, 422, "VALIDATION_ERROR"),
        ({**base, "kind": "full_self_advance", "subject": psn_no, "hit_id": 99999}, 404, "HIT_NOT_FOUND"),
    ):
        response = await settlement_api.post("/api/v1/supervision/sanctions", body, headers=INSPECTOR)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), body
    assert (await settlement_api.client.get("/api/v1/supervision/sanctions")).json() == []
    assert (await settlement_api.client.get("/api/v1/supervision/audit")).json() == []
    end = await settlement_api.post(
        "/api/v1/supervision/sanctions/424242/end",
        {"end_date": "2026-11-01", "reason": "原因"},
        headers=CHIEF,
    )
    assert (end.status_code, end.json()["error"]["code"]) == (404, "SANCTION_NOT_FOUND")


async def test_the_same_finding_raised_by_two_transactions_at_once_is_one_hit(
    settlement_api: SettlementApi,
) -> None:
    """Two transactions raise the same facts (a settlement's path and the daily batch, say): the second's
    hit waits for the first's and is dropped once that commits; the second transaction goes on and commits
    what else it wrote (the hit was never a savepoint to roll back, just ``ON CONFLICT DO NOTHING``)."""
    import asyncio

    from settlement.supervision.rules import Finding
    from settlement.supervision.service import _record

    finding = Finding(
        rule_code="DAYS_SUPPLY",
        subject_type="person",
        subject="P-RACE",
        dedupe_key=f"DAYS_SUPPLY:race:{new_person()[0]}",
        summary="同一药品在供药天数内重复购药",
        evidence={"drug": "A", "days_left": 12},
    )
    first_wrote, race_day = asyncio.Event(), f"race-{finding.dedupe_key[-8:]}"

    async def first() -> SignalHit | None:
        async with settlement_api.db.transaction() as session:
            hit = await _record(session, finding, "settlement")
            first_wrote.set()
            await asyncio.sleep(0.3)  # the second one reaches its insert meanwhile
            return hit

    async def second() -> SignalHit | None:
        await first_wrote.wait()
        async with settlement_api.db.transaction() as session:
            hit = await _record(session, finding, "batch")
            session.add(
                SupervisionAudit(
                    operator="auditor", action="scan_run", object_type="day", object_id=race_day, detail="{}"
                )
            )
            return hit

    written, dropped = await asyncio.gather(first(), second())
    assert written is not None and written.id is not None and dropped is None
    async with settlement_api.db.session() as session:
        same = select(SignalHit).where(SignalHit.dedupe_key == finding.dedupe_key)
        hits = (await session.scalars(same)).all()
        audited = select(SupervisionAudit).where(SupervisionAudit.object_id == race_day)
        audits = (await session.scalars(audited)).all()
    assert [(h.id, h.found_by, h.evidence, h.status) for h in hits] == [
        (written.id, "settlement", {"drug": "A", "days_left": 12}, "open")
    ]
    assert len(audits) == 1
