"""A card swipe through the whole platform: HIS -> gateway (NHSA envelope) -> settlement -> outbox ->
Kafka -> fund ledger, with real processes, broker and databases.

Demo policy (platformctl.demo): outpatient pooling with a 20.00 yuan yearly deductible, 50 % and a
300.00 yuan yearly cap; amoxicillin (甲类, cap 0.50 a unit) and compound danshen (乙类, 10 % first)."""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from platformctl import examples
from platformctl.demo import CATALOGUE, INSTITUTIONS, PERSONS, REGION
from shared.clock import now_china
from shared.events import SETTLEMENT_TOPIC, EventEnvelope
from shared.idcard import make_id_number
from tests.conftest import eventually
from tests.e2e.conftest import Stack
from tests.support.apps import ADMIN_TOKEN

#: The e2e tests act as an administrator on the operator APIs (roles are tested in tests/shared).
OPERATOR = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

pytestmark = pytest.mark.e2e
_sequence = itertools.count(1000)


def _msgid() -> str:
    return examples.msgid(next(_sequence))


async def _ledger_read_all_settlement_published(stack: Stack) -> bool:
    """Settlement's outbox has nothing unpublished and the ledger's consumer stands at the end of every
    settlement partition, twice in a row a consumer loop apart (its lag gauge is set after each fetch of at
    most 0.5 s): every event of what was settled so far has been read, none can still arrive."""
    for _ in range(2):
        if stack.metric("settlement", "outbox_backlog") != 0:
            return False
        if stack.metric("ledger", "consumer_lag", topic=SETTLEMENT_TOPIC) != 0:
            return False
        await asyncio.sleep(0.6)
    return True


async def _entries(client: httpx.AsyncClient, stack: Stack, setl_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"{stack.url('ledger')}/api/v1/journal", params={"source_id": setl_id})
    response.raise_for_status()
    entries: list[dict[str, Any]] = response.json()
    return entries


async def _all_entries(client: httpx.AsyncClient, stack: Stack) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    after = 0
    while True:
        page = (
            await client.get(
                f"{stack.url('ledger')}/api/v1/journal", params={"after_id": after, "limit": 1000}
            )
        ).json()
        if not page:
            return entries
        entries += page
        after = page[-1]["id"]


async def test_card_swipe_settles_and_books_a_balanced_entry(stack: Stack) -> None:
    person = PERSONS[0]
    async with httpx.AsyncClient(headers=OPERATOR) as client:
        lookup = await stack.call(client, dict(examples.example_1101(person.certno), msgid=_msgid()))
        assert lookup["infcode"] == 0, lookup["err_msg"]
        base = lookup["output"]["baseinfo"]
        assert (base["certno"], base["psn_name"], base["gend"], base["brdy"]) == (
            person.certno,
            person.name,
            "1",
            "1985-03-12",
        )
        [insured] = lookup["output"]["insuinfo"]
        assert (insured["insutype"], insured["psn_insu_stas"], insured["insuplc_admdvs"]) == (
            "390",
            "1",
            REGION,
        )
        psn_no = base["psn_no"]

        envelope = dict(
            examples.example_2102(psn_no, person.certno),
            msgid=_msgid(),
            insuplc_admdvs=insured["insuplc_admdvs"],
        )
        answer = await stack.call(client, envelope)
        assert answer["infcode"] == 0, answer["err_msg"]
        setl = answer["output"]["setlinfo"]
        # Amoxicillin 60 x 0.50 = 30.00 (甲, all in range); danshen 3 x 20.00 = 60.00 (乙: 6.00 first,
        # 54.00 in range). In range 84.00; deductible 20.00; fund (84.00 - 20.00) x 50 % = 32.00; cash 58.00.
        expected = {
            "medfee_sumamt": "90.00",
            "fulamt_ownpay_amt": "0.00",
            "overlmt_selfpay": "0.00",
            "preselfpay_amt": "6.00",
            "inscp_scp_amt": "84.00",
            "act_pay_dedc": "20.00",
            "hifp_pay": "32.00",
            "fund_pay_sumamt": "32.00",
            "psn_part_amt": "58.00",
            "acct_pay": "0.00",
            "psn_cash_pay": "58.00",
            "maf_pay": "0.00",
            "hifmi_pay": "0.00",
        }
        assert {k: str(setl[k]) for k in expected} == expected
        assert setl["medins_setl_id"] == envelope["msgid"]
        assert (setl["clr_type"], setl["clr_optins"], setl["psn_no"]) == ("41", REGION, psn_no)
        assert [(d["fund_pay_type"], str(d["fund_payamt"])) for d in answer["output"]["setldetail"]] == [
            ("390100", "32.00")
        ]
        lines = {d["feedetl_sn"]: d for d in answer["output"]["detlcutinfo"]}
        assert (lines["1"]["chrgitm_lv"], str(lines["1"]["inscp_scp_amt"])) == ("1", "30.00")
        danshen = (
            lines["2"]["chrgitm_lv"],
            str(lines["2"]["preselfpay_amt"]),
            str(lines["2"]["inscp_scp_amt"]),
        )
        assert danshen == ("2", "6.00", "54.00")

        # The same message again: the stored first answer, not a second settlement.
        replay = await stack.call(client, envelope)
        assert replay == answer

        entries = await eventually(lambda: _entries(client, stack, setl["setl_id"]), timeout_s=30)
        assert len(entries) == 1
        postings = [
            (
                p["account_code"],
                p["debit_fen"],
                p["credit_fen"],
                p["counterparty"],
                p["fund_pay_type"],
                p["admdvs"],
                p["insutype"],
            )
            for p in entries[0]["postings"]
        ]
        assert postings == [
            ("5103", 3200, 0, "", "390100", REGION, "390"),
            ("2101", 0, 3200, "P34152400001", "390100", REGION, "390"),
        ]
        trial = (await client.get(f"{stack.url('ledger')}/api/v1/trial-balance")).json()
        assert trial["imbalance_fen"] == 0
        assert trial["debit_total_fen"] == trial["credit_total_fen"]


