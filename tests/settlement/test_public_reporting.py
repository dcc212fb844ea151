"""The monthly public report: compensation list per village with masked names, beneficiaries, the inpatient
actual reimbursement ratio, the largest compensations, and the enrollment rate and fund figures taken from
enrollment and the ledger as they give them. Every figure is checked against totals computed by hand here.
The fund figures come from a real ledger that booked the month's settlement events (and a contribution)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any, ClassVar

import httpx
import pytest
from fund_ledger.main import HANDLERS
from settlement.db import infra
from settlement.reporting import service
from settlement.reporting.document import bars
from settlement.reporting.service import mask_name

from shared.clock import now_china
from shared.db import Database
from shared.events import EventEnvelope
from tests.ledger.builders import payment
from tests.settlement.conftest import HOSPITAL, REGION, SettlementApi, new_person, purchase
from tests.settlement.test_manual_reimbursement import CLERK, REVIEWER, _bills, ledger
from tests.settlement.test_supervision import _buy, _stay

__all__ = ["ledger"]  # the ledger fixture, used here too


class Sources(service.HttpSources):
    """The real ledger (its app, over ASGI instead of a socket) behind the report's own HTTP source;
    enrollment as it would answer (its own tests cover how it computes the rate)."""

    villages: ClassVar[dict[str, str]] = {}
    ledger: ClassVar[httpx.AsyncClient]

    async def _get(self, url: str, params: dict[str, str]) -> Any:
        assert url.startswith(self.ledger_url), url
        response = await self.ledger.get(url.removeprefix(self.ledger_url), params=params)
        response.raise_for_status()
        return response.json()

    async def residences(self, admdvs: str) -> dict[str, str]:
        return dict(self.villages)

    async def enrollment_rate(self, admdvs: str, year: int) -> dict[str, Any]:
        return {
            "admdvs": admdvs,
            "year": year,
            "target_population": 400,
            "covered_persons": 380,
            "rate": "0.95",
        }


def test_names_are_masked() -> None:
    assert [mask_name(n) for n in ("张三", "李小明", "欧阳娜娜", "王", "")] == [
        "张*",
        "李*明",
        "欧**娜",
        "王",
        "*",
    ]


async def _month_of_care(api: SettlementApi) -> dict[str, str]:
    """A, B, C compensated this month; D under the deductible; E's purchase reversed."""
    people = {}
    for who in "ABCDE":
        psn_no, certno = new_person()
        await api.cover(psn_no, certno)
        people[who] = psn_no
        people[who + "_cert"] = certno
    a, b, c = people["A"], people["B"], people["C"]
    # A: two purchases of 50.00 (class A): (50 - 20 yearly deductible) x 50 % = 15.00, then 50 x 50 % = 25.00.
    first = await _buy(api, a, people["A_cert"], "20T09:00", lines=[("A", "100", "0.5", 5000)])
    second = await _buy(api, a, people["A_cert"], "20T10:00", lines=[("A", "100", "0.5", 5000)])
    assert (first["fund_paid_total_fen"], second["fund_paid_total_fen"]) == (1500, 2500)
    # B: a stay of 500.00 of 乙 (10 % self-pay first: 450.00 in range) - 300.00 deductible = 150.00 x 60 %.
    stay = await _stay(api, b, people["B_cert"], HOSPITAL, "02T09:00", "06T09:00")
    assert stay["fund_paid_total_fen"] == 9000
    # C: a manual reimbursement of 5,200.00 inpatient: 2,520.00 (see test_manual_reimbursement).
    claim = await api.post("/api/v1/manual-reimbursements", _bills(c, "FP-R-1"), headers=CLERK)
    assert claim.status_code == 201
    decided = await api.post(
        f"/api/v1/manual-reimbursements/{claim.json()['claim_no']}/decision",
        {"decision": "approve", "note": "同意"},
        headers=REVIEWER,
    )
    assert decided.json()["fund_paid_total_fen"] == 252000
    # D: 10.00 stays under the yearly deductible: the funds paid nothing, not on the list.
    await _buy(api, people["D"], people["D_cert"], "20T09:00", lines=[("A", "20", "0.5", 1000)])
    # E: 50.00 settled and reversed: not on the list.
    body = purchase(
        people["E"], people["E_cert"], [("A", "100", "0.5", 5000)], begntime="2026-11-20T09:00:00+08:00"
    )
    e = (await api.post("/api/v1/pharmacy-settlements", body)).json()
    reversed_ = await api.post(
        f"/api/v1/settlements/{e['setl_id']}/reversal",
        {"msgid": "REV-RPT-1", "fixmedins_code": e["fixmedins_code"]},
    )
    assert reversed_.status_code == 200
    return people


async def _book(api: SettlementApi, db: Database) -> None:
    """Every event settlement published, booked by the ledger's own handlers, and a contribution of
    3,000.00 received this month."""
    handlers = {kind.event_type: handler for kind, handler in HANDLERS.items()}
    async with api.db.session() as session:
        rows = (await session.execute(infra.outbox.select().order_by(infra.outbox.c.id))).all()
    envelopes = [EventEnvelope.model_validate(json.loads(row.payload)) for row in rows]
    async with db.transaction() as session:
        for envelope in envelopes:
            if envelope.type in handlers:
                await handlers[envelope.type](session, envelope)
        await handlers["enrollment.payment_received"](
            session, payment(1, 300000, admdvs=REGION).envelope("t")
        )


