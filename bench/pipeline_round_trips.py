"""What a settlement's four round trips cost the client, and what a driver that pipelines them would save
(issue 29, bench/results/performance-log.md stop 29): the shape of a 2102's transaction in settlement,
without the domain, through three clients of one throwaway PostgreSQL (durable commits):

* ``asyncpg``: as the platform sends it: BEGIN; the msgid claim with the person's row locked; the writes
  (the settlement, its fund rows, the outbox row, the row moved) in one statement; COMMIT. Four round trips.
* ``psycopg``: the same four round trips through psycopg 3 (its C implementation), the comparison's base.
* ``psycopg pipeline``: psycopg 3's pipeline mode: BEGIN goes with the claim and COMMIT with the writes,
  two round trips, the same statements, the same locks, in the same transaction.

    BOOTSTRAP_EXTRAS=bench bash scripts/bootstrap.sh     # psycopg is in the bench extra only
    .venv/bin/python bench/pipeline_round_trips.py       # 16 clients, 4,000 transactions each way, 3 rounds

Reports, per way, the client's CPU microseconds per transaction (``time.process_time``), PostgreSQL's CPU
per transaction (its processes' from /proc) and transactions per second, the median of the rounds, the ways
interleaved round by round. Checks afterwards that every claim was written once with its settlement and that
each person's row moved by exactly its settlements.
Results: ``bench/results/pipeline_round_trips-<UTC>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from benchinfo import write_result  # bench/ is on sys.path when a script here runs
from settlement_load import PG_SETTINGS, _cpu_seconds, _postmaster_pid

from platformctl.pgtemp import PostgresServer

ROOT = Path(__file__).resolve().parent.parent

SCHEMA = """
CREATE TABLE persons (psn_no text PRIMARY KEY, paid_fen bigint NOT NULL DEFAULT 0,
    count int NOT NULL DEFAULT 0);
CREATE TABLE claims (msgid text PRIMARY KEY, psn_no text NOT NULL REFERENCES persons);
CREATE TABLE settlements (setl_id text PRIMARY KEY, msgid text NOT NULL UNIQUE REFERENCES claims,
    psn_no text NOT NULL REFERENCES persons, fund_fen bigint NOT NULL, cash_fen bigint NOT NULL);
CREATE TABLE settlement_funds (setl_id text NOT NULL REFERENCES settlements, fund_pay_type text NOT NULL,
    amount_fen bigint NOT NULL, PRIMARY KEY (setl_id, fund_pay_type));
CREATE TABLE outbox (id bigserial PRIMARY KEY, topic text NOT NULL, event_key text NOT NULL,
    payload text NOT NULL);
"""

#: The claim: the msgid taken (a repeat finds it taken) and the person's row locked, in one statement.
CLAIM = """
WITH claimed AS (
    INSERT INTO claims (msgid, psn_no) VALUES ($1, $2) ON CONFLICT (msgid) DO NOTHING RETURNING msgid
)
SELECT p.paid_fen, p.count, (SELECT count(*) FROM claimed) FROM persons p WHERE p.psn_no = $2 FOR UPDATE
"""

#: The writes: the settlement, its two fund rows, the outbox row and the person's row moved, one statement.
WRITE = """
WITH s AS (
    INSERT INTO settlements (setl_id, msgid, psn_no, fund_fen, cash_fen) VALUES ($1, $2, $3, $4, $5)
    RETURNING setl_id
), f AS (
    INSERT INTO settlement_funds (setl_id, fund_pay_type, amount_fen)
    SELECT setl_id, t, a FROM s, (VALUES ('310100', $4::bigint), ('999999', $5::bigint)) AS v (t, a)
), o AS (
    INSERT INTO outbox (topic, event_key, payload) SELECT 'settlement.events', $3, $6 FROM s
)
UPDATE persons SET paid_fen = paid_fen + $4, count = count + 1 WHERE psn_no = $3
"""


def _settle_values(msgid: str, psn_no: str, paid_fen: int) -> tuple[str, str, str, int, int, str]:
    """The domain's stand-in: a 90.00 purchase, half of it from the fund."""
    fund = 4500
    payload = json.dumps({"msgid": msgid, "psn_no": psn_no, "fund_fen": fund, "before": paid_fen})
    return f"S{msgid}", msgid, psn_no, fund, 9000 - fund, payload


def _named(sql: str, *names: str) -> str:
    """``sql`` with ``$1``, ``$2``… written as psycopg's ``%(name)s`` of ``names`` in that order."""
    for number, name in enumerate(names, start=1):
        sql = sql.replace(f"${number}", f"%({name})s")
    return sql


class AsyncpgWay:
    name = "asyncpg (4 round trips)"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.pool: asyncpg.Pool | None = None

    async def open(self, size: int) -> None:
        self.pool = await asyncpg.create_pool(self.dsn, min_size=size, max_size=size)

    async def close(self) -> None:
        assert self.pool is not None
        await self.pool.close()

    async def settle(self, msgid: str, psn_no: str) -> None:
        assert self.pool is not None
        async with self.pool.acquire() as conn, conn.transaction():
            paid_fen, _count, claimed = await conn.fetchrow(CLAIM, msgid, psn_no)
            assert claimed == 1
            await conn.execute(WRITE, *_settle_values(msgid, psn_no, paid_fen))


