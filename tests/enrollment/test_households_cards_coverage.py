"""Households and school classes (all or nothing), terminations and coverage by date, continuity across
the legacy schemes, social-security cards, and the operator's figures."""

from __future__ import annotations

from datetime import date

from enrollment.persons.models import Person
from sqlalchemy import func, select

from shared.idcard import make_id_number
from tests.enrollment.conftest import REGION, OfficeFactory

COLLECTING = date(2026, 10, 15)
HEAD = make_id_number(REGION, date(1985, 3, 12), 13)
SPOUSE = make_id_number(REGION, date(1987, 6, 2), 24)
CHILD = make_id_number(REGION, date(2016, 4, 5), 35)
OTHER = make_id_number(REGION, date(1990, 8, 8), 47)
STUDENT_1 = make_id_number(REGION, date(2007, 9, 1), 51)
STUDENT_2 = make_id_number(REGION, date(2008, 2, 3), 62)


def household(no: str, members: list[tuple[str, str, str]], **enroll: object) -> dict[str, object]:
    body: dict[str, object] = {
        "household_no": no,
        "admdvs": REGION,
        "address": "梅山镇",
        "members": [{"certno": c, "psn_name": n, "relation": r} for c, n, r in members],
    }
    if enroll:
        body["enroll"] = enroll
    return body


def payment(amount_fen: int, receipt: str) -> dict[str, object]:
    return {"payer": "individual", "amount_fen": amount_fen, "receipt_no": receipt, "paid_on": "2026-10-15"}


FAMILY = [(HEAD, "张三", "head"), (SPOUSE, "李四", "spouse"), (CHILD, "张小明", "child")]


async def test_household_registers_and_pays_for_everyone(office_on: OfficeFactory) -> None:
    async with office_on(COLLECTING) as office:
        # Two adults and a child at 30.00 each: 90.00 for the household.
        result = await office.ok(
            "POST",
            "/api/v1/households",
            household("H-1", FAMILY, year=2027, payment=payment(9000, "HH1")),
            201,
        )
        assert [e["psn_type"] for e in result["enrollments"]] == ["1501", "1501", "1403"]
        assert {e["status"] for e in result["enrollments"]} == {"active"}
        status = await office.ok("GET", "/api/v1/households/H-1?year=2027")
        assert (status["due_fen"], status["paid_fen"], len(status["members"])) == (9000, 9000, 3)
        assert status["head_psn_no"] == result["persons"][0]["psn_no"]
        assert len(await office.events("enrollment.subsidy_allocated")) == 3
        assert len(await office.events("enrollment.person_registered")) == 3


async def test_household_is_refused_whole_with_every_reason(office_on: OfficeFactory) -> None:
    async with office_on(COLLECTING) as office:
        await office.ok("POST", "/api/v1/households", household("H-0", [(OTHER, "王五", "head")]), 201)
        await office.ok(
            "POST",
            "/api/v1/employee-insured",
            {"entries": [{"certno": SPOUSE, "insured_since": "2019-01-01"}]},
        )
        events_before = len(await office.events())
        members = [*FAMILY, (OTHER, "王五", "other")]
        error = await office.refused(
            "POST", "/api/v1/households", household("H-1", members, year=2027), 422, "BATCH_REFUSED"
        )
        assert [(d["index"], d["code"]) for d in error["details"]] == [
            (1, "EMPLOYEE_INSURED"),
            (3, "IN_OTHER_HOUSEHOLD"),
        ]
        async with office.db.session() as session:
            assert await session.scalar(select(func.count()).select_from(Person)) == 1  # only 王五 from H-0
        assert len(await office.events()) == events_before

        # A wrong total is refused too, and leaves nothing behind.
        await office.refused(
            "POST",
            "/api/v1/households",
            household("H-2", FAMILY[:1] + FAMILY[2:], year=2027, payment=payment(3000, "HH2")),
            422,
            "UNDERPAYMENT",
        )
        two_heads = household("H-3", [(HEAD, "张三", "head"), (CHILD, "张小明", "head")])
        await office.refused("POST", "/api/v1/households", two_heads, 422, "VALIDATION_ERROR")
        await office.refused(
            "POST", "/api/v1/households", household("H-0", [(HEAD, "张三", "head")]), 409, "HOUSEHOLD_EXISTS"
        )
        async with office.db.session() as session:
            assert await session.scalar(select(func.count()).select_from(Person)) == 1


