"""Referral (2501/2501A/2502) and injury (2507) filings, the benefit check (2001), and what the engine makes
of filings, all through the gateway in front of the real settlement service on both backends
(docs/interface.md, "Filings"; docs/domain.md, "Filings").

Amounts by the demo policy (``jinzhai_yutian_demo``), computed by hand below: level-1 stay deductible 200.00
and 75 % (Yutian), level-2 300.00 and 60 % (Jinzhai); out-of-area care without a filing 10 points less,
filed care the local ratio (Jinzhai: 电话备案并给予定点待遇); chronic care 100.00 fixed on a yearly cost up
to 500.00 (Jinzhai), for registered patients only. Item B is 乙 with 10 % paid first, A is 甲."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from settlement.filings.models import Filing
from settlement.policy.document import jinzhai_legacy_demo
from settlement.settlements.models import Settlement
from sqlmodel import func, select

from shared.auth import AUDITOR, ENROLLMENT_CLERK
from shared.clock import now_china
from shared.events import IdentityCategory
from tests.conftest import DatabaseFactory
from tests.gateway.office import WHEN, Office, chronic, opened, refused
from tests.settlement.conftest import HOSPITAL, PHARMACY, REGION, new_person
from tests.support.apps import bearer

#: A level-1 institution in another region (六安市金安区) the person's care there is out of area.
AWAY = "H34152400002"
AWAY_REGION = "341502"


async def register_away(office: Office) -> None:
    body = {
        "fixmedins_code": AWAY, "fixmedins_name": "外地医院", "fixmedins_type": "1", "hosp_lv": "1",
        "admdvs": AWAY_REGION, "agreement_begin": "2025-01-01",
    }  # fmt: skip
    assert (await office.api.post("/api/v1/institutions", body)).status_code == 201


def referral(psn_no: str, **changes: Any) -> dict[str, Any]:
    data = {
        "psn_no": psn_no, "insutype": "390", "tel": "13800000000", "addr": "", "insu_optins": REGION,
        "diag_code": "I63.900", "diag_name": "脑梗死", "dise_cond_dscr": "病情稳定",
        "reflin_medins_no": "", "reflin_medins_name": "", "mdtrtarea_admdvs": AWAY_REGION,
        "hosp_agre_refl_flag": "1", "refl_type": "1", "refl_date": "2026-11-01 00:00:00",
        "refl_rea": "本院无条件", "refl_opnn": "同意转院", "begndate": "2026-11-01 00:00:00",
        "enddate": "2026-12-31 00:00:00",
    }  # fmt: skip
    data.update(changes)
    return {"refmedin": data}


def injury(psn_no: str, **changes: Any) -> dict[str, Any]:
    data = {
        "psn_no": psn_no, "insutype": "390", "trum_time": "2026-11-19 18:30:00", "trum_site": "家中",
        "trum_rea": "摔伤", "thrd_pty_resp_flag": "0", "wrk_inj_flag": "0", "begndate": "2026-11-19",
        "enddate": "2026-12-31", "adm_time": "", "memo": "",
    }  # fmt: skip
    data.update(changes)
    return {"data": data}


async def stay(
    office: Office, psn_no: str, med_type: str, *, at: str = HOSPITAL, region: str = REGION
) -> dict[str, Any]:
    """Admitted, one line of B (100 × 50.00 = 5,000.00), discharged and settled (2401, 2301, 2402, 2304):
    the 2304 answer."""
    who = {"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": office.certnos[psn_no]}
    where = {"fixmedins_code": at, "mdtrtarea_admvs": region}
    info = {
        **who,
        "insutype": "390",
        "begntime": WHEN,
        "med_type": med_type,
        "ipt_no": f"ZY{office.sequence}",
    }
    admitted = await office.send("2401", {"mdtrtinfo": info}, **where)
    assert admitted["infcode"] == 0, admitted["err_msg"]
    mdtrt_id = admitted["output"]["result"]["mdtrt_id"]
    line = {
        "feedetl_sn": "1", "mdtrt_id": mdtrt_id, "psn_no": psn_no, "fee_ocur_time": WHEN,
        "med_list_codg": "B", "medins_list_codg": "HB", "det_item_fee_sumamt": "5000.00", "cnt": "100",
        "pric": "50", "hosp_appr_flag": "",
    }  # fmt: skip
    assert (await office.send("2301", {"feedetail": [line]}, **where))["infcode"] == 0
    discharge = {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "insutype": "390", "endtime": WHEN, "dscg_way": "1"}
    assert (await office.send("2402", {"dscginfo": discharge}, **where))["infcode"] == 0
    settle = {
        **who,
        "mdtrt_id": mdtrt_id,
        "medfee_sumamt": "5000.00",
        "insutype": "390",
        "mid_setl_flag": "0",
    }
    return await office.send("2304", {"data": settle}, **where)


def paid(answer: dict[str, Any]) -> tuple[Decimal, Decimal]:
    assert answer["infcode"] == 0, answer["err_msg"]
    info = answer["output"]["setlinfo"]
    return Decimal(str(info["hifp_pay"])), Decimal(str(info["psn_cash_pay"]))


async def settlements(office: Office, psn_no: str) -> int:
    async with office.db.session() as session:
        query = select(func.count()).select_from(Settlement).where(Settlement.psn_no == psn_no)
        return int(await session.scalar(query) or 0)


# --- 2501 / 2502: referral and out-of-area care -----------------------------------------------------------


async def test_filed_out_of_area_care_gets_the_local_ratio(office: Office) -> None:
    await register_away(office)
    unfiled, filed = await office.person(), await office.person(14)
    sn = await office.send("2501", referral(filed))
    assert sn["infcode"] == 0, sn["err_msg"]
    # 5,000.00 of B: 500.00 paid first, 4,500.00 in range; level-1 deductible 200.00 leaves 4,300.00.
    # Unfiled: 4,300.00 × (0.75 − 0.10) = 2,795.00 from the pooled fund, 5,000.00 − 2,795.00 = 2,205.00 cash.
    assert paid(await stay(office, unfiled, "21", at=AWAY, region=AWAY_REGION)) == (
        Decimal("2795.00"),
        Decimal("2205.00"),
    )
    # Filed (2501 for region 341502): 4,300.00 × 0.75 = 3,225.00; 1,775.00 cash.
    assert paid(await stay(office, filed, "21", at=AWAY, region=AWAY_REGION)) == (
        Decimal("3225.00"),
        Decimal("1775.00"),
    )


async def test_a_referral_stay_needs_a_referral_filing(office: Office) -> None:
    await register_away(office)
    psn_no = await office.person()
    refused(await stay(office, psn_no, "23", at=AWAY, region=AWAY_REGION), "REFERRAL_NOT_FILED")
    assert await settlements(office, psn_no) == 0
    # 2501A names the institution (and the visit transferred from), not the region: the stay there is filed.
    named = referral(psn_no, mdtrtarea_admdvs="341503", reflin_medins_no=AWAY, refl_old_mdtrt_id="M0001")
    filed = await office.send("2501A", named)
    assert filed["infcode"] == 0, filed["err_msg"]
    async with office.db.session() as session:
        row = await session.scalar(select(Filing).where(Filing.psn_no == psn_no))
    assert row is not None and (row.kind, row.refl_old_mdtrt_id, row.refl_date) == (
        "referral",
        "M0001",
        date(2026, 11, 1),
    )
    # 4,300.00 × 0.75 = 3,225.00 (as above).
    assert paid(await stay(office, psn_no, "23", at=AWAY, region=AWAY_REGION))[0] == Decimal("3225.00")


async def test_a_revoked_referral_no_longer_files_care(office: Office) -> None:
    await register_away(office)
    psn_no = await office.person()
    sn = (await office.send("2501", referral(psn_no)))["output"]["result"]["trt_dcla_detl_sn"]
    # 2504 revokes chronic filings only; 2502 this one.
    wrong = await office.send("2504", {"data": {"psn_no": psn_no, "trt_dcla_detl_sn": sn}})
    refused(wrong, "FILING_NOT_FOUND")
    revoked = await office.send("2502", {"data": {"psn_no": psn_no, "trt_dcla_detl_sn": sn, "memo": "取消"}})
    assert revoked["infcode"] == 0, revoked["err_msg"]
    assert revoked["output"]["result"]["revoked_on"] == now_china().date().isoformat()
    # Revoked today, the stay of 2026-11-20 was still filed: a revocation applies from its day on.
    assert paid(await stay(office, psn_no, "21", at=AWAY, region=AWAY_REGION))[0] == Decimal("3225.00")


async def test_referral_bad_input_is_refused_and_nothing_is_stored(office: Office) -> None:
    psn_no = await office.person()
    refused(await office.send("2501", referral(psn_no, mdtrtarea_admdvs="3415")), "E_INPUT")
    refused(await office.send("2501", referral(psn_no, enddate="2026-10-31")), "FILING_DATES")
    refused(await office.send("2501", referral(psn_no, refl_date="2027-02-01")), "FILING_DATES")
    refused(await office.send("2501", referral(psn_no, begndate="2026-02-30")), "E_INPUT")
    uninsured = referral(psn_no, begndate="2024-03-01", refl_date="")
    refused(await office.send("2501", uninsured), "NOT_COVERED")
    assert await office.filings() == 0
    sn = (await office.send("2501", referral(psn_no)))["output"]["result"]["trt_dcla_detl_sn"]
    other = await office.person(14)
    refused(
        await office.send("2502", {"data": {"psn_no": other, "trt_dcla_detl_sn": sn}}), "FILING_PSN_MISMATCH"
    )
    refused(
        await office.send("2502", {"data": {"psn_no": psn_no, "trt_dcla_detl_sn": "B34152400000"}}),
        "FILING_NOT_FOUND",
    )
    assert await office.filings(Filing.status == "active") == 1


@pytest.mark.parametrize("infno", ["2501", "2502", "2507"])
async def test_a_repeated_msgid_gets_the_first_answer(office: Office, infno: str) -> None:
    psn_no = await office.person()
    if infno == "2502":
        sn = (await office.send("2501", referral(psn_no)))["output"]["result"]["trt_dcla_detl_sn"]
        body: dict[str, Any] = {"data": {"psn_no": psn_no, "trt_dcla_detl_sn": sn}}
    else:
        body = referral(psn_no) if infno == "2501" else injury(psn_no)
    msgid = office.msgid()
    first = await office.send(infno, body, msgid)
    assert first["infcode"] == 0, first["err_msg"]
    assert await office.send(infno, body, msgid) == first
    assert await office.filings() == 1
    if infno == "2502":
        assert await office.filings(Filing.status == "revoked") == 1


@pytest.mark.parametrize(
    ("infno", "lose"), [("2501", "/referral"), ("2502", "/revocation"), ("2507", "/injury")]
)
async def test_a_lost_answer_is_answered_once(office: Office, infno: str, lose: str) -> None:
    """Settlement committed and the answer was lost on its way back (outcome unknown): the repeat under the
    same msgid is answered from settlement's msgid memory, one filing, one revocation."""
    psn_no = await office.person()
    if infno == "2502":
        sn = (await office.send("2501", referral(psn_no)))["output"]["result"]["trt_dcla_detl_sn"]
        body: dict[str, Any] = {"data": {"psn_no": psn_no, "trt_dcla_detl_sn": sn}}
    else:
        body = referral(psn_no) if infno == "2501" else injury(psn_no)
    msgid = office.msgid()
    office.link.lose = lose
    refused(await office.send(infno, body, msgid), "E_OUTCOME_UNKNOWN")
    assert office.link.lost  # made and committed before its answer was dropped
    again = await office.send(infno, body, msgid)
    assert again["infcode"] == 0, again["err_msg"]
    assert await office.send(infno, body, msgid) == again
    assert await office.filings() == 1
    assert await office.filings(Filing.status == "revoked") == (1 if infno == "2502" else 0)


