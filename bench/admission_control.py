"""Admission control at the gateway under overload: what a cashier gets at 4x the concurrency the platform
sustains, with the gateway's limit on downstream calls in flight (``GATEWAY_DOWNSTREAM_MAX_IN_FLIGHT``) and
without it.

    .venv/bin/python bench/admission_control.py                      # SQLite, c=16 and c=64, 25 s each
    .venv/bin/python bench/admission_control.py --concurrency 16,64,192 --duration 20
    .venv/bin/python bench/admission_control.py --backend postgres --limit 24 --wait 0.02

The stack is ``settlement_load.py``'s (broker, gateway, enrollment, settlement, fund ledger as processes,
N covered persons bulk-seeded, institutions, catalogue and policy loaded through the APIs). Closed-loop
pharmacy clients (2102, 1-10 lines) run one phase per concurrency, first with the gateway as configured
(``--limit`` / ``--wait``, the defaults of ``GatewaySettings`` unless given), then with the gateway restarted
without a limit (one of 1,000,000). A client refused "try again" (``E_BUSY``, ``E_UNAVAILABLE``...) or left
with an unknown outcome pauses ``--pause`` seconds before its next purchase, as a cashier would.

Every answer is classified: settled (infcode 0), a clean transient refusal (E_BUSY, E_UNAVAILABLE,
E_TIMEOUT, RETRY_LATER: nothing done), outcome unknown (E_OUTCOME_UNKNOWN, E_INTERNAL), or another refusal;
the share of each, settlements/s and latency per class are reported. Checks: no E_BUSY answer is stored in
the gateway's message log, and the settlement database holds at least the settlements answered and at most
those plus the unknown outcomes (a refusal settled nothing).

Results: ``bench/results/admission_control-<UTC timestamp>.json``; the figures are in ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import rawhttp
import settlement_load as sl  # bench/ is on sys.path when a script here runs
from benchinfo import write_result
from loadgen import _SCHEME, GATEWAY_PATH, Failed, His, Institution, Stats, summary
from seed import seed_postgres, seed_sqlite

from platformctl.pgtemp import PostgresServer
from platformctl.stack import RunningService

TRANSIENT = ("E_BUSY", "E_UNAVAILABLE", "E_TIMEOUT", "RETRY_LATER", "E_RATE_LIMITED")
UNKNOWN = ("E_OUTCOME_UNKNOWN", "E_INTERNAL")
NO_LIMIT = 1_000_000


def classify(answer: dict[str, Any]) -> tuple[str, str]:
    """(class, code): settled, refused_transient, outcome_unknown, refused_other."""
    if answer.get("infcode") == 0:
        return "settled", "ok"
    message = str(answer.get("err_msg") or "")
    code = message[1 : message.index("]")] if message.startswith("[") and "]" in message else "?"
    if code in UNKNOWN:
        return "outcome_unknown", code
    if code in TRANSIENT:
        return "refused_transient", code
    return "refused_other", code


class Counter(His):
    """The load generator's HIS, every answer classified and timed instead of only infcode 0 accepted."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.codes: dict[str, int] = defaultdict(int)

    def reset(self) -> None:
        self.latency.clear()
        self.codes.clear()

    async def send(self, inst: Institution, infno: str, body: dict[str, Any], stats: Stats) -> dict[str, Any]:
        raw = json.dumps(self.envelope(inst, infno, body), ensure_ascii=False).encode()
        headers = {"content-type": "application/json", **_SCHEME.sign(inst.paasid, inst.secret)}
        started = time.perf_counter()
        try:
            response = await self.client.post(GATEWAY_PATH, raw, headers)
            answer = json.loads(response.text)
        except (rawhttp.HttpError, ValueError) as exc:
            self.latency["transport_error"].append(time.perf_counter() - started)
            self.codes[type(exc).__name__] += 1
            raise Failed from exc
        kind, code = classify(answer)
        self.latency[kind].append(time.perf_counter() - started)
        self.codes[code] += 1
        if kind != "settled":
            stats.error(code, str(answer.get("err_msg")))
            raise Failed
        output: dict[str, Any] = answer["output"]
        if infno == "2102":
            stats.settlements += 1
        return output


