"""The transaction registry: each code's properties agree with one another and with the rules that read them
(2601's list, the metrics labels), and a code declared in the registry is answered by the pipeline with
nothing else to touch."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from gateway import registry
from gateway.declaration import Call, Transaction
from gateway.transactions import KNOWN_INFNO_LABELS, NOT_OFFERED_INFNOS, infno_label, trail_of_answer
from prometheus_client import REGISTRY
from pydantic import BaseModel, ConfigDict, Field

from platformctl import examples
from shared.observability import JsonLogFormatter
from tests.gateway.factories import HOSPITAL, Gateway

TRANSACTIONS = sorted(registry.TRANSACTIONS.values(), key=lambda t: t.infno)


def _ids(transaction: Transaction) -> str:
    return transaction.infno


@pytest.mark.parametrize("transaction", TRANSACTIONS, ids=_ids)
def test_flags_agree(transaction: Transaction) -> None:
    if transaction.settles:
        # A settlement can be undone both ways: by its reversal code and, its answer lost, by 2601.
        assert transaction.voidable and transaction.moves_money and transaction.reversed_by is not None
    if transaction.voidable:
        assert transaction.settles  # 2601 reverses settlements only (settlement's /voids)
    if transaction.moves_money or transaction.reversed_by is not None:
        assert transaction.changes_state
    if transaction.changes_state:
        assert transaction.replayed, (
            "a state-changing code must answer a repeated msgid with its first answer"
        )
    if transaction.reversed_by is not None:
        undo = registry.TRANSACTIONS[transaction.reversed_by]
        assert undo.family == transaction.family and undo.changes_state and undo.replayed


@pytest.mark.parametrize("transaction", TRANSACTIONS, ids=_ids)
def test_declared_in_the_module_named_for_its_family(transaction: Transaction) -> None:
    family = next(f for f in registry.FAMILIES if transaction in f.TRANSACTIONS)
    assert family.__name__ == f"gateway.nhsa.{transaction.family}"
    assert transaction.label and issubclass(transaction.input, BaseModel)


def test_the_rules_that_read_the_registry() -> None:
    assert registry.VOIDABLE_INFNOS == ("2102", "2207", "2304")
    assert tuple(sorted(t.infno for t in TRANSACTIONS if t.voidable)) == registry.VOIDABLE_INFNOS
    # The metrics labels (dashboards and deploy checks read them) are the codes answered before the registry.
    assert {
        "1101", "1201", "1301", "1302", "1305", "1306", "1307", "1308", "1309", "1310", "1311", "1312",
        "1313", "1314", "1315", "1318", "1319", "1303", "1304", "1316", "1317", "1320", "1321", "1901",
        "2001", "2101", "2102", "2103", "2201", "2202", "2203", "2203A", "2204", "2205", "2206", "2207",
        "2208", "2301", "2302", "2303", "2304", "2305", "2401", "2402", "2403", "2404", "2405", "2501",
        "2501A", "2502", "2503", "2504", "2505", "2506", "2507", "2601", "3101", "3102", "3103", "3201",
        "3202", "3203", "3204", "3301", "3302", "3501", "3502", "3503", "3504", "3505", "3506", "3507",
        "4101", "4101A", "4102", "4103", "5201", "5202", "5203", "5204", "5205", "5206", "5301", "5302",
        "5304", "9001", "9002", "9101", "9102",
    } == KNOWN_INFNO_LABELS == set(registry.TRANSACTIONS)  # fmt: skip
    read_only = {t.infno for t in TRANSACTIONS if not t.changes_state}
    assert read_only == {
        "1101", "1201", "1301", "1302", "1305", "1306", "1307", "1308", "1309", "1310", "1311", "1312",
        "1313", "1314", "1315", "1318", "1319", "1303", "1304", "1316", "1317", "1320", "1321", "1901",
        "2001", "2101", "2206", "2303", "3101", "3102", "3201", "4103", "5201", "5202", "5203", "5204",
        "5205", "5206", "5301", "5302", "5304", "9102",
    }  # fmt: skip


class _EchoData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    word: str = Field(min_length=1, max_length=10)


class _EchoInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: _EchoData


async def _echo(call: Call, data: _EchoInput) -> dict[str, Any]:
    return {"data": {"word": data.data.word, "fixmedins_code": call.envelope.fixmedins_code}}


async def test_a_code_declared_in_the_registry_is_answered_read_and_replayed(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new code needs its declaration only: the pipeline reads its input (E_INPUT before the handler),
    answers it, stores the answer and replays it for the same msgid."""
    echo = Transaction("2999", "test", "回显", _EchoInput, _echo, changes_state=True, replayed=True)
    msgid = f"{HOSPITAL}202611201000000999"
    body = examples.envelope("2999", msgid, {"data": {"word": "你好"}}, fixmedins_code=HOSPITAL)
    refused = await gateway.send(body)
    assert refused["infcode"] == -1 and refused["err_msg"].startswith("[E_INFNO]")

    monkeypatch.setitem(registry.TRANSACTIONS, "2999", echo)
    again = {**body, "msgid": f"{HOSPITAL}202611201000001000"}
    answered = await gateway.send(again)
    assert answered["infcode"] == 0, answered
    assert answered["output"] == {"data": {"word": "你好", "fixmedins_code": HOSPITAL}}
    assert await gateway.send(again) == answered
    stored = await gateway.stored(again["msgid"])
    assert stored is not None and stored.infno == "2999"

    bad = await gateway.send({**body, "msgid": f"{HOSPITAL}202611201000001001", "input": {"data": {}}})
    assert bad["infcode"] == -1 and bad["err_msg"] == "[E_INPUT] input.data.word: 必填"


