"""Sanctions seen from the counter: the real gateway envelope processor in front of the real settlement
service. A person on full self-advance and a suspended institution are answered ``infcode -1`` with the reason
in ``err_msg`` (nothing settles, so nothing reaches the funds); the cashier then charges the whole bill."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from gateway.downstream import Downstream
from gateway.protocol.envelope import parse_body
from gateway.security.schemes import TifSha256
from gateway.security.service import HisSecurity
from gateway.transactions import EnvelopeProcessor
from settlement.settlements.models import SettlementLine
from sqlmodel import select

from platformctl import examples
from shared.db import Database
from tests.conftest import DatabaseFactory
from tests.settlement.conftest import PHARMACY, REGION, SettlementApi, new_person
from tests.support.his import SignedHis, register_demo_institutions

WHEN = "2026-11-20 10:00:00"


@pytest.fixture
async def counter(
    databases: DatabaseFactory, settlement_api: SettlementApi
) -> AsyncIterator[EnvelopeProcessor]:
    db = Database(databases.migrated("gateway"))
    downstream = Downstream("http://enrollment", "http://settlement", 5.0)
    await downstream.client.aclose()
    downstream.client = settlement_api.client  # the settlement app itself, over ASGI
    await register_demo_institutions(db)
    try:
        yield EnvelopeProcessor(db, downstream, REGION, 1_048_576, security=HisSecurity(db, TifSha256()))
    finally:
        await db.dispose()


def _purchase(infno: str, sequence: int, psn_no: str, certno: str) -> dict[str, Any]:
    body = examples.envelope(
        infno,
        f"{PHARMACY}20261120100000{sequence:04d}",
        {
            "druginfo": {
                "psn_no": psn_no,
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": certno,
                "begntime": WHEN,
                "medfee_sumamt": "50.00",
                "insutype": "390",
                "med_type": "41",
            },
            "drugdetail": [
                {
                    "feedetl_sn": "1",
                    "fee_ocur_time": WHEN,
                    "med_list_codg": "A",
                    "medins_list_codg": "YP0001",
                    "det_item_fee_sumamt": "50.00",
                    "cnt": "100",
                    "pric": "0.5",
                    "prd_days": "10",
                }
            ],
        },
        insuplc_admdvs=REGION,
        fixmedins_code=PHARMACY,
    )
    return {**body, "inf_time": WHEN}


async def _send(counter: EnvelopeProcessor, body: dict[str, Any]) -> dict[str, Any]:
    # Signed by the pharmacy, after a 9001 sign-in, as a real counter does.
    answer: dict[str, Any] = parse_body((await SignedHis(counter.process).send(body)).encode())
    return answer


async def _sanction(api: SettlementApi, **body: Any) -> None:
    response = await api.post("/api/v1/supervision/sanctions", {"begin_date": "2026-11-01", **body})
    assert response.status_code == 201, response.text


async def test_full_self_advance_at_the_counter_is_infcode_minus_one_with_the_reason(
    settlement_api: SettlementApi, counter: EnvelopeProcessor
) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    await _sanction(settlement_api, kind="full_self_advance", subject=psn_no, reason="冒用他人社保卡")
    for infno, sequence in (("2101", 1), ("2102", 2)):
        answer = await _send(counter, _purchase(infno, sequence, psn_no, certno))
        assert answer["infcode"] == -1
        assert answer["err_msg"].startswith("[FULL_SELF_ADVANCE] ")
        assert "全额垫付" in answer["err_msg"] and "冒用他人社保卡" in answer["err_msg"]
        assert not answer.get("output")


async def test_a_suspended_pharmacy_is_refused_and_an_unsanctioned_sale_settles(
    settlement_api: SettlementApi, counter: EnvelopeProcessor
) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    settled = await _send(counter, _purchase("2102", 3, psn_no, certno))
    assert settled["infcode"] == 0, settled
    setlinfo = settled["output"]["setlinfo"]
    # 50.00 of class A: 20.00 yearly outpatient deductible, then 50 % of 30.00 = 15.00 from the pooled fund.
    assert (setlinfo["hifp_pay"], setlinfo["psn_cash_pay"]) == (Decimal("15.00"), Decimal("35.00"))
    async with settlement_api.db.session() as session:
        line = await session.scalar(
            select(SettlementLine).where(SettlementLine.setl_id == setlinfo["setl_id"])
        )
    assert line is not None and line.prd_days == Decimal("10")  # the days' supply reached the rules
    await _sanction(settlement_api, kind="institution_suspension", subject=PHARMACY, reason="串换药品")
    refused = await _send(counter, _purchase("2102", 4, psn_no, certno))
    assert refused["infcode"] == -1
    assert refused["err_msg"].startswith("[INSTITUTION_SUSPENDED] ") and "串换药品" in refused["err_msg"]
