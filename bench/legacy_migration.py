"""Benchmark of the legacy migration (enrollment.legacy.migrate.migrate) on PostgreSQL.

Generates a pair of exports of N distinct persons (URBMI 391 + NCMS 380, with overlaps and conflicts:
``enrollment.legacy.generator``), migrates it into a fresh, migrated enrollment database on a throwaway
PostgreSQL server, prints the rate in legacy person records per second and distinct persons per second, then
migrates the same pair again and checks that the re-run writes nothing (idempotency). It checks the database
against what the generator says it made (not against the migration's own report): persons, coverage events,
no payment or subsidy event. Writes ``bench/results/legacy_migration-<UTC timestamp>.json``; exits non-zero
when a check fails.

    .venv/bin/python bench/legacy_migration.py [--persons 100000] [--batch-size 1000] [--seed 20261123]
                                               [--backends postgres[,sqlite]]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchinfo import git, machine_info  # bench/ is on sys.path when a script here runs
from enrollment.db import infra
from enrollment.legacy.exports import Export
from enrollment.legacy.generator import GeneratedPair, generate_pair
from enrollment.legacy.migrate import migrate
from sqlalchemy import func, select, text

from platformctl.pgtemp import PostgresServer
from shared import migrations
from shared.clock import now_china
from shared.config import sqlite_url
from shared.db import Database

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class BackendResult:
    backend: str
    records: int
    persons: int
    seconds: float = 0.0
    records_per_s: float = 0.0
    persons_per_s: float = 0.0
    persons_created: int = 0
    persons_not_migrated: int = 0
    enrollments: int = 0
    payments: int = 0
    cards: int = 0
    events: dict[str, int] = field(default_factory=dict)
    rerun_seconds: float = 0.0
    rerun_persons_unchanged: int = 0
    rerun_rows_written: int = 0
    failures: list[str] = field(default_factory=list)


async def _count(db: Database, sql: str) -> int:
    async with db.session() as session:
        return int((await session.execute(text(sql))).scalar_one())


async def measure(url: str, pair: GeneratedPair, backend: str, batch_size: int) -> BackendResult:
    records = sum(pair.records.values())
    result = BackendResult(backend, records, pair.persons)
    exports = [Export("391", pair.urbmi), Export("380", pair.ncms)]
    today = now_china().date()
    db = Database(url)
    try:
        last = [time.perf_counter()]

        def tick(count: int) -> None:
            now = time.perf_counter()
            if now - last[0] > 10:
                last[0] = now
                print(f"  {backend}: {tick.done + count:,} records ...", flush=True)  # type: ignore[attr-defined]
            tick.done += count  # type: ignore[attr-defined]

        tick.done = 0  # type: ignore[attr-defined]
        started = time.perf_counter()
        report = await migrate(db, exports, today, batch_size=batch_size, progress=tick)
        result.seconds = time.perf_counter() - started
        result.records_per_s = records / result.seconds
        result.persons_per_s = pair.persons / result.seconds
        result.persons_created = report.persons_created
        result.persons_not_migrated = report.persons_not_migrated
        result.enrollments, result.payments, result.cards = report.enrollments, report.payments, report.cards
        result.events = dict(report.events)

        persons = await _count(db, "SELECT count(*) FROM persons")
        if persons != pair.expected_migrated:
            result.failures.append(
                f"persons table holds {persons}, the generator expects {pair.expected_migrated}"
            )
        async with db.session() as session:
            by_type: dict[str, int] = dict(
                (
                    await session.execute(
                        select(infra.outbox.c.event_type, func.count()).group_by(infra.outbox.c.event_type)
                    )
                ).all()
            )
        if by_type.get("enrollment.coverage_activated", 0) != pair.expected_covered:
            result.failures.append(
                f"{by_type.get('enrollment.coverage_activated', 0)} coverage events, "
                f"expected {pair.expected_covered}"
            )
        if by_type.get("enrollment.person_registered", 0) != pair.expected_migrated:
            result.failures.append("person_registered events do not match the persons migrated")
        for forbidden in ("enrollment.payment_received", "enrollment.subsidy_allocated"):
            if by_type.get(forbidden):
                result.failures.append(
                    f"{by_type[forbidden]} {forbidden} events: the ledger would count twice"
                )

        tables = ("persons", "enrollments", "payments", "cards", "outbox", "legacy_person_ids")
        before = [await _count(db, f"SELECT count(*) FROM {t}") for t in tables]
        started = time.perf_counter()
        again = await migrate(db, exports, today, batch_size=batch_size)
        result.rerun_seconds = time.perf_counter() - started
        after = [await _count(db, f"SELECT count(*) FROM {t}") for t in tables]
        result.rerun_persons_unchanged = again.persons_unchanged
        result.rerun_rows_written = sum(after) - sum(before)
        if result.rerun_rows_written or again.persons_unchanged != pair.expected_migrated:
            result.failures.append(
                f"re-run wrote {result.rerun_rows_written} rows, {again.persons_unchanged} persons unchanged"
            )
    finally:
        await db.dispose()
    return result


def run_backend(backend: str, pair: GeneratedPair, batch_size: int, workdir: Path) -> BackendResult:
    if backend == "sqlite":
        url = sqlite_url(workdir / "enrollment.db")
        migrations.upgrade("enrollment", url)
        return asyncio.run(measure(url, pair, backend, batch_size))
    server = PostgresServer.start()
    try:
        url = server.url(server.create_database("enrollment"))
        migrations.upgrade("enrollment", url)
        return asyncio.run(measure(url, pair, backend, batch_size))
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--backends", default="postgres")
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args()
    started = datetime.now(UTC)
    commit = git("rev-parse", "--short", "HEAD")
    workdir = Path(tempfile.mkdtemp(prefix="legacy-bench-"))
    try:
        t = time.perf_counter()
        pair = generate_pair(workdir / "exports", args.persons, seed=args.seed, today=now_china().date())
        generation = time.perf_counter() - t
        print(
            f"generated {args.persons:,} persons in {generation:.1f}s: {pair.records['391']:,} URBMI + "
            f"{pair.records['380']:,} NCMS records, {pair.in_both:,} in both, "
            f"{pair.expected_migrated:,} to migrate",
            flush=True,
        )
        results = [
            run_backend(b.strip(), pair, args.batch_size, workdir)
            for b in args.backends.split(",")
            if b.strip()
        ]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"{'backend':<9} {'persons':>10} {'records':>10} {'seconds':>8} {'persons/s':>10} "
        f"{'records/s':>10} {'re-run s':>9}"
    )
    for r in results:
        print(
            f"{r.backend:<9} {r.persons:>10,} {r.records:>10,} {r.seconds:>8.1f} {r.persons_per_s:>10,.0f} "
            f"{r.records_per_s:>10,.0f} {r.rerun_seconds:>9.1f}"
        )
        for failure in r.failures:
            print(f"FAILED [{r.backend}]: {failure}", file=sys.stderr)
    if not args.no_json:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"legacy_migration-{started:%Y%m%dT%H%M%SZ}.json"
        payload = {
            "benchmark": "legacy_migration",
            "date": started.isoformat(timespec="seconds"),
            "git_commit": commit,
            "git_commit_at_end": git("rev-parse", "--short", "HEAD"),
            "git_dirty": bool(git("status", "--porcelain")),
            "machine": machine_info(),
            "persons": args.persons,
            "batch_size": args.batch_size,
            "seed": args.seed,
            "generation_seconds": round(generation, 3),
            "generated": {k: v for k, v in asdict(pair).items() if k not in ("urbmi", "ncms")},
            "ok": all(not r.failures for r in results),
            "backends": {r.backend: asdict(r) for r in results},
        }
        path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"result: {path}")
    return 0 if all(not r.failures for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
