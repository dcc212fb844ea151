"""What the migration sends reaches settlement: a migrated person with a paid 2026 URBMI or NCMS year settles
under that scheme (and not under another), by ID number or with the card kept active; and the institutions
of both legacy lists are admitted into the settlement registry (先纳入、后统一).

Policy (the demo document for each legacy scheme): 20.00 yuan yearly deductible, 50 %, 300.00 yuan cap."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from enrollment.db import infra
from enrollment.legacy.exports import Export
from enrollment.legacy.migrate import migrate
from settlement.config import SettlementSettings
from settlement.institutions.legacy import admit_institutions
from settlement.institutions.models import Institution, LegacyListing
from settlement.main import SUBSCRIPTIONS, create_app
from settlement.policy.document import jinzhai_yutian_demo
from sqlalchemy import func, select
from sqlmodel import col

from shared.db import Database
from shared.events import EventEnvelope
from tests.conftest import DatabaseFactory
from tests.migration.exports import CERT_A, CERT_B, REGION, TODAY, write_pair
from tests.settlement.conftest import SettlementApi, purchase, seed_reference_data
from tests.support.apps import build, running

URL = "/api/v1/pharmacy-settlements"
#: 60 amoxicillin at 0.50 = 30.00, all 甲 in range: 20.00 deductible, (30.00 - 20.00) x 50 % = 5.00 fund.
SMALL = [("A", "60", "0.5", 3000)]


@pytest.fixture
async def settlement_api(databases: DatabaseFactory) -> AsyncIterator[SettlementApi]:
    url = databases.migrated("settlement")
    app = build(create_app, SettlementSettings, database_url=url, run_background_workers=False)
    db = Database(url)
    async with running(app) as client:
        api = SettlementApi(client, db)
        await seed_reference_data(api)
        for insutype in ("391", "380"):
            policy = {
                "admdvs": REGION,
                "insutype": insutype,
                "name": f"原制度 {insutype} 门诊统筹",
                "effective_from": "2026-01-01",
                "document": jinzhai_yutian_demo().model_dump(mode="json"),
            }
            assert (await api.post("/api/v1/policies", policy)).status_code == 201
        yield api
    await db.dispose()


async def test_migrated_people_settle_under_their_legacy_scheme(
    databases: DatabaseFactory, settlement_api: SettlementApi, tmp_path: Path
) -> None:
    enrollment_db = Database(databases.migrated("enrollment"))
    try:
        urbmi, ncms = write_pair(tmp_path)
        await migrate(enrollment_db, [Export("391", urbmi), Export("380", ncms)], TODAY)
        async with enrollment_db.session() as session:
            payloads = [
                r.payload
                for r in (
                    await session.execute(select(infra.outbox.c.payload).order_by(infra.outbox.c.id))
                ).all()
            ]
    finally:
        await enrollment_db.dispose()
    psn_nos: dict[str, str] = {}
    for payload in payloads:  # what settlement's consumer does with each event, in order
        envelope = EventEnvelope.model_validate_json(payload)
        if envelope.type == "enrollment.person_identity":  # only the restricted topic's event names them
            psn_nos[envelope.data["certno"]] = envelope.data["psn_no"]
        if envelope.type not in SUBSCRIPTIONS:
            continue  # settlement keeps no read model of registrations alone
        async with settlement_api.db.transaction() as session:
            await SUBSCRIPTIONS[envelope.type].handler(session, envelope)

    def buy(certno: str, insutype: str, **extra: str) -> dict[str, object]:
        body = purchase(psn_nos[certno], certno, SMALL)
        return {**body, "insutype": insutype, **extra}

    for certno, insutype in ((CERT_A, "391"), (CERT_B, "380")):
        response = await settlement_api.post(URL, buy(certno, insutype))
        assert response.status_code == 200, response.text
        s = response.json()
        assert (s["pooled_fund_paid_fen"], s["cash_paid_fen"]) == (500, 2500)
    # 张三 is covered under URBMI only; 李秀英's 2026 went to NCMS (paid last), not URBMI.
    for certno, insutype in ((CERT_A, "390"), (CERT_A, "380"), (CERT_B, "391")):
        response = await settlement_api.post(URL, buy(certno, insutype))
        assert (response.status_code, response.json()["error"]["code"]) == (422, "NOT_COVERED")
    # Her later NCMS card is the active one; the URBMI card it replaced is refused.
    card = await settlement_api.post(
        URL, buy(CERT_B, "380", mdtrt_cert_type="03", mdtrt_cert_no="CB00000002")
    )
    assert card.status_code == 200, card.text
    old = await settlement_api.post(URL, buy(CERT_B, "380", mdtrt_cert_type="03", mdtrt_cert_no="CB00000001"))
    assert old.status_code == 422, old.text


async def test_institutions_of_both_lists_are_admitted(databases: DatabaseFactory, tmp_path: Path) -> None:
    db = Database(databases.migrated("settlement"))
    try:
        urbmi, ncms = write_pair(tmp_path)
        files = [("391", urbmi / "institutions.csv"), ("380", ncms / "institutions.csv")]
        dry = await admit_institutions(db, files, dry_run=True)
        async with db.session() as session:
            assert await session.scalar(select(func.count()).select_from(Institution)) == 0
        report = await admit_institutions(db, files)
        assert dry.issues == report.issues
        assert {(i.subject, i.rule, i.outcome) for i in report.issues} == {
            ("H34152400001", "IN_BOTH_LISTS", "resolved"),
            ("H34152400003", "LISTS_DISAGREE", "unresolved"),  # level 1 on one list, 2 on the other
        }
        # H1 (both lists), P1 (URBMI), H2 (NCMS); listings U-H1, U-P1, N-H1, N-H2.
        assert (report.institutions_created, report.listings_recorded) == (3, 4)
        async with db.session() as session:
            registry = {
                i.fixmedins_code: (i.hosp_lv, i.status, i.agreement_begin, i.agreement_end)
                for i in await session.scalars(select(Institution))
            }
            listings = {
                (row.insutype, row.legacy_code): row.fixmedins_code
                for row in await session.scalars(select(LegacyListing).order_by(col(LegacyListing.id)))
            }
        assert registry == {
            # URBMI 2010-2024, NCMS 2008-2025: the earlier begin, the later end.
            "H34152400001": ("2", "active", date(2008, 1, 1), date(2025, 12, 31)),
            "P34152400001": ("9", "active", date(2015, 1, 1), None),
            "H34152400002": ("1", "active", date(2008, 1, 1), None),
        }
        assert listings == {
            ("391", "U-H1"): "H34152400001",
            ("380", "N-H1"): "H34152400001",
            ("391", "U-P1"): "P34152400001",
            ("380", "N-H2"): "H34152400002",
        }
        again = await admit_institutions(db, files)
        assert (again.institutions_created, again.listings_recorded, again.listings_unchanged) == (0, 0, 4)
    finally:
        await db.dispose()