async def test_redelivered_settlement_event_posts_nothing(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=30, headers=OPERATOR) as client:
        # A settlement of its own, booked first.
        psn_no, certno, _, _ = await _person_with_card(client, stack, 9)
        await _pay_and_enroll(client, stack, psn_no, "ST0009")
        await eventually(functools.partial(_covered, client, stack, psn_no), timeout_s=30)
        answer = await stack.call(client, _danshen_purchase(psn_no, certno))
        assert answer["infcode"] == 0, answer["err_msg"]
        setl_id = answer["output"]["setlinfo"]["setl_id"]
        [target] = await eventually(lambda: _entries(client, stack, setl_id), timeout_s=30)
        entries_before = await _all_entries(client, stack)
        # Read the very event the ledger consumed from the topic, and publish the same bytes again.
        reader = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap, auto_offset_reset="earliest")
        await reader.start()
        raw: bytes | None = None
        try:
            partitions = [
                TopicPartition(SETTLEMENT_TOPIC, p) for p in reader.partitions_for_topic(SETTLEMENT_TOPIC)
            ]
            reader.assign(partitions)
            deadline = asyncio.get_running_loop().time() + 10
            while raw is None and asyncio.get_running_loop().time() < deadline:
                for records in (await reader.getmany(timeout_ms=300)).values():
                    for record in records:
                        if EventEnvelope.from_bytes(record.value).event_id.hex == target["event_id"].replace(
                            "-", ""
                        ):
                            raw = record.value
        finally:
            await reader.stop()
        assert raw is not None
        duplicates_before = stack.metric("ledger", "consumer_events_total", outcome="duplicate")
        producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(
                SETTLEMENT_TOPIC, raw, key=EventEnvelope.from_bytes(raw).key.encode()
            )
        finally:
            await producer.stop()
        await eventually(
            lambda: (
                stack.metric("ledger", "consumer_events_total", outcome="duplicate") == duplicates_before + 1
            ),
            timeout_s=30,
        )
        # Contribution and subsidy entries of earlier enrollments may still be arriving; the settlement
        # entries must be exactly as they were.
        assert _settlement_entries(await _all_entries(client, stack)) == _settlement_entries(entries_before)


def _settlement_entries(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e["source_type"] in ("settlement", "settlement_reversal")]


