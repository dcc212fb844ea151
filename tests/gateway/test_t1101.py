"""1101 mapping from the enrollment service's lookup answer to baseinfo/insuinfo/idetinfo, on hand-built
answers (no database, no network); the lookup's routing by certificate type through a Downstream whose HTTP
transport is a stub."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from gateway.downstream import Downstream
from gateway.nhsa import person
from gateway.nhsa.envelope import RequestEnvelope
from gateway.nhsa.errors import Refusal

from shared.clock import now_china
from shared.contracts.v1.enrollment import PersonCoverage
from tests.gateway.factories import run_handler

CERTNO = "34152419850312013X"
ON = date(2026, 11, 20)


def enrollment(
    year: int,
    status: str = "active",
    *,
    id: int = 1,
    begin: str | None = None,
    end: str | None = None,
    terminated_on: str | None = None,
    continuous_years: int = 1,
    psn_insu_date: str | None = None,
) -> dict[str, Any]:
    return {
        "id": id,
        "psn_no": "3415240000000001",
        "year": year,
        "insutype": "390",
        "psn_type": "1501",
        "insuplc_admdvs": "341524",
        "tier": "A",
        "kind": "regular",
        "due_fen": 40000,
        "paid_fen": 40000 if status != "pending" else 0,
        "subsidy_fen": 0,
        "enrolled_on": f"{year - 1}-10-01",
        "activated_on": None if status == "pending" else f"{year - 1}-10-01",
        "status": status,
        "coverage_begin": begin or f"{year}-01-01",
        "coverage_end": end or f"{year}-12-31",
        "terminated_on": terminated_on,
        "termination_reason": "moved_away" if terminated_on else None,
        "continuous_years": continuous_years,
        "psn_insu_date": psn_insu_date,
    }


def coverage(
    *enrollments: dict[str, Any],
    identities: list[dict[str, Any]] | None = None,
    card: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "person": {
            "psn_no": "3415240000000001",
            "certno": CERTNO,
            "psn_cert_type": "01",
            "psn_name": "张三",
            "gend": "1",
            "brdy": "1985-03-12",
            "naty": "01",
            "admdvs": "341524",
            "household_no": "H001",
            "relation": "01",
        },
        "age": 41,
        "enrollments": list(enrollments),
        "identities": identities or [],
        "card": card,
    }


def card(status: str) -> dict[str, Any]:
    return {
        "card_no": "A1",
        "card_sn": "S1",
        "psn_no": "3415240000000001",
        "status": status,
        "issued_on": "2024-01-01",
        "changed_on": "2024-01-01",
        "replaced_by": None,
    }


def stas(output: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(r["psn_insu_stas"], r["psn_insu_date"], r.get("paus_insu_date")) for r in output["insuinfo"]]


def refusal_code(call: Any) -> tuple[str, str]:
    with pytest.raises(Refusal) as caught:
        call()
    return caught.value.code, caught.value.message


# --- insuinfo ------------------------------------------------------------------------------------------


def test_active_enrollment_is_normal_insurance_since_the_continuous_cover_began() -> None:
    output = person.build_output(
        PersonCoverage.model_validate(
            coverage(enrollment(2026, continuous_years=8, psn_insu_date="2019-01-01"))
        ),
        ON,
    )
    assert stas(output) == [("1", "2019-01-01", None)]
    [row] = output["insuinfo"]
    assert (row["insutype"], row["psn_type"], row["insuplc_admdvs"], row["balc"]) == (
        "390",
        "1501",
        "341524",
        Decimal("0.00"),
    )
    assert output["baseinfo"]["psn_no"] == "3415240000000001"
    assert output["baseinfo"]["age"] == 41
    assert json.loads(output["baseinfo"]["exp_content"]) == {"continuous_years": 8}


def test_without_continuous_start_the_years_own_begin_is_shown() -> None:
    output = person.build_output(
        PersonCoverage.model_validate(coverage(enrollment(2026, begin="2026-03-15"))), ON
    )
    assert stas(output) == [("1", "2026-03-15", None)]


def test_not_renewed_is_lapsed_from_the_day_after_the_last_cover() -> None:
    # 2023 and 2025 paid, nothing for 2026: the latest (2025, ended 31 Dec) shows, paused from 1 Jan 2026.
    output = person.build_output(
        PersonCoverage.model_validate(
            coverage(
                enrollment(2023, id=1, continuous_years=1),
                enrollment(2025, id=3, continuous_years=1, psn_insu_date="2025-01-01"),
            )
        ),
        ON,
    )
    assert stas(output) == [("2", "2025-01-01", "2026-01-01")]
    assert json.loads(output["baseinfo"]["exp_content"]) == {"continuous_years": 1}


def test_active_but_past_its_coverage_end_is_lapsed() -> None:
    output = person.build_output(
        PersonCoverage.model_validate(coverage(enrollment(2026, end="2026-06-30"))), ON
    )
    # Cover ended 30 June: paused from 1 July.
    assert stas(output) == [("2", "2026-01-01", "2026-07-01")]


def test_terminated_enrollment_is_terminated_from_its_date() -> None:
    terminated = enrollment(
        2026,
        "terminated",
        end="2026-09-30",
        terminated_on="2026-10-01",
        continuous_years=4,
        psn_insu_date="2023-01-01",
    )
    output = person.build_output(PersonCoverage.model_validate(coverage(terminated)), ON)
    assert stas(output) == [("4", "2023-01-01", "2026-10-01")]
    assert json.loads(output["baseinfo"]["exp_content"]) == {"continuous_years": 4}


def test_terminated_last_year_stays_terminated_rather_than_lapsed() -> None:
    terminated = enrollment(2025, "terminated", end="2025-05-31", terminated_on="2025-06-01")
    assert stas(person.build_output(PersonCoverage.model_validate(coverage(terminated)), ON)) == [
        ("4", "2025-01-01", "2025-06-01")
    ]


def test_terminated_then_re_enrolled_in_the_year_shows_both_rows() -> None:
    output = person.build_output(
        PersonCoverage.model_validate(
            coverage(
                enrollment(
                    2026, "terminated", id=1, end="2026-03-31", terminated_on="2026-04-01", continuous_years=5
                ),
                enrollment(2026, id=2, begin="2026-06-01", continuous_years=1),
            )
        ),
        ON,
    )
    assert stas(output) == [("4", "2026-01-01", "2026-04-01"), ("1", "2026-06-01", None)]
    assert json.loads(output["baseinfo"]["exp_content"]) == {"continuous_years": 1}


def test_pending_enrollments_are_not_insurance() -> None:
    assert refusal_code(
        lambda: person.build_output(PersonCoverage.model_validate(coverage(enrollment(2026, "pending"))), ON)
    ) == (
        "E_NOT_INSURED",
        "该人员在 2026 年度无参保信息",
    )
    assert (
        refusal_code(lambda: person.build_output(PersonCoverage.model_validate(coverage()), ON))[0]
        == "E_NOT_INSURED"
    )
    # Registered for 2026 but not paid, insured in 2025: the 2025 cover shows, lapsed on 1 Jan 2026.
    output = person.build_output(
        PersonCoverage.model_validate(coverage(enrollment(2025), enrollment(2026, "pending", id=2))), ON
    )
    assert stas(output) == [("2", "2025-01-01", "2026-01-01")]


def test_historical_lookup_describes_the_reference_year() -> None:
    both = coverage(enrollment(2025, id=1), enrollment(2026, id=2, continuous_years=2))
    output = person.build_output(PersonCoverage.model_validate(both), date(2025, 6, 1))
    assert stas(output) == [("1", "2025-01-01", None)]
    assert json.loads(output["baseinfo"]["exp_content"]) == {"continuous_years": 1}
    # Before the person's first cover there is nothing to show.
    assert refusal_code(
        lambda: person.build_output(PersonCoverage.model_validate(both), date(2024, 6, 1))
    ) == (
        "E_NOT_INSURED",
        "该人员在 2024 年度无参保信息",
    )


def test_identities_ended_before_the_reference_year_are_left_out() -> None:
    identities: list[dict[str, Any]] = [
        {"psn_idet_type": "2102", "begin_date": "2020-01-01", "end_date": "2025-12-31"},
        {"psn_idet_type": "2103", "begin_date": "2026-03-01", "end_date": None},
    ]
    output = person.build_output(
        PersonCoverage.model_validate(coverage(enrollment(2026), identities=identities)), ON
    )
    # Times as the interface types them; an open-ended identity has no endtime (left out, never null).
    assert [(i["psn_idet_type"], i["begntime"], i.get("endtime")) for i in output["idetinfo"]] == [
        ("2103", "2026-03-01 00:00:00", None)
    ]
    ended = {"psn_idet_type": "2102", "begin_date": "2026-01-01", "end_date": "2026-06-30"}
    ended_coverage = PersonCoverage.model_validate(coverage(enrollment(2026), identities=[ended]))
    [row] = person.build_output(ended_coverage, ON)["idetinfo"]
    assert (row["begntime"], row["endtime"]) == ("2026-01-01 00:00:00", "2026-06-30 23:59:59")


# --- input ---------------------------------------------------------------------------------------------


def test_lookup_key_by_certificate_type() -> None:
    assert person.lookup_key(person.Input1101(mdtrt_cert_type="02", mdtrt_cert_no=CERTNO)) == person.ByCertno(
        CERTNO
    )
    card = person.Input1101(mdtrt_cert_type="03", mdtrt_cert_no="A34152400001", card_sn=" SN0001 ")
    assert person.lookup_key(card) == person.ByCard("A34152400001", "SN0001")
    for card_sn in (None, "", "   "):
        data = person.Input1101(mdtrt_cert_type="03", mdtrt_cert_no="A34152400001", card_sn=card_sn)
        assert refusal_code(lambda data=data: person.lookup_key(data)) == (
            "E_INPUT",
            "input.data.card_sn: 社保卡就诊时卡识别码必填",
        )
    voucher = person.Input1101(mdtrt_cert_type="01", mdtrt_cert_no="token")
    assert refusal_code(lambda: person.lookup_key(voucher))[0] == "E_CERT_TYPE"


def test_reference_date() -> None:
    def data(begntime: str | None) -> person.Input1101:
        return person.Input1101(mdtrt_cert_type="02", mdtrt_cert_no=CERTNO, begntime=begntime)

    assert person.reference_date(data("2025-06-01 23:30:00")) == date(2025, 6, 1)
    assert person.reference_date(data("")) == now_china().date()
    assert refusal_code(lambda: person.reference_date(data("2025/06/01")))[0] == "E_INPUT"


def test_card_lookup_answer_with_an_inactive_card_is_refused() -> None:
    person.require_active_card(PersonCoverage.model_validate(coverage(card=card("active"))))
    for status in ("lost", "replaced"):
        lost = PersonCoverage.model_validate(coverage(card=card(status)))
        assert refusal_code(lambda lost=lost: person.require_active_card(lost))[0] == "CARD_NOT_ACTIVE"


# --- routing through the Downstream --------------------------------------------------------------------


class StubEnrollment:
    """Answers the lookup like the enrollment service would, remembering the query strings it got."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body
        self.queries: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/persons/lookup"
        self.queries.append(dict(request.url.params))
        return httpx.Response(self.status, json=self.body)


