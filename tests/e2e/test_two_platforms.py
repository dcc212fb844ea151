"""跨省异地就医 between two whole platforms as real processes (docs/interface.md, "Between platforms"):
platform A (the demo: region 341524, its pharmacy P34152400001) and platform B (region 110105), each with
its own broker, its four services on its own ports and its own databases, each configured with the other
as its peer. A reaches B's settlement through a relay in this test process (``Relay``), which lets the test
kill B's settlement at an instant it observes: right after B answered (and committed) a reservation, before
A's confirmation. No fault injection in the product.

Runs once, on the first backend of ``TEST_BACKENDS`` (SQLite by default): two platforms per backend would
double the longest e2e setup for no new path (the services' SQL is tested per backend elsewhere).

B's policy for 110105 (the demo document with outpatient pooling 10.00 yearly deductible, 60 %, 300.00 a
year; unfiled out-of-area care 10 points less: 50 %). A's catalogue classifies: amoxicillin 0.50 a capsule
(甲, capped at 0.50) and captopril (甲, no cap): every line in the policy range.

    1. 60 amoxicillin × 0.50 = 30.00 + 20 captopril × 1.00 = 20.00: bill 50.00;
       B: (50.00 − 10.00 deductible) × 50 % = 20.00 from 390100; cash 30.00
    2. 40 amoxicillin × 0.50 = 20.00: deductible met, 20.00 × 50 % = 10.00; cash 10.00
    3. 30 captopril × 1.00 = 30.00: 30.00 × 50 % = 15.00; reversed (2103): B releases, nothing owed
    B's year: deductible 10.00 met, 20.00 + 10.00 = 30.00 paid by its pooled fund, 2 settlements.

And the other way: 张三, insured on A (the demo: outpatient pooling 20.00 yearly deductible, 50 %; unfiled
out-of-area care 10 points less: 40 %), buys 60 amoxicillin × 0.50 = 30.00 at B's pharmacy P11010500001 (B's
catalogue, the same classification): (30.00 − 20.00) × 40 % = 4.00 from A's pooled fund; cash 26.00.

The month's clearing: B owes A 30.00, A owes B 4.00; each ledger books both directions."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from settlement.policy.document import OutpatientPooling, jinzhai_yutian_demo

from platformctl import examples
from platformctl.demo import (
    CATALOGUE,
    PERSONS,
    PHARMACY,
    REGION,
    REGION_RULES,
    admin_token,
    demo_catalogue_file,
    demo_credentials,
    standards,
)
from platformctl.services import SERVICES
from platformctl.stack import free_port
from shared.clock import CHINA_TZ, now_china
from shared.idcard import make_id_number
from tests.conftest import BACKENDS, eventually
from tests.e2e.conftest import Stack, start_stack, stop_stack

pytestmark = pytest.mark.e2e

B_REGION = "110105"
TOKEN = admin_token()
OPERATOR = {"Authorization": f"Bearer {TOKEN}"}
AMOXICILLIN, CAPTOPRIL = CATALOGUE[0]["med_list_codg"], CATALOGUE[1]["med_list_codg"]


class Relay:
    """A's link to B's settlement service: every call passed on as it is. ``on_answer``: called with the path
    of each answer B gave, before the answer goes back to A (the test kills B there)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.on_answer: Callable[[str], None] | None = None
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def _pass_on(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")
                }
                try:
                    answer = httpx.request(
                        self.command, relay.target + self.path, content=body, headers=headers, timeout=30
                    )
                except httpx.HTTPError:
                    self.send_response(502)  # B is down: A's call stays owed
                    self.end_headers()
                    return
                if relay.on_answer is not None:
                    relay.on_answer(self.path)
                self.send_response(answer.status_code)
                self.send_header("content-type", answer.headers.get("content-type", "application/json"))
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = _pass_on

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Platforms:
    a: Stack
    b: Stack
    relay: Relay
    psn_no: str
    certno: str


