"""Migrate the URBMI (391) and NCMS (380) exports into the enrollment database.

Persons are matched across the exports by ID number and resolved by the rules in ``resolve``; then written
in batches, one transaction per batch, with bulk inserts. Each migrated person gets a marker row
(``legacy_migrated_persons``) in the same transaction as their rows and events, so:

* a re-run skips every person already migrated (same digest: nothing changes; a different digest: the
  exports changed since, the person is listed for a clerk and left as is);
* a crash loses at most the batch in flight (rolled back whole); running again finishes the rest, and as
  the decisions depend only on the exports and the database as it was before the migration, the result is
  that of one clean run;
* a dry run does all of it, database look-ups included, and rolls every batch back.

Payment history is written for continuity and coverage only: the money is in the legacy funds' audited
balances, which enter the ledger as opening balances, so no ``payment_received`` or ``subsidy_allocated``
event is produced. What is produced: ``person_registered`` for each new person, ``person_identity`` (on the
restricted topic ``enrollment.identity``) and ``coverage_activated`` for
each paid year from the current year on (under 391 or 380, with the continuous years), ``identities_changed``
when identities are added to a person registered before the migration, ``card_status_changed`` per card.
"""

from __future__ import annotations

import csv
import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from enrollment.cards.models import Card
from enrollment.db import Base
from enrollment.enrollments import rules
from enrollment.enrollments.models import Enrollment
from enrollment.legacy.exports import (
    REPORT_COLUMNS,
    Export,
    ExportIndex,
    Issue,
    LegacyRecord,
    records,
    scan,
)
from enrollment.legacy.models import MigratedPerson
from enrollment.legacy.resolve import PersonPlan, PlannedCard, PlannedIdentity, continuity, resolve
from enrollment.persons.models import IdentityCategory, Person
from shared.db import Database, utcnow
from shared.events import (
    CardStatusChanged,
    CoverageActivated,
    EventData,
    IdentityCategoriesChanged,
    PersonIdentity,
    PersonRegistered,
)
from shared.events import IdentityCategory as IdentityEvent
from shared.outbox import outbox_row

PRODUCER = "enrollment"
PAID_STATUSES = ("active", "terminated")
#: Enrollment kinds the migration writes: history (no cover today) and the current year (covers).
LEGACY_KIND, MIGRATED_KIND = "legacy", "migrated"


@dataclass
class MigrationReport:
    dry_run: bool
    #: legacy person records read per export (rows of persons.csv)
    records_read: dict[str, int] = field(default_factory=dict)
    persons_created: int = 0
    #: persons registered before the migration who received their legacy history
    persons_linked: int = 0
    #: already migrated by an earlier run, unchanged
    persons_unchanged: int = 0
    #: unresolved or refused: not migrated, on the report
    persons_not_migrated: int = 0
    enrollments: int = 0
    payments: int = 0
    identities: int = 0
    cards: int = 0
    events: Counter[str] = field(default_factory=Counter)
    issues: list[Issue] = field(default_factory=list)

    def outcomes(self) -> Counter[str]:
        return Counter(i.outcome for i in self.issues)


def table(name: str) -> Any:
    return Base.metadata.tables[name]


def _new_psn_no(admdvs: str) -> str:
    # As enrollment.persons.service registers persons: address code + 16 random digits.
    return f"{admdvs}{secrets.randbelow(10**16):016d}"


