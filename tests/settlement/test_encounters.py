"""Outpatient visits and inpatient stays through the settlement API on a real database, demo policy
(jinzhai_yutian_demo) at a level-2 hospital: inpatient deductible 300.00, 60 %; outpatient pooling 20.00,
50 %; chronic 100.00 fixed up to 500.00; caesarean 300.00. Item B is 乙 (10 % first), C is 丙."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from settlement.eligibility.models import YearAccumulator
from settlement.encounters.models import FeeLineRecord
from settlement.settlements.models import Settlement
from sqlmodel import select

from tests.settlement.conftest import HOSPITAL, PHARMACY, REGION, SettlementApi, new_person

_seq = itertools.count(1)


def _open(psn_no: str, certno: str, setting: str, med_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "msgid": f"OPEN{next(_seq):06d}",
        "setting": setting,
        "fixmedins_code": HOSPITAL,
        "mdtrtarea_admvs": REGION,
        "insuplc_admdvs": REGION,
        "psn_no": psn_no,
        "insutype": "390",
        "ipt_otp_no": f"ZY{next(_seq):06d}",
        "med_type": med_type,
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": certno,
        "begntime": "2026-11-10T09:00:00+08:00",
        **extra,
    }


def _line(sn: str, code: str, cnt: str, pric: str, amount_fen: int, batch: str = "") -> dict[str, Any]:
    return {
        "feedetl_sn": sn,
        "chrg_bchno": batch,
        "med_list_codg": code,
        "medins_list_codg": f"H{sn}",
        "cnt": cnt,
        "pric": pric,
        "amount_fen": amount_fen,
        "fee_ocur_time": "2026-11-11T10:00:00+08:00",
    }


def _settle(psn_no: str, certno: str, total_fen: int, **extra: Any) -> dict[str, Any]:
    return {
        "msgid": f"SETL{next(_seq):06d}",
        "fixmedins_code": HOSPITAL,
        "psn_no": psn_no,
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": certno,
        "medfee_sumamt_fen": total_fen,
        **extra,
    }


async def _ok(api: SettlementApi, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(url, body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def _admissions(api: SettlementApi, psn_no: str) -> int:
    async with api.db.session() as session:
        row = await session.scalar(select(YearAccumulator).where(YearAccumulator.psn_no == psn_no))
    return row.admissions if row is not None else 0


async def test_inpatient_stay_from_admission_to_reversal(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    stay = await _ok(settlement_api, "/api/v1/encounters", _open(psn_no, certno, "inpatient", "21"))
    base = f"/api/v1/encounters/{stay['mdtrt_id']}"
    fees = await _ok(
        settlement_api,
        f"{base}/fees",
        {
            "fixmedins_code": HOSPITAL,
            "lines": [_line("1", "B", "100", "50", 500000), _line("2", "C", "1", "200", 20000)],
        },
    )
    assert [
        (x["self_pay_first_fen"], x["policy_range_fen"], x["fully_self_paid_fen"]) for x in fees["lines"]
    ] == [(50000, 450000, 0), (0, 0, 20000)]
    refused = await settlement_api.post(f"{base}/settlement", _settle(psn_no, certno, 520000))
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "NOT_DISCHARGED")
    await _ok(
        settlement_api,
        f"{base}/discharge",
        {"fixmedins_code": HOSPITAL, "endtime": "2026-11-15T10:00:00+08:00"},
    )
    preview = await _ok(settlement_api, f"{base}/settlement/preview", _settle(psn_no, certno, 520000))
    settled = await _ok(settlement_api, f"{base}/settlement", _settle(psn_no, certno, 520000))
    # 5,200.00 = 500.00 first + 4,500.00 in range + 200.00 丙; deductible 300.00; (4,500 - 300) x 60 % =
    # 2,520.00 from the fund; the patient pays 5,200.00 - 2,520.00 = 2,680.00.
    for s in (preview, settled):
        assert (s["deductible_fen"], s["pooled_fund_paid_fen"], s["cash_paid_fen"]) == (30000, 252000, 268000)
    stored = await settlement_api.client.get(f"/api/v1/settlements/{settled['setl_id']}")
    assert settled == {**stored.json(), "replayed": False}  # the answer reads like the stored settlement
    assert (settled["clr_type"], settled["encounter_kind"], settled["mdtrt_id"]) == (
        "21",
        "inpatient",
        stay["mdtrt_id"],
    )
    assert (await settlement_api.client.get(base, params={"fixmedins_code": HOSPITAL})).json()[
        "status"
    ] == "settled"
    assert await _admissions(settlement_api, psn_no) == 1

    reversal = await _ok(
        settlement_api,
        f"/api/v1/settlements/{settled['setl_id']}/reversal",
        {"msgid": "REV-IP-1", "fixmedins_code": HOSPITAL, "psn_no": psn_no},
    )
    assert reversal["pooled_fund_paid_fen"] == -252000
    assert await _admissions(settlement_api, psn_no) == 0
    # Back to discharged-and-unsettled: the same lines settle again, with the same amounts.
    again = await _ok(settlement_api, f"{base}/settlement", _settle(psn_no, certno, 520000))
    assert again["pooled_fund_paid_fen"] == 252000 and again["setl_id"] != settled["setl_id"]


async def test_a_stay_answered_without_its_lines_writes_them_all_the_same(
    settlement_api: SettlementApi,
) -> None:
    """``?lines=false`` (the gateway's 2303/2304, which answer no lines): the answer is the settlement
    without its lines, the lines are classified and written as always, and a repeat of the msgid answers
    as asked each time."""
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    stay = await _ok(settlement_api, "/api/v1/encounters", _open(psn_no, certno, "inpatient", "21"))
    base = f"/api/v1/encounters/{stay['mdtrt_id']}"
    lines = [_line("1", "B", "100", "50", 500000), _line("2", "C", "1", "200", 20000)]
    await _ok(settlement_api, f"{base}/fees", {"fixmedins_code": HOSPITAL, "lines": lines})
    await _ok(
        settlement_api,
        f"{base}/discharge",
        {"fixmedins_code": HOSPITAL, "endtime": "2026-11-15T10:00:00+08:00"},
    )
    body = _settle(psn_no, certno, 520000)
    preview = await _ok(settlement_api, f"{base}/settlement/preview?lines=false", body)
    settled = await _ok(settlement_api, f"{base}/settlement?lines=false", body)
    # As settled with its lines above: 500.00 first + 4,500.00 in range + 200.00 丙; deductible 300.00;
    # (4,500 - 300) x 60 % = 2,520.00 from the fund, the patient 5,200.00 - 2,520.00 = 2,680.00.
    for s in (preview, settled):
        assert s["lines"] == []
        assert (s["deductible_fen"], s["pooled_fund_paid_fen"], s["cash_paid_fen"]) == (30000, 252000, 268000)
    stored = (await settlement_api.client.get(f"/api/v1/settlements/{settled['setl_id']}")).json()
    assert [
        (x["feedetl_sn"], x["self_pay_first_fen"], x["fully_self_paid_fen"]) for x in stored["lines"]
    ] == [
        ("1", 50000, 0),
        ("2", 0, 20000),
    ]
    assert settled == {**stored, "lines": [], "replayed": False}
    again = await _ok(settlement_api, f"{base}/settlement?lines=false", body)
    assert again == {**settled, "replayed": True}
    with_lines = await _ok(settlement_api, f"{base}/settlement", body)
    assert with_lines == {**stored, "replayed": True}
    async with settlement_api.db.session() as session:
        marked = await session.scalars(
            select(FeeLineRecord.setl_id).where(FeeLineRecord.mdtrt_id == stay["mdtrt_id"])
        )
        assert list(marked) == [settled["setl_id"]] * 2


async def test_mid_stay_settlement_applies_the_deductible_once(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    stay = await _ok(settlement_api, "/api/v1/encounters", _open(psn_no, certno, "inpatient", "21"))
    base = f"/api/v1/encounters/{stay['mdtrt_id']}"
    await _ok(
        settlement_api,
        f"{base}/fees",
        {"fixmedins_code": HOSPITAL, "lines": [_line("1", "B", "100", "50", 500000)]},
    )
    first = await _ok(
        settlement_api, f"{base}/settlement", _settle(psn_no, certno, 500000, mid_setl_flag=True)
    )
    assert (first["deductible_fen"], first["pooled_fund_paid_fen"]) == (30000, 252000)
    await _ok(
        settlement_api,
        f"{base}/fees",
        {"fixmedins_code": HOSPITAL, "lines": [_line("2", "B", "20", "50", 100000)]},
    )
    await _ok(
        settlement_api,
        f"{base}/discharge",
        {"fixmedins_code": HOSPITAL, "endtime": "2026-11-20T10:00:00+08:00"},
    )
    request = _settle(psn_no, certno, 100000)
    final = await _ok(settlement_api, f"{base}/settlement", request)
    # A repeat of the message (its answer lost) answers with the same settlement, though its lines are
    # settled by now.
    repeat = await _ok(settlement_api, f"{base}/settlement", request)
    assert (repeat["setl_id"], repeat["replayed"]) == (final["setl_id"], True)
    # 1,000.00: 100.00 first, 900.00 in range, no second deductible: 900.00 x 60 % = 540.00.
    assert (final["deductible_fen"], final["pooled_fund_paid_fen"]) == (0, 54000)
    assert await _admissions(settlement_api, psn_no) == 1


async def test_outpatient_chronic_and_maternity(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    visit = await _ok(settlement_api, "/api/v1/encounters", _open(psn_no, certno, "outpatient", "11"))
    base = f"/api/v1/encounters/{visit['mdtrt_id']}"
    missing_batch = await settlement_api.post(
        f"{base}/fees", {"fixmedins_code": HOSPITAL, "lines": [_line("1", "B", "3", "20", 6000)]}
    )
    assert missing_batch.json()["error"]["code"] == "NO_CHRG_BCHNO"
    await _ok(
        settlement_api,
        f"{base}/fees",
        {
            "fixmedins_code": HOSPITAL,
            "lines": [_line("1", "B", "3", "20", 6000, "B1"), _line("2", "C", "1", "5", 500, "B2")],
        },
    )
    # Batch B1 only: 60.00, 54.00 in range, 20.00 deductible, 17.00 fund.
    outpatient = await _ok(
        settlement_api, f"{base}/settlement", _settle(psn_no, certno, 6000, chrg_bchno="B1")
    )
    assert (outpatient["clr_type"], outpatient["pooled_fund_paid_fen"], outpatient["cash_paid_fen"]) == (
        "11",
        1700,
        4300,
    )
    wrong_total = await settlement_api.post(
        f"{base}/settlement", _settle(psn_no, certno, 600, chrg_bchno="B2")
    )
    assert wrong_total.json()["error"]["code"] == "TOTAL_MISMATCH"
    await _ok(settlement_api, f"{base}/fees/cancellation", {"fixmedins_code": HOSPITAL, "chrg_bchno": "B2"})
    nothing = await settlement_api.post(f"{base}/settlement", _settle(psn_no, certno, 500, chrg_bchno="B2"))
    assert nothing.json()["error"]["code"] == "NO_FEE_LINES"

    await settlement_api.register_chronic(psn_no, "I10")  # chronic care for registered patients only
    chronic = await _ok(
        settlement_api, "/api/v1/encounters", _open(psn_no, certno, "outpatient", "140104", dise_codg="I10")
    )
    base = f"/api/v1/encounters/{chronic['mdtrt_id']}"
    await _ok(
        settlement_api,
        f"{base}/fees",
        {"fixmedins_code": HOSPITAL, "lines": [_line("1", "B", "10", "50", 50000, "C1")]},
    )
    # 500.00: 450.00 in range, under the 500.00 threshold: the fixed 100.00.
    paid = await _ok(settlement_api, f"{base}/settlement", _settle(psn_no, certno, 50000, chrg_bchno="C1"))
    assert (paid["encounter_kind"], paid["pooled_fund_paid_fen"]) == ("chronic", 10000)

    birth = await _ok(
        settlement_api, "/api/v1/encounters", _open(psn_no, certno, "inpatient", "52", matn_type="2")
    )
    base = f"/api/v1/encounters/{birth['mdtrt_id']}"
    await _ok(
        settlement_api,
        f"{base}/fees",
        {"fixmedins_code": HOSPITAL, "lines": [_line("1", "B", "100", "50", 500000)]},
    )
    await _ok(
        settlement_api,
        f"{base}/discharge",
        {"fixmedins_code": HOSPITAL, "endtime": "2026-11-14T10:00:00+08:00"},
    )
    delivery = await _ok(settlement_api, f"{base}/settlement", _settle(psn_no, certno, 500000))
    assert (delivery["encounter_kind"], delivery["pooled_fund_paid_fen"]) == ("maternity", 30000)


async def test_institutions_act_only_on_their_own_encounters(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    body = _open(psn_no, certno, "inpatient", "21")
    stay = await _ok(settlement_api, "/api/v1/encounters", body)
    assert (await _ok(settlement_api, "/api/v1/encounters", body))["mdtrt_id"] == stay["mdtrt_id"]  # a retry
    base = f"/api/v1/encounters/{stay['mdtrt_id']}"
    other = await settlement_api.post(
        f"{base}/fees", {"fixmedins_code": PHARMACY, "lines": [_line("1", "B", "1", "50", 5000)]}
    )
    assert (other.status_code, other.json()["error"]["code"]) == (403, "NOT_YOUR_ENCOUNTER")
    pharmacy = await settlement_api.post(
        "/api/v1/encounters", {**body, "fixmedins_code": PHARMACY, "ipt_otp_no": "X1"}
    )
    assert pharmacy.json()["error"]["code"] == "NOT_A_HOSPITAL"
    wrong_type = await settlement_api.post(
        "/api/v1/encounters", {**_open(psn_no, certno, "outpatient", "21")}
    )
    assert wrong_type.json()["error"]["code"] == "MED_TYPE_MISMATCH"
    cancelled = await _ok(settlement_api, f"{base}/cancellation?fixmedins_code={HOSPITAL}", {})
    assert cancelled["status"] == "cancelled"


async def test_a_stay_settled_twice_at_once_is_settled_once(settlement_api: SettlementApi) -> None:
    """Two 2304s for one discharged stay at the same moment under different msgids (a cashier's second
    click, a second terminal): one settles the stay, the other is told it is settled; the lines are paid
    once and the year's totals count one admission."""
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    stay = await _ok(settlement_api, "/api/v1/encounters", _open(psn_no, certno, "inpatient", "21"))
    base = f"/api/v1/encounters/{stay['mdtrt_id']}"
    lines = [_line("1", "B", "100", "50", 500000), _line("2", "C", "1", "200", 20000)]
    await _ok(settlement_api, f"{base}/fees", {"fixmedins_code": HOSPITAL, "lines": lines})
    discharge = {"fixmedins_code": HOSPITAL, "endtime": "2026-11-15T10:00:00+08:00"}
    await _ok(settlement_api, f"{base}/discharge", discharge)
    responses = await asyncio.gather(
        *[settlement_api.post(f"{base}/settlement", _settle(psn_no, certno, 520000)) for _ in range(3)]
    )
    outcomes = sorted(
        (r.status_code, r.json()["error"]["code"] if r.status_code != 200 else "") for r in responses
    )
    assert outcomes == [(200, ""), (409, "ENCOUNTER_STATE"), (409, "ENCOUNTER_STATE")], outcomes
    async with settlement_api.db.session() as session:
        settled = (
            await session.scalars(select(Settlement).where(Settlement.mdtrt_id == stay["mdtrt_id"]))
        ).all()
        marks = (
            await session.scalars(
                select(FeeLineRecord.setl_id).where(FeeLineRecord.mdtrt_id == stay["mdtrt_id"])
            )
        ).all()
    assert [s.status for s in settled] == ["settled"]
    assert marks == [settled[0].setl_id] * 2
    assert await _admissions(settlement_api, psn_no) == 1


async def test_an_encounter_is_settled_only_as_what_the_caller_names(settlement_api: SettlementApi) -> None:
    """The gateway names the setting (and, for a visit, the med_type) it settles as; the encounter is
    checked against them, and against the person, in the settling transaction itself."""
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    visit = await _ok(settlement_api, "/api/v1/encounters", _open(psn_no, certno, "outpatient", "11"))
    base = f"/api/v1/encounters/{visit['mdtrt_id']}"
    batch = {"fixmedins_code": HOSPITAL, "lines": [_line("1", "B", "2", "30", 6000, "B1")]}
    await _ok(settlement_api, f"{base}/fees", batch)
    mdtrt_id = visit["mdtrt_id"]
    other_psn, _ = new_person()
    refusals = {
        "SETTING_MISMATCH": ({"setting": "inpatient"}, f"就诊ID {mdtrt_id} 是门诊就诊，不能按住院结算"),
        "PSN_MISMATCH": ({"psn_no": other_psn}, f"人员编号 {other_psn} 与就诊ID {mdtrt_id} 登记的人员不符"),
        "MED_TYPE_MISMATCH": (
            {"med_type": "140104"},
            f"医疗类别 140104 与就诊ID {mdtrt_id} 登记的 11 不符：请先用2203上传就诊信息",
        ),
    }
    for code, (changes, message) in refusals.items():
        for path in ("/settlement/preview", "/settlement"):
            body = _settle(psn_no, certno, 6000, chrg_bchno="B1", setting="outpatient", med_type="11")
            response = await settlement_api.post(f"{base}{path}", {**body, **changes})
            assert (response.status_code, response.json()["error"]) == (
                422,
                {**response.json()["error"], "code": code, "message": message},
            )
    async with settlement_api.db.session() as session:
        assert (await session.scalars(select(Settlement).where(Settlement.mdtrt_id == mdtrt_id))).all() == []
    # 60.00: 6.00 乙 first, 54.00 in range; 20.00 outpatient deductible, then 50 %: 17.00 from the fund.
    body = _settle(psn_no, certno, 6000, chrg_bchno="B1", setting="outpatient", med_type="11")
    settled = await _ok(settlement_api, f"{base}/settlement", body)
    assert (settled["deductible_fen"], settled["pooled_fund_paid_fen"], settled["cash_paid_fen"]) == (
        2000,
        1700,
        4300,
    )


async def test_a_fee_upload_repeated_under_its_msgid_is_answered_once(settlement_api: SettlementApi) -> None:
    """The gateway's repeat of a 2204 whose answer it lost (x-msgid: the envelope's): three copies at the
    same moment all get the first upload's classification and the lines are stored once. A call without a
    msgid (another caller) acts as before: the lines exist."""
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    visit = await _ok(settlement_api, "/api/v1/encounters", _open(psn_no, certno, "outpatient", "11"))
    base = f"/api/v1/encounters/{visit['mdtrt_id']}"
    batch = {"fixmedins_code": HOSPITAL, "lines": [_line("1", "B", "2", "30", 6000, "B1")]}
    msgid = {"x-msgid": f"{HOSPITAL}0000000001"}
    responses = await asyncio.gather(
        *[settlement_api.post(f"{base}/fees", batch, headers=msgid) for _ in range(3)]
    )
    assert [r.status_code for r in responses] == [200, 200, 200], [r.text for r in responses]
    assert responses[0].json() == responses[1].json() == responses[2].json()
    # B: 60.00, 乙 with 10 % first: 6.00 first, 54.00 in range.
    (classified,) = responses[0].json()["lines"]
    assert (classified["self_pay_first_fen"], classified["policy_range_fen"]) == (600, 5400)
    async with settlement_api.db.session() as session:
        stored = (
            await session.scalars(select(FeeLineRecord).where(FeeLineRecord.mdtrt_id == visit["mdtrt_id"]))
        ).all()
    assert [line.feedetl_sn for line in stored] == ["1"]
    # A repeat from another desk, with the line's prescription details written otherwise, is the same
    # request: who sent it and the details move nothing (left out of the digest) and are not rewritten.
    relabelled = {
        **batch,
        "opter_id": "002",
        "opter_name": "另一收款员",
        "lines": [{**_line("1", "B", "2", "30", 6000, "B1"), "details": {"bilg_dr_name": "王医生"}}],
    }
    repeat = await settlement_api.post(f"{base}/fees", relabelled, headers=msgid)
    assert (repeat.status_code, repeat.json()) == (200, responses[0].json())
    async with settlement_api.db.session() as session:
        (kept,) = (
            await session.scalars(select(FeeLineRecord).where(FeeLineRecord.mdtrt_id == visit["mdtrt_id"]))
        ).all()
    assert (kept.opter_id, kept.details) == ("", {})
    again = await settlement_api.post(f"{base}/fees", batch)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "FEE_LINE_EXISTS")
    other = {**batch, "lines": [_line("2", "B", "1", "30", 3000, "B1")]}
    reused = await settlement_api.post(f"{base}/fees", other, headers=msgid)
    assert (reused.status_code, reused.json()["error"]["code"]) == (409, "MSGID_REUSED")
