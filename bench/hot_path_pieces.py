"""CPU of three pieces of a card swipe's path, old way against new way, in one process (issue 29, the run
log's stop 23), so that each change is measured apart from the whole platform and the machine's moment:

* ``hop``: one gateway call to a service (a 2 kB answer from a loopback server in another process, 16
  calls at once): ``Downstream`` through ``httpx.AsyncClient`` on ``shared.http.AiohttpTransport`` (how
  the tests reach in-process services) against ``shared.http.ServiceHop`` (the gateway's calls now);
* ``statement``: one ``Database.statements()`` block of one prebuilt read by primary key on a throwaway
  PostgreSQL: ``Statements.execute`` (SQLAlchemy's execution) against ``Statements.run`` (asyncpg
  directly, the gateway's envelope statements now);
* ``record``: a settlement record of 40 columns built by ``Settlement(**values)`` (SQLModel's
  per-field ``__setattr__``) against ``shared.db.transient``;
* ``coverage``: a card swipe's first reads in a transaction on a throwaway PostgreSQL with the settlement
  tables, begin and commit included: the coverage rows beside the locked accumulator as ORM entities
  (``session.execute``) and then the card (``session.scalar``), as up to stop 26, against
  ``eligibility.coverage_and_lock`` (one Core statement on ``run``, the card read in it, records built
  by ``transient``);
* ``claim``: a card swipe's msgid claim and first reads in a transaction (as ``coverage``, the claims
  written): the claim's statement and then ``coverage_and_lock``'s, as up to stop 27, against the claim
  reading them in its own statement (``eligibility.after_claim``), one round trip less;
* ``transaction``: a transaction of three prebuilt reads by primary key, begin and commit included, on
  ``Database.transaction()`` with ``shared.db.run`` (how a settlement runs its statements: SQLAlchemy's
  session, its transaction and pool around asyncpg) against a bare ``asyncpg`` pool (``acquire``,
  ``transaction``, ``fetch``): what a settlement path without the session would save at most.

    .venv/bin/python bench/hot_path_pieces.py                 # 3 rounds; --calls N per round
    .venv/bin/python bench/hot_path_pieces.py --pieces coverage,claim

CPU microseconds per call (``time.process_time`` of this process; the loopback server's CPU is not
counted), the median of the rounds. Results: ``bench/results/hot_path_pieces-<UTC>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from benchinfo import write_result  # bench/ is on sys.path when a script here runs
from gateway.downstream import Downstream
from settlement.settlements.models import Settlement
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, select, text
from sqlmodel import col

from platformctl.pgtemp import PostgresServer
from platformctl.stack import free_port
from shared.db import Database, transient

#: A loopback HTTP/1.1 server answering every request with the same 2 kB JSON, kept alive.
SERVER = r"""
import asyncio, sys
BODY = b'{"x":"' + b"a" * 2000 + b'"}'
ANSWER = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
          + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
async def serve(reader, writer):
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except Exception:
            return
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        if length:
            await reader.readexactly(length)
        writer.write(ANSWER)
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]))
    await server.serve_forever()