async def migrate(
    db: Database,
    exports: Sequence[Export],
    today: date,
    *,
    dry_run: bool = False,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
    indexes: Sequence[ExportIndex] | None = None,
) -> MigrationReport:
    """Migrate the exports (URBMI first, then NCMS). Raises ``ExportError`` before any change when an
    export cannot be read; everything else is on the report."""
    if len({e.insutype for e in exports}) != len(exports):
        raise ValueError("each legacy scheme may be given once")
    indexes = list(indexes) if indexes is not None else [scan(e) for e in exports]
    report = MigrationReport(dry_run=dry_run)
    duplicated: dict[str, list[tuple[str, str]]] = {}
    for index in indexes:
        report.records_read[index.export.insutype] = index.persons
        report.issues += index.issues
        for certno, ids in index.certnos.items():
            if len(ids) > 1:
                duplicated.setdefault(certno, []).extend((index.export.insutype, i) for i in ids)
    overlap: set[str] = set()
    if len(indexes) == 2:
        overlap = (indexes[0].certnos.keys() & indexes[1].certnos.keys()) - duplicated.keys()

    writer = _Writer(db, today, dry_run, report, progress)
    writer.batch_size = batch_size
    card_holders: dict[str, str] = {}
    stash: dict[str, list[LegacyRecord]] = {}

    async def handle(group: list[LegacyRecord]) -> None:
        plan, issues = resolve(group, today)
        if plan is not None:
            taken = [c.card_no for c in plan.cards if card_holders.get(c.card_no, plan.certno) != plan.certno]
            if taken:
                issues.append(
                    Issue(
                        plan.certno,
                        plan.sources_label,
                        "+".join(s[1] for s in plan.sources),
                        "cards.csv",
                        None,
                        "CARD_NUMBER_TAKEN",
                        "unresolved",
                        f"社保卡号 {', '.join(taken)} 已属于另一身份证号的人员，待人工核实",
                    )
                )
                plan = None
            else:
                for card in plan.cards:
                    card_holders[card.card_no] = plan.certno
        if plan is None:
            report.issues += issues
            report.persons_not_migrated += 1
            writer.skipped(len(group))
            return
        await writer.add(plan, len(group))

    for index in indexes:
        for record in records(index, today):
            if record.certno in duplicated:
                holders = ", ".join(f"{t}:{i}" for t, i in duplicated[record.certno])
                report.issues.append(
                    Issue(
                        record.certno,
                        record.insutype,
                        record.psn_id,
                        "persons.csv",
                        record.line,
                        "DUPLICATE_IN_EXPORT",
                        "unresolved",
                        f"同一身份证号在一个导出中有多个人员编号（{holders}），待人工核实",
                    )
                )
                report.persons_not_migrated += 1
                writer.skipped(1)
            elif record.certno in overlap:
                stash.setdefault(record.certno, []).append(record)
            else:
                await handle([record])
    for group in stash.values():
        await handle(group)
    await writer.flush()
    # One order whatever the batch size or the point a crashed run stopped at: by ID number, then source.
    report.issues.sort(
        key=lambda i: (i.subject, i.insutype, i.legacy_id, i.file, i.line or 0, i.rule, i.message)
    )
    return report


@dataclass
class _Existing:
    """A person registered before the migration (not by it): what their legacy history must not repeat."""

    psn_no: str
    years: set[tuple[int, str]]
    paid: dict[int, date]
    identities: list[IdentityCategory]
    active_card: bool