# --- 2507: injury -----------------------------------------------------------------------------------------


async def test_an_injury_stay_needs_a_filing_without_a_liable_third_party(office: Office) -> None:
    psn_no = await office.person()
    refused(await stay(office, psn_no, "22"), "INJURY_NOT_FILED")
    filed = await office.send("2507", injury(psn_no))
    assert filed["infcode"] == 0, filed["err_msg"]
    assert filed["output"]["result"]["chk_pay_flag"] == "1"
    # 5,000.00 of B at the level-2 county hospital: 4,500.00 in range, 300.00 deductible, 4,200.00 × 0.6 =
    # 2,520.00 pooled, 2,480.00 cash.
    assert paid(await stay(office, psn_no, "22")) == (Decimal("2520.00"), Decimal("2480.00"))


@pytest.mark.parametrize(
    ("declared", "code"),
    [({"thrd_pty_resp_flag": "1"}, "EXCLUDED_THIRD_PARTY"), ({"wrk_inj_flag": "1"}, "EXCLUDED_WORK_INJURY")],
)
async def test_tianjin_art_18_exclusions_are_refused_with_their_reason(
    office: Office, declared: dict[str, str], code: str
) -> None:
    psn_no = await office.person()
    filed = await office.send("2507", injury(psn_no, **declared))
    # Stored as declared, with the office's answer that the fund does not pay (审核支付标志 0).
    assert filed["infcode"] == 0 and filed["output"]["result"]["chk_pay_flag"] == "0", filed
    answer = await stay(office, psn_no, "22")
    refused(answer, code)
    assert ("第三人" if code == "EXCLUDED_THIRD_PARTY" else "工伤") in answer["err_msg"]
    assert await settlements(office, psn_no) == 0