asyncio.run(main())
"""

metadata = MetaData()
accounts = Table(
    "bench_hot_accounts", metadata, Column("id", Integer, primary_key=True), Column("v", String(10))
)
BY_ID = select(accounts.c.v, accounts.c.id).where(accounts.c.id == bindparam("id"))


async def measure_ways(
    out: dict[str, list[float]], way: Callable[[str], Awaitable[None]], calls: int, rounds: int
) -> None:
    """Each way of ``out`` run ``rounds`` times, alternately: once to warm (prepared statements, the
    pools), then measured; its CPU µs per call appended to ``out[way]``."""
    for _ in range(rounds):
        for name in out:
            await way(name)
            out[name].append(await acpu_us(calls, partial(way, name)))


def cpu_us(calls: int, run: Callable[[], object]) -> float:
    started = time.process_time()
    run()
    return (time.process_time() - started) / calls * 1e6


async def acpu_us(calls: int, run: Callable[[], Awaitable[None]]) -> float:
    started = time.process_time()
    await run()
    return (time.process_time() - started) / calls * 1e6


def start_server(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", SERVER, str(port)])


async def hop(calls: int, rounds: int) -> dict[str, list[float]]:
    port = free_port()
    server = start_server(port)
    await asyncio.sleep(1.0)
    downstream = Downstream(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}", 5.0)
    own_hop = downstream._hop
    body = b'{"msgid":"' + b"m" * 30 + b'","lines":[' + b",".join([b'{"amount":"1.00"}'] * 5) + b"]}"
    headers = {"authorization": "Bearer " + "t" * 120, "x-request-id": "r" * 32, "x-msgid": "m" * 30,
               "content-type": "application/json"}  # fmt: skip
    url = f"http://127.0.0.1:{port}/api/v1/pharmacy-settlements"

    async def sixteen_at_once(n: int) -> None:
        async def client() -> None:
            for _ in range(n // 16):
                await downstream._send("POST", url, dict(headers), None, body)

        await asyncio.gather(*(client() for _ in range(16)))

    out: dict[str, list[float]] = {"httpx on AiohttpTransport": [], "ServiceHop": []}
    try:
        for _ in range(rounds):
            for name in out:
                downstream._hop = own_hop if name == "ServiceHop" else None
                await sixteen_at_once(calls // 5)  # warm
                out[name].append(await acpu_us(calls, lambda: sixteen_at_once(calls)))
    finally:
        downstream._hop = own_hop
        await downstream.close()
        server.terminate()
    return out


async def statement(calls: int, rounds: int) -> dict[str, list[float]]:
    server = PostgresServer.start()
    out: dict[str, list[float]] = {"Statements.execute": [], "Statements.run": []}
    try:
        db = Database(server.url(server.create_database("hot")))
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(
                text("INSERT INTO bench_hot_accounts SELECT g, 'x' FROM generate_series(1, 1000) g")
            )

        async def blocks(way: str) -> None:
            for i in range(calls):
                async with db.statements() as conn:
                    read = conn.run if way == "Statements.run" else conn.execute
                    (await read(BY_ID, {"id": i % 1000 + 1})).first()

        await measure_ways(out, blocks, calls, rounds)
        await db.dispose()
    finally:
        server.stop()
    return out


async def transaction(calls: int, rounds: int) -> dict[str, list[float]]:
    import asyncpg
    from sqlalchemy.dialects import postgresql

    from shared.db import run

    server = PostgresServer.start()
    out: dict[str, list[float]] = {"Database.transaction() + run": [], "asyncpg pool": []}
    try:
        url = server.url(server.create_database("tx"))
        db = Database(url)
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(
                text("INSERT INTO bench_hot_accounts SELECT g, 'x' FROM generate_series(1, 1000) g")
            )
        pool = await asyncpg.create_pool(url.replace("+asyncpg", ""), min_size=1, max_size=10)
        sql = str(BY_ID.compile(dialect=postgresql.dialect()))
        sql = sql.replace("%(id)s", "$1")

        async def transactions(way: str) -> None:
            for i in range(calls):
                ids = [(i + k) % 1000 + 1 for k in range(3)]
                if way == "asyncpg pool":
                    async with pool.acquire() as raw, raw.transaction():
                        for id_ in ids:
                            assert await raw.fetch(sql, id_)
                else:
                    async with db.transaction() as session:
                        for id_ in ids:
                            assert (await run(session, BY_ID, {"id": id_})).first() is not None

        await measure_ways(out, transactions, calls, rounds)
        await pool.close()
        await db.dispose()
    finally:
        server.stop()
    return out


def record(calls: int, rounds: int) -> dict[str, list[float]]:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        name: 1 for name, field in Settlement.model_fields.items() if field.annotation in (int, int | None)
    }
    values.update(
        setl_id="S1", mdtrt_id="M1", msgid="m", request_sha256="x" * 64, fixmedins_code="P1",
        institution_level="1", psn_no="p", insutype="390", psn_type="1", insuplc_admdvs="341524",
        mdtrtarea_admvs="341524", med_type="41", clr_type="41", mdtrt_cert_type="02", invono="",
        begntime=now, setl_time=now, pool_ratio=Decimal("0.5"), calc_trace="t", encounter_kind="pharmacy",
        status="settled", ytd_delta={}, layers={},
    )  # fmt: skip
    values.pop("id", None)
    out: dict[str, list[float]] = {"Settlement(**values)": [], "transient(Settlement, **values)": []}
    for _ in range(rounds):
        out["Settlement(**values)"].append(
            cpu_us(calls, lambda: [Settlement(**values) for _ in range(calls)])
        )
        out["transient(Settlement, **values)"].append(
            cpu_us(calls, lambda: [transient(Settlement, **values) for _ in range(calls)])
        )
    return out


async def _covered_persons(db: Database) -> None:
    """1,000 persons P00000.. covered under 390 in 2026, each with an accumulator and an active card K0..."""
    from settlement.eligibility.models import Card, Eligibility, YearAccumulator

    async with db.transaction() as session:
        for i in range(1000):
            psn_no, day = f"P{i:05d}", datetime(2026, 1, 1).date()
            session.add(
                Eligibility(
                    psn_no=psn_no, certno=f"C{i}", insutype="390", psn_type="1", insuplc_admdvs="341524",
                    year=2026, coverage_begin=day, coverage_end=day.replace(month=12, day=31),
                    enrollment_id=i, identities=[{"psn_idet_type": "1", "begin_date": "2026-01-01"}],
                )
            )  # fmt: skip
            session.add(YearAccumulator(psn_no=psn_no, year=2026, insutype="390"))
            session.add(Card(card_no=f"K{i}", card_sn="s", psn_no=psn_no, status="active", changed_on=day))


async def coverage(calls: int, rounds: int) -> dict[str, list[float]]:
    from settlement.db import Base
    from settlement.eligibility import service as eligibility
    from settlement.eligibility.models import Card, Eligibility
    from sqlalchemy import true

    server = PostgresServer.start()
    old_way, new_way = "ORM entities, then the card", "coverage_and_lock(card_no=...)"
    old_no_card, new_no_card = "ORM entities (no card)", "coverage_and_lock (no card)"
    out: dict[str, list[float]] = {old_way: [], new_way: [], old_no_card: [], new_no_card: []}
    locked = eligibility._LOCK_ACCUMULATOR.cte("locked_accumulator")
    orm_read = (
        select(Eligibility, *(column.label(f"acc_{column.name}") for column in locked.c))
        .outerjoin(locked, true())
        .where(col(Eligibility.psn_no) == bindparam("psn_no"), col(Eligibility.year) == bindparam("year"))
    )
    card_read = select(Card).where(col(Card.card_no) == bindparam("card_no"))
    try:
        db = Database(server.url(server.create_database("coverage")))
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        await _covered_persons(db)

        async def reads(way: str) -> None:
            for i in range(calls):
                psn_no = f"P{i % 1000:05d}"
                key = {"psn_no": psn_no, "year": 2026, "insutype": "390"}
                async with db.transaction() as session:
                    card_no = f"K{i % 1000}" if way in (old_way, new_way) else None
                    if way in (old_way, old_no_card):
                        rows = (await session.execute(orm_read, key)).all()
                        assert rows and rows[0].acc_id is not None
                        if card_no is not None:
                            assert await session.scalar(card_read, {"card_no": card_no}) is not None
                    else:
                        found, totals = await eligibility.coverage_and_lock(
                            session, psn_no, 2026, "390", card_no=card_no
                        )
                        assert found and totals is not None
                        if card_no is not None:
                            assert await eligibility.find_card(session, card_no) is not None

        await measure_ways(out, reads, calls, rounds)
        await db.dispose()
    finally:
        server.stop()
    return out


async def claim(calls: int, rounds: int) -> dict[str, list[float]]:
    from settlement.db import Base, reference_version
    from settlement.eligibility import service as eligibility
    from settlement.settlements.stores import store_for

    server = PostgresServer.start()
    old_way, new_way = "claim, then coverage_and_lock", "claim with the coverage (after_claim)"
    out: dict[str, list[float]] = {old_way: [], new_way: []}
    try:
        db = Database(server.url(server.create_database("claim")))
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
            await conn.execute(reference_version.insert().values(id=1, version=1))
        await _covered_persons(db)
        serial = iter(range(10**9))

        async def reads(way: str) -> None:
            for i in range(calls):
                psn_no, card_no = f"P{i % 1000:05d}", f"K{i % 1000}"
                key = eligibility.CoverageKey(psn_no, 2026, "390", card_no)
                async with db.transaction() as session:
                    cover = key if way == new_way else None
                    assert await store_for(session).claim_msgid(session, f"M{next(serial)}", cover)
                    found, totals = await eligibility.coverage_and_lock(
                        session, psn_no, 2026, "390", card_no=card_no
                    )
                    assert found and totals is not None
                    assert await eligibility.find_card(session, card_no) is not None

        await measure_ways(out, reads, calls, rounds)
        await db.dispose()
    finally:
        server.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=3200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--pieces", default="", help="comma-separated: hop,statement,record,coverage,claim,transaction (all)"
    )
    args = parser.parse_args()
    started = datetime.now(UTC)
    pieces: dict[str, Callable[[], dict[str, list[float]]]] = {
        "hop": lambda: asyncio.run(hop(args.calls, args.rounds)),
        "statement": lambda: asyncio.run(statement(args.calls, args.rounds)),
        "record": lambda: record(args.calls, args.rounds),
        "coverage": lambda: asyncio.run(coverage(args.calls, args.rounds)),
        "claim": lambda: asyncio.run(claim(args.calls, args.rounds)),
        "transaction": lambda: asyncio.run(transaction(args.calls, args.rounds)),
    }
    chosen = args.pieces.split(",") if args.pieces else list(pieces)
    unknown = sorted(set(chosen) - set(pieces))
    if unknown:
        parser.error(f"unknown pieces {unknown}; choose from {sorted(pieces)}")
    measured = {piece: pieces[piece]() for piece in chosen}
    medians = {
        piece: {way: round(statistics.median(v), 1) for way, v in ways.items()}
        for piece, ways in measured.items()
    }
    for piece, ways in medians.items():
        print(piece)
        for way, us in ways.items():
            each = ", ".join(f"{x:.0f}" for x in measured[piece][way])
            print(f"  {way:36s} {us:8.1f} µs CPU per call (rounds: {each})")
    path = write_result(
        "hot_path_pieces", started, calls=args.calls, rounds=args.rounds, cpu_us=medians, runs=measured
    )
    print(f"result: {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
