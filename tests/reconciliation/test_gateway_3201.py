"""3201 对总账 through the gateway (envelope processor with its message log on a real database) in front of
the real settlement app: agree, disagree (which figure, both values in yuan), another institution's view,
refunds only, and bad input."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from gateway.downstream import Downstream
from gateway.protocol.envelope import parse_body
from gateway.security.schemes import TifSha256
from gateway.security.service import HisSecurity
from gateway.transactions import EnvelopeProcessor

from platformctl import examples
from shared.db import Database
from tests.conftest import DatabaseFactory
from tests.reconciliation.conftest import PHARMACY, Platform, period
from tests.reconciliation.scenario import pharmacy_day
from tests.support.apps import ADMIN_TOKEN
from tests.support.his import SignedHis, register_demo_institutions

HOSPITAL = "H34152400001"


@pytest.fixture
async def gateway(platform: Platform, databases: DatabaseFactory) -> AsyncIterator[EnvelopeProcessor]:
    db = Database(databases.migrated("gateway"))
    await register_demo_institutions(db)
    downstream = Downstream(
        "http://enrollment", "http://settlement", 5.0, lambda: {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    await downstream.client.aclose()
    downstream.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=platform.settlement_app))
    try:
        yield EnvelopeProcessor(db, downstream, "341524", 1_048_576, security=HisSecurity(db, TifSha256()))
    finally:
        await downstream.close()
        await db.dispose()


_SEQUENCE = itertools.count(uuid.uuid4().int % 5000)


def statement(fixmedins_code: str = PHARMACY, **changes: Any) -> dict[str, Any]:
    days = period()
    data: dict[str, Any] = {
        "insutype": "390",
        "clr_type": "41",
        "setl_optins": "341524",
        "stmt_begndate": days["date_from"],
        "stmt_enddate": days["date_to"],
        "medfee_sumamt": "190.00",
        "fund_pay_sumamt": "64.00",
        "acct_pay": "0.00",
        "fixmedins_setl_cnt": 3,
        "refd_setl_flag": "",
    }
    data.update(changes)
    msgid = examples.msgid(next(_SEQUENCE), fixmedins_code)  # the national form, unique per test run
    return examples.envelope(
        "3201", msgid, {"data": data}, insuplc_admdvs="341524", fixmedins_code=fixmedins_code
    )


async def send(gateway: EnvelopeProcessor, body: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = parse_body((await SignedHis(gateway.process).send(body)).encode())
    return answer


async def test_totals_agree(platform: Platform, gateway: EnvelopeProcessor) -> None:
    await pharmacy_day(platform)
    answer = await send(gateway, statement())
    assert answer["infcode"] == 0, answer
    info = answer["output"]["stmtinfo"]
    assert (info["setl_optins"], info["stmt_rslt"]) == ("341524", "0")
    assert "平帐" in info["stmt_rslt_dscr"]
    assert "基金支付总额 64.00 元" in info["stmt_rslt_dscr"]


async def test_totals_differ_and_say_which(platform: Platform, gateway: EnvelopeProcessor) -> None:
    await pharmacy_day(platform)
    # The HIS forgot the reversal: 4 settlements, 96.00 from the fund, 280.00 of fees.
    answer = await send(
        gateway, statement(medfee_sumamt="280.00", fund_pay_sumamt="96.00", fixmedins_setl_cnt=4)
    )
    assert answer["infcode"] == 0, answer
    info = answer["output"]["stmtinfo"]
    assert info["stmt_rslt"] == "1"
    dscr = info["stmt_rslt_dscr"]
    assert "医疗费总额不符：医保中心 190.00 元，机构 280.00 元" in dscr
    assert "基金支付总额不符：医保中心 64.00 元，机构 96.00 元" in dscr
    assert "结算笔数不符：医保中心 3 笔，机构 4 笔" in dscr
    assert "个人账户" not in dscr


async def test_an_institution_sees_only_its_own(platform: Platform, gateway: EnvelopeProcessor) -> None:
    await pharmacy_day(platform)
    answer = await send(gateway, statement(HOSPITAL))
    info = answer["output"]["stmtinfo"]
    assert info["stmt_rslt"] == "1"
    assert "基金支付总额不符：医保中心 0.00 元，机构 64.00 元" in info["stmt_rslt_dscr"]
    nothing = await send(
        gateway,
        statement(HOSPITAL, medfee_sumamt="0", fund_pay_sumamt="0", fixmedins_setl_cnt=0),
    )
    assert nothing["output"]["stmtinfo"]["stmt_rslt"] == "0"


async def test_refunds_only(platform: Platform, gateway: EnvelopeProcessor) -> None:
    await pharmacy_day(platform)
    for medfee, fund in (("90.00", "32.00"), ("-90.00", "-32.00")):
        answer = await send(
            gateway,
            statement(refd_setl_flag="1", medfee_sumamt=medfee, fund_pay_sumamt=fund, fixmedins_setl_cnt=1),
        )
        assert answer["output"]["stmtinfo"]["stmt_rslt"] == "0", answer


async def test_bad_input_is_refused(gateway: EnvelopeProcessor) -> None:
    for changes in (
        {"stmt_begndate": "2026/11/01"},
        {"stmt_begndate": "2026-02-30"},
        {"stmt_begndate": "2026-11-30", "stmt_enddate": "2026-11-01"},
        {"fund_pay_sumamt": "1.234"},
        {"refd_setl_flag": "9"},
        {"insutype": ""},
    ):
        answer = await send(gateway, statement(**changes))
        assert answer["infcode"] == -1, (changes, answer)
        assert answer["err_msg"]


async def test_statement_days_sent_as_midnight_times_are_the_days(
    platform: Platform, gateway: EnvelopeProcessor
) -> None:
    # Clients send 3201's days as times (docs/interface.md, "Dates and times"): the same period as
    # test_totals_agree, so the same totals agree (64.00 from the fund over the pharmacy day's 190.00).
    await pharmacy_day(platform)
    days = period()
    answer = await send(
        gateway,
        statement(stmt_begndate=f"{days['date_from']} 00:00:00", stmt_enddate=f"{days['date_to']}T00:00:00"),
    )
    assert answer["infcode"] == 0, answer
    assert answer["output"]["stmtinfo"]["stmt_rslt"] == "0"
    assert "基金支付总额 64.00 元" in answer["output"]["stmtinfo"]["stmt_rslt_dscr"]
    # Any other time leaves the period in doubt: refused, the field named.
    late = await send(gateway, statement(stmt_enddate=f"{days['date_to']} 10:00:00"))
    assert late["infcode"] == -1
    assert late["err_msg"].startswith("[E_INPUT] input.data.stmt_enddate: ")
