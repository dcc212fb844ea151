"""The office a filing goes through in tests: the gateway in front of the real settlement service
(in-process, real databases), signed HIS messages, persons covered on demand, and the filings as stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import pytest
from gateway.downstream import Downstream
from gateway.protocol.envelope import parse_body
from gateway.security.schemes import TifSha256
from gateway.security.service import HisSecurity
from gateway.transactions import EnvelopeProcessor
from settlement.config import SettlementSettings
from settlement.filings.models import Filing
from settlement.main import create_app
from sqlmodel import func, select

from platformctl import examples
from shared.clock import now_china
from shared.db import Database
from shared.events import IdentityCategory
from tests.conftest import DatabaseFactory
from tests.gateway.test_lost_answers import LossyLink
from tests.settlement.conftest import HOSPITAL, REGION, SettlementApi, new_person, seeded_settlement
from tests.support.apps import build, running
from tests.support.his import SignedHis, register_demo_institutions

WHEN = "2026-11-20 10:00:00"


@dataclass
class Office:
    his: SignedHis
    link: LossyLink
    db: Database
    api: SettlementApi
    sequence: int = 0
    certnos: dict[str, str] = field(default_factory=dict)
    #: The gateway's database (its registry of institutions), for a test that registers one more.
    gateway_db: Database | None = None

    def msgid(self, fixmedins_code: str = HOSPITAL) -> str:
        self.sequence += 1
        return f"{fixmedins_code}20261120100000{self.sequence:04d}"

    async def send(
        self,
        infno: str,
        body: dict[str, Any],
        msgid: str | None = None,
        *,
        fixmedins_code: str = HOSPITAL,
        mdtrtarea_admvs: str = REGION,
        insuplc_admdvs: str = REGION,
        sign_as: str | None = None,
    ) -> dict[str, Any]:
        """``sign_as``: the institution whose credentials sign (one registered by the test; by default the
        envelope's institution when it is a demo one, else the pharmacy)."""
        wire = examples.envelope(
            infno, msgid or self.msgid(fixmedins_code), body, insuplc_admdvs=insuplc_admdvs,
            fixmedins_code=fixmedins_code, fixmedins_name="县医院",
        )  # fmt: skip
        wire = {**wire, "inf_time": WHEN, "mdtrtarea_admvs": mdtrtarea_admvs}
        answer: dict[str, Any] = parse_body((await self.his.send(wire, sign_as=sign_as)).encode())
        return answer

    async def person(
        self, sequence: int = 13, *, year: int = 2026, identities: tuple[IdentityCategory, ...] = ()
    ) -> str:
        """A new person covered by 390 for ``year`` (and for this year, when that is later)."""
        psn_no, certno = new_person(sequence)
        for covered in sorted({year, now_china().year}):
            await self.api.cover(psn_no, certno, covered, identities=identities)
        self.certnos[psn_no] = certno
        return psn_no

    async def filings(self, *where: Any) -> int:
        async with self.db.session() as session:
            return int(await session.scalar(select(func.count()).select_from(Filing).where(*where)) or 0)


@pytest.fixture
async def office(databases: DatabaseFactory) -> AsyncIterator[Office]:
    async with opened(databases) as the_office:
        yield the_office


@asynccontextmanager
async def opened(databases: DatabaseFactory) -> AsyncIterator[Office]:
    """The office on migrated databases of the backend (the fixture's; a hypothesis test drives it from
    its own event loop)."""
    url = await seeded_settlement(databases, codes=True)  # seed_reference_data(codes=True)
    app = build(create_app, SettlementSettings, database_url=url, run_background_workers=False)
    settlement_db = Database(url)
    gateway_db = Database(databases.migrated("gateway"))
    async with running(app) as client:
        api = SettlementApi(client, settlement_db, app)
        downstream = Downstream("http://enrollment", "http://service", 5.0)
        await downstream.client.aclose()
        link = LossyLink(client)
        downstream.client = cast(httpx.AsyncClient, link)  # closed with the app, not by the gateway
        await register_demo_institutions(gateway_db)
        security = HisSecurity(gateway_db, TifSha256())
        processor = EnvelopeProcessor(gateway_db, downstream, REGION, 1_048_576, security=security)
        yield Office(SignedHis(processor.process), link, settlement_db, api, gateway_db=gateway_db)
    await gateway_db.dispose()
    await settlement_db.dispose()


def chronic(
    psn_no: str,
    code: str = "E11",
    begn: str = "2026-01-01",
    end: str | None = "2026-12-31",
    insutype: str = "390",
) -> dict:
    return {
        "data": {
            "psn_no": psn_no,
            "insutype": insutype,
            "opsp_dise_code": code,
            "opsp_dise_name": "2型糖尿病",
            "begndate": begn,
            "enddate": end or "",
            # What deployed HIS code sends besides; read for shape, not kept.
            "tel": "13800000000",
            "addr": "",
            "insu_optins": REGION,
            "ide_fixmedins_no": HOSPITAL,
            "ide_fixmedins_name": "县医院",
            "hosp_ide_date": "2025-12-20",
            "diag_dr_codg": "D001",
            "diag_dr_name": "王医生",
        }
    }


def refused(answer: dict[str, Any], code: str) -> None:
    assert answer["infcode"] == -1 and answer["err_msg"].startswith(f"[{code}]"), answer
    assert "sql" not in answer["err_msg"].lower()
