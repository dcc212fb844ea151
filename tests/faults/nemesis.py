"""The nemesis: a seeded, bounded run of a mixed HIS workload against the whole platform (broker and four
services as real processes, SQLite files or PostgreSQL) while a scheduler kills and restarts the services
and the broker, pauses them (SIGSTOP / SIGCONT) past the gateway's downstream timeout, and the HIS sends
duplicates, reversals and 2601s. Afterwards every process is healed, every message whose outcome the HIS
does not know is resent under its own msgid until it is known, and a checker proves the money invariants
against the HIS's answers, the settlement rows, the yearly totals and the ledger:

1. a settlement is reversed at most once;
2. no msgid is both settled (standing) and voided: a 2601 answered "voided" left nothing under its omsgid,
   one answered "reversed" left its original reversed;
3. every settlement, reversal and 2601 the HIS was told succeeded exists with the amounts it was told;
   every standing settlement is one the HIS was told of;
4. a msgid answered once is answered the same when repeated (or E_VOIDED after its 2601);
5. each person's yearly totals are what their standing settlements added;
6. the ledger holds every paying settlement and reversal exactly once with its amount, nothing else from
   settlement, and balances.

The schedule and the workload come from one seed; a failing run prints its seed, and
``python -m tests.faults.nemesis --seed N`` replays the same schedule (the machine's timing still varies the
interleavings). Used by ``tests/faults/test_nemesis.py`` (about a minute per backend) and by hand for
longer runs: ``.venv/bin/python -m tests.faults.nemesis --backend postgres --duration 600``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from platformctl import examples
from platformctl.demo import CATALOGUE, INSTITUTIONS, REGION, load_demo
from platformctl.pgtemp import PostgresServer
from platformctl.services import SERVICES
from platformctl.stack import RunningService, free_port, service_env, spawn_broker, wait_for_port
from shared.auth import ADMINISTRATOR, DEV_AUTH_SECRET, issue_token
from shared.clock import now_china
from shared.config import sqlite_url
from shared.idcard import make_id_number
from shared.migrations import upgrade
from tests.support.his import SignedHis

GATEWAY_PATH = "/fsi/api/rsfComIfsService/callService"
GATEWAY_TIMEOUT_S = 2.0
#: The operator every envelope names (``platformctl.examples.envelope``).
OPERATOR = "001"
#: Answers that say nothing happened: the same envelope is sent again.
TRANSIENT = {"E_UNAVAILABLE", "E_TIMEOUT", "E_BUSY", "RETRY_LATER", "E_RATE_LIMITED"}
#: Answers that say the outcome is not known.
UNKNOWN = {"E_OUTCOME_UNKNOWN", "E_INTERNAL", "NO_ANSWER"}
SETTLING = {"2102", "2207", "2304"}
REVERSING = {"2103", "2208", "2305"}
PHARMACY = next(i for i in INSTITUTIONS if i["fixmedins_type"] == "2")
HOSPITAL = next(i for i in INSTITUTIONS if i["fixmedins_type"] == "1" and i["hosp_lv"] == "2")
DANSHEN, AMOXICILLIN = str(CATALOGUE[2]["med_list_codg"]), str(CATALOGUE[0]["med_list_codg"])
FAST_GROUPS = {
    "KAFKA_SESSION_TIMEOUT_MS": "3000",
    "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
    "KAFKA_REBALANCE_TIMEOUT_MS": "1000",
}


def _code(answer: Mapping[str, Any]) -> str:
    if answer.get("infcode") == 0:
        return "ok"
    message = str(answer.get("err_msg", ""))
    return message[1 : message.index("]")] if message.startswith("[") and "]" in message else "E_REFUSED"


@dataclass
class Message:
    """One envelope the HIS sent (under one msgid), with every answer it got, in order."""

    infno: str
    envelope: dict[str, Any]
    answers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def msgid(self) -> str:
        return str(self.envelope["msgid"])

    def known(self) -> list[dict[str, Any]]:
        """Answers that say what happened (not transient, not unknown)."""
        return [a for a in self.answers if _code(a) not in TRANSIENT | UNKNOWN]

    def outcome(self) -> dict[str, Any] | None:
        known = self.known()
        return known[0] if known else None


# --- the platform as processes ------------------------------------------------------------------------


class Platform:
    def __init__(self, backend: str, work: Path, server: PostgresServer | None) -> None:
        self.backend, self.work, self.server = backend, work, server
        self.broker_port = free_port()
        self.ports = {name: free_port() for name in SERVICES}
        self.db_urls: dict[str, str] = {}
        self.services: dict[str, RunningService] = {}
        self.broker: subprocess.Popen[bytes] | None = None
        self.paused: set[str] = set()
        self.events: list[str] = []

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def start(self) -> None:
        self.start_broker()
        bootstrap = f"127.0.0.1:{self.broker_port}"
        for name, spec in SERVICES.items():
            if self.server is not None:
                self.db_urls[name] = self.server.url(self.server.create_database(f"nemesis_{name}"))
            else:
                self.db_urls[name] = sqlite_url(self.work / f"{name}.db")
            upgrade(spec.package, self.db_urls[name])
            env = service_env(spec, self.db_urls[name], bootstrap, self.ports)
            env.update({f"{spec.env_prefix}{k}": v for k, v in FAST_GROUPS.items()})
            if name == "gateway":
                env["GATEWAY_DOWNSTREAM_TIMEOUT_S"] = str(GATEWAY_TIMEOUT_S)
                env["GATEWAY_RATE_LIMIT_PER_MINUTE"] = "100000"
            svc = RunningService(spec, self.url(name), self.ports[name], env, self.work / f"{name}.log")
            svc.start()
            self.services[name] = svc
        for svc in self.services.values():
            svc.wait_ready(120)

    def start_broker(self) -> None:
        log = open(self.work / "broker.log", "ab")  # noqa: SIM115
        self.broker = spawn_broker(self.broker_port, log)
        log.close()
        wait_for_port("127.0.0.1", self.broker_port)

    def _pid(self, name: str) -> int:
        process = self.broker if name == "broker" else self.services[name].process
        assert process is not None
        return process.pid

    def kill(self, name: str) -> None:
        self.events.append(f"{time.strftime('%X')} kill {name}")
        self.resume(name)
        if name == "broker":
            assert self.broker is not None
            self.broker.kill()
            self.broker.wait()
        else:
            self.services[name].kill()

    def restart(self, name: str) -> None:
        self.events.append(f"{time.strftime('%X')} restart {name}")
        if name == "broker":
            self.start_broker()
        else:
            self.services[name].start()
            self.services[name].wait_ready(120)

    def pause(self, name: str) -> None:
        self.events.append(f"{time.strftime('%X')} pause {name}")
        os.kill(self._pid(name), signal.SIGSTOP)
        self.paused.add(name)

    def resume(self, name: str) -> None:
        if name in self.paused:
            self.events.append(f"{time.strftime('%X')} resume {name}")
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid(name), signal.SIGCONT)
            self.paused.discard(name)

    def heal(self) -> None:
        for name in list(self.paused):
            self.resume(name)
        if self.broker is None or self.broker.poll() is not None:
            self.restart("broker")
        for name, svc in self.services.items():
            if svc.process is None or svc.process.poll() is not None:
                self.restart(name)
        for svc in self.services.values():
            svc.wait_ready(120)

    def stop(self) -> None:
        for name in list(self.paused):
            self.resume(name)
        for svc in self.services.values():
            svc.stop()
        if self.broker is not None and self.broker.poll() is None:
            self.broker.terminate()
            try:
                self.broker.wait(10)
            except subprocess.TimeoutExpired:
                self.broker.kill()

    async def query(self, service: str, sql: str) -> list[tuple[Any, ...]]:
        url = self.db_urls[service]
        if self.backend == "sqlite":
            path = url.split("///", 1)[1]
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
                return [tuple(r) for r in conn.execute(sql).fetchall()]
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            return [tuple(r) for r in await conn.fetch(sql)]
        finally:
            await conn.close()


# --- the fault schedule ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    at_s: float
    action: str  # kill | pause
    target: str
    hold_s: float


def schedule(rng: random.Random, duration_s: float) -> list[Fault]:
    """Faults spread over the run's middle, one at a time: a process killed (restarted after ``hold_s``) or
    paused past the gateway's downstream timeout (resumed after ``hold_s``)."""
    faults: list[Fault] = []
    t = rng.uniform(2.0, 4.0)
    while t < duration_s - 6:
        action = rng.choice(["kill", "kill", "pause"])
        if action == "kill":
            target = rng.choice(["broker", "settlement", "ledger", "gateway", "broker", "settlement"])
            hold = rng.uniform(0.5, 3.0)
        else:
            target = rng.choice(["settlement", "ledger", "gateway", "broker"])
            hold = rng.uniform(GATEWAY_TIMEOUT_S + 0.5, GATEWAY_TIMEOUT_S + 2.5)
        faults.append(Fault(round(t, 2), action, target, round(hold, 2)))
        t += hold + rng.uniform(3.0, 7.0)
    return faults


