"""Enrollment, contributions and subsidies through the API on a real database, with the events they emit.
Standards: 30.00 personal + 20.00 government for children and tier-1 adults, 60.00 + 20.00 for tier 2;
subsidy split 10:3:2:5. Today is 15 Oct 2026, inside the collection period for 2027."""

from __future__ import annotations

from datetime import date

from enrollment.db import infra
from enrollment.enrollments.models import Enrollment, Payment, SubsidyAllocation
from sqlalchemy import func
from sqlmodel import col, select

from shared.idcard import make_id_number
from tests.enrollment.conftest import REGION, OfficeFactory

COLLECTING = date(2026, 10, 15)
ADULT = make_id_number(REGION, date(1985, 3, 12), 13)
SPOUSE = make_id_number(REGION, date(1987, 6, 2), 24)
CHILD = make_id_number(REGION, date(2016, 4, 5), 35)
ELDER = make_id_number(REGION, date(1950, 2, 2), 47)


def paid(amount_fen: int, receipt: str, payer: str = "individual") -> dict[str, object]:
    return {"payer": payer, "amount_fen": amount_fen, "receipt_no": receipt, "paid_on": "2026-10-15"}


async def test_paid_enrollment_activates_and_allocates_subsidy(office_on: OfficeFactory) -> None:
    async with office_on(COLLECTING) as office:
        psn_no = await office.person(ADULT)
        enrollment = await office.ok(
            "POST", "/api/v1/enrollments", {"psn_no": psn_no, "year": 2027, "payment": paid(3000, "R1")}, 201
        )
        assert (enrollment["status"], enrollment["kind"], enrollment["psn_type"]) == (
            "active",
            "regular",
            "1501",
        )
        assert (enrollment["coverage_begin"], enrollment["coverage_end"]) == ("2027-01-01", "2027-12-31")
        assert (enrollment["due_fen"], enrollment["paid_fen"], enrollment["subsidy_fen"]) == (
            3000,
            3000,
            2000,
        )
        assert (enrollment["continuous_years"], enrollment["psn_insu_date"]) == (1, "2027-01-01")

        events = await office.events()
        assert [(e["type"], e["version"]) for e in events] == [
            ("enrollment.person_registered", 2),
            ("enrollment.payment_received", 1),
            ("enrollment.person_identity", 1),
            ("enrollment.coverage_activated", 2),
            ("enrollment.subsidy_allocated", 1),
        ]
        payment, identity, activated, subsidy = (e["data"] for e in events[1:])
        # Who the person is travels on the restricted topic only; the cover names psn_no alone.
        assert [e["data"].get("certno") for e in events] == [None, None, ADULT, None, None]
        assert (identity["psn_no"], identity["psn_name"]) == (psn_no, "张三")
        async with office.db.session() as session:
            topics = (await session.execute(select(infra.outbox.c.event_type, infra.outbox.c.topic))).all()
        assert {t for t, topic in topics if topic == "enrollment.identity"} == {"enrollment.person_identity"}
        assert {topic for t, topic in topics if t != "enrollment.person_identity"} == {"enrollment.events"}
        assert not {"certno", "psn_name", "gend", "brdy", "naty"} & set(activated)
        assert (payment["payer"], payment["amount_fen"], payment["receipt_no"]) == ("individual", 3000, "R1")
        assert (activated["psn_type"], activated["coverage_begin"], activated["continuous_years"]) == (
            "1501",
            "2027-01-01",
            1,
        )
        # 20.00 yuan at 10:3:2:5 = 10.00 central, 3.00 provincial, 2.00 city, 5.00 county.
        assert subsidy["total_fen"] == 2000
        assert {s["level"]: s["amount_fen"] for s in subsidy["shares"]} == {
            "central": 1000,
            "provincial": 300,
            "city": 200,
            "county": 500,
        }
        assert all(e["key"] == psn_no for e in events)
        async with office.db.session() as session:
            rows = (
                await session.execute(select(col(SubsidyAllocation.level), col(SubsidyAllocation.amount_fen)))
            ).all()
        assert sorted(rows) == [("central", 1000), ("city", 200), ("county", 500), ("provincial", 300)]