class _Writer:
    def __init__(
        self,
        db: Database,
        today: date,
        dry_run: bool,
        report: MigrationReport,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.db, self.today, self.dry_run, self.report, self.progress = db, today, dry_run, report, progress
        self.batch: list[PersonPlan] = []
        self.batch_records = 0
        self.batch_size = 500

    def skipped(self, count: int) -> None:
        self.batch_records += count

    async def add(self, plan: PersonPlan, count: int) -> None:
        self.batch.append(plan)
        self.batch_records += count
        if len(self.batch) >= self.batch_size:
            await self.flush()

    async def flush(self) -> None:
        if self.batch:
            async with self.db.session() as session:
                await self._write(session, self.batch)
                if self.dry_run:
                    await session.rollback()
                else:
                    await session.commit()
        if self.progress is not None and self.batch_records:
            self.progress(self.batch_records)
        self.batch, self.batch_records = [], 0

    def _unresolved(self, plan: PersonPlan, rule: str, message: str, file: str = "persons.csv") -> None:
        self.report.issues.append(
            Issue(
                plan.certno,
                plan.sources_label,
                "+".join(s[1] for s in plan.sources),
                file,
                None,
                rule,
                "unresolved",
                message,
            )
        )
        self.report.persons_not_migrated += 1

    def _resolved(self, plan: PersonPlan, rule: str, message: str, file: str) -> None:
        self.report.issues.append(
            Issue(
                plan.certno,
                plan.sources_label,
                "+".join(s[1] for s in plan.sources),
                file,
                None,
                rule,
                "resolved",
                message,
            )
        )

    async def _write(self, session: AsyncSession, plans: list[PersonPlan]) -> None:
        """One batch in the session's transaction: what the database knows of its people already, then
        each person's rows (or an issue instead), the rows table by table, and the events."""
        now = utcnow()
        known = await _Known.read(session, plans)
        rows = _Rows()
        for plan in plans:
            await self._plan(session, plan, known, rows, now)
        enrollment_ids = await self._insert_rows(session, rows, now)
        await self._insert_events(session, _events(rows, enrollment_ids))

    async def _plan(
        self, session: AsyncSession, plan: PersonPlan, known: _Known, rows: _Rows, now: datetime
    ) -> None:
        """One person's rows, added to ``rows``; none when the person is unchanged since migrated, or when
        something needs a person to look (an unresolved issue)."""
        report = self.report
        report.issues += plan.issues
        digest = plan.digest()
        if plan.certno in known.markers:
            if known.markers[plan.certno] == digest:
                report.persons_unchanged += 1
            else:
                self._unresolved(
                    plan,
                    "CHANGED_SINCE_MIGRATED",
                    "该人员已迁移，但导出数据与上次迁移时不同，未作改动，待人工核实",
                )
            return
        existing: _Existing | None = None
        if plan.certno in known.registered:
            psn_no, name = known.registered[plan.certno]
            if name != plan.psn_name:
                self._unresolved(
                    plan,
                    "EXISTING_NAME_DIFFERS",
                    f"该身份证号已登记为 {name}（人员编号 {psn_no}），"
                    f"与导出姓名 {plan.psn_name} 不一致，待人工核实",
                )
                return
            existing = await _existing(session, psn_no)
        else:
            psn_no = _new_psn_no(plan.certno[:6])
        taken = [c.card_no for c in plan.cards if known.holders.get(c.card_no, psn_no) != psn_no]
        if taken:
            self._unresolved(
                plan,
                "CARD_NUMBER_TAKEN",
                f"社保卡号 {', '.join(taken)} 已属于另一人员，待人工核实",
                "cards.csv",
            )
            return
        enrollments = plan.enrollments
        identities = plan.identities
        cards = [c for c in plan.cards if c.card_no not in known.holders]
        if existing is None:
            rows.persons.append(_person_row(plan, psn_no, now))
            report.persons_created += 1
        else:
            enrollments, identities, cards = self._against_existing(plan, existing, cards)
            report.persons_linked += 1
        rows.add(plan, psn_no, digest, existing, enrollments, identities, cards, now)

    async def _insert_rows(self, session: AsyncSession, rows: _Rows, now: datetime) -> list[int]:
        """The batch's rows, table by table (parents first); the enrollments' ids, in their rows' order."""
        report = self.report
        if rows.persons:
            await _insert(session, "persons", rows.persons)
        enrollment_ids = await _insert_enrollments(session, rows.enrollments) if rows.enrollments else []
        payment_rows = [
            {
                "enrollment_id": enrollment_id,
                "payer": p.payer,
                "amount_fen": p.amount_fen,
                "receipt_no": p.receipt_no,
                "paid_on": p.paid_on,
                "created_at": now,
            }
            for enrollment_id, (_, e) in zip(enrollment_ids, rows.enrollment_meta, strict=True)
            for p in e.payments
        ]
        for name, table_rows in (
            ("payments", payment_rows),
            ("identity_categories", rows.identities),
            ("cards", rows.cards),
            ("legacy_person_ids", rows.links),
            ("legacy_migrated_persons", rows.marks),
        ):
            if table_rows:
                await _insert(session, name, table_rows)
        report.enrollments += len(rows.enrollments)
        report.payments += len(payment_rows)
        report.identities += len(rows.identities)
        report.cards += len(rows.cards)
        return enrollment_ids

    async def _insert_events(self, session: AsyncSession, events: list[EventData]) -> None:
        if not events:
            return
        outbox_rows = []
        for event in events:
            envelope = event.envelope(PRODUCER)
            outbox_rows.append(outbox_row(event, envelope))
            self.report.events[envelope.type] += 1
        await _insert(session, "outbox", outbox_rows)

    def _against_existing(
        self, plan: PersonPlan, existing: _Existing, cards: list[PlannedCard]
    ) -> tuple[list[Any], list[PlannedIdentity], list[PlannedCard]]:
        """What of the plan a person registered before the migration does not have yet."""
        enrollments = []
        for e in plan.enrollments:
            if (e.year, "390") in existing.years:
                self._resolved(
                    plan,
                    "UNIFIED_YEAR_EXISTS",
                    f"{e.year} 年度已参加城乡居民医保(390)，原制度 {e.insutype} 的该年度记录不迁移",
                    "enrollments.csv",
                )
            elif any((e.year, t) in existing.years for t in ("391", "380")):
                self._resolved(
                    plan,
                    "ALREADY_RECORDED",
                    f"{e.year} 年度原制度参保记录已登记，不重复迁移",
                    "enrollments.csv",
                )
            else:
                enrollments.append(e)
        identities = []
        for i in plan.identities:
            same = [x for x in existing.identities if x.psn_idet_type == i.psn_idet_type]
            if any((x.begin_date, x.end_date) == (i.begin_date, i.end_date) for x in same):
                continue
            overlapping = [
                x
                for x in same
                if i.begin_date <= (x.end_date or date.max) and x.begin_date <= (i.end_date or date.max)
            ]
            if overlapping:
                self._resolved(
                    plan,
                    "IDENTITY_EXISTING_KEPT",
                    f"身份类别 {i.psn_idet_type} 已登记且有效期重叠，保留已登记的，导出的 "
                    f"{i.begin_date}~{i.end_date or ''} 不迁移",
                    "identities.csv",
                )
            else:
                identities.append(i)
        kept = []
        for c in cards:
            if c.status == "active" and existing.active_card:
                self._resolved(
                    plan,
                    "EXISTING_CARD_KEPT",
                    f"该人员已有在用社保卡，原制度在用卡 {c.card_no} 不迁移",
                    "cards.csv",
                )
            else:
                kept.append(c)
        return enrollments, identities, kept


@dataclass
class _Known:
    """What the database holds already of a batch's people: their migration markers (certno -> digest),
    persons registered under their ID numbers (certno -> (psn_no, name)) and the holders of their cards
    (card_no -> psn_no)."""

    markers: dict[str, str]
    registered: dict[str, tuple[str, str]]
    holders: dict[str, str]

    @classmethod
    async def read(cls, session: AsyncSession, plans: list[PersonPlan]) -> _Known:
        certnos = [p.certno for p in plans]
        markers = await session.execute(
            select(MigratedPerson.certno, MigratedPerson.digest).where(
                col(MigratedPerson.certno).in_(certnos)
            )
        )
        registered = await session.execute(
            select(Person.certno, Person.psn_no, Person.psn_name).where(col(Person.certno).in_(certnos))
        )
        card_nos = [c.card_no for p in plans for c in p.cards]
        holders = await session.execute(
            select(Card.card_no, Card.psn_no).where(col(Card.card_no).in_(card_nos))
        )
        return cls(
            markers={str(c): str(d) for c, d in markers.all()},
            registered={str(c): (str(p), str(n)) for c, p, n in registered.all()},
            holders={str(c): str(p) for c, p in holders.all()},
        )


@dataclass
class _Person:
    """A person a batch writes, with what their events are built from."""

    plan: PersonPlan
    psn_no: str
    existing: _Existing | None
    #: An existing person's identities with the migrated ones added, when any were; else None.
    identities: list[IdentityEvent] | None
    cards: list[PlannedCard]


@dataclass
class _Rows:
    """A batch's rows, table by table, in the order of its people."""

    persons: list[dict[str, Any]] = field(default_factory=list)
    enrollments: list[dict[str, Any]] = field(default_factory=list)
    #: One per enrollment row: (index into ``people``, the planned enrollment).
    enrollment_meta: list[tuple[int, Any]] = field(default_factory=list)
    identities: list[dict[str, Any]] = field(default_factory=list)
    cards: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    marks: list[dict[str, Any]] = field(default_factory=list)
    people: list[_Person] = field(default_factory=list)

    def add(
        self,
        plan: PersonPlan,
        psn_no: str,
        digest: str,
        existing: _Existing | None,
        enrollments: list[Any],
        identities: list[PlannedIdentity],
        cards: list[PlannedCard],
        now: datetime,
    ) -> None:
        """A person's enrollments, identities, cards, legacy ids and migration marker (their person row,
        when new, is the caller's)."""
        person_index = len(self.people)
        for e in enrollments:
            self.enrollments.append(
                {
                    "psn_no": psn_no,
                    "year": e.year,
                    "insutype": e.insutype,
                    "psn_type": rules.person_type(plan.brdy, e.coverage_begin) if e.current else "",
                    "tier": "-",
                    "insuplc_admdvs": e.insuplc_admdvs,
                    "status": "active",
                    "kind": MIGRATED_KIND if e.current else LEGACY_KIND,
                    "coverage_begin": e.coverage_begin,
                    "coverage_end": e.coverage_end,
                    "due_fen": e.due_fen,
                    "paid_fen": e.paid_fen,
                    "subsidy_fen": 0,
                    "enrolled_on": e.first_paid_on,
                    "activated_on": e.paid_on,
                    "terminated_on": None,
                    "termination_reason": None,
                    "created_at": now,
                }
            )
            self.enrollment_meta.append((person_index, e))
        for i in identities:
            self.identities.append(
                {
                    "psn_no": psn_no,
                    "psn_idet_type": i.psn_idet_type,
                    "begin_date": i.begin_date,
                    "end_date": i.end_date,
                    "created_at": now,
                }
            )
        for c in cards:
            self.cards.append(
                {
                    "card_no": c.card_no,
                    "card_sn": c.card_sn,
                    "psn_no": psn_no,
                    "status": c.status,
                    "issued_on": c.issued_on,
                    "changed_on": c.changed_on,
                    "replaced_by": c.replaced_by,
                    "created_at": now,
                }
            )
        for insutype, legacy_id in plan.sources:
            self.links.append(
                {
                    "insutype": insutype,
                    "legacy_psn_id": legacy_id,
                    "certno": plan.certno,
                    "psn_no": psn_no,
                    "created_at": now,
                }
            )
        self.marks.append(
            {
                "certno": plan.certno,
                "psn_no": psn_no,
                "digest": digest,
                "sources": plan.sources_label,
                "migrated_at": now,
            }
        )
        all_identities: list[IdentityEvent] | None = None
        if existing is not None and identities:
            known = [(i.psn_idet_type, i.begin_date, i.end_date) for i in existing.identities]
            added = [(i.psn_idet_type, i.begin_date, i.end_date) for i in identities]
            all_identities = [
                IdentityEvent(psn_idet_type=t, begin_date=b, end_date=e)
                for t, b, e in sorted(known + added, key=lambda x: (x[1], x[0]))
            ]
        self.people.append(_Person(plan, psn_no, existing, all_identities, cards))


def _person_row(plan: PersonPlan, psn_no: str, now: datetime) -> dict[str, Any]:
    return {
        "psn_no": psn_no,
        "certno": plan.certno,
        "psn_cert_type": "01",
        "psn_name": plan.psn_name,
        "gend": plan.gend,
        "brdy": plan.brdy,
        "naty": "01",
        "admdvs": plan.admdvs,
        "household_no": None,
        "relation": None,
        "created_at": now,
    }


async def _insert_enrollments(session: AsyncSession, rows: list[dict[str, Any]]) -> list[int]:
    """Insert the enrollment rows; their ids, in the rows' order (the payments reference them)."""
    if _postgres(session):
        # Ids drawn from the table's own sequence, so that the rows can be copied in.
        ids = await session.execute(
            text("SELECT nextval(pg_get_serial_sequence('enrollments', 'id')) FROM generate_series(1, :n)"),
            {"n": len(rows)},
        )
        enrollment_ids = [int(i) for i in ids.scalars().all()]
        for row, enrollment_id in zip(rows, enrollment_ids, strict=True):
            row["id"] = enrollment_id
        await _insert(session, "enrollments", rows)
        return enrollment_ids
    t = table("enrollments")
    result = await session.execute(insert(t).returning(t.c.id, sort_by_parameter_order=True), rows)
    return [int(i) for i in result.scalars().all()]


def _events(rows: _Rows, enrollment_ids: list[int]) -> list[EventData]:
    """The batch's events, person by person in order (they share the partition key psn_no)."""
    written: dict[int, list[tuple[int, Any]]] = {}
    for enrollment_id, (person_index, e) in zip(enrollment_ids, rows.enrollment_meta, strict=True):
        written.setdefault(person_index, []).append((enrollment_id, e))
    events: list[EventData] = []
    for person_index, person in enumerate(rows.people):
        events += _person_events(person, written.get(person_index, []))
    return events


def _person_events(person: _Person, mine: list[tuple[int, Any]]) -> list[EventData]:
    """A person's events: registered (when new), each current year's coverage activated, their identities
    changed (an existing person's, when any were added) and their cards' status."""
    plan, psn_no, existing = person.plan, person.psn_no, person.existing
    events: list[EventData] = []
    if existing is None:
        events.append(
            PersonRegistered(
                psn_no=psn_no,
                gend=plan.gend,
                admdvs=plan.admdvs,
            )
        )
    if any(e.current for _, e in mine):
        paid = dict(existing.paid) if existing is not None else {}
        paid.update({e.year: e.coverage_begin for _, e in mine})
        runs = continuity(paid)
        identities_now = _identities_now(person)
        # Who the person is: on the restricted topic enrollment.identity (docs/architecture.md).
        events.append(
            PersonIdentity(
                psn_no=psn_no, certno=plan.certno, psn_name=plan.psn_name, gend=plan.gend, brdy=plan.brdy
            )
        )
        for enrollment_id, e in mine:
            if not e.current:
                continue
            run, since = runs[e.year]
            events.append(
                CoverageActivated(
                    enrollment_id=enrollment_id,
                    psn_no=psn_no,
                    insutype=e.insutype,
                    psn_type=rules.person_type(plan.brdy, e.coverage_begin),
                    insuplc_admdvs=e.insuplc_admdvs,
                    year=e.year,
                    coverage_begin=e.coverage_begin,
                    coverage_end=e.coverage_end,
                    identities=identities_now,
                    continuous_years=run,
                    psn_insu_date=since,
                )
            )
    if person.identities is not None:
        events.append(IdentityCategoriesChanged(psn_no=psn_no, identities=person.identities))
    for c in person.cards:
        events.append(
            CardStatusChanged(
                psn_no=psn_no,
                card_no=c.card_no,
                card_sn=c.card_sn,
                status=c.status,
                changed_on=c.changed_on,
            )
        )
    return events


def _identities_now(person: _Person) -> list[IdentityEvent]:
    """The person's identity categories once migrated, as a coverage event carries them."""
    if person.identities is not None:
        return person.identities
    held = person.existing.identities if person.existing is not None else person.plan.identities
    return [
        IdentityEvent(psn_idet_type=i.psn_idet_type, begin_date=i.begin_date, end_date=i.end_date)
        for i in held
    ]


def _postgres(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


async def _insert(session: AsyncSession, name: str, rows: list[dict[str, Any]]) -> None:
    """Insert rows that all have the same keys: PostgreSQL's COPY inside the session's transaction (the
    bulk of a large migration), an executemany INSERT elsewhere."""
    if not _postgres(session):
        await session.execute(insert(table(name)), rows)
        return
    columns = list(rows[0])
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(
        name, records=[tuple(row[c] for c in columns) for row in rows], columns=columns
    )


async def _existing(session: AsyncSession, psn_no: str) -> _Existing:
    enrollments = list(await session.scalars(select(Enrollment).where(Enrollment.psn_no == psn_no)))
    identities = list(
        await session.scalars(
            select(IdentityCategory)
            .where(IdentityCategory.psn_no == psn_no)
            .order_by(col(IdentityCategory.begin_date), col(IdentityCategory.id))
        )
    )
    active = await session.scalar(select(Card.card_no).where(Card.psn_no == psn_no, Card.status == "active"))
    return _Existing(
        psn_no=psn_no,
        years={(e.year, e.insutype) for e in enrollments},
        paid={e.year: e.coverage_begin for e in enrollments if e.status in PAID_STATUSES},
        identities=identities,
        active_card=active is not None,
    )


def write_report(issues: Sequence[Issue], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REPORT_COLUMNS)
        for i in issues:
            writer.writerow(
                [
                    i.subject,
                    i.insutype,
                    i.legacy_id,
                    i.file,
                    "" if i.line is None else i.line,
                    i.rule,
                    i.outcome,
                    i.message,
                ]
            )