async def run_schedule(platform: Platform, faults: list[Fault], started: float) -> None:
    for fault in faults:
        await asyncio.sleep(max(0.0, started + fault.at_s - time.monotonic()))
        if fault.action == "kill":
            await asyncio.to_thread(platform.kill, fault.target)
            await asyncio.sleep(fault.hold_s)
            await asyncio.to_thread(platform.restart, fault.target)
        else:
            await asyncio.to_thread(platform.pause, fault.target)
            await asyncio.sleep(fault.hold_s)
            platform.resume(fault.target)


# --- the HIS --------------------------------------------------------------------------------------------


class His:
    """Signed, signed-in HIS clients of both demo institutions; every envelope and answer is kept."""

    def __init__(self, platform: Platform, client: httpx.AsyncClient) -> None:
        self.platform = platform
        self.client = client
        self.his = SignedHis(self._transport)
        self.messages: dict[str, Message] = {}
        self._sequence = itertools.count(1)

    async def _transport(self, raw: bytes, headers: Mapping[str, str]) -> str:
        response = await self.client.post(
            f"{self.platform.url('gateway')}{GATEWAY_PATH}",
            content=raw,
            headers={"content-type": "application/json", **headers},
        )
        return response.text

    def envelope(self, infno: str, body: dict[str, Any], institution: Mapping[str, Any]) -> dict[str, Any]:
        code = str(institution["fixmedins_code"])
        # A msgid's sequence is 4 digits a second: unique within the run (under 10,000 messages a second).
        msgid = examples.msgid(next(self._sequence), code)
        while msgid in self.messages:
            msgid = examples.msgid(next(self._sequence), code)
        envelope = examples.envelope(
            infno,
            msgid,
            body,
            insuplc_admdvs=REGION,
            fixmedins_code=code,
            fixmedins_name=str(institution["fixmedins_name"]),
        )
        # Signed in once, before the workload: every send of an envelope is the same bytes.
        envelope["sign_no"] = self.his.sign_nos[(code, OPERATOR)]
        return envelope

    async def sign_in(self) -> None:
        for institution in (PHARMACY, HOSPITAL):
            await self.his.sign_no(str(institution["fixmedins_code"]), OPERATOR)

    async def send_once(self, message: Message) -> dict[str, Any]:
        try:
            text = await self.his.send(message.envelope)
            answer: dict[str, Any] = json.loads(text, parse_float=Decimal)
        except (httpx.HTTPError, ValueError, AssertionError) as exc:
            # Connection refused: nothing arrived. Anything else: it may have been acted on.
            code = "E_UNAVAILABLE" if isinstance(exc, httpx.ConnectError) else "NO_ANSWER"
            answer = {"infcode": -1, "err_msg": f"[{code}] {type(exc).__name__}"}
        message.answers.append(answer)
        return answer

    async def send(self, infno: str, body: dict[str, Any], institution: Mapping[str, Any]) -> Message:
        message = Message(infno, self.envelope(infno, body, institution))
        self.messages[message.msgid] = message
        await self.until_known(message, tries=4)
        return message

    async def until_known(self, message: Message, *, tries: int, pause_s: float = 0.3) -> None:
        """Send (again) until the answer says what happened, at most ``tries`` times."""
        for attempt in range(tries):
            answer = await self.send_once(message)
            if _code(answer) not in TRANSIENT | UNKNOWN:
                return
            await asyncio.sleep(pause_s * (attempt + 1))