class PsycopgWay:
    def __init__(self, dsn: str, *, pipeline: bool) -> None:
        self.psycopg: Any = importlib.import_module("psycopg")
        self.dsn = dsn
        self.pipeline = pipeline
        self.name = "psycopg pipeline (2 round trips)" if pipeline else "psycopg (4 round trips)"
        self.free: asyncio.Queue[Any] = asyncio.Queue()
        # The same statements with psycopg's named placeholders for asyncpg's ``$n`` ones.
        self.claim = _named(CLAIM, "msgid", "psn_no")
        self.write = _named(WRITE, "setl_id", "msgid", "psn_no", "fund", "cash", "payload")
        self.connections: list[Any] = []

    async def open(self, size: int) -> None:
        for _ in range(size):
            # prepare_threshold 0: every statement prepared on first use, as asyncpg's statement cache does.
            conn = await self.psycopg.AsyncConnection.connect(self.dsn, prepare_threshold=0)
            self.connections.append(conn)
            self.free.put_nowait(conn)

    async def close(self) -> None:
        for conn in self.connections:
            await conn.close()

    async def settle(self, msgid: str, psn_no: str) -> None:
        conn = await self.free.get()
        try:
            if self.pipeline:
                async with conn.pipeline() as pipe, conn.transaction():
                    cur = await conn.execute(self.claim, {"msgid": msgid, "psn_no": psn_no})
                    await pipe.sync()  # BEGIN and the claim go together: one round trip
                    await self._write(conn, cur, msgid, psn_no)
                # COMMIT went with the writes when the pipeline closed: the second round trip
            else:
                async with conn.transaction():
                    cur = await conn.execute(self.claim, {"msgid": msgid, "psn_no": psn_no})
                    await self._write(conn, cur, msgid, psn_no)
        finally:
            self.free.put_nowait(conn)

    async def _write(self, conn: Any, cur: Any, msgid: str, psn_no: str) -> None:
        paid_fen, _count, claimed = await cur.fetchone()
        assert claimed == 1
        setl_id, _, _, fund, cash, payload = _settle_values(msgid, psn_no, paid_fen)
        values = {"setl_id": setl_id, "msgid": msgid, "psn_no": psn_no, "fund": fund, "cash": cash}
        await conn.execute(self.write, {**values, "payload": payload})


async def _run(way: Any, n: int, clients: int, persons: int, tag: str, pg_pid: int) -> dict[str, float]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def client() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            await way.settle(f"{tag}{i:08d}", f"P{i % persons:06d}")

    pg_before = _cpu_seconds(pg_pid)
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    await asyncio.gather(*[client() for _ in range(clients)])
    cpu, wall = time.process_time() - cpu_before, time.perf_counter() - wall_before
    pg = _cpu_seconds(pg_pid) - pg_before
    return {"client_cpu_us": 1e6 * cpu / n, "postgres_cpu_us": 1e6 * pg / n, "per_s": n / wall}


async def measure(n: int, rounds: int, clients: int) -> tuple[dict[str, dict[str, float]], dict[str, bool]]:
    server = PostgresServer.start(PG_SETTINGS)
    try:
        database = server.create_database("pipeline")
        dsn = f"postgresql://postgres@127.0.0.1:{server.port}/{database}"
        persons = clients * 50
        setup = await asyncpg.connect(dsn)
        await setup.execute(SCHEMA)
        await setup.executemany(
            "INSERT INTO persons (psn_no) VALUES ($1)", [(f"P{i:06d}",) for i in range(persons)]
        )
        await setup.execute("ANALYZE")
        ways: list[Any] = [AsyncpgWay(dsn), PsycopgWay(dsn, pipeline=False), PsycopgWay(dsn, pipeline=True)]
        for way in ways:
            await way.open(clients)
        pg_pid = _postmaster_pid(server)
        figures: dict[str, list[dict[str, float]]] = {way.name: [] for way in ways}
        tags: list[str] = []
        for number in range(rounds + 1):  # the first round warms the statements and the caches, not counted
            for index, way in enumerate(ways):
                tag = f"r{number}w{index}-"
                result = await _run(way, n, clients, persons, tag, pg_pid)
                tags.append(tag)
                if number:
                    figures[way.name].append(result)
        for way in ways:
            await way.close()
        settled = await setup.fetchval("SELECT count(*) FROM settlements")
        claims = await setup.fetchval("SELECT count(*) FROM claims")
        outbox = await setup.fetchval("SELECT count(*) FROM outbox")
        moved = await setup.fetch(
            "SELECT p.psn_no FROM persons p LEFT JOIN settlements s ON s.psn_no = p.psn_no "
            "GROUP BY p.psn_no, p.paid_fen, p.count "
            "HAVING p.paid_fen <> coalesce(sum(s.fund_fen), 0) OR p.count <> count(s.setl_id)"
        )
        await setup.close()
        expected = n * len(tags)
        checks = {
            "every_claim_settled_once": settled == claims == outbox == expected,
            "every_person_moved_by_its_settlements": not moved,
        }
        medians = {
            name: {key: round(statistics.median(r[key] for r in runs), 1) for key in runs[0]}
            for name, runs in figures.items()
        }
        return medians, checks
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=4000, help="transactions per way and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    medians, checks = asyncio.run(measure(args.n, args.rounds, args.clients))
    for name, figures in medians.items():
        print(
            f"{name:34} client {figures['client_cpu_us']:7.1f} µs CPU  "
            f"PostgreSQL {figures['postgres_cpu_us']:7.1f} µs CPU  {figures['per_s']:8.1f} transactions/s"
        )
    print("checks:", checks)
    path = write_result(
        "pipeline_round_trips",
        started,
        transactions=args.n,
        rounds=args.rounds,
        clients=args.clients,
        postgres_settings=PG_SETTINGS,
        median_per_transaction=medians,
        checks=checks,
    )
    print(f"result: {path.relative_to(ROOT)}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