async def _lookup(stub: StubEnrollment, data: dict[str, Any]) -> dict[str, Any]:
    downstream = Downstream("http://enrollment", "http://settlement", 1.0)
    await downstream.client.aclose()
    downstream.client = httpx.AsyncClient(transport=httpx.MockTransport(stub))
    envelope = RequestEnvelope.model_validate(
        {
            "infno": "1101",
            "msgid": "P34152400001202611201000000001",
            "mdtrtarea_admvs": "341524",
            "recer_sys_code": "YBXT",
            "infver": "V1.0",
            "opter_type": "1",
            "opter": "001",
            "opter_name": "收款员",
            "inf_time": "2026-11-20 10:00:00",
            "fixmedins_code": "P34152400001",
            "fixmedins_name": "药房",
            "input": {"data": data},
        }
    )
    try:
        output = await run_handler(envelope, downstream)
        assert isinstance(output, dict)  # 1101 has no warn_msg
        return output
    finally:
        await downstream.close()


async def test_card_swipe_looks_up_by_card_number_and_chip_serial() -> None:
    active_card = {**card("active"), "card_no": "A34152400001", "card_sn": "SN0001"}
    stub = StubEnrollment(200, coverage(enrollment(2026), card=active_card))
    data = {
        "mdtrt_cert_type": "03",
        "mdtrt_cert_no": "A34152400001",
        "card_sn": "SN0001",
        "begntime": "2026-11-20 10:00:00",
    }
    output = await _lookup(stub, data)
    assert stub.queries == [{"card_no": "A34152400001", "card_sn": "SN0001"}]
    assert stas(output) == [("1", "2026-01-01", None)]