def _refusals(label: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "gateway_transactions_total", {"infno": label, "infcode": "-1", "code": "E_INFNO"}
        )
        or 0.0
    )


async def test_an_unsupported_code_is_counted_by_the_code_requested_and_logged(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    """A national code the platform does not offer keeps its own label; any other code is "other" (the
    label set stays bounded); each refusal is logged with the code as requested, the institution and the
    operator."""
    before_5102, before_other = _refusals("5102"), _refusals("other")
    caplog.set_level(logging.WARNING, logger="gateway.transactions")
    for n, infno in enumerate(("5102", "7777", "7778")):
        body = examples.envelope(infno, f"{HOSPITAL}20261120100000{2000 + n}", {}, fixmedins_code=HOSPITAL)
        refused = await gateway.send(body)
        assert refused["infcode"] == -1 and refused["err_msg"].startswith("[E_INFNO]"), refused
    assert _refusals("5102") == before_5102 + 1
    assert _refusals("other") == before_other + 2  # 7777 and 7778
    assert (
        REGISTRY.get_sample_value(
            "gateway_transactions_total", {"infno": "7777", "infcode": "-1", "code": "E_INFNO"}
        )
        is None
    )
    trails = [t for r in caplog.records if (t := getattr(r, "trail", None))]
    assert [(t["infno"], t["infno_label"]) for t in trails] == [
        ("5102", "5102"),
        ("7777", "other"),
        ("7778", "other"),
    ]
    assert all(t["fixmedins_code"] == HOSPITAL and t["code"] == "E_INFNO" and t["opter"] for t in trails)
    # The JSON log line carries the trail's fields beside the correlation ids, and no operator name.
    line = json.loads(JsonLogFormatter("gateway").format(caplog.records[-1]))
    assert line["infno"] == "7778" and line["event"] == "infno_refused" and line["fixmedins_code"] == HOSPITAL
    assert line["msgid"] == f"{HOSPITAL}202611201000002002"
    assert "opter_name" not in line


def test_the_infno_labels_are_bounded() -> None:
    assert {infno_label(code) for code in ("2102", "1303", "5201", "0000", "9999A")} == {
        "2102",
        "1303",
        "5201",
        "other",
    }
    assert not NOT_OFFERED_INFNOS & KNOWN_INFNO_LABELS  # a code is either answered or not offered


async def test_every_envelope_leaves_one_trail_line(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Answered, replayed, refused and unreadable envelopes each log one "envelope" line with the code as
    requested, the institution, the operator's code and the result; the JSON line carries the msgid."""
    echo = Transaction("2999", "test", "回显", _EchoInput, _echo, changes_state=True, replayed=True)
    monkeypatch.setitem(registry.TRANSACTIONS, "2999", echo)
    caplog.set_level(logging.INFO, logger="gateway.transactions")
    msgid = f"{HOSPITAL}202611201000003000"
    body = examples.envelope("2999", msgid, {"data": {"word": "你好"}}, fixmedins_code=HOSPITAL)
    assert (await gateway.send(body))["infcode"] == 0
    assert (await gateway.send(body))["infcode"] == 0  # replayed
    bad = {**body, "msgid": f"{HOSPITAL}202611201000003001", "input": {"data": {}}}
    assert (await gateway.send(bad))["infcode"] == -1
    # (the fixture signs the operator in first: 9001 has its own line)
    lines = [r for r in caplog.records if getattr(r, "trail", {}).get("infno") == "2999"]
    trails = [getattr(r, "trail") for r in lines]  # noqa: B009 (LogRecord declares no trail)
    assert [(t["infcode"], t["code"]) for t in trails] == [(0, "ok"), (0, "replay"), (-1, "E_INPUT")]
    assert all(
        t["infno"] == "2999" and t["fixmedins_code"] == HOSPITAL and t["opter"] and t["duration_ms"] >= 0
        for t in trails
    )
    assert "setl_id" not in trails[0]  # the echo answers no settlement
    # (formatted as the handler does, in the context of the last envelope: its msgid)
    last = json.loads(JsonLogFormatter("gateway").format(lines[-1]))
    assert last["msgid"] == bad["msgid"] and last["event"] == "envelope" and "opter_name" not in last


def test_the_trail_takes_the_settlement_id_and_amounts_of_an_answer() -> None:
    answer = json.dumps(
        {
            "infcode": 0,
            "output": {
                "setlinfo": {
                    "setl_id": "S1",
                    "psn_no": "P1",
                    "psn_name": "张三",
                    "certno": "120101199001011234",
                    "medfee_sumamt": "100.00",
                    "fund_pay_sumamt": "60.00",
                    "psn_cash_pay": "40.00",
                }
            },
        }
    )
    assert trail_of_answer(answer) == {
        "setl_id": "S1",
        "psn_no": "P1",
        "medfee_sumamt": "100.00",
        "fund_pay_sumamt": "60.00",
        "psn_cash_pay": "40.00",
    }  # no name, no ID number
    assert trail_of_answer('{"infcode": -1, "output": null}') == {} == trail_of_answer("not json")
    # On the wire the amounts are numbers with two decimals: the line keeps them as written (32.00, not 32.0).
    numeric = trail_of_answer('{"output": {"setlinfo": {"setl_id": "S2", "fund_pay_sumamt": 32.00}}}')
    line = json.loads(json.dumps(numeric, default=str))
    assert line == {"setl_id": "S2", "fund_pay_sumamt": "32.00"}
