from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from settlement.config import SettlementSettings
from settlement.main import SUBSCRIPTIONS, create_app
from settlement.policy.document import jinzhai_yutian_demo
from sqlalchemy import text

from platformctl.demo import demo_code_files
from shared.db import Database
from shared.events import CoverageActivated, EventData, IdentityCategory, PersonIdentity
from shared.idcard import make_id_number
from tests.conftest import DatabaseFactory
from tests.support.apps import build, running

REGION = "341524"
PHARMACY = "P34152400001"
HOSPITAL = "H34152400001"


@dataclass
class SettlementApi:
    client: httpx.AsyncClient
    db: Database
    app: FastAPI | None = None

    async def apply(self, event: EventData) -> None:
        """Feed one enrollment event to the handler settlement registers for it, as its consumer does."""
        async with self.db.transaction() as session:
            await SUBSCRIPTIONS[event.event_type].handler(session, event.envelope("test"))

    async def identify(
        self, psn_no: str, certno: str, *, psn_name: str = "测试人员", naty: str | None = None
    ) -> None:
        """Who the person is, as enrollment publishes it on the restricted topic ``enrollment.identity``."""
        await self.apply(
            PersonIdentity(
                psn_no=psn_no, certno=certno, psn_name=psn_name, gend="1", brdy=date(1985, 3, 12), naty=naty
            )
        )

    async def cover(
        self,
        psn_no: str,
        certno: str,
        year: int = 2026,
        *,
        enrollment_id: int = 1,
        continuous_years: int = 1,
        psn_insu_date: date | None = None,
        identities: tuple[IdentityCategory, ...] = (),
        insutype: str = "390",
        insuplc_admdvs: str = REGION,
    ) -> None:
        """Put a person's identity and coverage in the read model exactly as the enrollment event handlers
        do (enrollment publishes both in one transaction)."""
        await self.identify(psn_no, certno)
        event = CoverageActivated(
            enrollment_id=enrollment_id,
            psn_no=psn_no,
            insutype=insutype,
            psn_type="1501",
            insuplc_admdvs=insuplc_admdvs,
            year=year,
            coverage_begin=date(year, 1, 1),
            coverage_end=date(year, 12, 31),
            identities=list(identities),
            continuous_years=continuous_years,
            psn_insu_date=psn_insu_date,
        )
        await self.apply(event)

    async def register_chronic(self, psn_no: str, disease: str, begndate: str = "2026-01-01") -> str:
        """The person registered for a 门慢门特 disease (docs/domain.md, "Filings"), as an office clerk files
        it: chronic care is paid to registered patients only. Its 待遇申报明细流水号."""
        body = {
            "psn_no": psn_no, "insutype": "390", "insuplc_admdvs": REGION, "fixmedins_code": "OFFICE",
            "opsp_dise_code": disease, "opsp_dise_name": disease, "begndate": begndate,
        }  # fmt: skip
        filed = await self.post("/api/v1/filings/chronic", body)
        assert filed.status_code == 201, filed.text
        return str(filed.json()["trt_dcla_detl_sn"])

    async def post(
        self, url: str, body: dict[str, Any], *, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """POST with the bearer token in ``headers`` (``tests.support.apps.bearer``: who acts is that
        token's subject), else with the suite's administrator token (subject ``test-admin``)."""
        return await self.client.post(url, json=body, headers=headers)


async def seed_reference_data(api: SettlementApi, *, codes: bool = False) -> None:
    """Institutions, a four-item catalogue and the demo policy; ``codes``: also the demo's diagnosis and
    procedure lists (1307/1308, ``platformctl.demo.demo_code_files``), for harnesses that send diagnoses
    as a HIS does (a diagnosis must be on the list in force)."""
    for body in (
        {
            "fixmedins_code": PHARMACY,
            "fixmedins_name": "药房",
            "fixmedins_type": "2",
            "hosp_lv": "9",
            "admdvs": REGION,
            "agreement_begin": "2025-01-01",
        },
        {
            "fixmedins_code": HOSPITAL,
            "fixmedins_name": "县医院",
            "fixmedins_type": "1",
            "hosp_lv": "2",
            "admdvs": REGION,
            "agreement_begin": "2025-01-01",
        },
        {
            "fixmedins_code": "P34152400009",
            "fixmedins_name": "暂停药房",
            "fixmedins_type": "2",
            "hosp_lv": "9",
            "admdvs": REGION,
            "status": "suspended",
            "agreement_begin": "2025-01-01",
        },
    ):
        assert (await api.post("/api/v1/institutions", body)).status_code == 201
    for body in (
        {
            "med_list_codg": "A",
            "name": "甲类药",
            "med_chrgitm_type": "09",
            "chrgitm_lv": "1",
            "pric_uplmt": "0.5",
        },
        {
            "med_list_codg": "B",
            "name": "乙类药",
            "med_chrgitm_type": "11",
            "chrgitm_lv": "2",
            "selfpay_prop": "0.1",
        },
        {"med_list_codg": "C", "name": "丙类", "med_chrgitm_type": "09", "chrgitm_lv": "3"},
        {
            "med_list_codg": "D",
            "name": "限价乙类",
            "med_chrgitm_type": "09",
            "chrgitm_lv": "2",
            "selfpay_prop": "0.05",
            "pric_uplmt": "2.5",
        },
    ):
        assert (await api.post("/api/v1/catalogue/items", body)).status_code == 201
    policy = {
        "admdvs": REGION,
        "insutype": "390",
        "name": "门诊统筹",
        "effective_from": "2026-01-01",
        # Outpatient pooling 20.00 yearly deductible, 50 %, 300.00 yearly cap (the demo policy's).
        "document": jinzhai_yutian_demo().model_dump(mode="json"),
    }
    assert (await api.post("/api/v1/policies", policy)).status_code == 201
    if codes:
        for kind, text in demo_code_files():
            response = await api.client.post(f"/api/v1/catalogue/codes/{kind}/import", content=text.encode())
            assert response.status_code == 200, response.text


#: The diagnoses the suite's encounters name (ICD-10 医保版, as 1307 lists them).
FIXTURE_DIAGNOSES = (
    "code,name\nJ18.900,肺炎\nJ06.900,急性上呼吸道感染\n"
    "I10.x00,原发性高血压\nO82.000,经选择性剖宫产术的分娩\n"
)


async def seed_diagnoses(api: SettlementApi, text: str = FIXTURE_DIAGNOSES) -> None:
    """Load diagnosis codes (one catalogue version), as the office loads the national file."""
    response = await api.client.post("/api/v1/catalogue/codes/dise/import", content=text.encode("utf-8"))
    assert response.status_code == 200, response.text


async def seeded_settlement(databases: DatabaseFactory, *, codes: bool = False) -> str:
    """A settlement database holding ``seed_reference_data(codes=codes)``, seeded through the service's API
    once per test process and copied for each test (``DatabaseFactory.seeded``)."""

    async def seed(url: str) -> None:
        app = build(create_app, SettlementSettings, database_url=url, run_background_workers=False)
        db = Database(url)
        try:
            async with running(app) as client:
                await seed_reference_data(SettlementApi(client, db, app), codes=codes)
        finally:
            await db.dispose()

    return await databases.seeded("settlement", "codes" if codes else "reference", seed)


@pytest.fixture
async def settlement_api(databases: DatabaseFactory) -> AsyncIterator[SettlementApi]:
    url = await seeded_settlement(databases)
    app = build(create_app, SettlementSettings, database_url=url, run_background_workers=False)
    db = Database(url)
    async with running(app) as client:
        yield SettlementApi(client, db, app)
    await db.dispose()


async def a_session_waits_for_a_lock(api: SettlementApi) -> bool:
    """PostgreSQL: some session of this database is waiting for a lock now (a row lock, a unique key)."""
    async with api.db.session() as session:
        waiting = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting)