async def _enroll_people(client: httpx.AsyncClient, stack: Stack, count: int) -> list[tuple[str, str]]:
    from datetime import date

    people = []
    year = now_china().year
    for i in range(count):
        certno = make_id_number(REGION, date(1990, 1, 1 + i), 101 + 2 * i)
        created = await client.post(
            f"{stack.url('enrollment')}/api/v1/persons", json={"certno": certno, "psn_name": f"测试{i}"}
        )
        assert created.status_code == 201, created.text
        psn_no = created.json()["psn_no"]
        enrolled = await client.post(
            f"{stack.url('enrollment')}/api/v1/enrollments",
            # Demo standard: an adult pays 30.00 yuan, collected in full at registration.
            json={
                "psn_no": psn_no,
                "year": year,
                "payment": {
                    "payer": "individual",
                    "amount_fen": 30_00,
                    "receipt_no": f"E2E{i:04d}",
                    "paid_on": str(now_china().date()),
                },
            },
        )
        assert enrolled.status_code == 201, enrolled.text
        people.append((psn_no, certno))
    for psn_no, _ in people:
        await eventually(functools.partial(_covered, client, stack, psn_no), timeout_s=30)
    return people


async def _covered(client: httpx.AsyncClient, stack: Stack, psn_no: str) -> bool:
    return (await client.get(f"{stack.url('settlement')}/api/v1/eligibility/{psn_no}")).status_code == 200


def _danshen_purchase(psn_no: str, certno: str) -> dict[str, Any]:
    danshen = CATALOGUE[2]
    when = now_china().strftime("%Y-%m-%d %H:%M:%S")
    return examples.envelope(
        "2102",
        _msgid(),
        {
            "druginfo": {
                "psn_no": psn_no,
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": certno,
                "begntime": when,
                "medfee_sumamt": "60.00",
                "insutype": "390",
                "acct_used_flag": "0",
                "med_type": "41",
            },
            "drugdetail": [
                {
                    "feedetl_sn": "1",
                    "med_list_codg": danshen["med_list_codg"],
                    "medins_list_codg": "YP2",
                    "det_item_fee_sumamt": "60.00",
                    "cnt": "3",
                    "pric": "20",
                }
            ],
        },
        insuplc_admdvs=REGION,
    )


async def test_ledger_killed_mid_stream_books_every_settlement_exactly_once(stack: Stack) -> None:
    people_count, per_person = 20, 10
    async with httpx.AsyncClient(timeout=30, headers=OPERATOR) as client:
        people = await _enroll_people(client, stack, people_count)
        # Round-robin over people, so consecutive requests are for different persons.
        work = [person for _ in range(per_person) for person in people]
        answers: list[dict[str, Any]] = []
        ledger = stack.services["ledger"]
        killed_at: int | None = None
        restarted_at: int | None = None
        lock = asyncio.Lock()

        async def worker(queue: asyncio.Queue[tuple[str, str]]) -> None:
            nonlocal killed_at, restarted_at
            while not queue.empty():
                psn_no, certno = queue.get_nowait()
                answers.append(await stack.call(client, _danshen_purchase(psn_no, certno)))
                async with lock:
                    if len(answers) >= 60 and killed_at is None:
                        killed_at = len(answers)
                        await asyncio.to_thread(ledger.kill)  # SIGKILL: no graceful anything
                    elif len(answers) >= 140 and restarted_at is None:
                        restarted_at = len(answers)
                        await asyncio.to_thread(ledger.start)
                        await asyncio.to_thread(ledger.wait_ready)

        queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        for item in work:
            queue.put_nowait(item)
        await asyncio.gather(*[worker(queue) for _ in range(8)])

        assert killed_at is not None and restarted_at is not None
        assert len(answers) == 200
        assert [a["infcode"] for a in answers] == [0] * 200, [a["err_msg"] for a in answers if a["infcode"]]
        setl_ids = {a["output"]["setlinfo"]["setl_id"] for a in answers}
        assert len(setl_ids) == 200
        # Per person, 60.00 of danshen is 54.00 in range: the first purchase pays (54.00 - 20.00) x 50 %
        # = 17.00, each of the other nine 27.00; 17 + 9 x 27 = 260.00 yuan, under the 300.00 cap.
        fund_by_person: dict[str, Decimal] = {}
        for a in answers:
            s = a["output"]["setlinfo"]
            fund_by_person[s["psn_no"]] = fund_by_person.get(s["psn_no"], Decimal(0)) + Decimal(
                str(s["hifp_pay"])
            )
        assert set(fund_by_person.values()) == {Decimal("260.00")}

        async def booked() -> list[dict[str, Any]] | None:
            mine = [e for e in await _all_entries(client, stack) if e["source_id"] in setl_ids]
            return mine if len(mine) >= 200 else None

        entries = await eventually(booked, timeout_s=90, interval_s=0.5)
        assert len(entries) == 200
        assert {e["source_id"] for e in entries} == setl_ids
        assert sum(e["total_fen"] for e in entries) == 20 * 260_00
        for entry in entries:
            debit = sum(p["debit_fen"] for p in entry["postings"])
            credit = sum(p["credit_fen"] for p in entry["postings"])
            assert debit == credit == entry["total_fen"]
        trial = (await client.get(f"{stack.url('ledger')}/api/v1/trial-balance")).json()
        assert trial["imbalance_fen"] == 0
        # Nothing arrives late either: once the ledger has read every event settlement published, count again.
        await eventually(functools.partial(_ledger_read_all_settlement_published, stack), timeout_s=60)
        assert len([e for e in await _all_entries(client, stack) if e["source_id"] in setl_ids]) == 200


