"""Benchmark of the county roster import (enrollment.roster.importer.import_roster).

Generates a synthetic roster CSV of N persons in households (region 341524), imports it into a fresh
enrollment database on each requested backend, then imports the same file again to check that the re-run
creates nothing (idempotency). Prints persons/s and households/s per backend and writes a JSON result to
``bench/results/enrollment_import-<UTC timestamp>.json``. Exits non-zero when any check fails.

    .venv/bin/python bench/enrollment_import.py [--persons 100000] [--backends sqlite,postgres]
                                                [--batch-size 200] [--seed 20261123] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchinfo import git, machine_info  # bench/ is on sys.path when a script here runs
from enrollment.regions import service as regions
from enrollment.regions.schemas import RegionIn
from enrollment.roster.importer import COLUMNS, ImportReport, import_roster
from sqlalchemy import text

from platformctl.pgtemp import PostgresServer
from shared import migrations
from shared.clock import now_china
from shared.config import sqlite_url
from shared.db import Database
from shared.idcard import make_id_number

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"

REGION = "341524"
REGION_NAME = "金寨县"
#: Address codes used inside the ID numbers (need not equal the household's region).
ID_ADMDVS = ("341521", "341522", "341523", "341524", "341525")
#: Household sizes 1..6 and their weights: mean ≈ 3.06.
SIZES = (1, 2, 3, 4, 5, 6)
SIZE_WEIGHTS = (0.15, 0.25, 0.25, 0.17, 0.10, 0.08)
IDENTITY_SHARE = 0.05
IDENTITY_TYPE = "2102"
IDENTITY_BEGIN = date(2026, 1, 1)
BIRTH_MIN = date(1940, 1, 1)
BIRTH_MAX = date(2025, 12, 31)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程汪"
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥建国志文辉鹏飞"
    "海燕婷雪梅晓东俊杰春梅桂芳德明家豪子涵欣怡浩然宇轩梓萱诗涵一诺思远佳怡"
)
TOWNS = ("梅山镇", "麻埠镇", "青山镇", "燕子河镇", "天堂寨镇", "白塔畈镇", "双河镇", "汤家汇镇")


# --------------------------------------------------------------------------------------------------
# Roster generation
# --------------------------------------------------------------------------------------------------


@dataclass
class Roster:
    path: Path
    persons: int
    households: int
    identities: int
    seconds: float


class IdFactory:
    """Unique, valid 18-character ID numbers."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seen: set[str] = set()

    def make(self, first: date, last: date, gend: str) -> str:
        span = (last - first).days
        while True:
            birth = first + timedelta(days=self.rng.randint(0, span))
            sequence = self.rng.randrange(0, 1000)
            if (sequence % 2 == 1) != (gend == "1"):
                sequence = sequence + 1 if sequence < 999 else sequence - 1
            value = make_id_number(self.rng.choice(ID_ADMDVS), birth, sequence)
            if value not in self.seen:
                self.seen.add(value)
                return value


def _name(rng: random.Random, surname: str | None = None) -> str:
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return (surname or rng.choice(SURNAMES)) + given


def _year_range(low: int, high: int) -> tuple[date, date]:
    low = max(low, BIRTH_MIN.year)
    high = min(high, BIRTH_MAX.year)
    if low > high:
        low = high
    return date(low, 1, 1), date(high, 12, 31)


def _members(rng: random.Random, size: int) -> list[tuple[str, tuple[date, date], str | None]]:
    """(relation, birth range, surname or None = a random one) for each member; the head first."""
    head_year = rng.randint(1945, 2000)
    surname = rng.choice(SURNAMES)
    members: list[tuple[str, tuple[date, date], str | None]] = [
        ("head", _year_range(head_year, head_year), surname)
    ]
    has_spouse = False
    for _ in range(size - 1):
        roll = rng.random()
        if not has_spouse and roll < 0.35:
            has_spouse = True
            members.append(("spouse", _year_range(head_year - 5, head_year + 5), None))
        elif roll < 0.80:
            members.append(("child", _year_range(head_year + 20, head_year + 45), surname))
        elif roll < 0.93:
            members.append(("parent", _year_range(head_year - 40, head_year - 18), surname))
        else:
            members.append(("other", _year_range(1940, 2025), None))
    return members


def generate_roster(path: Path, persons: int, seed: int) -> Roster:
    started = time.perf_counter()
    rng = random.Random(seed)
    ids = IdFactory(rng)
    written = households = identities = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        while written < persons:
            size = min(rng.choices(SIZES, SIZE_WEIGHTS)[0], persons - written)
            households += 1
            household_no = f"{REGION}-{households:07d}"
            address = f"{REGION_NAME}{rng.choice(TOWNS)}{rng.randint(1, 40)}村{rng.randint(1, 15)}组"
            for relation, (first, last), surname in _members(rng, size):
                gend = rng.choice("12")
                certno = ids.make(first, last, gend)
                subsidised = rng.random() < IDENTITY_SHARE
                identities += subsidised
                writer.writerow(
                    [
                        household_no,
                        REGION,
                        address,
                        relation,
                        certno,
                        _name(rng, surname),
                        IDENTITY_TYPE if subsidised else "",
                        IDENTITY_BEGIN.isoformat() if subsidised else "",
                        "",
                    ]
                )
                written += 1
    return Roster(path, written, households, identities, time.perf_counter() - started)