async def test_school_class_enrolls_students_by_school_kind(office_on: OfficeFactory) -> None:
    async with office_on(COLLECTING) as office:
        await office.ok(
            "POST",
            "/api/v1/schools",
            {"school_code": "S001", "name": "金寨职业学院", "admdvs": REGION, "kind": "college"},
            201,
        )
        students = [{"certno": STUDENT_1, "psn_name": "学生甲"}, {"certno": STUDENT_2, "psn_name": "学生乙"}]
        result = await office.ok(
            "POST",
            "/api/v1/schools/S001/classes",
            {"year": 2027, "class_name": "护理1班", "students": students, "payment": payment(6000, "SCH1")},
            201,
        )
        # College students pay the fixed student standard (30.00 each) whatever their age.
        assert [(e["psn_type"], e["due_fen"], e["status"]) for e in result["enrollments"]] == [
            ("1404", 3000, "active"),
            ("1404", 3000, "active"),
        ]
        await office.refused(
            "POST",
            "/api/v1/schools/NOPE/classes",
            {"year": 2027, "class_name": "x", "students": students},
            404,
            "SCHOOL_NOT_FOUND",
        )


async def test_termination_and_coverage_by_date(office_on: OfficeFactory) -> None:
    async with office_on(COLLECTING) as office:
        result = await office.ok(
            "POST",
            "/api/v1/households",
            household("H-1", FAMILY, year=2027, payment=payment(9000, "HH1")),
            201,
        )
        head = result["persons"][0]["psn_no"]
        ended = await office.ok(
            "POST", f"/api/v1/persons/{head}/termination", {"reason": "death", "effective_date": "2027-05-01"}
        )
        assert [(e["status"], e["coverage_end"]) for e in ended] == [("terminated", "2027-04-30")]
        before = await office.ok("GET", f"/api/v1/persons/{head}/coverage?on=2027-04-30")
        after = await office.ok("GET", f"/api/v1/persons/{head}/coverage?on=2027-05-01")
        assert (before["covered"], after["covered"]) == (True, False)
        assert after["reason"] == "已于 2027-05-01 终止参保"
        lapsed = await office.ok("GET", f"/api/v1/persons/{head}/coverage?on=2028-02-01")
        assert (lapsed["covered"], lapsed["reason"]) == (False, "2028 年度未参保")
        await office.refused(
            "POST",
            f"/api/v1/persons/{head}/termination",
            {"reason": "death", "effective_date": "2027-05-01"},
            422,
            "NOTHING_TO_TERMINATE",
        )
        await office.refused(
            "POST",
            f"/api/v1/enrollments/{ended[0]['id']}/termination",
            {"reason": "moved_away", "effective_date": "2027-06-01"},
            409,
            "ALREADY_TERMINATED",
        )
        [event] = await office.events("enrollment.terminated")
        assert (event["data"]["reason"], event["data"]["effective_date"]) == ("death", "2027-05-01")


async def test_years_under_legacy_schemes_count_towards_continuity(office_on: OfficeFactory) -> None:
    async with office_on(COLLECTING) as office:
        psn_no = await office.person(HEAD)
        for year, insutype in ((2024, "391"), (2025, "380"), (2026, "380")):
            await office.ok(
                "POST",
                f"/api/v1/persons/{psn_no}/legacy-enrollments",
                {"year": year, "insutype": insutype, "insuplc_admdvs": REGION, "paid_fen": 3000},
                201,
            )
        enrollment = await office.ok(
            "POST",
            "/api/v1/enrollments",
            {"psn_no": psn_no, "year": 2027, "payment": payment(3000, "R1")},
            201,
        )
        # 2024 (URBMI) + 2025, 2026 (NCMS) + 2027 (unified): four years, cover unbroken since 1 Jan 2024.
        assert (enrollment["continuous_years"], enrollment["psn_insu_date"]) == (4, "2024-01-01")
        [activated] = await office.events("enrollment.coverage_activated")
        assert (activated["data"]["continuous_years"], activated["data"]["psn_insu_date"]) == (
            4,
            "2024-01-01",
        )
        other = await office.person(SPOUSE, "李四")
        await office.ok(
            "POST",
            f"/api/v1/persons/{other}/legacy-enrollments",
            {"year": 2024, "insutype": "391", "insuplc_admdvs": REGION, "paid_fen": 3000},
            201,
        )
        gap = await office.ok(
            "POST",
            "/api/v1/enrollments",
            {"psn_no": other, "year": 2027, "payment": payment(3000, "R2")},
            201,
        )
        assert (gap["continuous_years"], gap["psn_insu_date"]) == (1, "2027-01-01")
        await office.refused(
            "POST",
            f"/api/v1/persons/{other}/legacy-enrollments",
            {"year": 2027, "insutype": "380", "insuplc_admdvs": REGION, "paid_fen": 0},
            409,
            "ALREADY_ENROLLED",
        )