async def test_concurrent_repeats_of_a_message_settle_and_book_once(stack: Stack) -> None:
    person = PERSONS[1]
    psn_no = stack.psn_nos[person.certno]
    envelope = dict(examples.example_2102(psn_no, person.certno), msgid=_msgid())
    async with httpx.AsyncClient(headers=OPERATOR) as client:
        answers = await asyncio.gather(*[stack.call(client, envelope) for _ in range(5)])
        assert [a["infcode"] for a in answers] == [0] * 5, [a["err_msg"] for a in answers]
        setl_ids = {a["output"]["setlinfo"]["setl_id"] for a in answers}
        assert len(setl_ids) == 1
        # First purchase of the year for this person: the same 32.00 from the fund as in the first test.
        assert {str(a["output"]["setlinfo"]["hifp_pay"]) for a in answers} == {"32.00"}
        [setl_id] = setl_ids
        entries = await eventually(lambda: _entries(client, stack, setl_id), timeout_s=30)
        await eventually(functools.partial(_ledger_read_all_settlement_published, stack), timeout_s=60)
        assert len(await _entries(client, stack, setl_id)) == len(entries) == 1


async def _person_with_card(client: httpx.AsyncClient, stack: Stack, i: int) -> tuple[str, str, str, str]:
    from datetime import date

    certno = make_id_number(REGION, date(1970, 5, 1 + i), 301 + 2 * i)
    created = await client.post(
        f"{stack.url('enrollment')}/api/v1/persons", json={"certno": certno, "psn_name": f"状态{i}"}
    )
    assert created.status_code == 201, created.text
    psn_no = created.json()["psn_no"]
    card_no, card_sn = f"K{REGION}{i:05d}", f"SNK{i:07d}"
    issued = await client.post(
        f"{stack.url('enrollment')}/api/v1/persons/{psn_no}/cards",
        json={"card_no": card_no, "card_sn": card_sn, "issued_on": str(now_china().date())},
    )
    assert issued.status_code == 201, issued.text
    return psn_no, certno, card_no, card_sn


def _by_card(card_no: str, card_sn: str) -> dict[str, Any]:
    return examples.envelope(
        "1101",
        _msgid(),
        {"data": {"mdtrt_cert_type": "03", "mdtrt_cert_no": card_no, "card_sn": card_sn, "begntime": ""}},
    )


async def _pay_and_enroll(client: httpx.AsyncClient, stack: Stack, psn_no: str, receipt: str) -> None:
    enrolled = await client.post(
        f"{stack.url('enrollment')}/api/v1/enrollments",
        json={
            "psn_no": psn_no,
            "year": now_china().year,
            "payment": {
                "payer": "individual",
                "amount_fen": 30_00,
                "receipt_no": receipt,
                "paid_on": str(now_china().date()),
            },
        },
    )
    assert enrolled.status_code == 201, enrolled.text