@dataclass
class Person:
    psn_no: str
    certno: str


async def enroll(client: httpx.AsyncClient, platform: Platform, count: int, seed: int) -> list[Person]:
    people: list[Person] = []
    year = now_china().year
    for i in range(count):
        certno = make_id_number(REGION, date(1960 + i % 40, 1 + i % 12, 1 + i % 28), 501 + 2 * i)
        created = await client.post(
            f"{platform.url('enrollment')}/api/v1/persons", json={"certno": certno, "psn_name": f"混沌{i}"}
        )
        assert created.status_code == 201, created.text
        psn_no = created.json()["psn_no"]
        enrolled = await client.post(
            f"{platform.url('enrollment')}/api/v1/enrollments",
            json={
                "psn_no": psn_no,
                "year": year,
                "payment": {
                    "payer": "individual",
                    "amount_fen": 30_00,
                    "receipt_no": f"NEM{seed % 10000:04d}{i:04d}",
                    "paid_on": str(now_china().date()),
                },
            },
        )
        assert enrolled.status_code == 201, enrolled.text
        people.append(Person(psn_no, certno))
    deadline = time.monotonic() + 60
    for person in people:
        while (
            await client.get(f"{platform.url('settlement')}/api/v1/eligibility/{person.psn_no}")
        ).status_code != 200:
            assert time.monotonic() < deadline, "coverage never reached settlement"
            await asyncio.sleep(0.1)
    return people


