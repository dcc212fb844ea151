"""Benchmark of the fund ledger posting settlement events (the consumer path, without Kafka).

Generates N ``settlement.completed`` envelopes (varied persons, ~50 institutions, clearing types 41/11/21,
pooled-fund payments and sometimes catastrophic-insurance / medical-assistance ones), migrates a fresh
fund-ledger database on each requested backend and feeds every envelope through
``shared.consumer.IdempotentConsumer.process_records`` with the fund ledger's real subscriptions and batch
scope, in batches of ``--batch`` records as the consumer polls them (500 by default, the service's
``LEDGER_CONSUMER_BATCH_SIZE``; ``--batch 1`` is one transaction per event), plus 10 % duplicates (the same
bytes delivered again) that must post nothing. Reports entries posted per second and the latency of each
batch's transaction (p50/p99), then checks that the trial balance is zero, that the hash chain verifies,
that the kept account balances equal the sums of the postings and that the journal holds exactly N
entries. Writes a JSON result to
``bench/results/ledger_posting-<UTC timestamp>.json``. Exits non-zero when any check fails.

    .venv/bin/python bench/ledger_posting.py [--events 20000] [--backends sqlite,postgres]
                                             [--duplicates 0.1] [--batch 500] [--seed 20261123]
                                             [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import time
import uuid
import zlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from benchinfo import git, machine_info  # bench/ is on sys.path when a script here runs
from fund_ledger.books.chain import verify_chain
from fund_ledger.books.journal import batch_scope
from fund_ledger.books.models import JournalEntry, Posting
from fund_ledger.books.service import (
    balance_drift,
    imbalance,
    post_payment_received,
    post_settlement_completed,
    post_settlement_reversed,
    post_subsidy_allocated,
)
from fund_ledger.db import infra
from sqlalchemy import func, select

from platformctl.pgtemp import PostgresServer
from shared import migrations
from shared.config import sqlite_url
from shared.consumer import IdempotentConsumer, Subscription
from shared.db import Database
from shared.events import (
    SETTLEMENT_TOPIC,
    ClrType,
    FundPayment,
    PaymentReceived,
    SettlementCompleted,
    SettlementReversed,
    SubsidyAllocated,
)

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"

SERVICE = "ledger-bench"
PRODUCER = "settlement"
REGION = "341524"
INSUTYPE = "390"
PARTITIONS = 6
#: Institutions: 35 hospitals / clinics (H, clearing 11 outpatient or 21 inpatient), 15 pharmacies (P, 41).
HOSPITALS = tuple(f"H{REGION}{n:05d}" for n in range(1, 36))
PHARMACIES = tuple(f"P{REGION}{n:05d}" for n in range(1, 16))
PERSONS = 100_000
SETL_START = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
SETL_SPAN_S = 330 * 86_400


# --------------------------------------------------------------------------------------------------
# Event generation
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """What ``IdempotentConsumer.handle_record`` reads of an aiokafka ``ConsumerRecord``."""

    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes


@dataclass
class Workload:
    #: The stream in delivery order; ``duplicate`` marks a second delivery of an earlier record's bytes.
    stream: list[tuple[Record, bool]]
    events: int
    duplicates: int
    postings: int
    fund_fen: int
    by_clr_type: dict[str, int]
    with_catastrophic: int
    with_assistance: int
    seconds: float


def _settlement(rng: random.Random, n: int, setl_time: datetime) -> SettlementCompleted:
    clr_type: ClrType
    if rng.random() < 0.45:
        institution, clr_type, level = rng.choice(PHARMACIES), "41", "9"
        medfee = rng.randint(1_000, 30_000)
    elif rng.random() < 0.7:
        institution, clr_type, level = rng.choice(HOSPITALS), "11", rng.choice("12")
        medfee = rng.randint(2_000, 80_000)
    else:
        institution, clr_type, level = rng.choice(HOSPITALS), "21", rng.choice("123")
        medfee = rng.randint(200_000, 6_000_000)
    pooled = max(1, int(medfee * rng.uniform(0.3, 0.7)))
    payments = [FundPayment(fund_pay_type="390100", amount_fen=pooled)]
    remaining = medfee - pooled
    if clr_type == "21" and remaining > 2 and rng.random() < 0.3:  # catastrophic insurance (大病保险)
        amount = max(1, int(remaining * rng.uniform(0.2, 0.6)))
        payments.append(FundPayment(fund_pay_type="390200", amount_fen=amount))
        remaining -= amount
    if clr_type != "41" and remaining > 1 and rng.random() < 0.08:  # medical assistance (医疗救助)
        amount = max(1, int(remaining * rng.uniform(0.2, 0.7)))
        payments.append(FundPayment(fund_pay_type="610100", amount_fen=amount))
        remaining -= amount
    fund = sum(p.amount_fen for p in payments)
    setl_id = f"S{REGION}{n:010d}"
    return SettlementCompleted(
        setl_id=setl_id,
        mdtrt_id=f"M{REGION}{n:010d}",
        msgid=f"{institution}{setl_time:%Y%m%d%H%M%S}{n % 10_000:04d}",
        psn_no=f"{REGION}{rng.randrange(1, PERSONS):010d}",
        fixmedins_code=institution,
        institution_level=level,
        insutype=INSUTYPE,
        insuplc_admdvs=REGION,
        mdtrtarea_admvs=REGION,
        med_type=clr_type,
        clr_type=clr_type,
        setl_time=setl_time,
        medfee_sumamt_fen=medfee,
        fund_pay_sumamt_fen=fund,
        psn_cash_pay_fen=medfee - fund,
        fund_payments=payments,
    )


def generate(events: int, duplicate_share: float, seed: int) -> Workload:
    started = time.perf_counter()
    rng = random.Random(seed)
    offsets = [0] * PARTITIONS
    step = SETL_SPAN_S / events
    originals: list[Record] = []
    postings = fund_fen = catastrophic = assistance = 0
    by_clr_type: dict[str, int] = {}
    for n in range(1, events + 1):
        setl_time = SETL_START + timedelta(seconds=int(n * step), microseconds=rng.randrange(1_000_000))
        event = _settlement(rng, n, setl_time)
        envelope = event.envelope(PRODUCER, event_id=uuid.UUID(int=rng.getrandbits(128), version=4))
        key = envelope.key.encode()
        partition = zlib.crc32(key) % PARTITIONS
        originals.append(Record(SETTLEMENT_TOPIC, partition, offsets[partition], key, envelope.to_bytes()))
        offsets[partition] += 1
        postings += 2 * len(event.fund_payments)
        fund_fen += event.fund_pay_sumamt_fen
        by_clr_type[event.clr_type] = by_clr_type.get(event.clr_type, 0) + 1
        types = {p.fund_pay_type for p in event.fund_payments}
        catastrophic += "390200" in types
        assistance += "610100" in types

    # Each duplicate is the original's bytes delivered again (an outbox relay re-publishing after a crash
    # before it marked the row sent: same event id, a later offset), 1-500 records after the original.
    duplicates = round(events * duplicate_share)
    later: dict[int, list[int]] = {}
    for index in rng.sample(range(events), duplicates):
        later.setdefault(index + rng.randint(1, 500), []).append(index)
    stream: list[tuple[Record, bool]] = []

    def redeliver(index: int) -> None:
        first = originals[index]
        partition = first.partition
        stream.append((Record(first.topic, partition, offsets[partition], first.key, first.value), True))
        offsets[partition] += 1

    for position, record in enumerate(originals):
        stream.append((record, False))
        for index in later.pop(position, []):
            redeliver(index)
    for position in sorted(later):
        for index in later[position]:
            redeliver(index)
    return Workload(
        stream,
        events,
        duplicates,
        postings,
        fund_fen,
        dict(sorted(by_clr_type.items())),
        catastrophic,
        assistance,
        time.perf_counter() - started,
    )


# --------------------------------------------------------------------------------------------------
# One backend
# --------------------------------------------------------------------------------------------------


@dataclass
class BackendResult:
    backend: str
    events: int
    duplicates: int
    batch: int
    seconds: float = 0.0
    entries_posted: int = 0
    entries_per_s: float = 0.0
    postings_per_s: float = 0.0
    records_per_s: float = 0.0
    #: Per transaction: one batch of ``batch`` records (one record when ``batch`` is 1).
    latency_ms_p50: float = 0.0
    latency_ms_p99: float = 0.0
    latency_ms_max: float = 0.0
    balance_drift_accounts: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    duplicate_outcomes: dict[str, int] = field(default_factory=dict)
    journal_entries: int = 0
    postings_in_table: int = 0
    journal_total_fen: int = 0
    processed_events: int = 0
    dead_letters: int = 0
    imbalance_fen: int | None = None
    chain_ok: bool = False
    chain_entries: int = 0
    chain_reason: str | None = None
    verify_seconds: float = 0.0
    setup_seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(share * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def _no_kafka() -> AIOKafkaConsumer:
    raise RuntimeError("the benchmark feeds records directly; no Kafka consumer is ever built")


def make_consumer(db: Database) -> IdempotentConsumer:
    """The fund ledger's consumer, subscriptions exactly as in ``fund_ledger.main.build_runtime``."""
    return IdempotentConsumer(
        db,
        infra,
        SERVICE,
        consumer_factory=_no_kafka,
        subscriptions={
            PaymentReceived.event_type: Subscription(post_payment_received),
            SubsidyAllocated.event_type: Subscription(post_subsidy_allocated),
            SettlementCompleted.event_type: Subscription(post_settlement_completed),
            SettlementReversed.event_type: Subscription(post_settlement_reversed),
        },
        batch_scope=batch_scope,
    )


