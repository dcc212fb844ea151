"""The gateway in front of the real settlement service (in-process, real databases): an outpatient visit
and an inpatient stay from registration to reversal, sent as a HIS sends them. What the stubs of
``test_encounter_routing`` cannot show: that every body the gateway builds is one the settlement service's
schemas accept (they forbid unknown fields), and that the amounts come back as the wire expects.

Settlement reference data as ``tests.settlement.conftest`` seeds it: 县医院 H34152400001 (level 2), item A
甲 (capped at 0.50), B 乙 (10 % first), C 丙; demo policy: outpatient 20.00 deductible, 50 %; inpatient
300.00, 60 %."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from gateway.downstream import Downstream
from gateway.protocol.envelope import parse_body
from gateway.security.schemes import TifSha256
from gateway.security.service import HisSecurity
from gateway.transactions import EnvelopeProcessor
from settlement.config import SettlementSettings
from settlement.main import create_app

from platformctl import examples
from shared.db import Database
from tests.conftest import DatabaseFactory
from tests.settlement.conftest import (
    HOSPITAL,
    REGION,
    SettlementApi,
    new_person,
    seed_reference_data,
)
from tests.support.apps import build, running
from tests.support.his import SignedHis, register_demo_institutions

WHEN = "2026-11-20 10:00:00"


@dataclass
class Counter:
    processor: EnvelopeProcessor
    api: SettlementApi
    psn_no: str
    certno: str
    his: SignedHis
    sequence: int = 0

    async def send(self, infno: str, body: dict[str, Any]) -> dict[str, Any]:
        self.sequence += 1
        wire = examples.envelope(
            infno,
            f"{HOSPITAL}20261120100000{self.sequence:04d}",
            body,
            insuplc_admdvs=REGION,
            fixmedins_code=HOSPITAL,
            fixmedins_name="县医院",
        )
        answer: dict[str, Any] = parse_body((await self.his.send({**wire, "inf_time": WHEN})).encode())
        return answer

    async def ok(self, infno: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = await self.send(infno, body)
        assert answer["infcode"] == 0, answer["err_msg"]
        output: dict[str, Any] = answer["output"]
        return output


@pytest.fixture
async def counter(databases: DatabaseFactory) -> AsyncIterator[Counter]:
    url = databases.migrated("settlement")
    app = build(create_app, SettlementSettings, database_url=url, run_background_workers=False)
    settlement_db = Database(url)
    gateway_db = Database(databases.migrated("gateway"))
    async with running(app) as client:
        api = SettlementApi(client, settlement_db)
        await seed_reference_data(api, codes=True)
        psn_no, certno = new_person()
        await api.cover(psn_no, certno)
        downstream = Downstream("http://enrollment", "http://service", 5.0)
        await downstream.client.aclose()
        downstream.client = client  # closed with the app, not by the gateway
        await register_demo_institutions(gateway_db)
        security = HisSecurity(gateway_db, TifSha256())
        processor = EnvelopeProcessor(gateway_db, downstream, REGION, 1_048_576, security=security)
        yield Counter(processor, api, psn_no, certno, SignedHis(processor.process))
    await gateway_db.dispose()
    await settlement_db.dispose()


def line(sn: str, code: str, cnt: str, pric: str, amount: str, **extra: Any) -> dict[str, Any]:
    return {
        "feedetl_sn": sn,
        "fee_ocur_time": WHEN,
        "med_list_codg": code,
        "medins_list_codg": f"H{code}",
        "det_item_fee_sumamt": amount,
        "cnt": cnt,
        "pric": pric,
        "hosp_appr_flag": "",
        **extra,
    }


def yuan(row: dict[str, Any], *names: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(str(row[name])) for name in names)


async def test_an_outpatient_visit_over_the_wire(counter: Counter) -> None:
    who = {"psn_no": counter.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": counter.certno}
    registered = await counter.ok(
        "2201",
        {"data": {**who, "insutype": "390", "begntime": WHEN, "ipt_otp_no": "MZ0001", "dept_name": "内科"}},
    )
    mdtrt_id = registered["data"]["mdtrt_id"]
    assert registered["data"] == {"mdtrt_id": mdtrt_id, "psn_no": counter.psn_no, "ipt_otp_no": "MZ0001"}
    diagnosis = {"diag_type": "1", "diag_srt_no": 1, "diag_code": "J06.900", "diag_name": "上呼吸道感染"}
    info = {"mdtrt_id": mdtrt_id, "psn_no": counter.psn_no, "med_type": "11", "begntime": WHEN}
    await counter.ok("2203", {"mdtrtinfo": info, "diseinfo": [diagnosis]})

    ours = {"mdtrt_id": mdtrt_id, "psn_no": counter.psn_no, "chrg_bchno": "B1"}
    lines = [
        {**line("1", "A", "60", "0.5", "30.00"), **ours},
        {**line("2", "B", "3", "20", "60.00"), **ours},
    ]
    result = (await counter.ok("2204", {"feedetail": lines}))["result"]
    assert [(r["feedetl_sn"], r["chrgitm_lv"]) for r in result] == [("1", "1"), ("2", "2")]
    assert yuan(result[1], "preselfpay_amt", "inscp_scp_amt", "selfpay_prop") == (
        Decimal("6.00"),
        Decimal("54.00"),
        Decimal("0.1"),
    )

    settle = {
        **who,
        "med_type": "11",
        "medfee_sumamt": "90.00",
        "psn_setlway": "01",
        "mdtrt_id": mdtrt_id,
        "chrg_bchno": "B1",
        "insutype": "390",
        "acct_used_flag": "0",
        "fulamt_ownpay_amt": "0.00",
        "overlmt_selfpay": "0.00",
        "preselfpay_amt": "6.00",
        "inscp_scp_amt": "84.00",
    }
    preview = await counter.send("2206", {"data": settle})
    assert (preview["infcode"], preview["warn_msg"], preview["output"]["setlinfo"]["setl_id"]) == (
        0,
        None,
        "",
    )
    settled = (await counter.ok("2207", {"data": {**settle, "invono": "FP1"}}))["setlinfo"]
    # 90.00: 6.00 乙 first, 84.00 in range, 20.00 deductible, (84.00 - 20.00) x 50 % = 32.00 fund.
    assert yuan(settled, "medfee_sumamt", "act_pay_dedc", "hifp_pay", "psn_cash_pay") == (
        Decimal("90.00"),
        Decimal("20.00"),
        Decimal("32.00"),
        Decimal("58.00"),
    )
    assert (settled["mdtrt_id"], settled["clr_type"], settled["med_type"]) == (mdtrt_id, "11", "11")

    reversal = {"setl_id": settled["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": counter.psn_no}
    reversed_ = (await counter.ok("2208", {"data": reversal}))["setlinfo"]
    assert yuan(reversed_, "hifp_pay", "psn_cash_pay") == (Decimal("-32.00"), Decimal("-58.00"))
    # The reversal put the lines back to unsettled: 2205 "0000" withdraws them, then 2202 the visit.
    withdrawn = await counter.ok(
        "2205", {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": "0000", "psn_no": counter.psn_no}}
    )
    assert withdrawn["data"]["cancelled"] == 2
    await counter.ok(
        "2202", {"data": {"psn_no": counter.psn_no, "mdtrt_id": mdtrt_id, "ipt_otp_no": "MZ0001"}}
    )
    again = await counter.send(
        "2201", {"data": {**who, "insutype": "390", "begntime": WHEN, "ipt_otp_no": "MZ0001"}}
    )
    assert again["err_msg"].startswith("[ENCOUNTER_CANCELLED]")


async def test_an_inpatient_stay_over_the_wire(counter: Counter) -> None:
    who = {"psn_no": counter.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": counter.certno}
    admitted = await counter.ok(
        "2401",
        {
            "mdtrtinfo": {**who, "insutype": "390", "begntime": WHEN, "med_type": "21", "ipt_no": "ZY0001"},
            "diseinfo": [{"diag_type": "1", "diag_srt_no": 1, "diag_code": "J18.900", "diag_name": "肺炎"}],
        },
    )
    mdtrt_id = admitted["result"]["mdtrt_id"]
    ours = {"mdtrt_id": mdtrt_id, "psn_no": counter.psn_no}
    lines = [
        {**line("1", "B", "100", "50", "5000.00"), **ours},
        {**line("2", "C", "1", "200", "200.00"), **ours},
        {**line("3", "A", "1", "1", "1.00"), **ours},
    ]
    assert len((await counter.ok("2301", {"feedetail": lines}))["result"]) == 3
    withdrawn = await counter.ok("2302", {"data": {**ours, "feedetl_sn": "3"}})
    assert withdrawn["data"]["cancelled"] == 1
    change = {**ours, "begntime": WHEN, "med_type": "21", "dise_codg": "J18.900"}
    unchanged = await counter.send("2403", {"adminfo": change})
    assert (unchanged["infcode"], unchanged["warn_msg"]) == (0, None)  # the same instant, however stored
    moved = await counter.send("2403", {"adminfo": {**change, "begntime": "2026-11-19 10:00:00"}})
    assert moved["warn_msg"] == "入院时间不能变更，仍为 2026-11-20 10:00:00 (传入 2026-11-19 10:00:00 未采用)"

    settle = {
        **who,
        "medfee_sumamt": "5200.00",
        "psn_setlway": "01",
        "mdtrt_id": mdtrt_id,
        "insutype": "390",
        "acct_used_flag": "0",
        "mid_setl_flag": "0",
    }
    early = await counter.send("2304", {"data": settle})
    assert early["err_msg"].startswith("[NOT_DISCHARGED]")
    await counter.ok("2402", {"dscginfo": {**ours, "insutype": "390", "endtime": WHEN, "dscg_way": "1"}})
    preview = (await counter.ok("2303", {"data": settle}))["setlinfo"]
    settled = (await counter.ok("2304", {"data": settle}))["setlinfo"]
    # 5,200.00 = 500.00 first + 4,500.00 in range + 200.00 丙; 300.00 deductible; 4,200.00 x 60 % = 2,520.00.
    for info in (preview, settled):
        assert yuan(info, "act_pay_dedc", "hifp_pay", "psn_cash_pay", "hifdm_pay") == (
            Decimal("300.00"),
            Decimal("2520.00"),
            Decimal("2680.00"),
            Decimal("0.00"),
        )
    assert (preview["setl_id"], settled["clr_type"]) == ("", "21")

    wrong = await counter.send("2208", {"data": {"setl_id": settled["setl_id"], **ours}})
    assert wrong["err_msg"].startswith("[WRONG_REVERSAL]")
    reversed_ = (await counter.ok("2305", {"data": {"setl_id": settled["setl_id"], **ours}}))["setlinfo"]
    assert yuan(reversed_, "hifp_pay") == (Decimal("-2520.00"),)
    await counter.ok("2405", {"data": ours})
    await counter.ok("2302", {"data": {**ours, "feedetl_sn": "0000"}})
    await counter.ok("2404", {"data": ours})
