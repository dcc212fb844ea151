"""The settlement service's trail (issue 28): one JSON log line per binding decision, and the request id
of the request that settled on the event it wrote (``trace_id``). Policy of tests/settlement/conftest.py:
20.00 yuan yearly deductible, 50 %, 300.00 yuan yearly cap."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from settlement.db import infra

from shared.observability import JsonLogFormatter
from tests.settlement.conftest import SettlementApi, new_person, purchase

URL = "/api/v1/pharmacy-settlements"


def _decisions(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        json.loads(JsonLogFormatter("settlement").format(record))
        for record in caplog.records
        if getattr(record, "trail", {}).get("event") == "settlement_decision"
    ]


async def test_a_settlement_a_replay_a_refusal_and_a_reversal_each_log_one_decision_line(
    settlement_api: SettlementApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="settlement.trail")
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    body = purchase(psn_no, certno, [("A", "60", "0.5", 3000), ("B", "3", "20", 6000)])
    headers = {"x-request-id": "req-trail-0001", "x-msgid": body["msgid"]}
    settled = await settlement_api.client.post(URL, json=body, headers=headers)
    assert settled.status_code == 200, settled.text
    setl_id = settled.json()["setl_id"]
    again = await settlement_api.client.post(URL, json=body, headers={"x-request-id": "req-trail-0002"})
    assert again.json()["setl_id"] == setl_id
    stranger, stranger_certno = new_person(14)  # never covered: refused
    unknown = purchase(stranger, stranger_certno, [("A", "2", "0.5", 100)])
    refused = await settlement_api.client.post(URL, json=unknown, headers={"x-request-id": "req-trail-0003"})
    assert refused.status_code >= 400
    refused_code = refused.json()["error"]["code"]
    reversal_msgid = body["msgid"][:-1] + ("1" if body["msgid"][-1] != "1" else "2")
    reversed_ = await settlement_api.client.post(
        f"/api/v1/settlements/{setl_id}/reversal",
        json={"msgid": reversal_msgid, "fixmedins_code": body["fixmedins_code"], "psn_no": psn_no},
        headers={"x-request-id": "req-trail-0004"},
    )
    assert reversed_.status_code == 200, reversed_.text

    first, replay, refusal, reversal = _decisions(caplog)
    # A 30.00 (甲) + B 60.00 (乙, 10 % first: 6.00) = 90.00; in range 84.00; (84.00 - 20.00) x 50 % = 32.00
    # from the fund; 90.00 - 32.00 = 58.00 cash; no personal account.
    assert first["request_id"] == "req-trail-0001" and first["msgid"] == body["msgid"]
    assert (first["operation"], first["outcome"], first["code"]) == ("settle", "settled", "ok")
    assert first["setl_id"] == setl_id and first["psn_no"] == psn_no
    assert first["fixmedins_code"] == body["fixmedins_code"]
    assert (first["medfee_sumamt"], first["fund_pay_sumamt"], first["acct_pay"], first["psn_cash_pay"]) == (
        "90.00",
        "32.00",
        "0.00",
        "58.00",
    )
    assert isinstance(first["duration_ms"], float)
    assert (replay["request_id"], replay["outcome"], replay["setl_id"]) == (
        "req-trail-0002",
        "replayed",
        setl_id,
    )
    assert replay["msgid"] == body["msgid"]  # no X-Msgid: the body's
    assert (refusal["outcome"], refusal["code"], refusal["msgid"]) == (
        "refused",
        refused_code,
        unknown["msgid"],
    )
    assert "setl_id" not in refusal
    assert (reversal["operation"], reversal["outcome"], reversal["reversal_of"]) == (
        "reverse",
        "reversed",
        setl_id,
    )
    # The reversal gives back what was paid: the fund's 32.00 and the 58.00 cash, as negative amounts.
    assert (reversal["fund_pay_sumamt"], reversal["psn_cash_pay"]) == ("-32.00", "-58.00")
    for line in (first, replay, refusal, reversal):
        assert certno not in json.dumps(line, ensure_ascii=False)
        assert "psn_name" not in line and "certno" not in line

    async with settlement_api.db.session() as session:
        # (settlement.events only: the catalogue's changes go to catalogue.events from the same outbox)
        ours = infra.outbox.c.topic == "settlement.events"
        rows = (await session.execute(infra.outbox.select().where(ours).order_by(infra.outbox.c.id))).all()
    events = [json.loads(row.payload) for row in rows]
    assert [(e["type"], e["trace_id"]) for e in events] == [
        ("settlement.completed", "req-trail-0001"),
        ("settlement.reversed", "req-trail-0004"),
    ]
