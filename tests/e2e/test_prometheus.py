"""The monitoring that operations will look at, against the real platform: a real Prometheus (Debian's
``prometheus`` package, installed here when missing) scrapes the four services while counters settle,
then every Grafana panel query and every alert rule in ``deploy/`` is evaluated through Prometheus's HTTP
API. A panel that shows "No data" on a working platform, or a rule Prometheus cannot evaluate, fails here.

Prometheus scrapes every second and the ledger's own scheduler ticks every second (integrity check every
2 s) in this module's stack, so the whole check adds some tens of seconds to the stack's start."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from platformctl import examples
from platformctl.demo import PERSONS, PHARMACY, REGION, demo_credentials
from platformctl.stack import free_port, wait_for_port
from shared.clock import now_china
from tests.conftest import BACKENDS, eventually
from tests.e2e.conftest import Stack
from tests.e2e.test_money_layers import _insured
from tests.e2e.test_out_of_area import AWAY_HOSPITAL, AWAY_REGION, _ok, _stay
from tests.support import prometheus as prometheus_support
from tests.support.apps import ADMIN_TOKEN

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
RULE_FILES = sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))
#: deploy/prometheus/prometheus.yml's job names -> the stack's service names.
OPERATOR = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
JOBS = {"gateway": "gateway", "enrollment": "enrollment", "settlement": "settlement", "fund-ledger": "ledger"}
#: How long Prometheus may take to have scraped enough samples for every query (normally a few seconds).
SETTLE_S = 90.0
_sequence = itertools.count(7000)


@pytest.fixture(scope="module")
def stack_env() -> dict[str, dict[str, str]]:
    """The ledger's scheduler ticks fast here, so that its gauges (bank balances, months of payment, chain
    verified) and job counters have data seconds after the scenario. Its daily sweep moves only money
    posted before today (Beijing time), so the scenario's postings stay where they are."""
    return {"ledger": {"LEDGER_SCHEDULE_INTERVAL_S": "1", "LEDGER_INTEGRITY_CHECK_INTERVAL_S": "2"}}


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    return prometheus_support.binary("prometheus")


def scrape_config(stack: Stack, rules: list[Path]) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with the stack's loopback ports and a 1 s interval: the same job
    names and labels the dashboards and alerts were written against."""
    config: dict[str, Any] = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(path) for path in rules]
    jobs = []
    for job in config["scrape_configs"]:
        if job["job_name"] not in JOBS:
            continue
        port = stack.services[JOBS[job["job_name"]]].port
        for static in job["static_configs"]:
            static["targets"] = [f"127.0.0.1:{port}"]
        jobs.append(job)
    assert {job["job_name"] for job in jobs} == set(JOBS), "a service has no scrape job in deploy/"
    config["scrape_configs"] = jobs
    return config


@pytest.fixture(scope="module")
def prometheus(prometheus_bin: str, stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("prometheus")
    config_file = root / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(scrape_config(stack, RULE_FILES)), encoding="utf-8")
    port = free_port()
    log = open(root / "prometheus.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        [
            prometheus_bin,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_port("127.0.0.1", port)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel title, expression) for every target of every panel."""
    queries = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                queries.append((path.stem, panel["title"], target["expr"]))
    return queries


def rule_names() -> set[str]:
    names = set()
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            names |= {rule.get("alert") or rule["record"] for rule in group["rules"]}
    return names


def _msgid() -> str:
    return examples.msgid(next(_sequence))


async def _out_of_area_stays(stack: Stack, client: httpx.AsyncClient) -> None:
    paasid, secret = demo_credentials(AWAY_HOSPITAL)
    registered = await client.put(
        f"{stack.url('gateway')}/api/v1/institutions/{AWAY_HOSPITAL}",
        json={"fixmedins_name": "金安区医院", "paasid": paasid, "secret": secret},
    )
    assert registered.status_code in (200, 201), registered.text
    hospital = {
        "fixmedins_code": AWAY_HOSPITAL, "fixmedins_name": "金安区医院", "fixmedins_type": "1",
        "hosp_lv": "2", "admdvs": AWAY_REGION, "agreement_begin": f"{now_china().year - 1}-01-01",
    }  # fmt: skip
    created = await client.post(f"{stack.url('settlement')}/api/v1/institutions", json=hospital)
    assert created.status_code == 201, created.text
    psn_no, certno = await _insured(client, stack)
    await _stay(stack, client, psn_no, certno, "2000.00")
    second_id, second = await _stay(stack, client, psn_no, certno, "1000.00")
    body = {"data": {"mdtrt_id": second_id, "setl_id": second["setl_id"], "psn_no": psn_no}}
    await _ok(stack, client, "2305", body)