def new_person(sequence: int = 13) -> tuple[str, str]:
    certno = make_id_number(REGION, date(1985, 3, 12), sequence)
    return f"{REGION}{uuid.uuid4().int % 10**16:016d}", certno


def purchase(
    psn_no: str,
    certno: str,
    lines: list[tuple[str, str, str, int]],
    *,
    msgid: str | None = None,
    fixmedins_code: str = PHARMACY,
    begntime: str = "2026-11-20T10:00:00+08:00",
    total: int | None = None,
) -> dict[str, Any]:
    return {
        "msgid": msgid or f"{fixmedins_code}{uuid.uuid4().int % 10**18:018d}",
        "fixmedins_code": fixmedins_code,
        "mdtrtarea_admvs": REGION,
        "insuplc_admdvs": REGION,
        "psn_no": psn_no,
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": certno,
        "begntime": begntime,
        "medfee_sumamt_fen": total if total is not None else sum(x[3] for x in lines),
        "insutype": "390",
        "med_type": "41",
        "lines": [
            {
                "feedetl_sn": str(i + 1),
                "med_list_codg": code,
                "medins_list_codg": f"H{i}",
                "cnt": cnt,
                "pric": pric,
                "amount_fen": amount,
            }
            for i, (code, cnt, pric, amount) in enumerate(lines)
        ],
    }