async def run_phase(
    his: Counter, concurrency: int, duration: float, pause: float, pids: dict[str, int]
) -> dict[str, Any]:
    his.reset()
    stats = Stats()
    cpu_before = {name: sl._cpu_seconds(pid) for name, pid in pids.items()}
    own_before = time.process_time()
    started = time.perf_counter()
    deadline = started + duration

    async def client() -> None:
        while time.perf_counter() < deadline:
            try:
                await his.pharmacy(stats)
            except Failed:
                await asyncio.sleep(pause)  # "try again later", as the refusal says

    await asyncio.gather(*(client() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    cpu = {name: round(sl._cpu_seconds(pid) - cpu_before[name], 1) for name, pid in pids.items()}
    cpu["clients"] = round(time.process_time() - own_before, 1)
    answers = sum(len(v) for v in his.latency.values())
    share = {k: round(len(v) / answers, 4) if answers else 0.0 for k, v in sorted(his.latency.items())}
    return {
        "concurrency": concurrency,
        "seconds": round(seconds, 1),
        "answers": answers,
        "settled": stats.settlements,
        "settlements_per_s": round(stats.settlements / seconds, 1),
        "share": share,
        "codes": dict(sorted(his.codes.items())),
        "latency": {k: summary(v) for k, v in sorted(his.latency.items())},
        "cpu_seconds": cpu,
        "load_after": sl._load(),
    }


def print_phase(label: str, r: dict[str, Any]) -> None:
    share = ", ".join(f"{k} {v * 100:.2f} %" for k, v in r["share"].items())
    print(
        f"    {label} c={r['concurrency']}: {r['settlements_per_s']}/s settled; "
        f"{r['answers']} answers: {share}"
    )
    for kind, s in r["latency"].items():
        if s["count"]:
            print(f"      {kind}: n={s['count']} p50 {s['p50_ms']} p99 {s['p99_ms']} max {s['max_ms']} ms")
    print(f"      codes {r['codes']}; cpu seconds {r['cpu_seconds']}; load {r['load_after']}", flush=True)


async def _scalar(backend: str, url: str, sql: str) -> int:
    if backend == "sqlite":
        path = url.split("///", 1)[1]
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
            return int(conn.execute(sql).fetchone()[0])
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


def restart_gateway(stack: sl.Stack, env: dict[str, str]) -> None:
    old = stack.services["gateway"]
    old.stop()
    assert stack.work is not None
    gateway = RunningService(old.spec, old.url, old.port, {**old.env, **env}, stack.work / "gateway.log")
    gateway.start()
    stack.services["gateway"] = gateway
    gateway.wait_ready(120)


async def drive(
    stack: sl.Stack, args: argparse.Namespace, insts: list[Institution], items: Any
) -> dict[str, Any]:
    his = Counter(
        stack.urls["gateway"],
        insts,
        items,
        args.persons,
        seed=args.seed,
        connections=max(args.concurrency) + 50,
    )
    configs: list[dict[str, Any]] = []
    try:
        for inst in insts:
            await his.sign_in(inst, Stats())
        all_configs = {
            "limit": args.limited_env,
            "no limit": {"GATEWAY_DOWNSTREAM_MAX_IN_FLIGHT": str(NO_LIMIT)},
        }
        for name, env in ((name, all_configs[name]) for name in args.configs):
            print(f"  gateway {name}: {env or 'defaults'}", flush=True)
            await his.close()
            restart_gateway(stack, env)
            his.client = rawhttp.Client(
                stack.urls["gateway"], connections=max(args.concurrency) + 50, timeout_s=30.0
            )
            phases = []
            pids = {n: svc.process.pid for n, svc in stack.services.items() if svc.process is not None}
            if stack.server is not None:
                pids["postgres"] = sl._postmaster_pid(stack.server)
            for concurrency in args.concurrency:
                result = await run_phase(his, concurrency, args.duration, args.pause, pids)
                print_phase(name, result)
                phases.append(result)
                await asyncio.sleep(args.rest)  # let the queues drain and the ledger catch up a little
            configs.append({"gateway": name, "env": env, "phases": phases})
    finally:
        await his.close()
    return {"configs": configs}


async def checks(stack: sl.Stack, configs: list[dict[str, Any]]) -> dict[str, bool]:
    settled = sum(p["codes"].get("ok", 0) for c in configs for p in c["phases"])
    unknown = sum(p["codes"].get(code, 0) for c in configs for p in c["phases"] for code in UNKNOWN)
    rows = await _scalar(
        stack.backend,
        stack.db_urls["settlement"],
        "SELECT count(*) FROM settlements WHERE status = 'settled'",
    )
    busy_stored = await _scalar(
        stack.backend,
        stack.db_urls["gateway"],
        "SELECT count(*) FROM message_log WHERE response LIKE '%[E\\_BUSY]%' ESCAPE '\\'",
    )
    print(
        f"  settlement rows {rows}; answered settled {settled}, unknown {unknown}; "
        f"E_BUSY stored {busy_stored}"
    )
    return {
        "no_busy_answer_stored": busy_stored == 0,
        "refusals_settled_nothing": settled <= rows <= settled + unknown,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"admission-{args.backend}-"))
    server = PostgresServer.start(sl.PG_SETTINGS) if args.backend == "postgres" else None
    stack: sl.Stack | None = None
    result: dict[str, Any] = {"backend": args.backend}
    try:
        stack = sl.start_stack(args.backend, work, args, server)
        year = datetime.now().year
        if server is not None:
            dsns = {k: u.replace("postgresql+asyncpg://", "postgresql://") for k, u in stack.db_urls.items()}
            asyncio.run(seed_postgres({k: dsns[k] for k in ("enrollment", "settlement")}, args.persons, year))
        else:
            paths = {name: url.split("///", 1)[1] for name, url in stack.db_urls.items()}
            seed_sqlite({k: paths[k] for k in ("enrollment", "settlement")}, args.persons, year)
        sl.start_services(stack, args)
        insts = sl.institutions()
        csv_text, items = sl.catalogue(random.Random(args.seed))
        asyncio.run(sl.load_reference_data(stack.urls, insts, csv_text))
        print(
            f"  {args.backend}: {args.persons} persons, {len(insts)} institutions, {len(items)} items",
            flush=True,
        )

        async def measure() -> dict[str, Any]:
            driven = await drive(stack, args, insts, items)
            driven["checks"] = await checks(stack, driven["configs"])
            return driven

        result.update(asyncio.run(measure()))
        result["ok"] = all(result["checks"].values())
        print(f"  checks: {result['checks']}", flush=True)
    except Exception as exc:
        result["ok"] = False
        result["failure"] = repr(exc)
        print(f"  FAILED: {exc!r}; logs in {work}", flush=True)
    finally:
        if stack is not None:
            sl.stop_stack(stack)
        if server is not None:
            server.stop()
        if result.get("ok") and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument(
        "--concurrency", default="16,64", help="closed-loop clients per phase (default 16,64)"
    )
    parser.add_argument("--duration", type=float, default=25.0, help="seconds per phase")
    parser.add_argument("--pause", type=float, default=1.0, help="a client's pause after a refusal (s)")
    parser.add_argument("--rest", type=float, default=3.0, help="seconds between phases")
    parser.add_argument("--limit", type=int, help="GATEWAY_DOWNSTREAM_MAX_IN_FLIGHT (default: the setting's)")
    parser.add_argument("--wait", type=float, help="GATEWAY_DOWNSTREAM_SLOT_WAIT_S (default: the setting's)")
    parser.add_argument(
        "--configs", default="limit,no limit", help="gateway configurations to run: limit, no limit or both"
    )
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (databases, logs)")
    parser.add_argument("--no-json", action="store_true", help="write no result file")
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    if any(c not in ("limit", "no limit") for c in args.configs):
        parser.error("configs are 'limit' and 'no limit'")
    args.limited_env = {}
    if args.limit is not None:
        args.limited_env["GATEWAY_DOWNSTREAM_MAX_IN_FLIGHT"] = str(args.limit)
    if args.wait is not None:
        args.limited_env["GATEWAY_DOWNSTREAM_SLOT_WAIT_S"] = str(args.wait)
    # What settlement_load's stack functions read.
    args.pg_unix_socket, args.rate_limit, args.workers, args.env = False, 1_000_000, {}, []
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    print(f"admission control, {args.backend}, phases c={args.concurrency} x {args.duration:g} s", flush=True)
    result = run(args)
    if not args.no_json:
        params = {
            k: v for k, v in vars(args).items() if k not in ("pg_unix_socket", "rate_limit", "workers", "env")
        }
        path = write_result("admission_control", started, parameters=params, load=sl._load(), **result)
        print(f"result: {path.relative_to(sl.ROOT)}")
    print("all checks passed" if result.get("ok") else "SOME CHECKS FAILED")
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
