"""A state-changing transaction whose answer is lost after the settlement service committed (the gateway's
call times out: "outcome unknown", nothing stored in the gateway's message log), repeated by the HIS under
the same msgid: it is answered as the first call would have been, and nothing is done twice. The gateway in
front of the real settlement service (in-process, real databases), as ``test_encounter_contract``.

Amounts by the demo policy (``tests.settlement.conftest``): item A 甲, B 乙 with 10 % paid first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

import httpx
import pytest
from gateway.downstream import Downstream
from gateway.protocol.envelope import parse_body
from gateway.security.schemes import TifSha256
from gateway.security.service import HisSecurity
from gateway.transactions import EnvelopeProcessor
from settlement.config import SettlementSettings
from settlement.encounters.models import Encounter, EncounterMessage, FeeLineRecord
from settlement.main import create_app
from settlement.settlements.models import Settlement
from sqlmodel import col, func, select

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
class LossyLink:
    """The settlement app's client; the answer of the next POST whose path ends with ``lose`` is dropped
    after the app has answered (and so committed), as a gateway timeout does."""

    client: httpx.AsyncClient
    lose: str | None = None
    lost: list[str] = field(default_factory=list)

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = await self.client.request(method, url, **kwargs)
        path = httpx.URL(url).path
        if method == "POST" and self.lose is not None and path.endswith(self.lose):
            self.lose = None
            self.lost.append(path)
            raise httpx.ReadTimeout("answer lost on its way back", request=response.request)
        return response


@dataclass
class Counter:
    his: SignedHis
    link: LossyLink
    db: Database
    psn_no: str
    certno: str
    sequence: int = 0

    def msgid(self) -> str:
        self.sequence += 1
        return f"{HOSPITAL}20261120100000{self.sequence:04d}"

    async def send(self, infno: str, msgid: str, body: dict[str, Any]) -> dict[str, Any]:
        wire = examples.envelope(
            infno, msgid, body, insuplc_admdvs=REGION, fixmedins_code=HOSPITAL, fixmedins_name="县医院"
        )
        answer: dict[str, Any] = parse_body((await self.his.send({**wire, "inf_time": WHEN})).encode())
        return answer

    async def lost_then_repeated(self, infno: str, body: dict[str, Any], lose: str) -> dict[str, Any]:
        """The answer to ``infno`` lost on the call ending ``lose``; the repeat's answer (which a third
        send gets again, from the gateway's log)."""
        msgid = self.msgid()
        self.link.lose = lose
        first = await self.send(infno, msgid, body)
        assert first["infcode"] == -1 and first["err_msg"].startswith("[E_OUTCOME_UNKNOWN]"), first
        assert self.link.lose is None  # the call was made, and committed, before its answer was dropped
        again = await self.send(infno, msgid, body)
        assert again["infcode"] == 0, again["err_msg"]
        assert await self.send(infno, msgid, body) == again
        return again

    async def count(self, model: Any, *where: Any) -> int:
        async with self.db.session() as session:
            return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


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
        link = LossyLink(client)
        downstream.client = cast(httpx.AsyncClient, link)  # closed with the app, not by the gateway
        await register_demo_institutions(gateway_db)
        security = HisSecurity(gateway_db, TifSha256())
        processor = EnvelopeProcessor(gateway_db, downstream, REGION, 1_048_576, security=security)
        yield Counter(SignedHis(processor.process), link, settlement_db, psn_no, certno)
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