def _peer(peer_id: str, url: str, admdvs: str) -> str:
    return json.dumps([{"id": peer_id, "base_url": url, "admdvs": [admdvs], "token": TOKEN}])


@pytest.fixture(scope="module")
def platforms(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platforms]:
    backend = BACKENDS[0]
    a_ports = {name: free_port() for name in SERVICES}
    b_ports = {name: free_port() for name in SERVICES}
    relay = Relay(f"http://127.0.0.1:{b_ports['settlement']}")
    quick = {
        "SETTLEMENT_INTERPLATFORM_RETRY_INTERVAL_S": "1",
        "SETTLEMENT_INTERPLATFORM_EXPIRY_INTERVAL_S": "1",
        # The checks below read each confirmation and release right after the answer: waited for in full
        # (a busy machine may take longer than the default second over real HTTP).
        "SETTLEMENT_INTERPLATFORM_AFTER_COMMIT_WAIT_S": "4",
    }
    a_env = {"settlement": {
        "SETTLEMENT_PLATFORM_ID": "A", **quick,
        "SETTLEMENT_INTERPLATFORM_PEERS": _peer("B", relay.url, B_REGION),
    }}  # fmt: skip
    b_env = {"settlement": {
        "SETTLEMENT_PLATFORM_ID": "B", **quick,
        "SETTLEMENT_INTERPLATFORM_PEERS": _peer("A", f"http://127.0.0.1:{a_ports['settlement']}", REGION),
    }}  # fmt: skip
    stacks: list[Stack] = []
    try:
        a_root: Path = tmp_path_factory.mktemp("platform-a")
        stacks.append(start_stack(request, backend, a_root, a_env, ports=a_ports))
        b_root: Path = tmp_path_factory.mktemp("platform-b")
        stacks.append(start_stack(request, backend, b_root, b_env, ports=b_ports, demo=False))
        psn_no, certno = asyncio.run(_insure_on_b(stacks[1]))
        asyncio.run(_pharmacy_on_b(stacks[1]))
        yield Platforms(stacks[0], stacks[1], relay, psn_no, certno)
    finally:
        for stack in stacks:
            stop_stack(stack)
        relay.close()


async def _insure_on_b(b: Stack) -> tuple[str, str]:
    """B's region 110105 with its policy (the module docstring), one insured person, and money in its
    special account (an audited opening balance of 1,000.00) to pay the clearing from."""
    year = now_china().year
    today = now_china().date()
    certno = make_id_number(B_REGION, date(1985, 3, 12), 31)
    document = jinzhai_yutian_demo().model_copy(
        update={
            "outpatient": OutpatientPooling(deductible_fen=10_00, ratio=Decimal("0.6"), annual_cap_fen=300_00)
        }
    )
    async with httpx.AsyncClient(headers=OPERATOR, timeout=30) as client:
        enrollment, settlement = b.url("enrollment"), b.url("settlement")
        policy = {"admdvs": B_REGION, "insutype": "390", "name": "朝阳区城乡居民医保(演示)",
                  "effective_from": f"{year}-01-01",
                  "document": document.model_dump(mode="json")}  # fmt: skip
        assert (await client.post(f"{settlement}/api/v1/policies", json=policy)).status_code == 201
        rules = {**REGION_RULES, "admdvs": B_REGION, "name": "朝阳区"}
        (await client.put(f"{enrollment}/api/v1/regions/{B_REGION}", json=rules)).raise_for_status()
        for standard in standards(year):
            (
                await client.post(f"{enrollment}/api/v1/regions/{B_REGION}/standards", json=standard)
            ).raise_for_status()
        household = {"household_no": f"{B_REGION}-0001", "admdvs": B_REGION, "address": "朝阳区演示街道",
                     "members": [{"certno": certno, "psn_name": "北京人员", "relation": "head"}]}  # fmt: skip
        (await client.post(f"{enrollment}/api/v1/households", json=household)).raise_for_status()
        found = await client.get(f"{enrollment}/api/v1/persons/lookup", params={"certno": certno})
        psn_no: str = found.json()["person"]["psn_no"]
        payment = {
            "payer": "individual",
            "amount_fen": 30_00,
            "receipt_no": f"B{year}0001",
            "paid_on": str(today),
        }
        enrolled = await client.post(
            f"{enrollment}/api/v1/enrollments", json={"psn_no": psn_no, "year": year, "payment": payment}
        )
        assert enrolled.status_code == 201, enrolled.text

        async def covered() -> bool:
            return (await client.get(f"{settlement}/api/v1/eligibility/{psn_no}")).status_code == 200

        await eventually(covered, timeout_s=60)
        opening = {"admdvs": B_REGION, "insutype": "390", "as_of": str(today), "special_account_fen": 1000_00,
                   "audited_by": "审计局", "audit_ref": "审110105"}  # fmt: skip
        opened = await client.post(f"{b.url('ledger')}/api/v1/opening-balances", json=opening)
        assert opened.status_code == 201, opened.text
    return psn_no, certno