async def test_id_card_looks_up_by_certno() -> None:
    stub = StubEnrollment(200, coverage(enrollment(2026)))
    data = {"mdtrt_cert_type": "02", "mdtrt_cert_no": CERTNO, "begntime": "2026-11-20 10:00:00"}
    await _lookup(stub, data)
    assert stub.queries == [{"certno": CERTNO}]


async def test_enrollment_refusals_keep_their_code_and_message() -> None:
    lost = StubEnrollment(422, {"error": {"code": "CARD_NOT_ACTIVE", "message": "该社保卡已挂失或已换卡"}})
    data = {"mdtrt_cert_type": "03", "mdtrt_cert_no": "A34152400001", "card_sn": "SN0001"}
    with pytest.raises(Refusal) as caught:
        await _lookup(lost, data)
    assert caught.value.err_msg == "[CARD_NOT_ACTIVE] 该社保卡已挂失或已换卡"

    unknown = StubEnrollment(404, {"error": {"code": "PERSON_NOT_FOUND", "message": "无此人员"}})
    with pytest.raises(Refusal) as caught:
        await _lookup(unknown, {"mdtrt_cert_type": "02", "mdtrt_cert_no": CERTNO})
    assert caught.value.code == "PERSON_NOT_FOUND"


async def test_card_swipe_without_chip_serial_never_reaches_enrollment() -> None:
    stub = StubEnrollment(200, coverage(enrollment(2026)))
    with pytest.raises(Refusal) as caught:
        await _lookup(stub, {"mdtrt_cert_type": "03", "mdtrt_cert_no": "A34152400001", "card_sn": ""})
    assert caught.value.code == "E_INPUT"
    assert stub.queries == []