async def test_person_lookup_for_active_lapsed_terminated_and_lost_card(stack: Stack) -> None:
    year = now_china().year
    today = str(now_china().date())
    async with httpx.AsyncClient(timeout=30, headers=OPERATOR) as client:
        # Active, looked up by card swipe (03).
        active, _, card_no, card_sn = await _person_with_card(client, stack, 1)
        await _pay_and_enroll(client, stack, active, "ST0001")
        answer = await stack.call(client, _by_card(card_no, card_sn))
        assert answer["infcode"] == 0, answer["err_msg"]
        assert answer["output"]["baseinfo"]["psn_no"] == active
        [insured] = answer["output"]["insuinfo"]
        # In force: no suspension date, so the field is left out (a typed client's date cannot be null).
        assert (insured["insutype"], insured["psn_insu_stas"], insured.get("paus_insu_date")) == (
            "390",
            "1",
            None,
        )
        assert "paus_insu_date" not in insured
        assert json.loads(answer["output"]["baseinfo"]["exp_content"]) == {"continuous_years": 1}

        # Lapsed: covered under NCMS (380) last year, nothing this year.
        lapsed, lapsed_cert, _, _ = await _person_with_card(client, stack, 2)
        legacy = await client.post(
            f"{stack.url('enrollment')}/api/v1/persons/{lapsed}/legacy-enrollments",
            json={"year": year - 1, "insutype": "380", "insuplc_admdvs": REGION, "paid_fen": 30_00},
        )
        assert legacy.status_code == 201, legacy.text
        answer = await stack.call(client, dict(examples.example_1101(lapsed_cert), msgid=_msgid()))
        assert answer["infcode"] == 0, answer["err_msg"]
        [insured] = answer["output"]["insuinfo"]
        assert (insured["insutype"], insured["psn_insu_stas"], insured["paus_insu_date"]) == (
            "380",
            "2",
            f"{year}-01-01",
        )

        # Terminated today (moved away): 1101 says so, and the pharmacy can no longer settle.
        moved, moved_cert, _, _ = await _person_with_card(client, stack, 3)
        await _pay_and_enroll(client, stack, moved, "ST0003")
        await eventually(functools.partial(_covered, client, stack, moved), timeout_s=30)
        ended = await client.post(
            f"{stack.url('enrollment')}/api/v1/persons/{moved}/termination",
            json={"reason": "moved_away", "effective_date": today},
        )
        assert ended.status_code == 200, ended.text
        answer = await stack.call(client, dict(examples.example_1101(moved_cert), msgid=_msgid()))
        [insured] = answer["output"]["insuinfo"]
        assert (insured["psn_insu_stas"], insured["paus_insu_date"]) == ("4", today)

        async def refused_at_counter() -> dict[str, Any] | None:
            purchase = _danshen_purchase(moved, moved_cert)
            result = await stack.call(client, purchase)
            return result if result["infcode"] == -1 else None

        refusal = await eventually(refused_at_counter, timeout_s=30, interval_s=0.3)
        assert "[NOT_COVERED]" in refusal["err_msg"] and "终止" in refusal["err_msg"]

        # Lost card: the swipe is refused, by 1101 and by settlement.
        holder, holder_cert, lost_no, lost_sn = await _person_with_card(client, stack, 4)
        await _pay_and_enroll(client, stack, holder, "ST0004")
        lost = await client.post(
            f"{stack.url('enrollment')}/api/v1/cards/{lost_no}/loss", json={"reported_on": today}
        )
        assert lost.status_code == 200, lost.text
        answer = await stack.call(client, _by_card(lost_no, lost_sn))
        assert answer["infcode"] == -1 and "[CARD_NOT_ACTIVE]" in answer["err_msg"]

        async def card_refused() -> dict[str, Any] | None:
            purchase = _danshen_purchase(holder, holder_cert)
            purchase["input"]["druginfo"].update(mdtrt_cert_type="03", mdtrt_cert_no=lost_no)
            result = await stack.call(client, purchase)
            return result if result["infcode"] == -1 and "CARD_NOT_ACTIVE" in result["err_msg"] else None

        await eventually(card_refused, timeout_s=30, interval_s=0.3)