async def test_partial_payments_by_several_payers(office_on: OfficeFactory) -> None:
    async with office_on(COLLECTING) as office:
        psn_no = await office.person(ADULT)
        enrollment = await office.ok(
            "POST", "/api/v1/enrollments", {"psn_no": psn_no, "year": 2027, "tier": "2"}, 201
        )
        assert (enrollment["status"], enrollment["due_fen"]) == ("pending", 6000)
        url = f"/api/v1/enrollments/{enrollment['id']}/payments"
        await office.ok("POST", url, paid(4000, "R-ind"), 201)
        # 20.00 is outstanding: 25.00 from the village collective is too much and changes nothing.
        error = await office.refused(
            "POST", url, paid(2500, "R-vil", "village_collective"), 422, "OVERPAYMENT"
        )
        assert "20.00" in error["message"]
        assert (await office.ok("GET", f"/api/v1/enrollments/{enrollment['id']}"))["status"] == "pending"
        await office.ok("POST", url, paid(2000, "R-vil", "village_collective"), 201)
        done = await office.ok("GET", f"/api/v1/enrollments/{enrollment['id']}")
        assert (done["status"], done["paid_fen"]) == ("active", 6000)
        await office.refused("POST", url, paid(100, "R-x"), 409, "NOT_PENDING")
        payers = [
            (e["data"]["payer"], e["data"]["amount_fen"])
            for e in await office.events("enrollment.payment_received")
        ]
        assert payers == [("individual", 4000), ("village_collective", 2000)]
        assert len(await office.events("enrollment.coverage_activated")) == 1


async def test_wrong_payment_at_registration_writes_nothing(office_on: OfficeFactory) -> None:
    async with office_on(COLLECTING) as office:
        psn_no = await office.person(ADULT)
        before = len(await office.events())
        body = {"psn_no": psn_no, "year": 2027, "payment": paid(2500, "R1")}
        await office.refused("POST", "/api/v1/enrollments", body, 422, "UNDERPAYMENT")
        body["payment"] = paid(3500, "R1")
        await office.refused("POST", "/api/v1/enrollments", body, 422, "OVERPAYMENT")
        await office.refused(
            "POST", "/api/v1/enrollments", {"psn_no": psn_no, "year": 2027, "tier": "9"}, 422, "NO_STANDARD"
        )
        async with office.db.session() as session:
            assert await session.scalar(select(func.count()).select_from(Enrollment)) == 0
            assert await session.scalar(select(func.count()).select_from(Payment)) == 0
        assert len(await office.events()) == before


async def test_subsidised_person_is_paid_for_by_medical_assistance(office_on: OfficeFactory) -> None:
    async with office_on(COLLECTING) as office:
        psn_no = await office.person(ELDER, "李秀英")
        await office.ok(
            "POST",
            f"/api/v1/persons/{psn_no}/identities",
            {"psn_idet_type": "2102", "begin_date": "2026-01-01"},
            201,
        )
        enrollment = await office.ok("POST", "/api/v1/enrollments", {"psn_no": psn_no, "year": 2027}, 201)
        assert (enrollment["status"], enrollment["psn_type"], enrollment["paid_fen"]) == (
            "active",
            "1601",
            3000,
        )
        [payment] = await office.events("enrollment.payment_received")
        assert (payment["data"]["payer"], payment["data"]["amount_fen"]) == ("medical_assistance", 3000)
        [activated] = await office.events("enrollment.coverage_activated")
        assert activated["data"]["identities"] == [
            {"psn_idet_type": "2102", "begin_date": "2026-01-01", "end_date": None}
        ]
        [changed] = await office.events("enrollment.identities_changed")
        assert changed["data"]["identities"][0]["psn_idet_type"] == "2102"