async def test_an_outpatient_visit_with_every_answer_lost(counter: Counter) -> None:
    who = {"psn_no": counter.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": counter.certno}
    registration = {"data": {**who, "insutype": "390", "begntime": WHEN, "ipt_otp_no": "MZ0001"}}
    registered = await counter.lost_then_repeated("2201", registration, "/api/v1/encounters")
    mdtrt_id = registered["output"]["data"]["mdtrt_id"]
    assert registered["output"]["data"] == {
        "mdtrt_id": mdtrt_id,
        "psn_no": counter.psn_no,
        "ipt_otp_no": "MZ0001",
    }
    assert await counter.count(Encounter, col(Encounter.ipt_otp_no) == "MZ0001") == 1

    info = {"mdtrt_id": mdtrt_id, "psn_no": counter.psn_no, "med_type": "11", "dise_codg": "J06.900"}
    described = await counter.lost_then_repeated("2203", {"mdtrtinfo": info}, "/diagnosis")
    assert described["output"]["data"]["med_type"] == "11"

    ours = {"mdtrt_id": mdtrt_id, "psn_no": counter.psn_no, "chrg_bchno": "B1"}
    lines = [{**line("1", "A", "60", "0.5", "30.00"), **ours}, {**line("2", "B", "3", "20", "60.00"), **ours}]
    uploaded = await counter.lost_then_repeated("2204", {"feedetail": lines}, "/fees")
    # Not FEE_LINE_EXISTS: the first upload's classification. B: 60.00, 10 % first = 6.00, 54.00 in range.
    result = uploaded["output"]["result"]
    assert [(r["feedetl_sn"], r["chrgitm_lv"]) for r in result] == [("1", "1"), ("2", "2")]
    assert (Decimal(str(result[1]["preselfpay_amt"])), Decimal(str(result[1]["inscp_scp_amt"]))) == (
        Decimal("6.00"),
        Decimal("54.00"),
    )
    assert await counter.count(FeeLineRecord, col(FeeLineRecord.mdtrt_id) == mdtrt_id) == 2

    batch = {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": "0000", "psn_no": counter.psn_no}}
    withdrawn = await counter.lost_then_repeated("2205", batch, "/fees/cancellation")
    # The two lines the first call withdrew, not "nothing left to withdraw".
    assert (withdrawn["output"]["data"]["cancelled"], withdrawn["warn_msg"]) == (2, None)
    assert await counter.count(FeeLineRecord, col(FeeLineRecord.mdtrt_id) == mdtrt_id) == 0

    cancellation = {"data": {"psn_no": counter.psn_no, "mdtrt_id": mdtrt_id, "ipt_otp_no": "MZ0001"}}
    cancelled = await counter.lost_then_repeated("2202", cancellation, "/cancellation")
    assert cancelled["output"]["data"]["mdtrt_id"] == mdtrt_id
    assert (
        await counter.count(Encounter, col(Encounter.mdtrt_id) == mdtrt_id, Encounter.status == "cancelled")
        == 1
    )


async def test_an_inpatient_stay_with_every_answer_lost(counter: Counter) -> None:
    who = {"psn_no": counter.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": counter.certno}
    admission = {
        "mdtrtinfo": {**who, "insutype": "390", "begntime": WHEN, "med_type": "21", "ipt_no": "ZY0001"}
    }
    admitted = await counter.lost_then_repeated("2401", admission, "/api/v1/encounters")
    mdtrt_id = admitted["output"]["result"]["mdtrt_id"]
    assert await counter.count(Encounter, col(Encounter.ipt_otp_no) == "ZY0001") == 1
    ours = {"mdtrt_id": mdtrt_id, "psn_no": counter.psn_no}

    change = {**ours, "med_type": "21", "dise_codg": "J18.900"}
    changed = await counter.lost_then_repeated("2403", {"adminfo": change}, "/diagnosis")
    assert (changed["output"]["data"]["mdtrt_id"], changed["warn_msg"]) == (mdtrt_id, None)

    lines = [{**line("1", "B", "100", "50", "5000.00"), **ours}, {**line("2", "A", "1", "1", "1.00"), **ours}]
    uploaded = await counter.lost_then_repeated("2301", {"feedetail": lines}, "/fees")
    assert [r["feedetl_sn"] for r in uploaded["output"]["result"]] == ["1", "2"]
    assert await counter.count(FeeLineRecord, col(FeeLineRecord.mdtrt_id) == mdtrt_id) == 2

    one = await counter.lost_then_repeated(
        "2302", {"data": {**ours, "feedetl_sn": "2"}}, "/fees/cancellation"
    )
    assert one["output"]["data"]["cancelled"] == 1
    assert await counter.count(FeeLineRecord, col(FeeLineRecord.mdtrt_id) == mdtrt_id) == 1

    discharge = {"dscginfo": {**ours, "insutype": "390", "endtime": WHEN, "dscg_way": "1"}}
    discharged = await counter.lost_then_repeated("2402", discharge, "/discharge")
    assert discharged["output"]["data"]["mdtrt_id"] == mdtrt_id
    assert (
        await counter.count(Encounter, col(Encounter.mdtrt_id) == mdtrt_id, Encounter.status == "discharged")
        == 1
    )

    await counter.lost_then_repeated("2405", {"data": ours}, "/discharge/cancellation")
    assert (
        await counter.count(Encounter, col(Encounter.mdtrt_id) == mdtrt_id, Encounter.status == "open") == 1
    )

    rest = await counter.lost_then_repeated(
        "2302", {"data": {**ours, "feedetl_sn": "0000"}}, "/fees/cancellation"
    )
    assert rest["output"]["data"]["cancelled"] == 1
    await counter.lost_then_repeated("2404", {"data": ours}, "/cancellation")
    assert (
        await counter.count(Encounter, col(Encounter.mdtrt_id) == mdtrt_id, Encounter.status == "cancelled")
        == 1
    )
    # Each state-changing call answered once under its msgid: admission, change, 2 uploads/withdrawals...
    assert await counter.count(EncounterMessage, col(EncounterMessage.fixmedins_code) == HOSPITAL) == 8


async def test_a_reused_msgid_with_another_request_is_refused_not_replayed(counter: Counter) -> None:
    who = {"psn_no": counter.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": counter.certno}
    registration = {"data": {**who, "insutype": "390", "begntime": WHEN, "ipt_otp_no": "MZ0002"}}
    registered = await counter.lost_then_repeated("2201", registration, "/api/v1/encounters")
    mdtrt_id = registered["output"]["data"]["mdtrt_id"]
    ours = {"mdtrt_id": mdtrt_id, "psn_no": counter.psn_no, "chrg_bchno": "B1"}
    msgid = counter.msgid()
    counter.link.lose = "/fees"
    first = await counter.send(
        "2204", msgid, {"feedetail": [{**line("1", "A", "60", "0.5", "30.00"), **ours}]}
    )
    assert first["err_msg"].startswith("[E_OUTCOME_UNKNOWN]")
    other = await counter.send("2204", msgid, {"feedetail": [{**line("2", "A", "2", "0.5", "1.00"), **ours}]})
    assert other["infcode"] == -1 and other["err_msg"].startswith("[MSGID_REUSED]"), other
    assert await counter.count(FeeLineRecord, col(FeeLineRecord.mdtrt_id) == mdtrt_id) == 1


async def test_settlements_reversals_and_voids_with_their_answers_lost(counter: Counter) -> None:
    """The money-moving codes were already answered once per msgid by settlement; checked here the same
    way. 90.00 (A 30.00 甲, B 60.00 乙 with 6.00 first): 84.00 in range, 20.00 deductible, 50 % of 64.00 =
    32.00 fund, 58.00 cash."""
    who = {"psn_no": counter.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": counter.certno}
    msgid = counter.msgid()
    registration = {"data": {**who, "insutype": "390", "begntime": WHEN, "ipt_otp_no": "MZ0003"}}
    mdtrt_id = (await counter.send("2201", msgid, registration))["output"]["data"]["mdtrt_id"]

    async def visit_of_two_lines(batch: str, first_sn: int) -> dict[str, Any]:
        ours = {"mdtrt_id": mdtrt_id, "psn_no": counter.psn_no, "chrg_bchno": batch}
        lines = [
            {**line(str(first_sn), "A", "60", "0.5", "30.00"), **ours},
            {**line(str(first_sn + 1), "B", "3", "20", "60.00"), **ours},
        ]
        assert (await counter.send("2204", counter.msgid(), {"feedetail": lines}))["infcode"] == 0
        return {
            **who,
            "med_type": "11",
            "medfee_sumamt": "90.00",
            "mdtrt_id": mdtrt_id,
            "chrg_bchno": batch,
            "insutype": "390",
        }

    settle = await visit_of_two_lines("B1", 1)
    settled = (await counter.lost_then_repeated("2207", {"data": settle}, "/settlement"))["output"][
        "setlinfo"
    ]
    assert (settled["hifp_pay"], settled["psn_cash_pay"]) == (Decimal("32.00"), Decimal("58.00"))
    reversal = {"data": {"setl_id": settled["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": counter.psn_no}}
    reversed_ = (await counter.lost_then_repeated("2208", reversal, "/reversal"))["output"]["setlinfo"]
    assert (reversed_["hifp_pay"], reversed_["psn_cash_pay"]) == (Decimal("-32.00"), Decimal("-58.00"))

    # A second batch settled, its answer lost, then 冲正'd by 2601 whose own answer is lost as well.
    settle_b2 = await visit_of_two_lines("B2", 3)
    lost_settlement = counter.msgid()
    counter.link.lose = "/settlement"
    lost = await counter.send("2207", lost_settlement, {"data": settle_b2})
    assert lost["err_msg"].startswith("[E_OUTCOME_UNKNOWN]")
    void = {"data": {"psn_no": counter.psn_no, "omsgid": lost_settlement, "oinfno": "2207"}}
    voided = (await counter.lost_then_repeated("2601", void, "/api/v1/voids"))["output"]["data"]
    assert (voided["omsgid"], voided["outcome"]) == (lost_settlement, "reversed")
    late = await counter.send("2207", lost_settlement, {"data": settle_b2})
    assert late["err_msg"].startswith("[E_VOIDED]")
    async with counter.db.session() as session:
        kinds = (
            await session.scalars(select(Settlement.status).where(Settlement.mdtrt_id == mdtrt_id))
        ).all()
    assert sorted(kinds) == ["reversal", "reversal", "reversed", "reversed"]  # two settled, both undone once