async def _counter_day(stack: Stack) -> None:
    """Some of everything the dashboards show: settlements, a replay, a reversal, refusals."""
    person = PERSONS[0]
    psn_no = stack.psn_nos[person.certno]
    async with httpx.AsyncClient(timeout=30, headers=OPERATOR) as client:
        lookup = await stack.call(client, dict(examples.example_1101(person.certno), msgid=_msgid()))
        assert lookup["infcode"] == 0, lookup["err_msg"]
        settled = []
        for _ in range(3):
            answer = await stack.call(
                client, dict(examples.example_2102(psn_no, person.certno), msgid=_msgid())
            )
            assert answer["infcode"] == 0, answer["err_msg"]
            settled.append(answer)
        # The counter did not get the answer and sends the same message again.
        first_envelope = dict(examples.example_2102(psn_no, person.certno), msgid=_msgid())
        first = await stack.call(client, first_envelope)
        assert await stack.call(client, first_envelope) == first
        setl = settled[0]["output"]["setlinfo"]
        undo = await stack.call(
            client,
            examples.envelope(
                "2103",
                _msgid(),
                {"data": {"setl_id": setl["setl_id"], "mdtrt_id": setl["mdtrt_id"], "psn_no": psn_no}},
                insuplc_admdvs=REGION,
            ),
        )
        assert undo["infcode"] == 0, undo["err_msg"]
        # Refused at the settlement service: nobody with this psn_no is insured.
        refused = await stack.call(
            client, dict(examples.example_2102("X0000000", person.certno), msgid=_msgid())
        )
        assert refused["infcode"] == -1
        # A code of the acceptance lists the platform does not answer (the trail row counts them by code).
        unsupported = await stack.call(client, examples.envelope("4401", _msgid(), {"data": {}}))
        assert unsupported["infcode"] == -1 and unsupported["err_msg"].startswith("[E_INFNO]")

        # Out-of-area care (the dashboard's out-of-area row): a person of this region at region B's
        # hospital, one stay settled and a second one reversed, as tests/e2e/test_out_of_area.py does.
        await _out_of_area_stays(stack, client)

        async def booked() -> bool:
            response = await client.get(f"{stack.url('ledger')}/api/v1/journal", params={"limit": 1000})
            sources = {entry["source_id"] for entry in response.json()}
            return undo["output"]["setlinfo"]["setl_id"] in sources

        await eventually(booked, timeout_s=30)


CLEARED = {"admdvs": REGION, "insutype": "390"}


async def _clearing_batch(stack: Stack, prometheus: str) -> int:
    """An operator clears today for the pharmacy; returns what the batch moved in fen (paid + deposit +
    carried forward). Posted once Prometheus holds the region's clearing counters at 0, as it would in
    production, where they are exported long before a month's batch."""
    async with httpx.AsyncClient(timeout=30, headers=OPERATOR) as client:
        selector = ",".join(f'{k}="{v}"' for k, v in CLEARED.items())

        async def zero_scraped() -> bool:
            return bool(await _query(client, prometheus, f"ledger_clearing_fen_total{{{selector}}} == 0"))

        await eventually(zero_scraped, timeout_s=30, interval_s=0.5)
        today = now_china().date().isoformat()
        response = await client.post(
            f"{stack.url('ledger')}/api/v1/clearing-batches",
            json={
                "batch_id": "E2E-PROMETHEUS-1",
                **CLEARED,
                "fixmedins_code": PHARMACY["fixmedins_code"],
                "period_from": today,
                "period_to": today,
            },
        )
        assert response.status_code == 201, response.text
        batch = response.json()
    assert batch["owed_fen"] > 0, batch  # the scenario's settlements, less the reversal
    moved: int = batch["paid_fen"] + batch["deposit_fen"] + batch["carried_forward_fen"]
    return moved


