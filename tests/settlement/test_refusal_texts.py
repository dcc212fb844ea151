"""Refusal texts at the counter are Chinese (docs/interface.md, "Envelope"): the real gateway envelope
processor in front of the real settlement service; a value settlement's request model refuses (a 2101
with insutype 310, employees' insurance, which this platform does not run) comes back with its stable
code and a Chinese reason, never pydantic's English message."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from gateway.downstream import Downstream
from gateway.protocol.envelope import parse_body
from gateway.security.schemes import TifSha256
from gateway.security.service import HisSecurity
from gateway.transactions import EnvelopeProcessor
from pydantic import BaseModel, Field, ValidationError

from platformctl import examples
from shared import validation_text
from shared.db import Database
from tests.conftest import DatabaseFactory
from tests.settlement.conftest import PHARMACY, REGION, SettlementApi, new_person
from tests.support.his import SignedHis, register_demo_institutions

WHEN = "2026-11-20 10:00:00"
ENGLISH_WORD = re.compile(r"\b(should|Input|Field|required|valid|type|error|match)\b", re.IGNORECASE)


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


def _purchase(infno: str, sequence: int, psn_no: str, certno: str, insutype: str) -> dict[str, Any]:
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
                "insutype": insutype,
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


async def test_a_2101_with_employee_insutype_is_refused_in_chinese(
    settlement_api: SettlementApi, counter: EnvelopeProcessor
) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    for infno, sequence in (("2101", 1), ("2102", 2)):
        raw = await SignedHis(counter.process).send(_purchase(infno, sequence, psn_no, certno, "310"))
        answer: dict[str, Any] = parse_body(raw.encode())
        assert answer["infcode"] == -1
        message = answer["err_msg"]
        assert re.match(r"^\[[A-Z_]+\] ", message), message
        assert "insutype" in message, message
        # The text after the field's path (input.druginfo.insutype) is Chinese.
        assert not ENGLISH_WORD.search(message.split("] ", 1)[1].split(": ", 1)[1]), message


class _Sample(BaseModel):
    code: str = Field(pattern=r"^\d{3}$")
    count: int
    flag: bool


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"code": "31", "count": 1, "flag": True}, "格式不正确"),
        ({"code": "310", "count": "x", "flag": True}, "必须是整数"),
        ({"code": "310", "count": 1, "flag": "maybe"}, "必须是布尔值"),
        ({"count": 1, "flag": True}, "必填"),
    ],
)
def test_pydantic_errors_are_read_in_chinese(value: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _Sample.model_validate(value)
    assert [validation_text.message(e) for e in caught.value.errors()] == [expected]


def test_an_english_value_error_is_never_shown() -> None:
    # A library's own ValueError text (English) is replaced; our validators' Chinese text is kept.
    assert validation_text.message({"type": "value_error", "msg": "Value error, bad thing"}) == "取值无效"
    assert validation_text.message({"type": "value_error", "msg": "Value error, 必须是数字"}) == "必须是数字"
    assert validation_text.message({"type": "some_new_type", "msg": "Something new"}) == "取值无效"
