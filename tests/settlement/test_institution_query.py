"""1201 医药机构信息获取 through the real gateway envelope processor in front of the real settlement service
(both backends): the institutions settlement keeps (tests/settlement/conftest.py seeds 县医院 H34152400001
level 2, 药房 P34152400001, and the suspended 暂停药房 P34152400009), by code, part of the name or type."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from gateway.downstream import Downstream
from gateway.protocol.envelope import parse_body
from gateway.security.schemes import TifSha256
from gateway.security.service import HisSecurity
from gateway.transactions import EnvelopeProcessor

from platformctl import examples
from shared.db import Database
from tests.conftest import DatabaseFactory
from tests.settlement.conftest import HOSPITAL, REGION, SettlementApi
from tests.support.his import SignedHis, register_demo_institutions


@pytest.fixture
async def his(databases: DatabaseFactory, settlement_api: SettlementApi) -> AsyncIterator[SignedHis]:
    db = Database(databases.migrated("gateway"))
    downstream = Downstream("http://enrollment", "http://settlement", 5.0)
    await downstream.client.aclose()
    downstream.client = settlement_api.client  # the settlement app itself, over ASGI
    await register_demo_institutions(db)
    try:
        processor = EnvelopeProcessor(
            db, downstream, REGION, 1_048_576, security=HisSecurity(db, TifSha256())
        )
        yield SignedHis(processor.process)
    finally:
        await db.dispose()


async def query(his: SignedHis, sequence: int, medinsinfo: dict[str, Any]) -> dict[str, Any]:
    body = examples.envelope(
        "1201", f"{HOSPITAL}20261206130000{sequence:04d}", {"medinsinfo": medinsinfo}, fixmedins_code=HOSPITAL
    )
    answer: dict[str, Any] = parse_body((await his.send(body)).encode())
    return answer


async def test_1201_finds_institutions_by_code_name_or_type(his: SignedHis) -> None:
    by_code = await query(his, 1, {"fixmedins_code": HOSPITAL})
    assert by_code["infcode"] == 0, by_code["err_msg"]
    assert by_code["output"]["medinsinfo"] == [
        {
            "fixmedins_code": HOSPITAL,
            "fixmedins_name": "县医院",
            "uscc": "",  # none on file: "" (docs/interface.md, "Output fields")
            "fixmedins_type": "1",
            "hosp_lv": "2",
            "admdvs": REGION,
            "vali_flag": "1",
            "begndate": "2025-01-01",
        }  # open-ended: no enddate
    ]
    pharmacies = await query(his, 2, {"fixmedins_type": "2", "fixmedins_name": "药房"})
    assert [(r["fixmedins_code"], r["vali_flag"]) for r in pharmacies["output"]["medinsinfo"]] == [
        ("P34152400001", "1"),
        ("P34152400009", "0"),  # suspended
    ]
    everything = await query(his, 3, {"fixmedins_type": "", "fixmedins_name": "", "fixmedins_code": ""})
    assert len(everything["output"]["medinsinfo"]) == 3
    nothing = await query(his, 4, {"fixmedins_code": "H99999999999"})
    assert (nothing["infcode"], nothing["output"]["medinsinfo"]) == (0, [])
    bad = await query(his, 5, {"fixmedins_type": "7"})
    assert bad["infcode"] == -1 and bad["err_msg"].startswith("[E_INPUT] input.medinsinfo.fixmedins_type")
