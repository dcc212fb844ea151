"""JSON Schemas of the events on the bus, generated from the models (``shared.contracts.v1.events``) and
committed under ``docs/events/`` for consumers outside the platform: one file per event type and version
(the envelope with that ``type``, ``version`` and the event's ``data``), plus ``envelope.schema.json``.
``python -m platformctl event-schemas`` writes them; ``tests/shared/test_event_schemas.py`` fails when the
committed files and the models differ.

The schemas describe what producers write: every field the model declares, ``additionalProperties`` false.
A consumer written against them should still ignore fields it does not know (a compatible addition comes
with the same major ``version``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.contracts.v1.events import ALL_TOPICS, EVENT_TYPES, EventEnvelope

DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://medins.invalid/events/"


def file_name(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}.schema.json"


def envelope_schema() -> dict[str, Any]:
    schema = EventEnvelope.model_json_schema()
    schema["additionalProperties"] = False
    return {"$schema": DRAFT, "$id": BASE_ID + "envelope.schema.json", **schema}


def event_schema(event_type: str) -> dict[str, Any]:
    model = EVENT_TYPES[event_type]
    data = model.model_json_schema()
    defs = data.pop("$defs", {})
    envelope = envelope_schema()
    properties = dict(envelope["properties"])
    properties["type"] = {"const": event_type, "type": "string"}
    properties["version"] = {"const": model.event_version, "type": "integer"}
    properties["data"] = data
    schema: dict[str, Any] = {
        "$schema": DRAFT,
        "$id": BASE_ID + file_name(event_type, model.event_version),
        "title": f"{event_type} v{model.event_version}",
        "description": f"Topic {model.topic}, key psn_no. {(model.__doc__ or '').strip()}".strip(),
        "type": "object",
        "required": envelope["required"],
        "additionalProperties": False,
        "properties": properties,
        "x-topic": model.topic,
    }
    if defs:
        schema["$defs"] = defs
    return schema


def all_schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema, for every event type and the envelope."""
    schemas = {"envelope.schema.json": envelope_schema()}
    for event_type, model in sorted(EVENT_TYPES.items()):
        schemas[file_name(event_type, model.event_version)] = event_schema(event_type)
    return schemas


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def write(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in all_schemas().items():
        path = folder / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


def topics() -> tuple[str, ...]:
    return ALL_TOPICS