async def test_pharmacy_reversal_and_2601_reach_the_books(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=30, headers=OPERATOR) as client:
        psn_no, certno, _, _ = await _person_with_card(client, stack, 11)
        await _pay_and_enroll(client, stack, psn_no, "ST0011")
        await eventually(functools.partial(_covered, client, stack, psn_no), timeout_s=30)

        # Preview (2101) then settle (2102): first purchase of the year, 60.00 of danshen -> 17.00 fund.
        purchase = _danshen_purchase(psn_no, certno)
        preview = await stack.call(client, {**purchase, "infno": "2101", "msgid": _msgid()})
        assert preview["infcode"] == 0, preview["err_msg"]
        assert (preview["output"]["setlinfo"]["setl_id"], str(preview["output"]["setlinfo"]["hifp_pay"])) == (
            "",
            "17.00",
        )
        settled = await stack.call(client, purchase)
        setl = settled["output"]["setlinfo"]
        assert str(setl["hifp_pay"]) == "17.00"

        # 2103: the pharmacy undoes it; the reversal is its own record with negated amounts.
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
        reversal = undo["output"]["setlinfo"]
        assert reversal["setl_id"] != setl["setl_id"]
        assert (str(reversal["hifp_pay"]), str(reversal["medfee_sumamt"])) == ("-17.00", "-60.00")
        twice = await stack.call(
            client,
            examples.envelope(
                "2103",
                _msgid(),
                {"data": {"setl_id": setl["setl_id"], "mdtrt_id": setl["mdtrt_id"], "psn_no": psn_no}},
                insuplc_admdvs=REGION,
            ),
        )
        assert twice["infcode"] == -1 and "ALREADY_REVERSED" in twice["err_msg"]

        # The yearly totals are back: the same purchase again pays the full first-purchase 17.00.
        again = await stack.call(client, _danshen_purchase(psn_no, certno))
        assert str(again["output"]["setlinfo"]["hifp_pay"]) == "17.00"

        # 2601 for that message (say its answer was lost): reversed, and the message can never settle again.
        void = await stack.call(
            client,
            examples.envelope(
                "2601",
                _msgid(),
                {
                    "data": {
                        "psn_no": psn_no,
                        "omsgid": again["output"]["setlinfo"]["medins_setl_id"],
                        "oinfno": "2102",
                    }
                },
                insuplc_admdvs=REGION,
            ),
        )
        assert void["infcode"] == 0, void["err_msg"]
        assert void["output"]["data"]["outcome"] == "reversed"

        # The books: entry, mirror, entry, mirror -> nothing owed for this person's purchases.
        setl_ids = {
            setl["setl_id"],
            reversal["setl_id"],
            again["output"]["setlinfo"]["setl_id"],
            void["output"]["data"]["setl_id"],
        }

        async def all_four() -> list[dict[str, Any]] | None:
            mine = [e for e in await _all_entries(client, stack) if e["source_id"] in setl_ids]
            return mine if len(mine) == 4 else None

        entries = await eventually(all_four, timeout_s=30)
        debit_expense = sum(
            p["debit_fen"] - p["credit_fen"]
            for e in entries
            for p in e["postings"]
            if p["account_code"] == "5103"
        )
        assert debit_expense == 0
        assert sorted(e["source_type"] for e in entries) == [
            "settlement",
            "settlement",
            "settlement_reversal",
            "settlement_reversal",
        ]


HOSPITAL = INSTITUTIONS[0]  # 金寨县人民医院, level 2
DANSHEN, VITAMIN = str(CATALOGUE[2]["med_list_codg"]), str(CATALOGUE[4]["med_list_codg"])


def _hospital(infno: str, body: dict[str, Any]) -> dict[str, Any]:
    code = HOSPITAL["fixmedins_code"]
    return examples.envelope(
        infno,
        examples.msgid(next(_sequence), code),
        body,
        insuplc_admdvs=REGION,
        fixmedins_code=code,
        fixmedins_name=HOSPITAL["fixmedins_name"],
    )


def _fee(
    sn: str, mdtrt_id: str, psn_no: str, code: str, cnt: str, pric: str, amount: str, batch: str | None = None
) -> dict[str, Any]:
    fee = {
        "feedetl_sn": sn,
        "mdtrt_id": mdtrt_id,
        "psn_no": psn_no,
        "med_list_codg": code,
        "medins_list_codg": f"HIS-{sn}",
        "det_item_fee_sumamt": amount,
        "cnt": cnt,
        "pric": pric,
        "fee_ocur_time": now_china().strftime("%Y-%m-%d %H:%M:%S"),
    }
    if batch is not None:
        fee["chrg_bchno"] = batch
    return fee


async def _ok(stack: Stack, client: httpx.AsyncClient, envelope: dict[str, Any]) -> dict[str, Any]:
    answer = await stack.call(client, envelope)
    assert answer["infcode"] == 0, (envelope["infno"], answer["err_msg"])
    output: dict[str, Any] = answer["output"]
    return output