B_PHARMACY, B_PHARMACY_NAME = "P11010500001", "朝阳区惠民药房"


async def _pharmacy_on_b(b: Stack) -> None:
    """B's pharmacy: its agreement, its credentials at B's gateway, and the two drugs of the tests in B's
    catalogue (the rows of the demo sample: the same classification as A's)."""
    rows = list(csv.reader(io.StringIO(demo_catalogue_file())))
    kept = [rows[0]] + [r for r in rows[1:] if r[0] in (AMOXICILLIN, CAPTOPRIL)]
    text = io.StringIO()
    csv.writer(text).writerows(kept)
    paasid, secret = demo_credentials(B_PHARMACY)
    async with httpx.AsyncClient(headers=OPERATOR, timeout=60) as client:
        registered = await client.put(
            f"{b.url('gateway')}/api/v1/institutions/{B_PHARMACY}",
            json={"fixmedins_name": B_PHARMACY_NAME, "paasid": paasid, "secret": secret},
        )
        assert registered.status_code in (200, 201), registered.text
        pharmacy = {"fixmedins_code": B_PHARMACY, "fixmedins_name": B_PHARMACY_NAME, "fixmedins_type": "2",
                    "hosp_lv": "9", "admdvs": B_REGION,
                    "agreement_begin": f"{now_china().year - 1}-01-01"}  # fmt: skip
        created = await client.post(f"{b.url('settlement')}/api/v1/institutions", json=pharmacy)
        assert created.status_code == 201, created.text
        imported = await client.post(
            f"{b.url('settlement')}/api/v1/catalogue/items/import",
            content=text.getvalue().encode("utf-8"),
            headers={"content-type": "text/csv"},
        )
        assert imported.status_code == 200 and imported.json()["imported"] == 2, imported.text


_sequence = iter(range(8100, 9000))


def _line(sn: str, code: object, cnt: int, pric: str, when: str) -> dict[str, Any]:
    amount = Decimal(pric) * cnt
    return {"feedetl_sn": sn, "rxno": "", "rx_circ_flag": "0", "fee_ocur_time": when, "med_list_codg": code,
            "medins_list_codg": f"YP{sn}", "det_item_fee_sumamt": f"{amount:.2f}", "cnt": str(cnt),
            "pric": pric, "prd_days": "7"}  # fmt: skip