async def _query(
    client: httpx.AsyncClient, prometheus: str, expr: str, at: float | None = None
) -> list[dict[str, Any]]:
    params: dict[str, str | float] = {"query": expr}
    if at is not None:
        params["time"] = at
    response = await client.get(f"{prometheus}/api/v1/query", params=params)
    body = response.json()
    assert body["status"] == "success", f"{expr}: {body.get('error')}"
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


async def _rules(client: httpx.AsyncClient, prometheus: str) -> dict[str, dict[str, Any]]:
    body = (await client.get(f"{prometheus}/api/v1/rules")).json()
    assert body["status"] == "success"
    return {rule["name"]: rule for group in body["data"]["groups"] for rule in group["rules"]}


@pytest.mark.parametrize("stack", BACKENDS[:1], indirect=True)
async def test_every_panel_has_data_and_every_rule_loads(stack: Stack, prometheus: str) -> None:
    await _counter_day(stack)
    cleared_fen = await _clearing_batch(stack, prometheus)
    queries = panel_queries()
    expected_rules = rule_names()
    assert len(DASHBOARDS) == 3 and queries and expected_rules

    # Wait until Prometheus has scraped the scenario twice (rate() needs two samples) and has evaluated
    # every rule once; then every answer below is final.
    deadline = time.monotonic() + SETTLE_S
    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            empty = [q for q in queries if not await _query(client, prometheus, q[2])]
            rules = await _rules(client, prometheus)
            unevaluated = [name for name, rule in rules.items() if rule.get("health") == "unknown"]
            if (not empty and not unevaluated) or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)

    assert not empty, "panels without data on a working platform:\n" + "\n".join(
        f"  {d} / {title}: {expr}" for d, title, expr in empty
    )
    assert set(rules) == expected_rules, "rules Prometheus did not load"
    broken = {name: rule.get("lastError") for name, rule in rules.items() if rule["health"] != "ok"}
    assert not broken, f"rules Prometheus cannot evaluate: {broken}"
    # A working, balanced platform raises none of the alarms about money or lost events, and the ledger's
    # scheduler runs, verifies and fails nothing.
    quiet = (
        "LedgerImbalance",
        "LedgerHashChainBroken",
        "LedgerChainVerificationStale",
        "LedgerBalanceDrift",
        "LedgerScheduledJobFailed",
        "DeadLetters",
        "ServiceDown",
        "SettlementErrorRatioHigh",
    )
    for name in quiet:
        assert rules[name]["state"] == "inactive", (name, rules[name].get("alerts"))

    async with httpx.AsyncClient(timeout=10) as client:
        # The scheduler keeps months of payment current for the region the scenario settled in, with no
        # one calling the ledger's statements.
        months = f'ledger_fund_months_of_payment{{admdvs="{REGION}",insutype="390"}}'
        assert await _query(client, prometheus, months), f"{months}: no data"
        # The clearing panel counts the batch, the first one of its series included: increase() does not
        # extrapolate a counter below the 0 the ledger exported before it. The panel is evaluated at the
        # instant of the first scrape that holds the batch, where increase() has nothing to extrapolate past
        # its newest sample either (evaluated later it scales the rise by up to 2.1, Prometheus's rule for
        # a range's end), so it must show exactly what the batch moved.
        selector = ",".join(f'{k}="{v}"' for k, v in CLEARED.items())
        scraped = f"sum(ledger_clearing_fen_total{{{selector}}}) >= {cleared_fen}"
        await eventually(lambda: _query(client, prometheus, scraped), timeout_s=30, interval_s=0.5)
        stamps = await _query(client, prometheus, f"timestamp(ledger_clearing_fen_total{{{selector}}})")
        at = max(float(series["value"][1]) for series in stamps)
        clearing = next(expr for _, title, expr in queries if title.startswith("Clearing batches"))
        shown = sum(float(series["value"][1]) for series in await _query(client, prometheus, clearing, at))
        assert shown == pytest.approx(cleared_fen / 100, abs=0.005), (shown, cleared_fen)