async def test_injury_bad_input(office: Office) -> None:
    psn_no = await office.person()
    refused(await office.send("2507", injury(psn_no, thrd_pty_resp_flag="")), "E_INPUT")
    refused(await office.send("2507", injury(psn_no, thrd_pty_resp_flag="2")), "E_INPUT")
    refused(await office.send("2507", injury(psn_no, trum_rea="")), "E_INPUT")
    refused(
        await office.send("2507", injury(psn_no, begndate="2026-12-31", enddate="2026-12-01")), "FILING_DATES"
    )
    future = (now_china() + timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    refused(await office.send("2507", injury(psn_no, trum_time=future)), "FILING_DATES")
    assert await office.filings() == 0


# --- chronic care: registered patients only ---------------------------------------------------------------


def purchase(office: Office, psn_no: str, dise_codg: str, when: str = WHEN) -> dict[str, Any]:
    """2102 at the pharmacy, 门慢门特 med_type 140104: 60 of item A at 0.50 = 30.00 (甲, all in range)."""
    info = {
        "psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": office.certnos[psn_no],
        "begntime": when, "medfee_sumamt": "30.00", "invono": "", "insutype": "390", "acct_used_flag": "0",
        "med_type": "140104", "dise_codg": dise_codg,
    }  # fmt: skip
    line = {
        "feedetl_sn": "1", "rxno": "", "rx_circ_flag": "0", "fee_ocur_time": when, "med_list_codg": "A",
        "medins_list_codg": "YA", "det_item_fee_sumamt": "30.00", "cnt": "60", "pric": "0.5",
        "prd_days": "10",
    }  # fmt: skip
    return {"druginfo": info, "drugdetail": [line]}


async def test_chronic_benefit_for_a_registered_patient_only(office: Office) -> None:
    registered, unregistered = await office.person(), await office.person(14)
    assert (await office.send("2503", chronic(registered)))["infcode"] == 0
    # Registered for E11: 30.00 in range, within the 500.00 threshold: min(100.00, 30.00) = 30.00 fixed sum.
    bought = await office.send("2102", purchase(office, registered, "E11"), fixmedins_code=PHARMACY)
    assert paid(bought) == (Decimal("30.00"), Decimal("0.00"))
    # The same disease code, not registered: no chronic benefit, nothing settled.
    answer = await office.send("2102", purchase(office, unregistered, "E11"), fixmedins_code=PHARMACY)
    refused(answer, "CHRONIC_NOT_FILED")
    # Registered for E11 only, buying for I10: refused as well.
    other = await office.send("2102", purchase(office, registered, "I10"), fixmedins_code=PHARMACY)
    refused(other, "CHRONIC_NOT_FILED")
    assert await settlements(office, unregistered) == 0


async def test_a_revoked_registration_stops_applying_from_its_day(office: Office) -> None:
    psn_no = await office.person()
    sn = (await office.send("2503", chronic(psn_no)))["output"]["result"]["trt_dcla_detl_sn"]
    assert (await office.send("2504", {"data": {"psn_no": psn_no, "trt_dcla_detl_sn": sn}}))["infcode"] == 0
    today = now_china().strftime("%Y-%m-%d %H:%M:%S")
    yesterday = (now_china() - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    # Revoked today: a purchase dated today is no longer chronic care; one dated yesterday still was.
    refused(await office.send("2102", purchase(office, psn_no, "E11", today), fixmedins_code=PHARMACY),
            "CHRONIC_NOT_FILED")  # fmt: skip
    before = await office.send("2102", purchase(office, psn_no, "E11", yesterday), fixmedins_code=PHARMACY)
    assert paid(before) == (Decimal("30.00"), Decimal("0.00"))


async def test_a_designated_facility_when_the_policy_says_so(office: Office) -> None:
    """A Tianjin-like policy (art. 20: 门诊特定疾病实行定点就医) for the legacy scheme 391: chronic care only
    at the facility filed for the patient (2505). The 2505 names no insutype: it is filed under the scheme
    the person is covered by (391), not a default 390."""
    legacy = jinzhai_legacy_demo("391")
    assert legacy.filings is not None
    tianjin = legacy.model_copy(
        update={"filings": legacy.filings.model_copy(update={"chronic_requires_designated_facility": True})}
    )
    body = {"admdvs": REGION, "insutype": "391", "name": "定点就医", "effective_from": "2026-01-01",
            "document": tianjin.model_dump(mode="json")}  # fmt: skip
    assert (await office.api.post("/api/v1/policies", body)).status_code == 201
    psn_no, certno = new_person(16)
    await office.api.cover(psn_no, certno, 2026, insutype="391")
    office.certnos[psn_no] = certno
    assert (await office.send("2503", chronic(psn_no, insutype="391")))["infcode"] == 0

    def bought_391() -> dict[str, Any]:
        body = purchase(office, psn_no, "E11")
        body["druginfo"]["insutype"] = "391"
        return body

    refused(await office.send("2102", bought_391(), fixmedins_code=PHARMACY), "CHRONIC_NOT_DESIGNATED")
    designated = {"data": {"psn_no": psn_no, "fixmedins_code": PHARMACY, "begndate": "2026-02-01"}}
    assert (await office.send("2505", designated))["infcode"] == 0
    [row] = (await office.send("5302", {"data": {"psn_no": psn_no}}))["output"]["psnfixmedin"]
    assert (row["insutype"], row["fixmedins_code"]) == ("391", PHARMACY)
    # 30.00 in range within the 500.00 threshold: min(100.00, 30.00) = 30.00 (the 391 demo's chronic rules
    # are the Jinzhai ones).
    assert paid(await office.send("2102", bought_391(), fixmedins_code=PHARMACY)) == (
        Decimal("30.00"),
        Decimal("0.00"),
    )
    nobody = {"data": {"psn_no": "341524000000009999", "fixmedins_code": PHARMACY, "begndate": "2026-02-01"}}
    refused(await office.send("2505", nobody), "NOT_COVERED")


# --- 2001 -------------------------------------------------------------------------------------------------


def check(psn_no: str, med_type: str, **extra: str) -> dict[str, Any]:
    return {"data": {"psn_no": psn_no, "insutype": "390", "fixmedins_code": HOSPITAL, "med_type": med_type,
                     "begntime": "", "endtime": "", "dise_codg": "", **extra}}  # fmt: skip


def rows(answer: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    """Per fund: may draw on it, the check, and why not ("" when it may)."""
    assert answer["infcode"] == 0, answer["err_msg"]
    return {r["fund_pay_type"]: (r["trt_enjymnt_flag"], r["trt_chk_type"], r["trt_chk_rslt"])
            for r in answer["output"]["trtinfo"]}  # fmt: skip


async def test_2001_answers_what_the_person_may_draw_on_today(office: Office) -> None:
    dibao = IdentityCategory(psn_idet_type="2102", begin_date=date(2026, 1, 1))
    psn_no = await office.person(identities=(dibao,))
    # A stay: the pooled fund, catastrophic insurance (stays count, Yutian) and 低保 assistance (2102).
    stay_rows = rows(await office.send("2001", check(psn_no, "21")))
    assert stay_rows == {
        "390100": ("1", "01", ""),
        "390200": ("1", "01", ""),
        "610100": ("1", "06", ""),
    }
    [row] = (await office.send("2001", check(psn_no, "21")))["output"]["trtinfo"][:1]
    year = now_china().year
    assert (row["psn_no"], row["begndate"], row["enddate"]) == (psn_no, f"{year}-01-01", f"{year}-12-31")
    # Chronic care for E11, not registered: not entitled, the reason named; registered: entitled.
    flag, kind, why = rows(await office.send("2001", check(psn_no, "140104", dise_codg="E11")))["390100"]
    assert (flag, kind) == ("0", "02") and why.startswith("[CHRONIC_NOT_FILED]")
    assert (await office.send("2503", chronic(psn_no, end=None)))["infcode"] == 0
    assert rows(await office.send("2001", check(psn_no, "140104", dise_codg="E11")))["390100"] == (
        "1",
        "01",
        "",
    )
    # An injury stay without a filing; an ordinary visit (no catastrophic insurance, no assistance).
    assert rows(await office.send("2001", check(psn_no, "22")))["390100"][:2] == ("0", "05")
    assert rows(await office.send("2001", check(psn_no, "11"))) == {"390100": ("1", "01", "")}
    # Asked about another day: 2025, when the person was not insured.
    [uncovered] = (await office.send("2001", check(psn_no, "21", begntime="2025-06-01 08:00:00")))["output"][
        "trtinfo"
    ]
    flag, kind, why = uncovered["trt_enjymnt_flag"], uncovered["trt_chk_type"], uncovered["trt_chk_rslt"]
    assert (flag, kind) == ("0", "01") and why.startswith("[NOT_COVERED]")
    # No cover that day: no cover dates, left out rather than null (docs/interface.md, "Output fields").
    assert "begndate" not in uncovered and "enddate" not in uncovered
    refused(await office.send("2001", check(psn_no, "")), "E_INPUT")


# --- REST: the office clerk -------------------------------------------------------------------------------


async def test_a_clerk_files_and_revokes_an_injury_and_may_not_backdate(office: Office) -> None:
    psn_no = await office.person()
    body = {
        "psn_no": psn_no, "insuplc_admdvs": REGION, "fixmedins_code": "OFFICE-341524",
        "trum_time": "2026-11-18T09:00:00+08:00", "trum_rea": "交通事故（对方全责）",
        "thrd_pty_resp_flag": "1", "begndate": "2026-11-18",
    }  # fmt: skip
    assert (await office.api.post("/api/v1/filings/injury", body, headers=bearer(AUDITOR))).status_code == 403
    filed = await office.api.post("/api/v1/filings/injury", body, headers=bearer(ENROLLMENT_CLERK))
    assert filed.status_code == 201, filed.text
    out = filed.json()
    assert (out["insutype"], out["chk_pay_flag"], out["kind"]) == ("390", "0", "injury")
    sn = out["trt_dcla_detl_sn"]
    url = f"/api/v1/filings/{sn}/revocation"
    revoke = {"psn_no": psn_no, "fixmedins_code": "OFFICE-341524"}
    yesterday = (now_china().date() - timedelta(days=1)).isoformat()
    backdated = await office.api.post(
        url, {**revoke, "revoked_on": yesterday}, headers=bearer(ENROLLMENT_CLERK)
    )
    assert backdated.status_code == 422 and backdated.json()["error"]["code"] == "FILING_BACKDATED"
    later = (now_china().date() + timedelta(days=3)).isoformat()
    done = await office.api.post(url, {**revoke, "revoked_on": later}, headers=bearer(ENROLLMENT_CLERK))
    assert done.status_code == 200 and done.json()["revoked_on"] == later, done.text


async def test_a_revocation_is_never_dated_before_the_filing_starts(office: Office) -> None:
    psn_no = await office.person()
    start = now_china().date() + timedelta(days=10)
    body = {"psn_no": psn_no, "insutype": "390", "insuplc_admdvs": REGION, "fixmedins_code": "OFFICE",
            "opsp_dise_code": "I10", "opsp_dise_name": "高血压", "begndate": start.isoformat()}  # fmt: skip
    if start.year != now_china().year:
        await office.api.cover(psn_no, office.certnos[psn_no], start.year)
    filed = await office.api.post("/api/v1/filings/chronic", body, headers=bearer(ENROLLMENT_CLERK))
    assert filed.status_code == 201, filed.text
    url = f"/api/v1/filings/{filed.json()['trt_dcla_detl_sn']}/revocation"
    revoke = {"psn_no": psn_no, "fixmedins_code": "OFFICE"}
    early = (start - timedelta(days=1)).isoformat()
    too_early = await office.api.post(url, {**revoke, "revoked_on": early}, headers=bearer(ENROLLMENT_CLERK))
    assert too_early.status_code == 422 and too_early.json()["error"]["code"] == "FILING_DATES"
    # Not dated: from today, which for a filing not begun yet is its first day (it never applies).
    plain = await office.api.post(url, revoke, headers=bearer(ENROLLMENT_CLERK))
    assert plain.status_code == 200 and plain.json()["revoked_on"] == start.isoformat(), plain.text


# --- any order of filing, revoking and settling, through the gateway ---------------------------------------

#: Days relative to today (Beijing time): a filing's first day, its last day, a purchase's day.
FIRST_DAYS = st.sampled_from([-3, -1, 0, 1])
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("file"), FIRST_DAYS, st.sampled_from([None, -1, 0])),
        st.tuples(st.just("revoke"), st.integers(0, 2), st.none()),
        st.tuples(st.just("settle"), st.sampled_from([-2, -1, 0]), st.none()),
    ),
    min_size=1,
    max_size=8,
)


