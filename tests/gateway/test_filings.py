"""Filings through the gateway in front of the real settlement service (in-process, real databases, both
backends): 2503 registers a 门慢门特 disease, 2504 revokes it, 5301 lists them (docs/interface.md,
"Filings"; docs/domain.md, "Filings"). Bad input is a clean ``infcode -1`` that stores nothing; a lost
answer's repeat gets the first answer; an office clerk files through the REST API."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from gateway.protocol.envelope import parse_body
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from settlement.filings.models import Filing
from settlement.filings.service import in_force

from platformctl import examples
from shared.auth import AUDITOR, ENROLLMENT_CLERK
from shared.clock import now_china
from tests.gateway.office import WHEN, Office, chronic, refused
from tests.settlement.conftest import HOSPITAL, REGION
from tests.support.apps import bearer


async def test_a_registration_is_stored_and_listed(office: Office) -> None:
    psn_no = await office.person()
    filed = await office.send("2503", chronic(psn_no))
    assert filed["infcode"] == 0, filed["err_msg"]
    sn = filed["output"]["result"]["trt_dcla_detl_sn"]
    assert len(sn) == 30 and sn.startswith(f"B{REGION}")

    listed = await office.send("5301", {"data": {"psn_no": psn_no}})
    assert listed["infcode"] == 0, listed["err_msg"]
    assert listed["output"]["feedetail"] == [
        {
            "trt_dcla_detl_sn": sn,
            "opsp_dise_code": "E11",
            "opsp_dise_name": "2型糖尿病",
            "begndate": "2026-01-01",
            "enddate": "2026-12-31",
            "vali_flag": "1",
        }
    ]
    other = await office.person(14)
    assert (await office.send("5301", {"data": {"psn_no": other}}))["output"]["feedetail"] == []


async def test_a_filing_past_its_end_is_listed_as_no_longer_valid(office: Office) -> None:
    """5301 ``vali_flag``: 1 while the filing runs (or has not begun), 0 once its ``enddate`` has passed,
    though nobody revoked it."""
    psn_no = await office.person()
    yesterday = now_china().date() - timedelta(days=1)
    ended = await office.send("2503", chronic(psn_no, begn="2026-01-01", end=yesterday.isoformat()))
    assert ended["infcode"] == 0, ended["err_msg"]
    running = await office.send("2503", chronic(psn_no, code="I10", end=None))
    assert running["infcode"] == 0, running["err_msg"]
    listed = (await office.send("5301", {"data": {"psn_no": psn_no}}))["output"]["feedetail"]
    # An open-ended filing's enddate is left out (docs/interface.md, "Output fields").
    flags = {row["opsp_dise_code"]: (row.get("enddate"), row["vali_flag"]) for row in listed}
    assert flags == {"E11": (yesterday.isoformat(), "0"), "I10": (None, "1")}
    assert "enddate" not in next(row for row in listed if row["opsp_dise_code"] == "I10")


async def test_a_revocation_ends_the_filing_from_today(office: Office) -> None:
    psn_no = await office.person()
    sn = (await office.send("2503", chronic(psn_no, end=None)))["output"]["result"]["trt_dcla_detl_sn"]
    revoked = await office.send("2504", {"data": {"psn_no": psn_no, "trt_dcla_detl_sn": sn, "memo": "迁出"}})
    assert revoked["infcode"] == 0, revoked["err_msg"]
    today = now_china().date()
    assert revoked["output"]["result"] == {"trt_dcla_detl_sn": sn, "revoked_on": today.isoformat()}
    [row] = (await office.send("5301", {"data": {"psn_no": psn_no}}))["output"]["feedetail"]
    # Open-ended, revoked today: its last day is yesterday (not before its first day, 2026-01-01).
    assert row["enddate"] == max(today - timedelta(days=1), date(2026, 1, 1)).isoformat()
    assert row["vali_flag"] == "0"
    # Revoked once only; the refusal changes nothing.
    again = await office.send("2504", {"data": {"psn_no": psn_no, "trt_dcla_detl_sn": sn}})
    refused(again, "FILING_REVOKED")


async def test_bad_input_is_refused_and_nothing_is_stored(office: Office) -> None:
    psn_no = await office.person()
    # J45 (asthma) is not on the demo policy's chronic list (I10, E11, J44, I25, N18).
    refused(await office.send("2503", chronic(psn_no, code="J45")), "FILING_DISEASE")
    refused(await office.send("2503", chronic(psn_no, begn="2026-06-01", end="2026-05-31")), "FILING_DATES")
    refused(await office.send("2503", chronic(psn_no, begn="2026-13-01")), "E_INPUT")
    # Not insured on 2025-06-01: only an insured person files.
    refused(await office.send("2503", chronic(psn_no, begn="2025-06-01")), "NOT_COVERED")
    # Insured in 2025 but before the demo policy is in force (2026-01-01): no policy names the disease list.
    earlier = await office.person(15, year=2025)
    refused(await office.send("2503", chronic(earlier, begn="2025-06-01")), "NO_POLICY")
    no_region = chronic(psn_no)
    wire = examples.envelope(
        "2503", office.msgid(), no_region, fixmedins_code=HOSPITAL, fixmedins_name="县医院"
    )
    refused(parse_body((await office.his.send({**wire, "inf_time": WHEN})).encode()), "E_INPUT")
    assert await office.filings() == 0

    unknown = "B341524202611200000000000000001"[:30]
    refused(
        await office.send("2504", {"data": {"psn_no": psn_no, "trt_dcla_detl_sn": unknown}}),
        "FILING_NOT_FOUND",
    )
    refused(await office.send("2504", {"data": {"psn_no": psn_no, "trt_dcla_detl_sn": "a/b"}}), "E_INPUT")
    sn = (await office.send("2503", chronic(psn_no)))["output"]["result"]["trt_dcla_detl_sn"]
    someone_else = await office.person(14)
    theirs = await office.send("2504", {"data": {"psn_no": someone_else, "trt_dcla_detl_sn": sn}})
    refused(theirs, "FILING_PSN_MISMATCH")
    assert await office.filings(Filing.status == "active") == 1


async def test_a_repeated_msgid_gets_the_first_answer(office: Office) -> None:
    psn_no = await office.person()
    msgid = office.msgid()
    first = await office.send("2503", chronic(psn_no), msgid)
    assert await office.send("2503", chronic(psn_no), msgid) == first
    assert await office.filings() == 1


@pytest.mark.parametrize("infno", ["2503", "2504"])
async def test_a_lost_answer_is_answered_once(office: Office, infno: str) -> None:
    """The settlement service committed and the answer was lost (outcome unknown); the repeat under the
    same msgid is answered from settlement's msgid memory: one filing, one revocation."""
    psn_no = await office.person()
    if infno == "2503":
        body, lose = chronic(psn_no), "/filings/chronic"
    else:
        sn = (await office.send("2503", chronic(psn_no)))["output"]["result"]["trt_dcla_detl_sn"]
        body, lose = {"data": {"psn_no": psn_no, "trt_dcla_detl_sn": sn}}, "/revocation"
    msgid = office.msgid()
    office.link.lose = lose
    first = await office.send(infno, body, msgid)
    refused(first, "E_OUTCOME_UNKNOWN")
    assert office.link.lost  # the call was made and committed before its answer was dropped
    again = await office.send(infno, body, msgid)
    assert again["infcode"] == 0, again["err_msg"]
    assert await office.send(infno, body, msgid) == again
    assert await office.filings() == 1
    if infno == "2504":
        assert await office.filings(Filing.status == "revoked") == 1