async def _count(db: Database, query: Any) -> int:
    async with db.session() as session:
        return int(await session.scalar(query) or 0)


async def measure(url: str, work: Workload, result: BackendResult, quiet: bool) -> None:
    db = Database(url)
    try:
        consumer = make_consumer(db)
        before = await _count(db, select(func.count()).select_from(JournalEntry))
        latencies: list[float] = []
        total = len(work.stream)
        mark = max(1, total // 10)
        next_mark = mark
        started = time.perf_counter()
        for start in range(0, total, result.batch):
            chunk = work.stream[start : start + result.batch]
            t0 = time.perf_counter()
            outcomes = await consumer.process_records(
                [cast("ConsumerRecord[Any, Any]", record) for record, _ in chunk]
            )
            latencies.append(time.perf_counter() - t0)
            for (_, duplicate), outcome in zip(chunk, outcomes, strict=True):
                tally = result.duplicate_outcomes if duplicate else result.outcomes
                tally[outcome] = tally.get(outcome, 0) + 1
            done = start + len(chunk)
            if not quiet and (done >= next_mark or done == total):
                next_mark += mark
                spent = time.perf_counter() - started
                print(
                    f"    {result.backend}: {done:>9,} / {total:,} records  {spent:8.1f} s  "
                    f"{done / spent:8.0f} records/s",
                    flush=True,
                )
        result.seconds = time.perf_counter() - started

        async with db.session() as session:
            result.journal_entries = int(
                await session.scalar(select(func.count()).select_from(JournalEntry)) or 0
            )
            result.postings_in_table = int(
                await session.scalar(select(func.count()).select_from(Posting)) or 0
            )
            result.journal_total_fen = int(
                await session.scalar(select(func.coalesce(func.sum(JournalEntry.total_fen), 0))) or 0
            )
            result.processed_events = int(
                await session.scalar(select(func.count()).select_from(infra.processed_events)) or 0
            )
            result.dead_letters = int(
                await session.scalar(select(func.count()).select_from(infra.dead_letters)) or 0
            )
            result.imbalance_fen = await imbalance(session)
            result.balance_drift_accounts = len(await balance_drift(session))
            t0 = time.perf_counter()
            verification = await verify_chain(session)
            result.verify_seconds = time.perf_counter() - t0
        result.entries_posted = result.journal_entries - before
        result.chain_ok = verification.ok
        result.chain_entries = verification.entries
        result.chain_reason = verification.reason
        result.entries_per_s = result.entries_posted / result.seconds
        result.postings_per_s = result.postings_in_table / result.seconds
        result.records_per_s = total / result.seconds
        latencies.sort()
        result.latency_ms_p50 = percentile(latencies, 0.50) * 1000
        result.latency_ms_p99 = percentile(latencies, 0.99) * 1000
        result.latency_ms_max = (latencies[-1] if latencies else 0.0) * 1000
        print(
            f"  posted {result.entries_posted:,} entries ({result.postings_in_table:,} postings) in "
            f"{result.seconds:.1f} s: {result.entries_per_s:,.0f} entries/s, "
            f"per transaction of {result.batch} records p50 {result.latency_ms_p50:.2f} ms, "
            f"p99 {result.latency_ms_p99:.2f} ms; "
            f"duplicates {result.duplicate_outcomes}",
            flush=True,
        )
        print(
            f"  trial balance {result.imbalance_fen} fen; chain ok={verification.ok} over "
            f"{verification.entries:,} entries ({result.verify_seconds:.1f} s); dead letters "
            f"{result.dead_letters}",
            flush=True,
        )

        n = work.events
        checks = [
            (
                result.outcomes == {"processed": n},
                f"originals: outcomes {result.outcomes}, expected {n} processed",
            ),
            (
                result.duplicate_outcomes == ({"duplicate": work.duplicates} if work.duplicates else {}),
                f"duplicates: outcomes {result.duplicate_outcomes}, expected {work.duplicates} duplicate",
            ),
            (result.journal_entries == n, f"journal holds {result.journal_entries} entries, expected {n}"),
            (
                result.postings_in_table == work.postings,
                f"{result.postings_in_table} postings, expected {work.postings}",
            ),
            (
                result.journal_total_fen == work.fund_fen,
                f"journal totals {result.journal_total_fen} fen, events paid {work.fund_fen} fen",
            ),
            (result.processed_events == n, f"{result.processed_events} processed event ids, expected {n}"),
            (result.dead_letters == 0, f"{result.dead_letters} dead letters"),
            (result.imbalance_fen == 0, f"trial balance off by {result.imbalance_fen} fen"),
            (
                result.balance_drift_accounts == 0,
                f"{result.balance_drift_accounts} accounts whose kept balance differs from their postings",
            ),
            (verification.ok, f"hash chain does not verify: {verification.reason}"),
            (verification.entries == n, f"chain verified {verification.entries} entries, expected {n}"),
        ]
        result.failures += [message for passed, message in checks if not passed]
    finally:
        await db.dispose()


def run_sqlite(workdir: Path, work: Workload, batch: int, quiet: bool) -> BackendResult:
    result = BackendResult("sqlite", work.events, work.duplicates, batch)
    started = time.perf_counter()
    url = sqlite_url(workdir / "ledger-bench.db")
    migrations.upgrade("fund_ledger", url)
    result.setup_seconds = time.perf_counter() - started
    asyncio.run(measure(url, work, result, quiet))
    return result


def run_postgres(work: Workload, batch: int, quiet: bool) -> BackendResult:
    result = BackendResult("postgres", work.events, work.duplicates, batch)
    started = time.perf_counter()
    server = PostgresServer.start()
    try:
        url = server.url(server.create_database("bench"))
        migrations.upgrade("fund_ledger", url)
        result.setup_seconds = time.perf_counter() - started
        asyncio.run(measure(url, work, result, quiet))
    finally:
        server.stop()
    return result


# --------------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------------


def print_table(results: list[BackendResult]) -> None:
    header = (
        f"{'backend':<10}{'events':>9}{'dups':>7}{'seconds':>9}{'entries/s':>11}{'postings/s':>12}"
        f"{'batch':>7}{'p50 ms':>9}{'p99 ms':>9}{'balance':>9}{'chain':>7}  result"
    )
    print()
    print(header)
    print("-" * len(header))
    for r in results:
        balance = "-" if r.imbalance_fen is None else str(r.imbalance_fen)
        print(
            f"{r.backend:<10}{r.events:>9,}{r.duplicates:>7,}{r.seconds:>9.1f}{r.entries_per_s:>11,.0f}"
            f"{r.postings_per_s:>12,.0f}{r.batch:>7}{r.latency_ms_p50:>9.2f}{r.latency_ms_p99:>9.2f}"
            f"{balance:>9}{'ok' if r.chain_ok else 'BAD':>7}  "
            f"{'ok' if r.ok else 'FAILED'}"
        )
    for r in results:
        for failure in r.failures:
            print(f"FAILED [{r.backend}]: {failure}", file=sys.stderr)


def write_json(
    started: datetime,
    commit: str | None,
    args: argparse.Namespace,
    work: Workload,
    results: list[BackendResult],
) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"ledger_posting-{started:%Y%m%dT%H%M%SZ}.json"
    payload = {
        "benchmark": "ledger_posting",
        "date": started.isoformat(timespec="seconds"),
        # The commit when the run started (the code that was imported); the tree may move during a run.
        "git_commit": commit,
        "git_commit_at_end": git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain")),
        "machine": machine_info(),
        "events": work.events,
        "duplicates": work.duplicates,
        "duplicate_share": args.duplicates,
        "expected_postings": work.postings,
        "fund_fen": work.fund_fen,
        "by_clr_type": work.by_clr_type,
        "with_catastrophic": work.with_catastrophic,
        "with_assistance": work.with_assistance,
        "institutions": len(HOSPITALS) + len(PHARMACIES),
        "seed": args.seed,
        "batch": args.batch,
        "generation_seconds": round(work.seconds, 3),
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
    parser.add_argument("--events", type=int, default=20_000, help="settlement events (default 20000)")
    parser.add_argument(
        "--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres (default both)"
    )
    parser.add_argument(
        "--duplicates", type=float, default=0.1, help="share of events delivered twice (default 0.1)"
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=500,
        help="records per consumer transaction, as LEDGER_CONSUMER_BATCH_SIZE (default 500; 1 = per event)",
    )
    parser.add_argument("--seed", type=int, default=20261123, help="random seed of the events")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (SQLite file)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--no-json", action="store_true", help="do not write a result file")
    args = parser.parse_args(argv)
    args.backend_list = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in args.backend_list if b not in BACKENDS]
    if unknown or not args.backend_list:
        parser.error(
            f"unknown backend(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(BACKENDS)}"
        )
    if args.events < 1:
        parser.error("--events must be at least 1")
    if args.batch < 1:
        parser.error("--batch must be at least 1")
    if not 0 <= args.duplicates <= 1:
        parser.error("--duplicates must be between 0 and 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    commit = git("rev-parse", "--short", "HEAD")
    workdir = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    results: list[BackendResult] = []
    try:
        work = generate(args.events, args.duplicates, args.seed)
        print(
            f"events: {work.events:,} settlement.completed ({work.by_clr_type} by clr_type; "
            f"{work.with_catastrophic:,} with 390200, {work.with_assistance:,} with 610100), "
            f"{work.postings:,} postings expected, {work.duplicates:,} duplicates; generated in "
            f"{work.seconds:.1f} s",
            flush=True,
        )
        for backend in args.backend_list:
            print(f"\n[{backend}]", flush=True)
            try:
                if backend == "sqlite":
                    result = run_sqlite(workdir, work, args.batch, args.quiet)
                else:
                    result = run_postgres(work, args.batch, args.quiet)
            except Exception as exc:  # a broken backend is reported, the others still run
                result = BackendResult(backend, work.events, work.duplicates, args.batch)
                result.failures.append(f"{type(exc).__name__}: {exc}")
                print(f"  {backend} failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            results.append(result)

        print_table(results)
        if not args.no_json:
            print(f"\nresult: {write_json(started, commit, args, work, results).relative_to(ROOT)}")
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