# --------------------------------------------------------------------------------------------------
# One backend
# --------------------------------------------------------------------------------------------------


@dataclass
class BackendResult:
    backend: str
    persons: int
    households: int
    seconds: float = 0.0
    persons_per_s: float = 0.0
    households_per_s: float = 0.0
    errors: int = 0
    persons_created: int = 0
    households_created: int = 0
    identities_added: int = 0
    rerun_seconds: float = 0.0
    rerun_persons_per_s: float = 0.0
    rerun_households_created: int = 0
    rerun_households_unchanged: int = 0
    rerun_persons_created: int = 0
    rerun_identities_added: int = 0
    rerun_errors: int = 0
    persons_in_table: int = 0
    setup_seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


class Progress:
    """Prints a line every 10 % of the roster."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total = label, total
        self.done = 0
        self.next_mark = 0.1
        self.started = time.perf_counter()

    def __call__(self, persons: int) -> None:
        self.done += persons
        if self.total and self.done / self.total >= self.next_mark - 1e-9:
            elapsed = time.perf_counter() - self.started
            rate = self.done / elapsed if elapsed else 0.0
            print(
                f"    {self.label}: {self.done:>9,} / {self.total:,} persons"
                f"  {elapsed:8.1f} s  {rate:8.0f}/s",
                flush=True,
            )
            while self.done / self.total >= self.next_mark - 1e-9:
                self.next_mark += 0.1


def _print_report(label: str, report: ImportReport) -> None:
    print(
        f"  {label}: households created {report.households_created:,}, unchanged "
        f"{report.households_unchanged:,}, refused {report.households_refused:,}; persons created "
        f"{report.persons_created:,}; identities added {report.identities_added:,}; errors "
        f"{len(report.errors):,}",
        flush=True,
    )
    for error in report.errors[:5]:
        print(f"    line {error.line} {error.household_no} {error.certno}: {error.message}", flush=True)


async def measure(url: str, roster: Roster, result: BackendResult, batch_size: int, quiet: bool) -> None:
    db = Database(url)
    try:
        async with db.transaction() as session:
            await regions.upsert_region(session, RegionIn(admdvs=REGION, name=REGION_NAME))
        today = now_china().date()

        progress = None if quiet else Progress(f"{result.backend} import", roster.persons)
        started = time.perf_counter()
        first = await import_roster(db, roster.path, today, batch_size=batch_size, progress=progress)
        result.seconds = time.perf_counter() - started
        result.persons_per_s = roster.persons / result.seconds
        result.households_per_s = roster.households / result.seconds
        result.errors = len(first.errors)
        result.persons_created = first.persons_created
        result.households_created = first.households_created
        result.identities_added = first.identities_added
        _print_report("first import", first)
        print(
            f"  first import: {result.seconds:.1f} s, {result.persons_per_s:,.0f} persons/s, "
            f"{result.households_per_s:,.0f} households/s",
            flush=True,
        )
        checks = [
            (result.errors == 0, f"first import reported {result.errors} errors"),
            (first.households_refused == 0, f"first import refused {first.households_refused} households"),
            (
                first.households_created == roster.households,
                f"first import created {first.households_created} households, expected {roster.households}",
            ),
            (
                first.persons_created == roster.persons,
                f"first import created {first.persons_created} persons, expected {roster.persons}",
            ),
            (
                first.identities_added == roster.identities,
                f"first import added {first.identities_added} identities, expected {roster.identities}",
            ),
        ]

        progress = None if quiet else Progress(f"{result.backend} re-run", roster.persons)
        started = time.perf_counter()
        second = await import_roster(db, roster.path, today, batch_size=batch_size, progress=progress)
        result.rerun_seconds = time.perf_counter() - started
        result.rerun_persons_per_s = roster.persons / result.rerun_seconds
        result.rerun_households_created = second.households_created
        result.rerun_households_unchanged = second.households_unchanged
        result.rerun_persons_created = second.persons_created
        result.rerun_identities_added = second.identities_added
        result.rerun_errors = len(second.errors)
        _print_report("re-run", second)
        print(
            f"  re-run: {result.rerun_seconds:.1f} s, {result.rerun_persons_per_s:,.0f} persons/s",
            flush=True,
        )
        checks += [
            (second.households_created == 0, f"re-run created {second.households_created} households"),
            (
                second.households_unchanged == roster.households,
                f"re-run left {second.households_unchanged} households unchanged, "
                f"expected {roster.households}",
            ),
            (second.persons_created == 0, f"re-run created {second.persons_created} persons"),
            (second.identities_added == 0, f"re-run added {second.identities_added} identities"),
            (result.rerun_errors == 0, f"re-run reported {result.rerun_errors} errors"),
        ]

        async with db.session() as session:
            result.persons_in_table = int(await session.scalar(text("SELECT count(*) FROM persons")) or 0)
        print(f"  persons table: {result.persons_in_table:,} rows", flush=True)
        checks.append(
            (
                result.persons_in_table == roster.persons,
                f"persons table holds {result.persons_in_table} rows, expected {roster.persons}",
            )
        )
        result.failures += [message for passed, message in checks if not passed]
    finally:
        await db.dispose()


def run_sqlite(workdir: Path, roster: Roster, batch_size: int, quiet: bool) -> BackendResult:
    result = BackendResult("sqlite", roster.persons, roster.households)
    started = time.perf_counter()
    url = sqlite_url(workdir / "enrollment-bench.db")
    migrations.upgrade("enrollment", url)
    result.setup_seconds = time.perf_counter() - started
    asyncio.run(measure(url, roster, result, batch_size, quiet))
    return result


def run_postgres(roster: Roster, batch_size: int, quiet: bool) -> BackendResult:
    result = BackendResult("postgres", roster.persons, roster.households)
    started = time.perf_counter()
    server = PostgresServer.start()
    try:
        url = server.url(server.create_database("bench"))
        migrations.upgrade("enrollment", url)
        result.setup_seconds = time.perf_counter() - started
        asyncio.run(measure(url, roster, result, batch_size, quiet))
    finally:
        server.stop()
    return result


# --------------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------------


def print_table(results: list[BackendResult]) -> None:
    header = (
        f"{'backend':<10}{'persons':>10}{'households':>12}{'seconds':>10}{'persons/s':>11}"
        f"{'hh/s':>9}{'re-run s':>10}{'re-run p/s':>12}  result"
    )
    print()
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.backend:<10}{r.persons:>10,}{r.households:>12,}{r.seconds:>10.1f}{r.persons_per_s:>11,.0f}"
            f"{r.households_per_s:>9,.0f}{r.rerun_seconds:>10.1f}{r.rerun_persons_per_s:>12,.0f}  "
            f"{'ok' if r.ok else 'FAILED'}"
        )
    for r in results:
        for failure in r.failures:
            print(f"FAILED [{r.backend}]: {failure}", file=sys.stderr)


def write_json(
    started: datetime,
    commit: str | None,
    args: argparse.Namespace,
    roster: Roster,
    results: list[BackendResult],
) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"enrollment_import-{started:%Y%m%dT%H%M%SZ}.json"
    payload = {
        "benchmark": "enrollment_import",
        "date": started.isoformat(timespec="seconds"),
        # The commit when the run started (the code that was imported); the tree may move during a run.
        "git_commit": commit,
        "git_commit_at_end": git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain")),
        "machine": machine_info(),
        "persons": roster.persons,
        "households": roster.households,
        "identities": roster.identities,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "roster_generation_seconds": round(roster.seconds, 3),
        "ok": all(r.ok for r in results),
        "backends": {r.backend: {**asdict(r), "ok": r.ok} for r in results},
    }
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------

BACKENDS = ("sqlite", "postgres")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=100_000, help="persons in the roster (default 100000)")
    parser.add_argument(
        "--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres (default both)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=200, help="households per transaction (default 200)"
    )
    parser.add_argument("--seed", type=int, default=20261123, help="random seed of the roster")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (CSV, SQLite file)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--no-json", action="store_true", help="do not write a result file")
    args = parser.parse_args(argv)
    args.backend_list = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in args.backend_list if b not in BACKENDS]
    if unknown or not args.backend_list:
        parser.error(
            f"unknown backend(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(BACKENDS)}"
        )
    if args.persons < 1:
        parser.error("--persons must be at least 1")
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    commit = git("rev-parse", "--short", "HEAD")
    workdir = Path(tempfile.mkdtemp(prefix="bench-enrollment-"))
    results: list[BackendResult] = []
    try:
        roster = generate_roster(workdir / "roster.csv", args.persons, args.seed)
        print(
            f"roster: {roster.persons:,} persons in {roster.households:,} households "
            f"(mean {roster.persons / roster.households:.2f}), {roster.identities:,} with identity "
            f"{IDENTITY_TYPE}; generated in {roster.seconds:.1f} s -> {roster.path}",
            flush=True,
        )
        for backend in args.backend_list:
            print(f"\n[{backend}] batch size {args.batch_size}", flush=True)
            try:
                if backend == "sqlite":
                    result = run_sqlite(workdir, roster, args.batch_size, args.quiet)
                else:
                    result = run_postgres(roster, args.batch_size, args.quiet)
            except Exception as exc:  # a broken backend is reported, the others still run
                result = BackendResult(backend, roster.persons, roster.households)
                result.failures.append(f"{type(exc).__name__}: {exc}")
                print(f"  {backend} failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            results.append(result)

        print_table(results)
        if not args.no_json:
            print(f"\nresult: {write_json(started, commit, args, roster, results).relative_to(ROOT)}")
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if not all(r.ok for r in results):
        print("\nbenchmark checks FAILED", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