async def test_the_monthly_report_against_hand_computed_totals(
    settlement_api: SettlementApi,
    ledger: tuple[httpx.AsyncClient, Database],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    people = await _month_of_care(settlement_api)
    await _book(settlement_api, ledger[1])
    monkeypatch.setattr(service, "HttpSources", Sources)
    monkeypatch.setattr(Sources, "ledger", ledger[0], raising=False)
    monkeypatch.setattr(
        Sources, "villages", {people["A"]: "红石村", people["B"]: "红石村", people["C"]: "梅山社区"}
    )
    month = now_china().strftime("%Y-%m")  # settlements are reported in the month they were settled
    response = await settlement_api.client.get(
        "/api/v1/reports/publicity", params={"admdvs": REGION, "month": month}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    # Lines: A 15.00 + A 25.00 + B 90.00 + C 2,520.00 = 2,650.00 paid, on 50 + 50 + 500 + 5,200 = 5,800.00.
    assert (report["compensations"], report["beneficiaries"]) == (4, 3)
    assert (report["fund_paid_fen"], report["medfee_fen"]) == (265000, 580000)
    # Inpatient: (90.00 + 2,520.00) / (500.00 + 5,200.00) = 2,610 / 5,700 = 0.457894... -> 0.4579.
    assert (report["inpatient_fund_paid_fen"], report["inpatient_medfee_fen"]) == (261000, 570000)
    assert report["inpatient_ratio"] == "0.4579"
    assert report["by_village"] == [
        {"village": "梅山社区", "count": 1, "fund_paid_fen": 252000},
        {"village": "红石村", "count": 3, "fund_paid_fen": 1500 + 2500 + 9000},
    ]
    assert [x["fund_paid_fen"] for x in report["largest"]] == [252000, 9000, 2500, 1500]
    assert report["largest"][0]["source"] == "零星报销"
    assert {x["name"] for x in report["list"]} == {"测**员"}  # 测试人员, masked
    assert report["enrollment"]["rate"] == "0.95"
    # The ledger, from nothing: income 3,000.00 (the contribution); spending 40.00 outpatient pooling (A) +
    # 90.00 + 2,520.00 inpatient (B, C) = 2,650.00 (E's 50.00 and its reversal cancel out; D got nothing);
    # closing 0 + 3,000.00 - 2,650.00 = 350.00.
    disclosure = report["disclosure"]
    spent = {line["item"]: line["amount"] for line in disclosure["expenditure"] if line["amount"] != "0.00"}
    assert spent == {"住院待遇支出": "2610.00", "普通门诊待遇支出（含药店购药）": "40.00"}
    assert (disclosure["opening_balance"], disclosure["income_total"]) == ("0.00", "3000.00")
    assert (disclosure["expenditure_total"], disclosure["closing_balance"]) == ("2650.00", "350.00")
    assert report["unavailable"] == []

    listed = await settlement_api.client.get(
        "/api/v1/reports/publicity", params={"admdvs": REGION, "month": month, "format": "csv"}
    )
    assert listed.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(listed.content.decode("utf-8-sig"))))
    assert rows[0][0] == "村(社区)" and len(rows) == 5
    assert sorted(r[6] for r in rows[1:]) == ["15.00", "25.00", "2520.00", "90.00"]
    assert all(people[w] not in listed.text for w in "ABC")  # no personal numbers in a public list

    summary = await settlement_api.client.get(
        "/api/v1/reports/publicity", params={"admdvs": REGION, "month": month, "format": "summary-csv"}
    )
    figures = dict(csv.reader(io.StringIO(summary.content.decode("utf-8-sig"))))
    assert (figures["基金支付合计(元)"], figures["住院实际补偿比"], figures["参保率"]) == (
        "2650.00",
        "45.79%",
        "95.00%",
    )
    assert figures["期末基金结余(元)"] == "350.00"

    page = await settlement_api.client.get(
        "/api/v1/reports/publicity", params={"admdvs": REGION, "month": month, "format": "html"}
    )
    text = page.text
    assert page.headers["content-type"].startswith("text/html")
    assert (
        text.count("<svg") == 2 and "2520.00 元" in text and "红石村 (共 3 人次, 基金支付 130.00 元)" in text
    )
    assert "http" not in text.replace("http://www.w3.org/2000/svg", "")  # nothing fetched from the internet


async def test_other_services_down_the_report_says_what_is_missing(
    settlement_api: SettlementApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = service.HttpSources
    monkeypatch.setattr(
        service, "HttpSources", lambda *_: real("http://127.0.0.1:9", "http://127.0.0.1:9", 2.0)
    )
    month = now_china().strftime("%Y-%m")
    response = await settlement_api.client.get(
        "/api/v1/reports/publicity", params={"admdvs": REGION, "month": month}
    )
    assert response.status_code == 200
    assert (response.json()["compensations"], len(response.json()["unavailable"])) == (0, 3)


async def test_bad_report_requests_are_refused(settlement_api: SettlementApi) -> None:
    for params in (
        {"admdvs": "34", "month": "2026-11"},
        {"admdvs": REGION, "month": "2026-13"},
        {"admdvs": REGION, "month": "2026-11", "format": "pdf"},
        {"admdvs": REGION},
    ):
        response = await settlement_api.client.get("/api/v1/reports/publicity", params=params)
        assert (response.status_code, response.json()["error"]["code"]) == (422, "VALIDATION_ERROR")


def test_chart_labels_are_not_cut() -> None:
    """A name longer than 16 characters is shown whole, and its bar starts after it."""
    long_name = "天津市蓟州区下营镇常州村村民委员会社区卫生服务站"  # 24 CJK characters
    svg = bars("各村(社区)基金补偿金额", [(long_name, 12_345), ("短名", 100)])
    assert f">{long_name}</text>" in svg
    # 24 characters x 12 px + 12 px of gap = 300 px: the bars start there, not at 180
    assert '<rect x="300" y="30"' in svg and '<rect x="300" y="58"' in svg
    assert ">123.45 元<" in svg  # 12 345 fen = 123.45 yuan
