"""3301 目录对照上传 / 3302 目录对照撤销 through the real gateway envelope processor in front of the real
settlement service (both backends): a fee line carrying only the institution's code settles as the
national code mapped for it on the day of the fee; an unmapped code is refused with its line number; a
revoked mapping stops applying on the day of the revocation; operators list the mappings over REST.

Seeded catalogue (tests/settlement/conftest.py): A is 甲类 with a unit price cap of 0.50. The demo policy's
outpatient pooling: 20.00 yearly deductible, then 50 %."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from gateway.downstream import Downstream
from gateway.protocol.envelope import parse_body
from gateway.security.schemes import TifSha256
from gateway.security.service import HisSecurity
from gateway.transactions import EnvelopeProcessor

from platformctl import examples
from shared.clock import now_china
from shared.db import Database
from tests.conftest import DatabaseFactory
from tests.settlement.conftest import HOSPITAL, REGION, SettlementApi, new_person
from tests.support.apps import bearer
from tests.support.his import SignedHis, register_demo_institutions

_seq = itertools.count(1)
OWN_CODE = "HIS-AMX-025"


class Counter:
    def __init__(self, processor: EnvelopeProcessor) -> None:
        self.his = SignedHis(processor.process)
        #: This counter's own msgids (a worker's PostgreSQL gateway database outlives one test): a random
        #: second of the day as the msgid's yyyyMMddHHmmss.
        second = secrets.randbelow(86_400)
        self.stamp = f"20261206{second // 3600:02d}{second // 60 % 60:02d}{second % 60:02d}"

    def msgid(self, sequence: int) -> str:
        return f"{HOSPITAL}{self.stamp}{sequence:04d}"

    async def send(self, infno: str, data: dict[str, Any], sequence: int | None = None) -> dict[str, Any]:
        msgid = self.msgid(sequence or 1000 + next(_seq))
        body = examples.envelope(infno, msgid, {"data": data}, fixmedins_code=HOSPITAL)
        answer: dict[str, Any] = parse_body((await self.his.send(body)).encode())
        return answer


@pytest.fixture
async def counter(databases: DatabaseFactory, settlement_api: SettlementApi) -> AsyncIterator[Counter]:
    db = Database(databases.migrated("gateway"))
    downstream = Downstream("http://enrollment", "http://settlement", 5.0)
    await downstream.client.aclose()
    downstream.client = settlement_api.client  # the settlement app itself, over ASGI
    await register_demo_institutions(db)
    try:
        yield Counter(
            EnvelopeProcessor(db, downstream, REGION, 1_048_576, security=HisSecurity(db, TifSha256()))
        )
    finally:
        await db.dispose()


def mapping(med_list_codg: str = "A", begndate: str = "2026-01-01", **changes: Any) -> dict[str, Any]:
    return {
        "fixmedins_hilist_id": OWN_CODE,
        "fixmedins_hilist_name": "阿莫西林胶囊0.25g",
        "list_type": "101",
        "med_list_codg": med_list_codg,
        "begndate": begndate,
        "aprvno": "国药准字H00000000",
        **changes,
    }


def line(sn: str, national: str, own: str, when: str, cnt: str = "100", pric: str = "0.6") -> dict[str, Any]:
    return {
        "feedetl_sn": sn,
        "chrg_bchno": "B1",
        "med_list_codg": national,
        "medins_list_codg": own,
        "cnt": cnt,
        "pric": pric,
        "amount_fen": 6000,  # 100 × 0.60
        "fee_ocur_time": when,
    }


async def visit(api: SettlementApi, psn_no: str, certno: str, begntime: str) -> str:
    body = {
        "msgid": f"OPEN{next(_seq):06d}",
        "setting": "outpatient",
        "fixmedins_code": HOSPITAL,
        "mdtrtarea_admvs": REGION,
        "insuplc_admdvs": REGION,
        "psn_no": psn_no,
        "insutype": "390",
        "ipt_otp_no": f"MZ{next(_seq):06d}",
        "med_type": "11",
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": certno,
        "begntime": begntime,
    }
    response = await api.post("/api/v1/encounters", body)
    assert response.status_code == 200, response.text
    mdtrt_id: str = response.json()["mdtrt_id"]
    return mdtrt_id


async def fees(api: SettlementApi, mdtrt_id: str, *lines: dict[str, Any]) -> Any:
    return await api.post(
        f"/api/v1/encounters/{mdtrt_id}/fees", {"fixmedins_code": HOSPITAL, "lines": list(lines)}
    )


def preview(psn_no: str, certno: str) -> dict[str, Any]:
    return {
        "msgid": f"PRE{next(_seq):06d}",
        "fixmedins_code": HOSPITAL,
        "psn_no": psn_no,
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": certno,
        "medfee_sumamt_fen": 6000,
        "chrg_bchno": "B1",
    }


async def test_a_mapped_line_settles_as_the_national_code(
    counter: Counter, settlement_api: SettlementApi
) -> None:
    uploaded = await counter.send("3301", mapping(), sequence=1)
    assert uploaded["infcode"] == 0, uploaded["err_msg"]
    assert uploaded["output"]["data"] == {
        "fixmedins_code": HOSPITAL,
        "fixmedins_hilist_id": OWN_CODE,
        "fixmedins_hilist_name": "阿莫西林胶囊0.25g",
        "list_type": "101",
        "med_list_codg": "A",
        "begndate": "2026-01-01",
    }  # enddate and revoked_on left out: open-ended, not revoked (docs/interface.md, "Output fields")
    assert (await counter.send("3301", mapping(), sequence=1)) == uploaded  # the same msgid: the same answer

    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    national = await visit(settlement_api, psn_no, certno, "2026-11-10T09:00:00+08:00")
    mapped = await visit(settlement_api, psn_no, certno, "2026-11-10T09:30:00+08:00")
    when = "2026-11-10T10:00:00+08:00"
    by_code = await fees(settlement_api, national, line("1", "A", "H-OTHER", when))
    by_mapping = await fees(settlement_api, mapped, line("1", "", OWN_CODE, when))
    assert by_code.status_code == by_mapping.status_code == 200, by_mapping.text
    # 100 × 0.60 = 60.00 against A's cap 0.50: 10.00 over the cap, 50.00 in the policy range.
    for result in (by_code.json()["lines"][0], by_mapping.json()["lines"][0]):
        assert (result["med_list_codg"], result["over_price_cap_fen"], result["policy_range_fen"]) == (
            "A",
            1000,
            5000,
        )
    # Preview: (50.00 − 20.00 deductible) × 50 % = 15.00 from the fund, 45.00 cash, alike for both.
    for mdtrt_id in (national, mapped):
        out = await settlement_api.post(
            f"/api/v1/encounters/{mdtrt_id}/settlement/preview", preview(psn_no, certno)
        )
        assert out.status_code == 200, out.text
        assert (out.json()["pooled_fund_paid_fen"], out.json()["cash_paid_fen"]) == (1500, 4500)


async def test_bad_mappings_and_unmapped_lines_are_refused(
    counter: Counter, settlement_api: SettlementApi
) -> None:
    unknown = await counter.send("3301", mapping("NOT-ON-THE-LIST"))
    assert (unknown["infcode"], unknown["err_msg"]) == (
        -1,
        "[MAPPING_TARGET_UNKNOWN] 医疗目录编码 NOT-ON-THE-LIST 在 2026-01-01 不在医保目录中，不能对照",
    )
    dates = await counter.send("3301", mapping(enddate="2025-12-31"))
    assert dates["infcode"] == -1 and dates["err_msg"].startswith("[MAPPING_DATES]")
    missing = await counter.send("3301", {**mapping(), "med_list_codg": ""})
    assert missing["infcode"] == -1 and missing["err_msg"].startswith("[E_INPUT]")
    assert (await counter.send("3301", mapping()))["infcode"] == 0
    other = await counter.send("3301", mapping("C"))  # the same day, another code: revoke first
    assert other["infcode"] == -1 and other["err_msg"].startswith("[MAPPING_EXISTS]")

    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    mdtrt_id = await visit(settlement_api, psn_no, certno, "2026-11-10T09:00:00+08:00")
    when = "2026-11-10T10:00:00+08:00"
    refused = await fees(
        settlement_api, mdtrt_id, line("1", "", OWN_CODE, when), line("2", "", "HIS-UNKNOWN", when)
    )
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "UNMAPPED_ITEM"
    assert refused.json()["error"]["message"].startswith(
        "第 2 行（费用明细 2）院内编码 HIS-UNKNOWN 在 2026-11-10"
    )
    # Nothing of the refused upload was kept: the first line uploads on its own.
    assert (await fees(settlement_api, mdtrt_id, line("1", "", OWN_CODE, when))).status_code == 200


async def test_a_revoked_mapping_stops_applying_on_its_date(
    counter: Counter, settlement_api: SettlementApi
) -> None:
    assert (await counter.send("3301", mapping()))["infcode"] == 0
    revocation = {
        "fixmedins_code": HOSPITAL,
        "fixmedins_hilist_id": OWN_CODE,
        "list_type": "101",
        "med_list_codg": "A",
    }
    revoked = await counter.send("3302", revocation, sequence=7)
    today = now_china().date()
    assert revoked["infcode"] == 0, revoked["err_msg"]
    assert revoked["output"]["data"]["revoked_on"] == today.isoformat()
    assert (await counter.send("3302", revocation, sequence=7)) == revoked
    again = await counter.send("3302", revocation)
    assert again["infcode"] == -1 and again["err_msg"].startswith("[MAPPING_NOT_FOUND]")
    foreign = await counter.send("3302", {**revocation, "fixmedins_code": "H34152400002"})
    assert foreign["infcode"] == -1 and foreign["err_msg"].startswith("[E_INSTITUTION]")

    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    # Care before today still uses the mapping; care today does not.
    before = await visit(settlement_api, psn_no, certno, "2026-11-10T09:00:00+08:00")
    assert (
        await fees(settlement_api, before, line("1", "", OWN_CODE, "2026-11-10T10:00:00+08:00"))
    ).status_code == 200
    # Both today in China time, also in the first half hour after midnight (the revocation's date).
    now = now_china()
    started = max(now - timedelta(minutes=30), now.replace(hour=0, minute=0, second=0, microsecond=0))
    today_visit = await visit(settlement_api, psn_no, certno, started.isoformat())
    refused = await fees(
        settlement_api,
        today_visit,
        line("1", "", OWN_CODE, max(now - timedelta(minutes=5), started).isoformat()),
    )
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "UNMAPPED_ITEM"

    # Operators see both mappings' history: the one revoked, with the message that revoked it.
    listed = await settlement_api.client.get(
        "/api/v1/catalogue/mappings", params={"fixmedins_code": HOSPITAL}, headers=bearer("auditor")
    )
    assert listed.status_code == 200, listed.text
    (row,) = listed.json()
    assert (row["medins_list_codg"], row["med_list_codg"], row["revoked_on"]) == (
        OWN_CODE,
        "A",
        today.isoformat(),
    )
    assert row["revoked_msgid"] == counter.msgid(7)
    writes = await settlement_api.client.post(
        "/api/v1/catalogue/mappings", json={}, headers=bearer("auditor")
    )
    assert writes.status_code == 403