def _purchase(p: Platforms, lines: list[tuple[object, int, str]]) -> dict[str, Any]:
    """A 2102 at A's pharmacy for B's insured (insuplc_admdvs 110105), as the pharmacy's HIS sends it."""
    when = now_china().strftime("%Y-%m-%d %H:%M:%S")
    detail = [_line(str(n), code, cnt, pric, when) for n, (code, cnt, pric) in enumerate(lines, 1)]
    total = sum(Decimal(x["det_item_fee_sumamt"]) for x in detail)
    info = {"psn_no": p.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": p.certno, "begntime": when,
            "medfee_sumamt": f"{total:.2f}", "invono": "", "insutype": "390", "acct_used_flag": "0",
            "med_type": "41"}  # fmt: skip
    body = {"druginfo": info, "drugdetail": detail}
    return examples.envelope("2102", examples.msgid(next(_sequence)), body, insuplc_admdvs=B_REGION)


async def _ok(p: Platforms, client: httpx.AsyncClient, envelope: dict[str, Any]) -> dict[str, Any]:
    answer = await p.a.call(client, envelope)
    assert answer["infcode"] == 0, answer["err_msg"]
    output: dict[str, Any] = answer["output"]
    return output


async def _balances(client: httpx.AsyncClient, stack: Stack, admdvs: str) -> dict[tuple[str, str], int]:
    rows = (
        await client.get(f"{stack.url('ledger')}/api/v1/accounts/balances", params={"admdvs": admdvs})
    ).json()
    return {(a["code"], a["counterparty"]): a["balance_fen"] for a in rows if a["balance_fen"] != 0}


async def _peer_settlements(client: httpx.AsyncClient, p: Platforms) -> dict[str, dict[str, Any]]:
    rows = (await client.get(f"{p.a.url('settlement')}/api/v1/interplatform/peer-settlements")).json()
    return {row["setl_id"]: row for row in rows}


async def _b_items(client: httpx.AsyncClient, p: Platforms, month: str) -> dict[str, dict[str, Any]]:
    """B's own record of A's care of its insured (its statement's ``insured`` items), by A's setl_id."""
    url = f"{p.b.url('settlement')}/api/v1/interplatform/statements/{month}"
    statement = (await client.get(url, params={"peer": "A"})).json()
    return {item["reservation_id"]: item for item in statement["insured"]}


