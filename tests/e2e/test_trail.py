"""The transaction trail through the whole platform (issue 28): a 2102 settlement and its 2103 reversal
sent through the gateway, then followed with ``platformctl trail`` by msgid, by setl_id and by person: the
gateway's answers, the settlement records and trace, the events with the gateway's request id, the ledger's
entries carrying the same id, the reconciliation status; the services' trail log lines joined by that id;
roles checked and every read audited.

Demo policy (platformctl.demo): outpatient pooling with a 20.00 yuan yearly deductible, 50 %."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import MetaData, select

from platformctl import examples
from platformctl.demo import PERSONS, REGION
from platformctl.trail import Trail, Urls, gather, render
from shared.audit import define_audit_table
from shared.auth import AUDITOR, ENROLLMENT_CLERK
from shared.clock import now_china
from shared.db import Database
from tests.conftest import eventually
from tests.e2e.conftest import Stack
from tests.support.apps import ADMIN_TOKEN, bearer

pytestmark = pytest.mark.e2e
OPERATOR = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
_sequence = itertools.count(7000)


def _msgid() -> str:
    return examples.msgid(next(_sequence))


def _urls(stack: Stack) -> Urls:
    return Urls(stack.url("gateway"), stack.url("settlement"), stack.url("ledger"))


def _lines(stack: Stack, service: str, event: str) -> list[dict[str, Any]]:
    log_path = stack.services[service].log_path
    assert log_path is not None
    found = []
    for raw in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        if raw.startswith("{") and f'"event": "{event}"' in raw:
            found.append(json.loads(raw))
    return found


async def _audited(stack: Stack, service: str, path_prefix: str) -> list[Any]:
    database = Database(stack.services[service].env[f"{stack.services[service].spec.env_prefix}DATABASE_URL"])
    table = define_audit_table(MetaData())
    try:
        async with database.session() as session:
            rows = (await session.execute(select(table).where(table.c.path.like(f"{path_prefix}%")))).all()
    finally:
        await database.dispose()
    return list(rows)


async def test_a_swipe_and_its_reversal_followed_end_to_end(stack: Stack) -> None:
    person = PERSONS[0]
    async with httpx.AsyncClient(headers=OPERATOR, timeout=30) as client:
        lookup = await stack.call(client, dict(examples.example_1101(person.certno), msgid=_msgid()))
        assert lookup["infcode"] == 0, lookup["err_msg"]
        psn_no = lookup["output"]["baseinfo"]["psn_no"]
        envelope = dict(examples.example_2102(psn_no, person.certno), msgid=_msgid(), insuplc_admdvs=REGION)
        settled = await stack.call(client, envelope)
        assert settled["infcode"] == 0, settled["err_msg"]
        setl = settled["output"]["setlinfo"]
        undo_msgid = _msgid()
        undo = await stack.call(
            client,
            examples.envelope(
                "2103",
                undo_msgid,
                {"data": {"setl_id": setl["setl_id"], "mdtrt_id": setl["mdtrt_id"], "psn_no": psn_no}},
                insuplc_admdvs=REGION,
            ),
        )
        assert undo["infcode"] == 0, undo["err_msg"]
        reversal_id = undo["output"]["setlinfo"]["setl_id"]

    auditor = bearer(AUDITOR, subject="trail-auditor")
    async with httpx.AsyncClient(headers=auditor, timeout=30) as client:

        async def booked() -> Trail | None:
            trail = await gather(client, _urls(stack), msgid=envelope["msgid"])
            return trail if [r.status for r in trail.reconciliation] == ["matched", "matched"] else None

        by_msgid = await eventually(booked, timeout_s=30)
        by_setl_id = await gather(client, _urls(stack), setl_id=setl["setl_id"])
        today = now_china().date()
        by_person = await gather(client, _urls(stack), psn_no=psn_no, date_from=today, date_to=today)

    # The settlement and its reversal, oldest first, whichever way they are asked for.
    for trail in (by_msgid, by_setl_id):
        assert [s.settlement.setl_id for s in trail.settlement.settlements] == [setl["setl_id"], reversal_id]
    assert {setl["setl_id"], reversal_id} <= {s.settlement.setl_id for s in by_person.settlement.settlements}

    original, reversal = by_msgid.settlement.settlements
    # Amoxicillin 60 x 0.50 = 30.00 (甲) + danshen 3 x 20.00 = 60.00 (乙, 6.00 first): in range 84.00, less
    # the 20.00 deductible, 50 %: the fund pays 32.00 (3200 fen); the reversal takes back 3200.
    assert (original.settlement.fund_paid_total_fen, reversal.settlement.fund_paid_total_fen) == (3200, -3200)
    assert original.reversed_by == reversal_id and reversal.settlement.reversal_of == setl["setl_id"]
    assert original.settlement.calc_trace  # the calculation, step by step
    # The person is masked: name and ID number never in clear.
    assert (
        original.settlement.person.certno != person.certno and person.name not in by_msgid.model_dump_json()
    )
    assert person.certno not in by_msgid.model_dump_json()

    # The gateway's answers, masked: the 2102 and the 2103.
    answers = {m.msgid: m for m in by_msgid.gateway.messages}
    assert set(answers) == {envelope["msgid"], undo_msgid} and by_msgid.gateway.not_found == []
    assert answers[envelope["msgid"]].infno == "2102" and answers[envelope["msgid"]].infcode == 0
    assert answers[envelope["msgid"]].answer["output"]["setlinfo"]["setl_id"] == setl["setl_id"]
    assert answers[undo_msgid].infno == "2103"

    # One request id per swipe, from the gateway's trail line to the event and the ledger's entry.
    [gateway_line] = [g for g in _lines(stack, "gateway", "envelope") if g.get("msgid") == envelope["msgid"]]
    request_id = gateway_line["request_id"]
    assert gateway_line["setl_id"] == setl["setl_id"] and gateway_line["fund_pay_sumamt"] == "32.00"
    [decision] = [
        d for d in _lines(stack, "settlement", "settlement_decision") if d["request_id"] == request_id
    ]
    assert (decision["setl_id"], decision["outcome"], decision["fund_pay_sumamt"]) == (
        setl["setl_id"],
        "settled",
        "32.00",
    )
    [event] = original.events
    assert (event.type, event.trace_id) == ("settlement.completed", request_id) and event.sent_at is not None
    entries = {e.source_id: e for e in by_msgid.ledger.entries}
    assert entries[setl["setl_id"]].trace_id == request_id and entries[setl["setl_id"]].total_fen == 3200
    assert entries[setl["setl_id"]].event_id == event.event_id
    assert {c.event_id: c.outcome for c in by_msgid.ledger.events} == {
        event.event_id: "processed",
        reversal.events[0].event_id: "processed",
    }
    [undo_line] = [g for g in _lines(stack, "gateway", "envelope") if g.get("msgid") == undo_msgid]
    assert entries[reversal_id].trace_id == undo_line["request_id"] == reversal.events[0].trace_id
    assert [(r.setl_id, r.fund_paid_fen, r.booked_fen) for r in by_msgid.reconciliation] == [
        (setl["setl_id"], 3200, 3200),
        (reversal_id, -3200, -3200),
    ]
    text = render(by_msgid)
    assert f"reconcile {setl['setl_id']}: matched" in text and request_id in text

    # Roles: an enrollment clerk may not read the trail; each read is in each service's audit log.
    async with httpx.AsyncClient(headers=bearer(ENROLLMENT_CLERK), timeout=30) as client:
        refused = await client.get(
            f"{stack.url('settlement')}/api/v1/trail/settlements", params={"msgid": envelope["msgid"]}
        )
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"
        bad = await client.get(f"{stack.url('gateway')}/api/v1/trail/messages", params={"msgid": "x"})
        assert bad.status_code == 403
    async with httpx.AsyncClient(headers=auditor, timeout=30) as client:
        neither = await client.get(f"{stack.url('settlement')}/api/v1/trail/settlements")
        assert neither.status_code == 422 and neither.json()["error"]["code"] == "BAD_TRAIL_QUERY"
        no_period = await client.get(
            f"{stack.url('settlement')}/api/v1/trail/settlements", params={"psn_no": psn_no}
        )
        assert no_period.status_code == 422 and no_period.json()["error"]["code"] == "BAD_TRAIL_QUERY"
    for service, prefix in (
        ("gateway", "/api/v1/trail/messages"),
        ("settlement", "/api/v1/trail/settlements"),
        ("ledger", "/api/v1/trail/entries"),
    ):
        rows = await _audited(stack, service, prefix)
        readers = {(row.subject, row.method) for row in rows}
        assert ("trail-auditor", "GET") in readers, (service, readers)
    clerk_rows = await _audited(stack, "settlement", "/api/v1/trail/settlements")
    assert any(row.status == 403 for row in clerk_rows)  # the refused attempt is on record too


def test_an_outside_consumer_reads_every_event_and_each_matches_its_published_schema(stack: Stack) -> None:
    """A consumer outside the platform (librdkafka's client, not the services' aiokafka) reads every topic
    from the start: every record's value validates against docs/events/<type>.v<version>.schema.json and
    its headers name its type, version and event id. No record outside the restricted topic
    ``enrollment.identity`` carries an ID number, a name or a birth date (issue 28: personal data on the
    bus minimised), neither as a field nor anywhere in its bytes; the restricted topic does carry them."""
    import uuid
    from pathlib import Path

    import jsonschema
    from confluent_kafka import Consumer

    from shared.events import ALL_TOPICS, IDENTITY_TOPIC

    identifying = {
        text
        for person in PERSONS
        for text in (person.certno, person.name, person.birth.isoformat(), person.birth.strftime("%Y%m%d"))
    }
    identity_fields = {"certno", "psn_name", "brdy"}

    def fields_of(value: Any) -> set[str]:
        if isinstance(value, dict):
            return set(value) | {name for item in value.values() for name in fields_of(item)}
        if isinstance(value, list):
            return {name for item in value for name in fields_of(item)}
        return set()

    async def swipe_and_undo() -> None:
        """Its own 2102 and 2103 (tests of this module may run on another worker's stack)."""
        person = PERSONS[0]
        async with httpx.AsyncClient(headers=OPERATOR, timeout=30) as client:
            lookup = await stack.call(client, dict(examples.example_1101(person.certno), msgid=_msgid()))
            psn_no = lookup["output"]["baseinfo"]["psn_no"]
            swipe = examples.example_2102(psn_no, person.certno)
            envelope = dict(swipe, msgid=_msgid(), insuplc_admdvs=REGION)
            settled = await stack.call(client, envelope)
            assert settled["infcode"] == 0, settled["err_msg"]
            setl = settled["output"]["setlinfo"]
            body = {"data": {"setl_id": setl["setl_id"], "mdtrt_id": setl["mdtrt_id"], "psn_no": psn_no}}
            undo = await stack.call(client, examples.envelope("2103", _msgid(), body, insuplc_admdvs=REGION))
            assert undo["infcode"] == 0, undo["err_msg"]

    asyncio.run(swipe_and_undo())
    docs = Path(__file__).resolve().parents[2] / "docs" / "events"
    validators = {
        path.name: jsonschema.Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))
        for path in docs.glob("*.schema.json")
    }
    consumer = Consumer(
        {
            "bootstrap.servers": stack.bootstrap,
            "group.id": f"outsider-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe(list(ALL_TOPICS))
    seen: dict[str, int] = {}
    identities_read: set[str] = set()
    # The demo enrols and pays (enrollment events); the swipe above settles and is reversed.
    expected = {
        "enrollment.person_registered",
        "enrollment.person_identity",
        "enrollment.coverage_activated",
        "enrollment.payment_received",
        "settlement.completed",
        "settlement.reversed",
    }
    quiet = 0
    deadline = time.monotonic() + 120
    try:
        # Until every expected type was read and then 8 empty polls of 0.5 s in a row (the topics read to
        # the end), or the deadline: three topics' partitions are assigned and read in any order.
        while (quiet < 8 or not expected <= set(seen)) and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                quiet += 1
                continue
            assert message.error() is None, message.error()
            quiet = 0
            raw_value, raw_key = message.value(), message.key()
            assert isinstance(raw_value, bytes) and isinstance(raw_key, bytes)
            value = json.loads(raw_value)
            name = f"{value['type']}.v{value['version']}.schema.json"
            assert name in validators, name
            validators[name].validate(value)
            pairs: list[tuple[str, bytes]] = list(message.headers() or [])  # type: ignore[arg-type]
            headers = {key: raw.decode() for key, raw in pairs}
            assert headers["type"] == value["type"] and headers["version"] == str(value["version"])
            assert headers["event_id"] == value["event_id"]
            assert headers.get("trace_id") == value.get("trace_id")
            assert raw_key.decode() == value["key"]
            text = raw_value.decode()
            if message.topic() == IDENTITY_TOPIC:
                assert identity_fields <= set(value["data"]), value
                identities_read.update(t for t in identifying if t in text)
            else:
                assert not identity_fields & fields_of(value), value
                assert not [t for t in identifying if t in text], value
            seen[value["type"]] = seen.get(value["type"], 0) + 1
    finally:
        consumer.close()
    assert expected <= set(seen), seen
    # The demo's persons are covered: the restricted topic names them (the check above could see them).
    assert {PERSONS[0].certno, PERSONS[0].name} <= identities_read


def test_the_cli_follows_a_swipe_by_msgid_and_refuses_an_ambiguous_question(stack: Stack) -> None:
    """``python -m platformctl trail``: by msgid, as text and as JSON (an auditor's token minted with the
    development secret the stack runs with); two questions at once are refused before any call."""
    from typer.testing import CliRunner

    from platformctl.__main__ import app as cli

    person = PERSONS[0]
    msgid = _msgid()

    async def swipe() -> dict[str, Any]:
        async with httpx.AsyncClient(headers=OPERATOR, timeout=30) as client:
            lookup = await stack.call(client, dict(examples.example_1101(person.certno), msgid=_msgid()))
            psn_no = lookup["output"]["baseinfo"]["psn_no"]
            envelope = dict(examples.example_2102(psn_no, person.certno), msgid=msgid, insuplc_admdvs=REGION)
            return await stack.call(client, envelope)

    settled = asyncio.run(swipe())
    assert settled["infcode"] == 0, settled["err_msg"]
    setl_id = settled["output"]["setlinfo"]["setl_id"]
    urls = [
        f"--gateway-url={stack.url('gateway')}",
        f"--settlement-url={stack.url('settlement')}",
        f"--ledger-url={stack.url('ledger')}",
    ]
    runner = CliRunner()
    text = runner.invoke(cli, ["trail", msgid, *urls])
    assert text.exit_code == 0, text.output
    assert f"msgid {msgid} infno 2102" in text.output and "settle    " in text.output
    assert setl_id in text.output and person.certno not in text.output
    as_json = runner.invoke(cli, ["trail", "--setl-id", setl_id, "--json", *urls])
    assert as_json.exit_code == 0, as_json.output
    trail = Trail.model_validate_json(as_json.output)
    assert [s.settlement.msgid for s in trail.settlement.settlements] == [msgid]
    ambiguous = runner.invoke(cli, ["trail", msgid, "--setl-id", setl_id, *urls])
    assert ambiguous.exit_code != 0 and "exactly one" in ambiguous.output