async def test_cards_lost_and_replaced(office_on: OfficeFactory) -> None:
    async with office_on(COLLECTING) as office:
        psn_no = await office.person(HEAD)
        await office.ok(
            "POST",
            f"/api/v1/persons/{psn_no}/cards",
            {"card_no": "J34152400013", "card_sn": "SN00000013", "issued_on": "2026-10-01"},
            201,
        )
        found = await office.ok("GET", "/api/v1/persons/lookup?card_no=J34152400013&card_sn=SN00000013")
        assert (found["person"]["psn_no"], found["card"]["status"]) == (psn_no, "active")
        await office.refused(
            "GET",
            "/api/v1/persons/lookup?card_no=J34152400013&card_sn=SN99999999",
            None,
            422,
            "CARD_SN_MISMATCH",
        )
        await office.refused(
            "POST",
            f"/api/v1/persons/{psn_no}/cards",
            {"card_no": "J34152400099", "card_sn": "SN00000099", "issued_on": "2026-10-01"},
            409,
            "CARD_EXISTS",
        )
        await office.ok("POST", "/api/v1/cards/J34152400013/loss", {"reported_on": "2026-10-10"})
        error = await office.refused(
            "GET", "/api/v1/persons/lookup?card_no=J34152400013", None, 422, "CARD_NOT_ACTIVE"
        )
        assert "挂失" in error["message"]
        await office.ok(
            "POST",
            "/api/v1/cards/J34152400013/replacement",
            {"new_card_no": "J34152400014", "new_card_sn": "SN00000014", "issued_on": "2026-10-12"},
            201,
        )
        await office.refused(
            "GET", "/api/v1/persons/lookup?card_no=J34152400013", None, 422, "CARD_NOT_ACTIVE"
        )
        assert (await office.ok("GET", "/api/v1/persons/lookup?card_no=J34152400014"))["card"][
            "status"
        ] == "active"
        statuses = [
            (e["data"]["card_no"], e["data"]["status"])
            for e in await office.events("enrollment.card_status_changed")
        ]
        assert statuses == [
            ("J34152400013", "active"),
            ("J34152400013", "lost"),
            ("J34152400013", "replaced"),
            ("J34152400014", "active"),
        ]
        await office.refused("GET", "/api/v1/persons/lookup", None, 422, "BAD_LOOKUP")


async def test_enrollment_rate_against_target(office_on: OfficeFactory) -> None:
    async with office_on(COLLECTING) as office:
        await office.ok(
            "POST",
            "/api/v1/households",
            household("H-1", FAMILY, year=2027, payment=payment(9000, "HH1")),
            201,
        )
        pending = await office.person(OTHER, "王五")
        await office.ok("POST", "/api/v1/enrollments", {"psn_no": pending, "year": 2027}, 201)  # not paid
        await office.refused(
            "GET", f"/api/v1/regions/{REGION}/enrollment-rate?year=2027", None, 404, "TARGET_NOT_FOUND"
        )
        await office.ok("PUT", f"/api/v1/regions/{REGION}/targets/2027", {"population": 8})
        rate = await office.ok("GET", f"/api/v1/regions/{REGION}/enrollment-rate?year=2027")
        # Three paid of eight to be covered: 37.5 %; the unpaid registration does not count.
        assert (rate["covered_persons"], rate["target_population"], rate["rate"]) == (3, 8, "0.3750")
