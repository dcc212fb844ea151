"""The transaction registry: each code's properties agree with one another and with the rules that read them
(2601's list, the metrics labels), and a code declared in the registry is answered by the pipeline with
nothing else to touch."""

from __future__ import annotations

from typing import Any

import pytest
from gateway import registry
from gateway.nhsa import void
from gateway.nhsa.transaction import Call, Transaction
from gateway.transactions import KNOWN_INFNO_LABELS
from pydantic import BaseModel, ConfigDict, Field

from platformctl import examples
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
    assert void.reversible_infnos() == ("2102", "2207", "2304")
    assert tuple(sorted(t.infno for t in TRANSACTIONS if t.voidable)) == registry.VOIDABLE_INFNOS
    # The metrics labels (dashboards and deploy checks read them) are the codes answered before the registry.
    assert {
        "1101", "2101", "2102", "2103", "2201", "2202", "2203", "2203A", "2204", "2205", "2206", "2207",
        "2208", "2301", "2302", "2303", "2304", "2305", "2401", "2402", "2403", "2404", "2405", "2601",
        "3201", "5201", "5203", "9001", "9002",
    } == KNOWN_INFNO_LABELS == set(registry.TRANSACTIONS)  # fmt: skip
    read_only = {t.infno for t in TRANSACTIONS if not t.changes_state}
    assert read_only == {"1101", "2101", "2206", "2303", "3201", "5201", "5203"}


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