async def test_outpatient_visit_and_inpatient_stay_through_the_gateway(stack: Stack) -> None:
    now = now_china().strftime("%Y-%m-%d %H:%M:%S")
    async with httpx.AsyncClient(timeout=30, headers=OPERATOR) as client:
        # Outpatient: 2201 -> 2204 -> 2206 -> 2207 -> 2208.
        psn_no, certno, _, _ = await _person_with_card(client, stack, 21)
        await _pay_and_enroll(client, stack, psn_no, "ST0021")
        await eventually(functools.partial(_covered, client, stack, psn_no), timeout_s=30)
        visit = await _ok(
            stack,
            client,
            _hospital(
                "2201",
                {
                    "data": {
                        "psn_no": psn_no,
                        "insutype": "390",
                        "begntime": now,
                        "mdtrt_cert_type": "02",
                        "mdtrt_cert_no": certno,
                        "ipt_otp_no": f"MZ{next(_sequence)}",
                    }
                },
            ),
        )
        mdtrt_id = visit["data"]["mdtrt_id"]
        uploaded = await _ok(
            stack,
            client,
            _hospital(
                "2204", {"feedetail": [_fee("1", mdtrt_id, psn_no, DANSHEN, "3", "20", "60.00", "B1")]}
            ),
        )
        [line] = uploaded["result"]
        assert (str(line["preselfpay_amt"]), str(line["inscp_scp_amt"])) == ("6.00", "54.00")
        settle = {
            "data": {
                "psn_no": psn_no,
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": certno,
                "med_type": "11",
                "medfee_sumamt": "60.00",
                "psn_setlway": "01",
                "mdtrt_id": mdtrt_id,
                "chrg_bchno": "B1",
                "insutype": "390",
                "acct_used_flag": "0",
            }
        }
        preview = await _ok(stack, client, _hospital("2206", settle))
        settled = await _ok(stack, client, _hospital("2207", settle))
        # 54.00 in range - 20.00 deductible, x 50 % = 17.00; the patient pays 43.00.
        for out in (preview, settled):
            assert (str(out["setlinfo"]["hifp_pay"]), str(out["setlinfo"]["psn_cash_pay"])) == (
                "17.00",
                "43.00",
            )
        setl = settled["setlinfo"]
        assert setl["clr_type"] == "11"
        undone = await _ok(
            stack,
            client,
            _hospital("2208", {"data": {"setl_id": setl["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": psn_no}}),
        )
        assert str(undone["setlinfo"]["hifp_pay"]) == "-17.00"
        # The settlement service checks the visit where it settles it (no call of the gateway's own).
        chronic = {"data": {**settle["data"], "med_type": "140104"}}
        refused = await stack.call(client, _hospital("2207", chronic))
        assert (refused["infcode"], refused["err_msg"]) == (
            -1,
            f"[MED_TYPE_MISMATCH] 医疗类别 140104 与就诊ID {mdtrt_id} 登记的 11 不符：请先用2203上传就诊信息",
        )
        as_stay = {
            "data": {**{k: v for k, v in settle["data"].items() if k not in ("med_type", "chrg_bchno")}}
        }
        refused = await stack.call(
            client, _hospital("2304", {"data": {**as_stay["data"], "mid_setl_flag": "0"}})
        )
        assert (refused["infcode"], refused["err_msg"]) == (
            -1,
            f"[SETTING_MISMATCH] 就诊ID {mdtrt_id} 是门诊就诊，不能按住院结算",
        )

        # Inpatient: 2401 -> 2301 -> 2402 -> 2303 -> 2304 -> 2305.
        patient, patient_cert, _, _ = await _person_with_card(client, stack, 22)
        await _pay_and_enroll(client, stack, patient, "ST0022")
        await eventually(functools.partial(_covered, client, stack, patient), timeout_s=30)
        admitted = await _ok(
            stack,
            client,
            _hospital(
                "2401",
                {
                    "mdtrtinfo": {
                        "psn_no": patient,
                        "insutype": "390",
                        "begntime": now,
                        "mdtrt_cert_type": "02",
                        "mdtrt_cert_no": patient_cert,
                        "med_type": "21",
                        "ipt_no": f"ZY{next(_sequence)}",
                    }
                },
            ),
        )
        stay = admitted["result"]["mdtrt_id"]
        await _ok(
            stack,
            client,
            _hospital(
                "2301",
                {
                    "feedetail": [
                        _fee("1", stay, patient, DANSHEN, "100", "50", "5000.00"),
                        _fee("2", stay, patient, VITAMIN, "1", "200", "200.00"),
                    ]
                },
            ),
        )
        await _ok(
            stack,
            client,
            _hospital(
                "2402",
                {
                    "dscginfo": {
                        "mdtrt_id": stay,
                        "psn_no": patient,
                        "insutype": "390",
                        "endtime": now_china().strftime("%Y-%m-%d %H:%M:%S"),
                    }
                },
            ),
        )
        stay_settle = {
            "data": {
                "psn_no": patient,
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": patient_cert,
                "medfee_sumamt": "5200.00",
                "psn_setlway": "01",
                "mdtrt_id": stay,
                "insutype": "390",
                "acct_used_flag": "0",
                "mid_setl_flag": "0",
            }
        }
        await _ok(stack, client, _hospital("2303", stay_settle))
        discharged = await _ok(stack, client, _hospital("2304", stay_settle))
        info = discharged["setlinfo"]
        # Level 2: 5,000.00 of danshen = 500.00 first + 4,500.00 in range; vitamins 200.00 self-paid;
        # (4,500 - 300 deductible) x 60 % = 2,520.00 from the fund; the patient pays 2,680.00.
        assert {
            k: str(info[k])
            for k in (
                "medfee_sumamt",
                "act_pay_dedc",
                "hifp_pay",
                "psn_cash_pay",
                "fulamt_ownpay_amt",
                "preselfpay_amt",
                "inscp_scp_amt",
            )
        } == {
            "medfee_sumamt": "5200.00",
            "act_pay_dedc": "300.00",
            "hifp_pay": "2520.00",
            "psn_cash_pay": "2680.00",
            "fulamt_ownpay_amt": "200.00",
            "preselfpay_amt": "500.00",
            "inscp_scp_amt": "4500.00",
        }
        assert info["clr_type"] == "21"
        reversed_stay = await _ok(
            stack,
            client,
            _hospital("2305", {"data": {"mdtrt_id": stay, "setl_id": info["setl_id"], "psn_no": patient}}),
        )
        assert str(reversed_stay["setlinfo"]["hifp_pay"]) == "-2520.00"

        # The books: both settlements and both reversals, on the outpatient (5101) and inpatient (5102)
        # expenditure accounts, net to nothing.
        ids = {
            setl["setl_id"],
            undone["setlinfo"]["setl_id"],
            info["setl_id"],
            reversed_stay["setlinfo"]["setl_id"],
        }

        async def booked() -> list[dict[str, Any]] | None:
            mine = [e for e in await _all_entries(client, stack) if e["source_id"] in ids]
            return mine if len(mine) == 4 else None

        entries = await eventually(booked, timeout_s=30)
        by_account: dict[str, int] = {}
        for entry in entries:
            for p in entry["postings"]:
                by_account[p["account_code"]] = (
                    by_account.get(p["account_code"], 0) + p["debit_fen"] - p["credit_fen"]
                )
        assert by_account == {"5101": 0, "5102": 0, "2101": 0}


async def test_the_gateway_keeps_an_idle_connection_longer_than_a_his_client_does(stack: Stack) -> None:
    """A HIS on httpx (which drops an idle connection after 5 s) may reuse its connection just before then:
    the gateway must not be closing it at that moment. uvicorn's default is also 5 s, and the two raced: a
    settlement written into the closing connection was reset, unsent. The same connection, idle past
    uvicorn's default, still answers."""
    url = httpx.URL(stack.url("gateway"))
    reader, writer = await asyncio.open_connection(url.host, url.port)
    request = f"GET /healthz HTTP/1.1\r\nhost: {url.host}\r\n\r\n".encode()
    try:
        for _ in range(2):
            writer.write(request)
            await writer.drain()
            status = await asyncio.wait_for(reader.readline(), 10)
            assert status.startswith(b"HTTP/1.1 200"), status
            headers = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode().lower()
            assert "connection: close" not in headers
            length = int(headers.split("content-length:")[1].split("\r\n")[0])
            await reader.readexactly(length)
            await asyncio.sleep(6)  # past uvicorn's default 5 s; a connection it closed reads b"" above
    finally:
        writer.close()
