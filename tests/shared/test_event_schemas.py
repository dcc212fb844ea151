"""The published event schemas (docs/events/, issue 28): generated from the models and committed, checked
here to match; producers strict, consumers tolerant of fields they do not know."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from shared.contracts.v1 import event_schemas
from shared.events import EVENT_TYPES, EventEnvelope, FundPayment, PersonRegistered, SettlementCompleted

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events"


def _completed() -> SettlementCompleted:
    return SettlementCompleted(
        setl_id="S1",
        mdtrt_id="M1",
        msgid="P3415240000120261120100000001",
        psn_no="341524000000000001",
        fixmedins_code="P34152400001",
        institution_level="1",
        insutype="390",
        insuplc_admdvs="341524",
        mdtrtarea_admvs="341524",
        med_type="41",
        clr_type="41",
        setl_time=datetime(2026, 11, 20, 2, 0, tzinfo=UTC),
        medfee_sumamt_fen=9000,
        fund_pay_sumamt_fen=3200,
        psn_cash_pay_fen=5800,
        fund_payments=[FundPayment(fund_pay_type="390100", amount_fen=3200)],
    )


def test_the_committed_schemas_are_the_models_schemas() -> None:
    expected = event_schemas.all_schemas()
    committed = {path.name for path in DOCS.glob("*.json")}
    assert committed == set(expected), "run: python -m platformctl event-schemas"
    for name, schema in expected.items():
        assert (DOCS / name).read_text(encoding="utf-8") == event_schemas.render(schema), name
    assert {f"{t}.v{m.event_version}.schema.json" for t, m in EVENT_TYPES.items()} < set(expected)


def test_an_event_as_produced_validates_and_an_added_field_does_not() -> None:
    envelope = json.loads(_completed().envelope("settlement", trace_id="req-1").to_bytes())
    schema = json.loads((DOCS / "settlement.completed.v1.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(envelope)
    with pytest.raises(jsonschema.ValidationError):  # what producers write is exactly the schema
        jsonschema.Draft202012Validator(schema).validate({**envelope, "data": {**envelope["data"], "x": 1}})
    registered = PersonRegistered(psn_no="341524000000000001", gend="1", admdvs="341524")
    assert not {"certno", "psn_name", "brdy"} & set(registered.model_dump())  # minimised (v2)


def test_producers_are_strict_and_consumers_ignore_what_they_do_not_know() -> None:
    with pytest.raises(ValidationError):
        SettlementCompleted(**{**_completed().model_dump(), "added_later": "x"})
    raw = json.loads(_completed().envelope("settlement").to_bytes())
    raw["routing_hint"] = "added by a later producer"
    raw["data"]["added_later"] = "x"
    raw["data"]["fund_payments"][0]["sub_fund"] = "y"
    envelope = EventEnvelope.from_bytes(json.dumps(raw).encode())
    event = SettlementCompleted.read(envelope.data)
    assert event.fund_pay_sumamt_fen == 3200 and event.fund_payments[0].amount_fen == 3200
    missing = {k: v for k, v in envelope.data.items() if k != "setl_id"}
    with pytest.raises(ValidationError):  # tolerant of additions, not of a missing field
        SettlementCompleted.read(missing)