async def test_employee_insured_person_is_refused_and_later_terminated(office_on: OfficeFactory) -> None:
    async with office_on(COLLECTING) as office:
        employee = await office.person(SPOUSE, "李四")
        resident = await office.person(ADULT)
        await office.ok(
            "POST",
            "/api/v1/enrollments",
            {"psn_no": resident, "year": 2027, "payment": paid(3000, "R1")},
            201,
        )
        result = await office.ok(
            "POST",
            "/api/v1/employee-insured",
            {
                "entries": [
                    {"certno": SPOUSE, "insured_since": "2020-01-01"},
                    {"certno": ADULT, "insured_since": "2027-05-01"},
                ]
            },
        )
        assert result == {"imported": 2, "terminated_enrollments": 1}
        error = await office.refused(
            "POST", "/api/v1/enrollments", {"psn_no": employee, "year": 2027}, 409, "EMPLOYEE_INSURED"
        )
        assert "职工基本医疗保险" in error["message"]
        history = await office.ok("GET", f"/api/v1/persons/{resident}/enrollments")
        assert [
            (e["status"], e["terminated_on"], e["coverage_end"], e["termination_reason"]) for e in history
        ] == [("terminated", "2027-05-01", "2027-04-30", "employee_insurance")]
        [ended] = await office.events("enrollment.terminated")
        assert (ended["data"]["psn_no"], ended["data"]["effective_date"]) == (resident, "2027-05-01")
        # Importing the same list again changes nothing.
        again = await office.ok(
            "POST",
            "/api/v1/employee-insured",
            {
                "entries": [
                    {"certno": SPOUSE, "insured_since": "2020-01-01"},
                    {"certno": ADULT, "insured_since": "2027-05-01"},
                ]
            },
        )
        assert again == {"imported": 0, "terminated_enrollments": 0}


async def test_periods_late_payment_and_newborns(office_on: OfficeFactory) -> None:
    async with office_on(date(2026, 6, 1)) as office:
        psn_no = await office.person(ADULT)
        await office.refused(
            "POST", "/api/v1/enrollments", {"psn_no": psn_no, "year": 2027}, 422, "OUTSIDE_COLLECTION_PERIOD"
        )
    async with office_on(date(2027, 2, 10)) as office:
        # Late payment on 10 Feb 2027: 30 days' wait, cover from 12 Mar 2027.
        late = await office.ok("POST", "/api/v1/enrollments", {"psn_no": psn_no, "year": 2027}, 201)
        assert (late["kind"], late["coverage_begin"]) == ("late", "2027-03-12")
        baby = await office.person(make_id_number(REGION, date(2027, 1, 20), 58), "张小宝")
        newborn = await office.ok("POST", "/api/v1/enrollments", {"psn_no": baby, "year": 2027}, 201)
        assert (newborn["kind"], newborn["coverage_begin"], newborn["psn_type"], newborn["due_fen"]) == (
            "newborn",
            "2027-01-20",
            "1401",
            3000,
        )
        await office.refused(
            "POST", "/api/v1/enrollments", {"psn_no": psn_no, "year": 2027}, 409, "ALREADY_ENROLLED"
        )
    async with office_on(date(2027, 4, 1)) as office:
        other = await office.person(SPOUSE, "李四")
        error = await office.refused(
            "POST", "/api/v1/enrollments", {"psn_no": other, "year": 2027}, 422, "OUTSIDE_COLLECTION_PERIOD"
        )
        assert "2027-03-31" in error["message"]


async def test_bad_requests_are_clear_client_errors(office_on: OfficeFactory) -> None:
    async with office_on(COLLECTING) as office:
        await office.refused(
            "POST",
            "/api/v1/persons",
            {"certno": "341524198503120131", "psn_name": "张三"},
            422,
            "VALIDATION_ERROR",
        )
        future = make_id_number(REGION, date(2026, 12, 1), 11)
        error = await office.refused(
            "POST", "/api/v1/persons", {"certno": future, "psn_name": "未来"}, 422, "INVALID_ID_NUMBER"
        )
        assert "出生日期超出合理范围" in error["message"]
        await office.refused(
            "POST", "/api/v1/enrollments", {"psn_no": "nobody", "year": 2027}, 404, "PERSON_NOT_FOUND"
        )
        psn_no = await office.person(ADULT)
        await office.refused(
            "POST",
            "/api/v1/enrollments",
            {"psn_no": psn_no, "year": 2027, "insutype": "310"},
            422,
            "VALIDATION_ERROR",
        )
        await office.refused(
            "POST",
            "/api/v1/enrollments",
            {"psn_no": psn_no, "year": 2027, "insuplc_admdvs": "110105"},
            404,
            "REGION_NOT_FOUND",
        )
        await office.refused(
            "POST", "/api/v1/enrollments/999/payments", paid(100, "X"), 404, "ENROLLMENT_NOT_FOUND"
        )
        await office.refused(
            "PUT",
            f"/api/v1/regions/{REGION}",
            {"admdvs": REGION, "name": "x", "subsidy_county": 0},
            422,
            "VALIDATION_ERROR",
        )