def _now() -> str:
    return now_china().strftime("%Y-%m-%d %H:%M:%S")


def _fee(sn: str, mdtrt_id: str, psn_no: str, code: str, cnt: int, pric: str) -> dict[str, Any]:
    amount = Decimal(pric) * cnt
    return {
        "feedetl_sn": sn,
        "mdtrt_id": mdtrt_id,
        "psn_no": psn_no,
        "med_list_codg": code,
        "medins_list_codg": f"HIS-{sn}",
        "det_item_fee_sumamt": f"{amount:.2f}",
        "cnt": str(cnt),
        "pric": pric,
        "fee_ocur_time": _now(),
    }


class Workload:
    def __init__(self, his: His, people: list[Person], rng: random.Random) -> None:
        self.his, self.people, self.rng = his, people, rng
        self.flows: Counter[str] = Counter()

    async def worker(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            flow = self.rng.choices(["pharmacy", "outpatient", "inpatient"], weights=[6, 2, 2])[0]
            person = self.rng.choice(self.people)
            self.flows[flow] += 1
            if flow == "pharmacy":
                settled = await self.pharmacy(person)
            elif flow == "outpatient":
                settled = await self.outpatient(person)
            else:
                settled = await self.inpatient(person)
            for message in settled:
                await self.afterwards(message)

    async def afterwards(self, message: Message) -> None:
        """What a HIS does next with a settling message: nothing, repeat it, reverse it, or 冲正 it (always
        when its outcome is unknown and the HIS chooses not to repeat it)."""
        unknown = message.outcome() is None
        choice = self.rng.random()
        if unknown and choice < 0.5:
            await self.his.until_known(message, tries=6, pause_s=0.5)
        elif unknown or choice < 0.12:
            await self.void(message)
        elif choice < 0.22:
            await self.his.send_once(message)  # a duplicate: the same envelope again
        elif choice < 0.32:
            await self.reverse(message)
        elif choice < 0.40:
            # Two terminals at once: the message again, two 2601s of it and a reversal.
            await asyncio.gather(
                self.his.send_once(message), self.void(message), self.void(message), self.reverse(message)
            )

    async def void(self, original: Message) -> None:
        data = original.envelope["input"]
        psn_no = data.get("druginfo", data.get("data", {})).get("psn_no", "")
        institution = PHARMACY if original.infno == "2102" else HOSPITAL
        body = {"data": {"psn_no": psn_no, "omsgid": original.msgid, "oinfno": original.infno}}
        await self.his.send("2601", body, institution)

    async def reverse(self, original: Message) -> None:
        answer = original.outcome()
        if answer is None or answer.get("infcode") != 0:
            return
        setl = answer["output"]["setlinfo"]
        body = {"data": {"setl_id": setl["setl_id"], "psn_no": setl["psn_no"], "mdtrt_id": setl["mdtrt_id"]}}
        if original.infno == "2102":
            await self.his.send("2103", body, PHARMACY)
        else:
            await self.his.send("2208" if original.infno == "2207" else "2305", body, HOSPITAL)

    async def pharmacy(self, person: Person) -> list[Message]:
        units = self.rng.randint(1, 6)
        amount = Decimal(20) * units
        body = {
            "druginfo": {
                "psn_no": person.psn_no,
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": person.certno,
                "begntime": _now(),
                "medfee_sumamt": f"{amount:.2f}",
                "insutype": "390",
                "acct_used_flag": "0",
                "med_type": "41",
            },
            "drugdetail": [
                {
                    "feedetl_sn": "1",
                    "med_list_codg": DANSHEN,
                    "medins_list_codg": "YP2",
                    "det_item_fee_sumamt": f"{amount:.2f}",
                    "cnt": str(units),
                    "pric": "20",
                }
            ],
        }
        return [await self.his.send("2102", body, PHARMACY)]

    async def _step(self, infno: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """A step of an encounter: its output, or None when it did not go through (the flow is dropped)."""
        message = await self.his.send(infno, body, HOSPITAL)
        answer = message.outcome()
        if answer is None or answer.get("infcode") != 0:
            return None
        output: dict[str, Any] = answer["output"]
        return output

    async def outpatient(self, person: Person) -> list[Message]:
        opened = await self._step(
            "2201",
            {
                "data": {
                    "psn_no": person.psn_no,
                    "insutype": "390",
                    "begntime": _now(),
                    "mdtrt_cert_type": "02",
                    "mdtrt_cert_no": person.certno,
                    "ipt_otp_no": f"MZ{self.rng.randrange(10**9)}",
                }
            },
        )
        if opened is None:
            return []
        mdtrt_id = opened["data"]["mdtrt_id"]
        units = self.rng.randint(1, 4)
        fee = _fee("1", mdtrt_id, person.psn_no, DANSHEN, units, "20")
        fee["chrg_bchno"] = "B1"
        if await self._step("2204", {"feedetail": [fee]}) is None:
            return []
        body = {
            "data": {
                "psn_no": person.psn_no,
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": person.certno,
                "med_type": "11",
                "medfee_sumamt": fee["det_item_fee_sumamt"],
                "psn_setlway": "01",
                "mdtrt_id": mdtrt_id,
                "chrg_bchno": "B1",
                "insutype": "390",
                "acct_used_flag": "0",
            }
        }
        return [await self.his.send("2207", body, HOSPITAL)]

    async def inpatient(self, person: Person) -> list[Message]:
        """Admission, fees, an interim settlement of what is uploaded so far, more fees, discharge and the
        final settlement of the rest."""
        admitted = await self._step(
            "2401",
            {
                "mdtrtinfo": {
                    "psn_no": person.psn_no,
                    "insutype": "390",
                    "begntime": _now(),
                    "mdtrt_cert_type": "02",
                    "mdtrt_cert_no": person.certno,
                    "med_type": "21",
                    "ipt_no": f"ZY{self.rng.randrange(10**9)}",
                }
            },
        )
        if admitted is None:
            return []
        stay = admitted["result"]["mdtrt_id"]
        settled: list[Message] = []
        sn = itertools.count(1)
        for part, mid in (("mid", "1"), ("final", "0")):
            fees = [
                _fee(str(next(sn)), stay, person.psn_no, self.rng.choice([DANSHEN, AMOXICILLIN]), cnt, pric)
                for cnt, pric in ((self.rng.randint(1, 30), "20"), (self.rng.randint(1, 60), "0.5"))
            ]
            if await self._step("2301", {"feedetail": fees}) is None:
                return settled
            if part == "final":
                discharge = {
                    "dscginfo": {
                        "mdtrt_id": stay,
                        "psn_no": person.psn_no,
                        "insutype": "390",
                        "endtime": _now(),
                    }
                }
                if await self._step("2402", discharge) is None:
                    return settled
            total = sum(Decimal(f["det_item_fee_sumamt"]) for f in fees)
            body = {
                "data": {
                    "psn_no": person.psn_no,
                    "mdtrt_cert_type": "02",
                    "mdtrt_cert_no": person.certno,
                    "medfee_sumamt": f"{total:.2f}",
                    "psn_setlway": "01",
                    "mdtrt_id": stay,
                    "insutype": "390",
                    "acct_used_flag": "0",
                    "mid_setl_flag": mid,
                }
            }
            message = await self.his.send("2304", body, HOSPITAL)
            settled.append(message)
            if message.outcome() is None or message.outcome().get("infcode") != 0:  # type: ignore[union-attr]
                return settled
        return settled


# --- the checker ----------------------------------------------------------------------------------------


def _fen(value: Any) -> int:
    return int((Decimal(str(value)) * 100).to_integral_value())


async def check(platform: Platform, his: His) -> list[str]:
    """Every invariant of the module docstring; the list of what does not hold (empty: all hold)."""
    problems: list[str] = []
    rows = await platform.query(
        "settlement",
        "SELECT setl_id, msgid, psn_no, status, reversal_of, reversed_by, fund_paid_total_fen, "
        "cash_paid_fen, ytd_delta FROM settlements",
    )
    by_setl = {r[0]: r for r in rows}
    by_msgid = {r[1]: r for r in rows}
    reversals: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if r[4] is not None:
            reversals[r[4]].append(r[0])
    # 1. at most one reversal, and "reversed" exactly when there is one
    for setl_id, made in reversals.items():
        if len(made) > 1:
            problems.append(f"{setl_id} reversed {len(made)} times: {made}")
    for r in rows:
        if r[3] != "reversal" and (r[3] == "reversed") != (r[0] in reversals):
            problems.append(f"{r[0]} has status {r[3]} and {len(reversals.get(r[0], []))} reversals")
    told: set[str] = set()
    for message in his.messages.values():
        outcome = message.outcome()
        if outcome is None:
            problems.append(f"{message.infno} {message.msgid}: outcome still unknown after healing")
            continue
        later = [a for a in message.known()[1:]]
        # 4. the same answer when repeated (a settlement voided since by 2601 answers E_VOIDED)
        for again in later:
            if again.get("infcode") == 0 and json.dumps(again["output"], default=str) != json.dumps(
                outcome.get("output"), default=str
            ):
                problems.append(f"{message.msgid}: repeated answer differs from the first")
            if again.get("infcode") != 0 and outcome.get("infcode") == 0 and _code(again) != "E_VOIDED":
                problems.append(f"{message.msgid}: succeeded, then answered {again.get('err_msg')}")
        if outcome.get("infcode") != 0:
            continue
        output = outcome["output"]
        if message.infno == "2601":
            data = output["data"]
            original = by_msgid.get(data["omsgid"])
            # 2. voided: nothing under omsgid; reversed: the original reversed by the reversal named
            if data["outcome"] == "voided" and original is not None:
                problems.append(f"2601 {message.msgid} answered voided, but {data['omsgid']} settled")
            if data["outcome"] == "reversed" and (original is None or original[5] != data["setl_id"]):
                problems.append(f"2601 {message.msgid} answered reversed by {data['setl_id']}: {original}")
            continue
        if message.infno in SETTLING | REVERSING:
            setl = output["setlinfo"]
            row = by_setl.get(setl["setl_id"])
            # 3. what the HIS was told exists, with those amounts
            if row is None:
                problems.append(f"{message.infno} {message.msgid}: told {setl['setl_id']}, no such row")
                continue
            told.add(row[0])
            if (_fen(setl["fund_pay_sumamt"]), _fen(setl["psn_cash_pay"])) != (row[6], row[7]):
                problems.append(
                    f"{row[0]}: HIS told {setl['fund_pay_sumamt']}/{setl['psn_cash_pay']}, {row[6:8]}"
                )
    for r in rows:
        if r[3] == "settled" and r[0] not in told:
            problems.append(f"{r[0]} (msgid {r[1]}) stands, but the HIS was never told it settled")
    # 5. yearly totals
    standing: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        if r[3] == "settled":
            delta = r[8] if isinstance(r[8], dict) else json.loads(r[8])
            standing[r[2]].update({k: int(v) for k, v in delta.items()})
            standing[r[2]]["settlement_count"] += 1
    accumulators = await platform.query(
        "settlement",
        "SELECT psn_no, outpatient_deductible_fen, outpatient_paid_fen, pooled_paid_fen, admissions, "
        "settlement_count FROM year_accumulators",
    )
    names = ("outpatient_deductible_fen", "outpatient_paid_fen", "pooled_paid_fen", "admissions")
    for acc in accumulators:
        expected = standing.get(acc[0], Counter())
        got = dict(zip((*names, "settlement_count"), acc[1:], strict=True))
        want = {name: expected.get(name, 0) for name in (*names, "settlement_count")}
        if got != want:
            problems.append(f"totals of {acc[0]}: {got} != what standing settlements added {want}")
    # 6. the ledger: each paying settlement and reversal once, with its amount; nothing else; balanced
    entries = await platform.query(
        "ledger",
        "SELECT source_id, total_fen FROM journal_entries "
        "WHERE source_type IN ('settlement', 'settlement_reversal')",
    )
    booked = Counter(e[0] for e in entries)
    totals = {e[0]: int(e[1]) for e in entries}
    for r in rows:
        if r[6] != 0 and booked[r[0]] != 1:
            problems.append(f"{r[0]} (fund {r[6]}) booked {booked[r[0]]} times")
        elif r[6] != 0 and totals[r[0]] != abs(r[6]):
            problems.append(f"{r[0]} booked {totals[r[0]]}, fund paid {r[6]}")
    for source_id in booked:
        if source_id not in by_setl:
            problems.append(f"ledger entry for {source_id}, which settlement does not have")
    [(imbalance,)] = await platform.query(
        "ledger", "SELECT coalesce(sum(debit_fen - credit_fen), 0) FROM postings"
    )
    if imbalance != 0:
        problems.append(f"trial balance off by {imbalance}")
    return problems


async def wait_for_ledger(platform: Platform, timeout_s: float) -> None:
    """Until every paying settlement and reversal is booked (or the time is up: the checker says what is
    missing)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        paying = await platform.query(
            "settlement", "SELECT setl_id FROM settlements WHERE fund_paid_total_fen <> 0"
        )
        booked = await platform.query(
            "ledger",
            "SELECT source_id FROM journal_entries "
            "WHERE source_type IN ('settlement', 'settlement_reversal')",
        )
        if {r[0] for r in paying} <= {r[0] for r in booked}:
            return
        await asyncio.sleep(0.5)


@dataclass
class Result:
    seed: int
    backend: str
    faults: list[Fault]
    messages: int
    flows: dict[str, int]
    answers: dict[str, int]
    settlements: int
    problems: list[str]
    events: list[str]

    def summary(self) -> str:
        return (
            f"nemesis seed={self.seed} backend={self.backend}: {len(self.faults)} faults, "
            f"{self.messages} messages, flows {self.flows}, answers {self.answers}, "
            f"{self.settlements} settlement rows, {len(self.problems)} problems"
        )


async def run(
    seed: int,
    backend: str,
    duration_s: float,
    work: Path,
    *,
    server: PostgresServer | None = None,
    workers: int = 4,
    people: int = 12,
) -> Result:
    rng = random.Random(seed)
    faults = schedule(rng, duration_s)
    platform = Platform(backend, work, server)
    platform.start()
    token = issue_token(DEV_AUTH_SECRET, "nemesis", [ADMINISTRATOR])
    try:
        async with httpx.AsyncClient(timeout=10, headers={"Authorization": f"Bearer {token}"}) as client:
            await load_demo(
                platform.url("enrollment"),
                platform.url("settlement"),
                gateway_url=platform.url("gateway"),
                echo=lambda _: None,
            )
            persons = await enroll(client, platform, people, seed)
            his = His(platform, client)
            await his.sign_in()
            workload = Workload(his, persons, random.Random(rng.random()))
            started = time.monotonic()
            deadline = started + duration_s
            await asyncio.gather(
                run_schedule(platform, faults, started),
                *[workload.worker(deadline) for _ in range(workers)],
            )
            await asyncio.to_thread(platform.heal)
            # Every message whose outcome the HIS does not know is sent again under its own msgid.
            for message in list(his.messages.values()):
                if message.outcome() is None:
                    await his.until_known(message, tries=20, pause_s=0.5)
            await wait_for_ledger(platform, 90)
            problems = await check(platform, his)
            settlements = len(await platform.query("settlement", "SELECT setl_id FROM settlements"))
            answers = Counter(_code(a) for m in his.messages.values() for a in m.answers)
            return Result(
                seed,
                backend,
                faults,
                len(his.messages),
                dict(workload.flows),
                dict(answers),
                settlements,
                problems,
                platform.events,
            )
    finally:
        platform.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=None, help="replays a run's schedule (default: random)")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of workload and faults")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    with tempfile.TemporaryDirectory(prefix="nemesis-") as tmp:
        server = PostgresServer.start() if args.backend == "postgres" else None
        try:
            result = asyncio.run(
                run(seed, args.backend, args.duration, Path(tmp), server=server, workers=args.workers)
            )
        finally:
            if server is not None:
                server.stop()
    print(result.summary())
    for fault in result.faults:
        print(f"  fault at {fault.at_s:6.2f}s: {fault.action} {fault.target} for {fault.hold_s}s")
    for problem in result.problems:
        print(f"  PROBLEM: {problem}")
    if result.problems:
        print(f"replay: python -m tests.faults.nemesis --seed {seed} --backend {args.backend}")
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