async def _b_year(client: httpx.AsyncClient, p: Platforms) -> dict[str, Any]:
    body = {"msgid": "Q1", "platform": "A", "psn_no": p.psn_no, "insutype": "390",
            "begntime": now_china().isoformat()}  # fmt: skip
    response = await client.post(f"{p.b.url('settlement')}/api/v1/interplatform/eligibility", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _month(expires_at: str) -> str:
    return f"{datetime.fromisoformat(expires_at).astimezone(CHINA_TZ):%Y-%m}"


async def test_two_platforms_settle_survive_a_crash_between_reserve_and_confirm_and_clear_the_month(
    platforms: Platforms,
) -> None:
    p = platforms
    async with httpx.AsyncClient(headers=OPERATOR, timeout=30) as client:
        # 1. B's settlement is killed (SIGKILL) the moment it has answered the reservation, before A's
        # confirmation: A's HIS is answered (A committed), the confirmation finds B down and stays owed.
        killed: list[str] = []

        def crash(path: str) -> None:
            if path.endswith("/reservations") and not killed:
                p.b.services["settlement"].kill()
                killed.append(path)

        p.relay.on_answer = crash
        first = await _ok(p, client, _purchase(p, [(AMOXICILLIN, 60, "0.50"), (CAPTOPRIL, 20, "1.00")]))
        p.relay.on_answer = None
        assert killed, "B's settlement was not killed after the reservation"
        info = first["setlinfo"]
        assert (info["pay_loc"], info["insuplc_admdvs"], info["psn_name"]) == ("4", B_REGION, "北京人员")
        # (50.00 − 10.00) × 50 % = 20.00; cash 50.00 − 20.00 = 30.00.
        assert (info["medfee_sumamt"], info["hifp_pay"], info["psn_cash_pay"]) == (
            Decimal("50.00"), Decimal("20.00"), Decimal("30.00"),
        )  # fmt: skip
        owed = (await _peer_settlements(client, p))[info["setl_id"]]
        assert owed["status"] == "reserved"  # the confirmation is owed

        # B comes back; A's loop sends the confirmation again (same msgid) within the hold: confirmed on
        # both sides (docs/interface.md: a confirmation that arrives before expires_at confirms).
        p.b.services["settlement"].start()
        p.b.services["settlement"].wait_ready()

        async def confirmed() -> bool:
            return (await _peer_settlements(client, p))[info["setl_id"]]["status"] == "confirmed"

        await eventually(confirmed, timeout_s=60)
        month = _month(owed["expires_at"])
        theirs = (await _b_items(client, p, month))[owed["reservation_id"]]
        assert (theirs["status"], theirs["treating_setl_id"], theirs["fund_paid_total_fen"]) == (
            "confirmed", info["setl_id"], 20_00,
        )  # fmt: skip

        # 2. and 3.: two more purchases, the third reversed (2103): B releases its reservation.
        second = (await _ok(p, client, _purchase(p, [(AMOXICILLIN, 40, "0.50")])))["setlinfo"]
        assert (second["hifp_pay"], second["psn_cash_pay"]) == (Decimal("10.00"), Decimal("10.00"))
        third = (await _ok(p, client, _purchase(p, [(CAPTOPRIL, 30, "1.00")])))["setlinfo"]
        assert third["hifp_pay"] == Decimal("15.00")  # 30.00 × 50 %
        undo = {"data": {"setl_id": third["setl_id"], "mdtrt_id": third["mdtrt_id"], "psn_no": p.psn_no}}
        reversal = await _ok(
            p,
            client,
            examples.envelope("2103", examples.msgid(next(_sequence)), undo, insuplc_admdvs=B_REGION),
        )
        assert reversal["setlinfo"]["hifp_pay"] == Decimal("-15.00")

        # B's year (hand-computed in the module docstring): deductible 10.00, 20.00 + 10.00 = 30.00 paid, two
        # settlements; the reversed one given back.
        year = await _b_year(client, p)
        assert (year["totals"]["outpatient_deductible_fen"], year["totals"]["outpatient_paid_fen"]) == (
            10_00, 30_00,
        )  # fmt: skip
        assert year["settlement_count"] == 2
        rows = await _peer_settlements(client, p)
        assert [rows[s["setl_id"]]["status"] for s in (info, second, third)] == [
            "confirmed", "confirmed", "released",
        ]  # fmt: skip
        assert rows[third["setl_id"]]["release_reason"] == "reversal"

        # Both ledgers book their side through their own brokers: A is owed 20.00 + 10.00 (+ 15.00 − 15.00)
        # = 30.00 by B (1303) and owes its pharmacy as much (2101); B owes A the same (2106).
        async def booked() -> bool:
            a = await _balances(client, p.a, REGION)
            b = await _balances(client, p.b, B_REGION)
            return a.get(("1303", "B")) == 30_00 and b.get(("2106", "A")) == 30_00

        await eventually(booked, timeout_s=60)
        a_books = await _balances(client, p.a, REGION)
        assert a_books[("2101", PHARMACY["fixmedins_code"])] == 30_00

        # The other way: A's insured at B's pharmacy, through B's gateway (module docstring: 4.00, cash
        # 26.00).
        zhang = PERSONS[0]
        when = now_china().strftime("%Y-%m-%d %H:%M:%S")
        drug = {"psn_no": p.a.psn_nos[zhang.certno], "mdtrt_cert_type": "02", "mdtrt_cert_no": zhang.certno,
                "begntime": when, "medfee_sumamt": "30.00", "invono": "", "insutype": "390",
                "acct_used_flag": "0", "med_type": "41"}  # fmt: skip
        body = {"druginfo": drug, "drugdetail": [_line("1", AMOXICILLIN, 60, "0.50", when)]}
        envelope = examples.envelope(
            "2102", examples.msgid(next(_sequence), B_PHARMACY), body, insuplc_admdvs=REGION,
            fixmedins_code=B_PHARMACY, fixmedins_name=B_PHARMACY_NAME,
        )  # fmt: skip
        answer = await p.b.call(client, {**envelope, "mdtrtarea_admvs": B_REGION}, sign_as=B_PHARMACY)
        assert answer["infcode"] == 0, answer["err_msg"]
        away = answer["output"]["setlinfo"]
        assert (away["pay_loc"], away["insuplc_admdvs"], away["psn_name"]) == ("4", REGION, zhang.name)
        assert (away["hifp_pay"], away["psn_cash_pay"]) == (Decimal("4.00"), Decimal("26.00"))

        async def booked_back() -> bool:
            a = await _balances(client, p.a, REGION)
            b = await _balances(client, p.b, B_REGION)
            return a.get(("2106", "B")) == 4_00 and b.get(("1303", "A")) == 4_00

        await eventually(booked_back, timeout_s=60)

        # The month's clearing, each platform from its own records, reconciled against the other's statement.
        cleared_a = await client.post(
            f"{p.a.url('ledger')}/api/v1/inter-platform-clearings", json={"month": month, "peer": "B"}
        )
        assert cleared_a.status_code == 201, cleared_a.text
        report = cleared_a.json()["reconciliation"]["receivable"]
        assert (report["matched"], report["matched_fen"], report["released"], report["reconciled"]) == (
            2, 30_00, 1, True,
        )  # fmt: skip
        assert report["only_here"] == report["only_there"] == report["amount_differences"] == []
        owes = cleared_a.json()["reconciliation"]["payable"]
        assert (owes["matched"], owes["matched_fen"], owes["reconciled"]) == (1, 4_00, True)
        assert cleared_a.json()["receivable"]["status"] == cleared_a.json()["payable"]["status"] == "cleared"
        cleared_b = await client.post(
            f"{p.b.url('ledger')}/api/v1/inter-platform-clearings", json={"month": month, "peer": "A"}
        )
        assert cleared_b.status_code == 201, cleared_b.text
        mirror = cleared_b.json()["reconciliation"]["payable"]
        assert (mirror["matched"], mirror["matched_fen"], mirror["released"], mirror["reconciled"]) == (
            2, 30_00, 1, True,
        )  # fmt: skip
        assert cleared_b.json()["reconciliation"]["receivable"]["matched_fen"] == 4_00
        # The due balances go to zero against the special accounts: A received 30.00 and paid 4.00 (26.00
        # left); B paid 30.00 out of its 1,000.00 and received 4.00 (974.00).
        a_books = await _balances(client, p.a, REGION)
        b_books = await _balances(client, p.b, B_REGION)
        assert not {("1303", "B"), ("2106", "B")} & a_books.keys() and a_books[("1002", "")] == 26_00
        assert not {("1303", "A"), ("2106", "A")} & b_books.keys() and b_books[("1002", "")] == 974_00
        # The operator's command shows the same report (and books nothing more).
        command = [sys.executable, "-m", "platformctl", "inter-platform-clearing", "--month", month,
                   "--peer", "B", "--run", "--settlement-url", p.a.url("settlement"),
                   "--ledger-url", p.a.url("ledger")]  # fmt: skip
        shown = await asyncio.to_thread(
            subprocess.run, command, capture_output=True, text=True, timeout=120, check=False
        )
        assert shown.returncode == 0, shown.stderr
        assert "相符 2 笔 30.00 元, 双方已撤销 1 笔" in shown.stdout, shown.stdout
        # Once: a second run books nothing more.
        again = await client.post(
            f"{p.a.url('ledger')}/api/v1/inter-platform-clearings", json={"month": month, "peer": "B"}
        )
        assert again.status_code == 200 and again.json()["replayed"] is True
        for stack in (p.a, p.b):
            assert (await client.get(f"{stack.url('ledger')}/api/v1/chain/verify")).json()["ok"] is True