async def test_a_clerk_files_by_telephone_and_other_roles_cannot(office: Office) -> None:
    psn_no = await office.person()
    body = {
        "psn_no": psn_no,
        "insutype": "390",
        "insuplc_admdvs": REGION,
        "fixmedins_code": "OFFICE-341524",
        "opsp_dise_code": "I10",
        "opsp_dise_name": "高血压",
        "begndate": "2026-03-01",
    }
    auditor = await office.api.post("/api/v1/filings/chronic", body, headers=bearer(AUDITOR))
    assert auditor.status_code == 403
    assert await office.filings() == 0
    clerk = await office.api.post("/api/v1/filings/chronic", body, headers=bearer(ENROLLMENT_CLERK))
    assert clerk.status_code == 201, clerk.text
    assert clerk.json()["enddate"] is None and clerk.json()["status"] == "active"
    bad = await office.api.post(
        "/api/v1/filings/chronic", {**body, "enddate": "2026-02-28"}, headers=bearer(ENROLLMENT_CLERK)
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "FILING_DATES"
    # The hospital sees the clerk's filing in 5301.
    [row] = (await office.send("5301", {"data": {"psn_no": psn_no}}))["output"]["feedetail"]
    assert (row["opsp_dise_code"], row["begndate"]) == ("I10", "2026-03-01") and "enddate" not in row


DAYS = st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(begn=DAYS, end=st.none() | DAYS, revoked=st.none() | DAYS, day=DAYS)
def test_in_force_on_a_day(begn: date, end: date | None, revoked: date | None, day: date) -> None:
    """The rule the engine is to read: in force on ``day`` when begun, not ended, not yet revoked (a
    revocation dated before the start is moved to the start, as ``revoke`` stores it)."""
    if end is not None and end < begn:
        end, begn = begn, end
    stored_revocation = None if revoked is None else max(revoked, begn)
    filing = Filing(
        trt_dcla_detl_sn="x", kind="chronic", psn_no="p", insutype="390", insuplc_admdvs=REGION,
        fixmedins_code=HOSPITAL, opsp_dise_code="E11", opsp_dise_name="糖尿病", begndate=begn, enddate=end,
        revoked_on=stored_revocation,
    )  # fmt: skip
    days_in_force = {
        begn + timedelta(days=i)
        for i in range(((end or date(2026, 12, 31)) - begn).days + 1)
        if stored_revocation is None or begn + timedelta(days=i) < stored_revocation
    }
    assert in_force(filing, day) == (day in days_in_force)


async def test_a_designated_facility_for_a_registered_chronic_patient(office: Office) -> None:
    psn_no = await office.person()
    designated = {"data": {"psn_no": psn_no, "fixmedins_code": HOSPITAL, "fix_srt_no": "1",
                           "biz_appy_type": "03", "begndate": "2026-02-01", "enddate": "2099-12-31",
                           "agnter_name": "", "tel": ""}}  # fmt: skip
    # Not a registered chronic patient yet: refused, nothing stored.
    refused(await office.send("2505", designated), "FILING_NOT_CHRONIC")
    chronic_sn = (await office.send("2503", chronic(psn_no)))["output"]["result"]["trt_dcla_detl_sn"]
    unknown = {"data": {**designated["data"], "fixmedins_code": "H00000000000"}}
    refused(await office.send("2505", unknown), "FILING_FACILITY")
    assert await office.filings() == 1

    msgid = office.msgid()
    filed = await office.send("2505", designated, msgid)
    assert filed["infcode"] == 0, filed["err_msg"]
    assert await office.send("2505", designated, msgid) == filed  # a repeated msgid: the first answer
    sn = filed["output"]["result"]["trt_dcla_detl_sn"]
    [row] = (await office.send("5302", {"data": {"psn_no": psn_no, "biz_appy_type": "03"}}))["output"][
        "psnfixmedin"
    ]
    assert row == {
        "trt_dcla_detl_sn": sn, "psn_no": psn_no, "insutype": "390", "fix_srt_no": "1",
        "fixmedins_code": HOSPITAL, "fixmedins_name": "县医院", "begndate": "2026-02-01",
        "enddate": "2099-12-31", "memo": "",
    }  # fmt: skip
    # 2506 revokes the designated filing only; 2504 does not take its number, nor 2506 the chronic one's.
    refused(
        await office.send("2504", {"data": {"psn_no": psn_no, "trt_dcla_detl_sn": sn}}), "FILING_NOT_FOUND"
    )
    wrong = await office.send("2506", {"data": {"psn_no": psn_no, "trt_dcla_detl_sn": chronic_sn}})
    refused(wrong, "FILING_NOT_FOUND")
    revoked = await office.send("2506", {"data": {"psn_no": psn_no, "trt_dcla_detl_sn": sn}})
    assert revoked["infcode"] == 0, revoked["err_msg"]
    assert await office.filings(Filing.status == "revoked") == 1
    assert await office.filings(Filing.status == "active") == 1  # the chronic registration stays
