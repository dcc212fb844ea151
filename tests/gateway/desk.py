"""The gateway in front of the real settlement service (in-process, real databases, both backends), with a
HIS desk at each demo institution: what the working-day tests (queries, pre-checks, settlement lists...)
drive. Reference data as ``tests.settlement.conftest`` seeds it: 县医院 H34152400001 (level 2), 药房
P34152400001; items A 甲 (capped at 0.50), B 乙 (10 % first), C 丙, D 乙 capped; demo policy: outpatient
20.00 deductible, 50 %; inpatient 300.00, 60 %."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
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
    seeded_settlement,
)
from tests.support.apps import build, running
from tests.support.his import NAMES, SignedHis, register_demo_institutions

WHEN = "2026-11-20 10:00:00"
OTHER_HOSPITAL = "H34152400002"


@dataclass
class Desk:
    """Sends envelopes as one institution or another (each signed as the institution it names)."""

    processor: EnvelopeProcessor
    api: SettlementApi
    gateway_db: Database
    his: SignedHis
    _sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def msgid(self, fixmedins_code: str = HOSPITAL) -> str:
        return f"{fixmedins_code}20261120100000{next(self._sequence):04d}"

    async def send(
        self, infno: str, body: dict[str, Any], *, at: str = HOSPITAL, msgid: str | None = None
    ) -> dict[str, Any]:
        wire = examples.envelope(
            infno,
            msgid or self.msgid(at),
            body,
            insuplc_admdvs=REGION,
            fixmedins_code=at,
            fixmedins_name=NAMES.get(at, at),
        )
        answer: dict[str, Any] = parse_body((await self.his.send({**wire, "inf_time": WHEN})).encode())
        return answer

    async def ok(self, infno: str, body: dict[str, Any], *, at: str = HOSPITAL) -> dict[str, Any]:
        answer = await self.send(infno, body, at=at)
        assert answer["infcode"] == 0, answer["err_msg"]
        output: dict[str, Any] = answer["output"]
        return output

    async def person(self, sequence: int = 13) -> Patient:
        psn_no, certno = new_person(sequence)
        await self.api.cover(psn_no, certno)
        return Patient(self, psn_no, certno)


def refused(answer: dict[str, Any], code: str) -> None:
    assert answer["infcode"] == -1 and answer["err_msg"].startswith(f"[{code}]"), answer
    assert "sql" not in answer["err_msg"].lower()


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


@dataclass
class Patient:
    desk: Desk
    psn_no: str
    certno: str

    @property
    def who(self) -> dict[str, str]:
        return {"psn_no": self.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": self.certno}

    async def visit(
        self,
        ipt_otp_no: str,
        lines: list[dict[str, Any]],
        *,
        med_type: str = "11",
        dise: tuple[str, str] = ("J06.900", "上呼吸道感染"),
        begntime: str = WHEN,
        amounts: dict[str, str] | None = None,
        diag: tuple[str, str] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """2201, 2203, 2204 and 2207 of one outpatient visit; its mdtrt_id and the 2207 setlinfo.
        ``amounts``: the four 2207 amounts and medfee_sumamt as the HIS sums them. ``diag``: the
        ``diseinfo`` row's ICD-10 医保版 code (1307) when ``dise`` is a chronic visit's 病种 code."""
        desk = self.desk
        registered = await desk.ok(
            "2201",
            {"data": {**self.who, "insutype": "390", "begntime": begntime, "ipt_otp_no": ipt_otp_no}},
        )
        mdtrt_id: str = registered["data"]["mdtrt_id"]
        code, name = dise
        info = {
            "mdtrt_id": mdtrt_id,
            "psn_no": self.psn_no,
            "med_type": med_type,
            "begntime": begntime,
            "dise_codg": code,
            "dise_name": name,
        }
        diag_code, diag_name = diag or dise
        diagnosis = {"diag_type": "1", "diag_srt_no": 1, "diag_code": diag_code, "diag_name": diag_name}
        await desk.ok("2203", {"mdtrtinfo": info, "diseinfo": [diagnosis]})
        ours = {"mdtrt_id": mdtrt_id, "psn_no": self.psn_no, "chrg_bchno": "B1"}
        await desk.ok("2204", {"feedetail": [{**x, **ours} for x in lines]})
        settle = {
            **self.who,
            "med_type": med_type,
            "psn_setlway": "01",
            "mdtrt_id": mdtrt_id,
            "chrg_bchno": "B1",
            "insutype": "390",
            "acct_used_flag": "0",
            **(amounts or {}),
        }
        settled = (await desk.ok("2207", {"data": settle}))["setlinfo"]
        return mdtrt_id, settled


@pytest.fixture
async def desk(databases: DatabaseFactory) -> AsyncIterator[Desk]:
    url = await seeded_settlement(databases, codes=True)  # seed_reference_data(codes=True)
    app = build(create_app, SettlementSettings, database_url=url, run_background_workers=False)
    settlement_db = Database(url)
    gateway_db = Database(databases.migrated("gateway"))
    async with running(app) as client:
        api = SettlementApi(client, settlement_db, app)
        downstream = Downstream("http://enrollment", "http://service", 5.0)
        await downstream.client.aclose()
        downstream.client = client  # closed with the app, not by the gateway
        await register_demo_institutions(gateway_db)
        security = HisSecurity(gateway_db, TifSha256())
        processor = EnvelopeProcessor(gateway_db, downstream, REGION, 1_048_576, security=security)
        yield Desk(processor, api, gateway_db, SignedHis(processor.process))
    await gateway_db.dispose()
    await settlement_db.dispose()