def test_file_revoke_settle_in_any_order(databases: DatabaseFactory) -> None:
    """2503 / 2504 / 2102 (门慢门特 purchases of 30.00) in any order, through the gateway: each purchase is
    chronic care exactly when a registration of the person's is in force on its day, as the filings stand
    when it is settled (a revocation applies from today: from its first day for one not begun). At most three
    purchases a person, each 30.00: the year's chronic cost stays under the fixed 100.00, each pays 30.00."""

    with asyncio.Runner() as runner:
        stack = AsyncExitStack()
        the_office = runner.run(stack.enter_async_context(opened(databases)))
        try:

            @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
            @given(ops=OPS)
            def sequence(ops: list[tuple[str, int, int | None]]) -> None:
                runner.run(scenario(the_office, ops))

            sequence()
        finally:
            runner.run(stack.aclose())


async def scenario(office: Office, ops: list[tuple[str, int, int | None]]) -> None:
    psn_no = await office.person()
    now = now_china()
    today = now.date()
    filings: list[tuple[str, date, date | None]] = []  # number, first day, last day
    revoked: dict[str, date] = {}
    purchases = 0
    for op, a, b in ops:
        if op == "file":
            first = today + timedelta(days=a)
            last = None if b is None else max(first, today + timedelta(days=b))
            body = chronic(psn_no, begn=first.isoformat(), end=last.isoformat() if last else None)
            answer = await office.send("2503", body)
            assert answer["infcode"] == 0, answer["err_msg"]
            filings.append((answer["output"]["result"]["trt_dcla_detl_sn"], first, last))
        elif op == "revoke" and filings:
            sn, first, _ = filings[a % len(filings)]
            answer = await office.send("2504", {"data": {"psn_no": psn_no, "trt_dcla_detl_sn": sn}})
            if sn in revoked:
                refused(answer, "FILING_REVOKED")
            else:
                assert answer["infcode"] == 0, answer["err_msg"]
                revoked[sn] = max(today, first)
                assert answer["output"]["result"]["revoked_on"] == revoked[sn].isoformat()
        elif op == "settle" and purchases < 3:
            day = today + timedelta(days=a)
            when = (now + timedelta(days=a)).strftime("%Y-%m-%d %H:%M:%S")
            in_force = any(
                first <= day and (last is None or day <= last) and (sn not in revoked or day < revoked[sn])
                for sn, first, last in filings
            )
            answer = await office.send("2102", purchase(office, psn_no, "E11", when), fixmedins_code=PHARMACY)
            if in_force:
                # 30.00 in range; the year's chronic cost at most 90.00, under 500.00: min(100.00, cost)
                # less what was paid = 30.00 each.
                assert paid(answer) == (Decimal("30.00"), Decimal("0.00"))
                purchases += 1
            else:
                refused(answer, "CHRONIC_NOT_FILED")
