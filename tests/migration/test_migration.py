"""The legacy migration on hand-made exports: matching by ID number, the conflict rules, the events (and the
ones it must not emit), dry run, re-runs, continuity across the merger. Figures follow from tests/migration/
exports.py."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from enrollment.cards.models import Card
from enrollment.config import EnrollmentSettings
from enrollment.db import infra
from enrollment.enrollments.models import Enrollment, Payment
from enrollment.legacy.exports import Export, ExportError
from enrollment.legacy.migrate import MigrationReport, migrate, write_report
from enrollment.legacy.models import LegacyPersonId, MigratedPerson
from enrollment.main import create_app
from enrollment.persons import service as persons
from enrollment.persons.models import IdentityCategory, Person
from enrollment.persons.schemas import PersonCreate
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from shared.db import Database
from tests.conftest import DatabaseFactory
from tests.enrollment.conftest import REGION_RULES, STANDARDS
from tests.migration.exports import (
    CERT_A,
    CERT_B,
    CERT_C,
    CERT_D,
    CERT_E,
    CERT_F,
    CERT_G,
    NCMS,
    REGION,
    TODAY,
    URBMI,
    write_export,
    write_pair,
)
from tests.support.apps import build, running

TABLES = (Person, Enrollment, Payment, IdentityCategory, Card, LegacyPersonId, MigratedPerson)


async def _prepared(databases: DatabaseFactory) -> Database:
    """An enrollment database where 赵六 (F) and 钱七 (G) registered before the migration."""
    db = Database(databases.migrated("enrollment"))
    async with db.transaction() as session:
        await persons.create_person(session, PersonCreate(certno=CERT_F, psn_name="赵六"), today=TODAY)
        await persons.create_person(session, PersonCreate(certno=CERT_G, psn_name="钱七"), today=TODAY)
    return db


def _exports(root: Path) -> list[Export]:
    urbmi, ncms = write_pair(root)
    return [Export("391", urbmi), Export("380", ncms)]


async def _counts(db: Database) -> dict[str, int]:
    async with db.session() as session:
        counts = {
            t.__tablename__: int(await session.scalar(sa_select(func.count()).select_from(t)) or 0)
            for t in TABLES
        }
        counts["outbox"] = int(await session.scalar(sa_select(func.count()).select_from(infra.outbox)) or 0)
    return counts


async def _events(db: Database) -> list[dict[str, Any]]:
    async with db.session() as session:
        rows = (await session.execute(sa_select(infra.outbox.c.payload).order_by(infra.outbox.c.id))).all()
    return [json.loads(r.payload) for r in rows]


async def _person(db: Database, certno: str) -> Person | None:
    async with db.session() as session:
        return await session.scalar(select(Person).where(Person.certno == certno))


async def _enrollments(db: Database, certno: str) -> list[tuple[int, str, str, int]]:
    async with db.session() as session:
        rows = await session.scalars(
            select(Enrollment)
            .join(Person, col(Person.psn_no) == col(Enrollment.psn_no))
            .where(Person.certno == certno)
            .order_by(col(Enrollment.year))
        )
        return [(e.year, e.insutype, e.kind, e.paid_fen) for e in rows]


def _rules(report: MigrationReport) -> set[tuple[str, str, str]]:
    return {(i.subject, i.rule, i.outcome) for i in report.issues}


EXPECTED_RULES = {
    (CERT_B, "ID_NUMBER_WINS", "resolved"),
    (CERT_B, "IN_BOTH_EXPORTS", "resolved"),
    (CERT_B, "LATEST_PAID_WINS", "resolved"),
    (CERT_B, "LATEST_ACTIVE_CARD", "resolved"),
    (CERT_C, "NAME_DIFFERS", "unresolved"),
    (CERT_D, "INVALID_ID_NUMBER", "error"),
    (CERT_E, "UNPAID_YEAR", "resolved"),
    (CERT_G, "EXISTING_NAME_DIFFERS", "unresolved"),
}


async def test_migration_matches_resolves_and_reports(databases: DatabaseFactory, tmp_path: Path) -> None:
    db = await _prepared(databases)
    try:
        before = await _counts(db)
        report = await migrate(db, _exports(tmp_path), TODAY, batch_size=2)
        assert _rules(report) == EXPECTED_RULES
        # A, B and E are new; F (registered before, same name) gets his history; C, D and G are not migrated.
        assert (report.persons_created, report.persons_linked, report.persons_not_migrated) == (3, 1, 3)
        after = await _counts(db)
        added = {name: after[name] - before[name] for name in after}
        # enrollments: A 2024-2026 (3), B 2022, 2023 under 391 and 2024-2026 under 380 (5), E 2025 (1),
        # F 2026 (1)
        # payments: A 4 (2026 in two parts), B 5, E 1, F 1; cards: A 1, B 2; identities: B's 低保
        # legacy ids: A U1, B U2 + N1, E N4, F U4; outbox: 3 registrations, 3 coverages (A, B, F) with
        # those 3 persons' identities (restricted topic), 3 cards
        assert added == {
            "persons": 3,
            "enrollments": 10,
            "payments": 11,
            "identity_categories": 1,
            "cards": 3,
            "legacy_person_ids": 5,
            "legacy_migrated_persons": 4,
            "outbox": 12,
        }
        assert await _person(db, CERT_C) is None and await _person(db, CERT_D) is None
        g = await _person(db, CERT_G)
        assert g is not None and g.psn_name == "钱七"

        b = await _person(db, CERT_B)
        assert b is not None and (b.gend, b.brdy) == ("2", date(1990, 7, 1))  # the ID number wins
        assert await _enrollments(db, CERT_B) == [
            (2022, "391", "legacy", 18000),
            (2023, "391", "legacy", 18000),
            (2024, "380", "legacy", 15000),
            (2025, "380", "legacy", 15000),
            (2026, "380", "migrated", 15000),  # NCMS paid 2026 on 2025-11-15, after URBMI's 2025-10-01
        ]
        assert await _enrollments(db, CERT_E) == [
            (2025, "380", "legacy", 15000)  # 2026: 75.00 of 150.00 paid, not migrated
        ]
        async with db.session() as session:
            cards = {
                c.card_no: (c.status, c.replaced_by, c.changed_on)
                for c in await session.scalars(select(Card).where(Card.psn_no == b.psn_no))
            }
        assert cards == {
            "CB00000001": ("replaced", "CB00000002", date(2023, 3, 1)),
            "CB00000002": ("active", None, date(2023, 3, 1)),
        }

        events = (await _events(db))[before["outbox"] :]  # F's and G's registrations came before
        by_type: dict[str, list[dict[str, Any]]] = {}
        for event in events:
            by_type.setdefault(event["type"], []).append(event["data"])
        # No contribution or subsidy events: that money is in the legacy funds' audited balances.
        assert set(by_type) == {
            "enrollment.person_registered",
            "enrollment.person_identity",
            "enrollment.coverage_activated",
            "enrollment.card_status_changed",
        }
        # Registrations (v2) and cover (v2) carry no ID number, name or birth date; only the restricted
        # topic's identity events say whose they are.
        assert not {"certno", "psn_name", "brdy"} & {
            k
            for kind in ("enrollment.person_registered", "enrollment.coverage_activated")
            for e in by_type[kind]
            for k in e
        }
        registered = {e["psn_no"] for e in by_type["enrollment.person_registered"]}
        certno_of = {e["psn_no"]: e["certno"] for e in by_type["enrollment.person_identity"]}
        covered = {certno_of[e["psn_no"]]: e["psn_no"] for e in by_type["enrollment.coverage_activated"]}
        assert len(registered) == 3  # A, B and E (E has no current year: no coverage event)
        assert {covered[CERT_A], covered[CERT_B]} <= registered
        coverage = {
            certno_of[e["psn_no"]]: (
                e["insutype"],
                e["year"],
                e["continuous_years"],
                e["psn_insu_date"],
                e["identities"],
            )
            for e in by_type["enrollment.coverage_activated"]
        }
        assert coverage == {
            CERT_A: ("391", 2026, 3, "2024-01-01", []),
            # 2022-2023 under URBMI and 2024-2026 under NCMS count together: 5 years since 2022.
            CERT_B: (
                "380",
                2026,
                5,
                "2022-01-01",
                [{"psn_idet_type": "2102", "begin_date": "2024-01-01", "end_date": None}],
            ),
            CERT_F: ("391", 2026, 1, "2026-01-01", []),
        }
        assert sorted((e["card_no"], e["status"]) for e in by_type["enrollment.card_status_changed"]) == [
            ("CA00000001", "active"),
            ("CB00000001", "replaced"),
            ("CB00000002", "active"),
        ]
    finally:
        await db.dispose()


async def test_dry_run_reports_everything_and_changes_nothing(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    db = await _prepared(databases)
    try:
        exports = _exports(tmp_path)
        before = await _counts(db)
        dry = await migrate(db, exports, TODAY, dry_run=True)
        assert await _counts(db) == before
        real = await migrate(db, exports, TODAY)
        assert dry.issues == real.issues
        assert _rules(dry) == EXPECTED_RULES
        assert (dry.persons_created, dry.enrollments, dry.payments) == (3, 10, 11)
        write_report(dry.issues, tmp_path / "dry.csv")
        with (tmp_path / "dry.csv").open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert {(r["subject"], r["rule"], r["outcome"]) for r in rows} == EXPECTED_RULES
        bad = next(r for r in rows if r["rule"] == "INVALID_ID_NUMBER")
        assert (bad["insutype"], bad["legacy_id"], bad["file"], bad["line"]) == (
            "380",
            "N3",
            "persons.csv",
            "4",
        )
    finally:
        await db.dispose()


async def test_running_again_changes_nothing(databases: DatabaseFactory, tmp_path: Path) -> None:
    db = await _prepared(databases)
    try:
        exports = _exports(tmp_path)
        first = await migrate(db, exports, TODAY)
        counts = await _counts(db)
        again = await migrate(db, exports, TODAY, batch_size=1)
        assert await _counts(db) == counts
        assert (again.persons_created, again.persons_linked, again.persons_unchanged) == (0, 0, 4)
        assert sum(again.events.values()) == 0
        assert again.issues == first.issues
    finally:
        await db.dispose()


async def test_an_export_changed_after_migration_is_left_for_a_clerk(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    db = await _prepared(databases)
    try:
        await migrate(db, _exports(tmp_path), TODAY)
        counts = await _counts(db)
        changed = {**URBMI, "persons.csv": [["U1", CERT_A, "张叁", "1", "1985-03-12", REGION]]}
        urbmi = write_export(tmp_path / "urbmi2", changed)
        report = await migrate(db, [Export("391", urbmi)], TODAY)
        assert (CERT_A, "CHANGED_SINCE_MIGRATED", "unresolved") in _rules(report)
        assert await _counts(db) == counts
        a = await _person(db, CERT_A)
        assert a is not None and a.psn_name == "张三"
    finally:
        await db.dispose()


@pytest.mark.parametrize(
    ("file", "rows", "message"),
    [
        (
            "enrollments.csv",
            [["N4", "2025", REGION, "150.00", "", ""], ["N1", "2024", REGION, "150.00", "", ""]],
            "顺序",
        ),
        ("persons.csv", [["N1", CERT_B, "李秀英", "2", "1990-07-01", REGION]] * 2, "重复"),
    ],
)
async def test_an_unusable_export_is_refused_before_any_change(
    databases: DatabaseFactory, tmp_path: Path, file: str, rows: list[list[str]], message: str
) -> None:
    db = await _prepared(databases)
    try:
        before = await _counts(db)
        ncms = write_export(tmp_path / "ncms", {**NCMS, file: rows})
        urbmi = write_export(tmp_path / "urbmi", URBMI)
        with pytest.raises(ExportError, match=message):
            await migrate(db, [Export("391", urbmi), Export("380", ncms)], TODAY)
        assert await _counts(db) == before
    finally:
        await db.dispose()


async def test_history_counts_towards_unified_enrollment_after_the_merger(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    """参保年限合并计算: 张三 paid URBMI 2024-2026; enrolling in the unified scheme (390) for 2027 gives 4
    continuous years since 2024-01-01, on the enrollment API and in the coverage event."""
    url = databases.migrated("enrollment")
    db = Database(url)
    try:
        await migrate(db, _exports(tmp_path), TODAY)
        a = await _person(db, CERT_A)
        assert a is not None
        app = build(
            create_app,
            EnrollmentSettings,
            database_url=url,
            run_background_workers=False,
            fixed_today=date(2026, 10, 15),
        )
        async with running(app) as client:
            assert (await client.put(f"/api/v1/regions/{REGION}", json=REGION_RULES)).status_code == 200
            for standard in STANDARDS:
                response = await client.post(f"/api/v1/regions/{REGION}/standards", json=standard)
                assert response.status_code == 201
            history = (await client.get(f"/api/v1/persons/{a.psn_no}/enrollments")).json()
            assert [(h["year"], h["insutype"], h["continuous_years"]) for h in history] == [
                (2024, "391", 1),
                (2025, "391", 2),
                (2026, "391", 3),
            ]
            covered = (await client.get(f"/api/v1/persons/{a.psn_no}/coverage?on=2026-11-20")).json()
            assert (covered["covered"], covered["enrollment"]["insutype"]) == (True, "391")
            payment = {
                "payer": "individual",
                "amount_fen": 3000,
                "receipt_no": "R2027A",
                "paid_on": "2026-10-15",
            }
            body = {"psn_no": a.psn_no, "year": 2027, "payment": payment}
            enrolled = await client.post("/api/v1/enrollments", json=body)
            assert enrolled.status_code == 201, enrolled.text
            assert (enrolled.json()["continuous_years"], enrolled.json()["psn_insu_date"]) == (
                4,
                "2024-01-01",
            )
        activated = [
            e["data"]
            for e in await _events(db)
            if e["type"] == "enrollment.coverage_activated" and e["data"]["insutype"] == "390"
        ]
        assert [(e["year"], e["continuous_years"], e["psn_insu_date"]) for e in activated] == [
            (2027, 4, "2024-01-01")
        ]
    finally:
        await db.dispose()
