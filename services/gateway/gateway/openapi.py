"""The HIS entry point in the gateway's OpenAPI document (``/docs``): ``callService`` takes one envelope
per transaction code and always answers HTTP 200 with a response envelope. Generated from the registry
(``gateway.registry``): one request schema per code (the envelope with that ``infno`` and the code's
``input`` model), the response envelope, the signature headers of the default scheme, and the error codes
an ``err_msg`` can start with (``shared.error_codes``); and, for every code with a list of output fields
(``gateway.nhsa.fields``), its ``output`` schema ``Output<infno>`` with each node's field names and types.
docs/interface.md describes each code's fields."""

from __future__ import annotations

from typing import Any

from gateway import registry
from gateway.nhsa import fields
from gateway.protocol.envelope import RequestEnvelope
from shared.error_codes import ENVELOPE_STATUS, ErrorCode

#: The signature headers of the default scheme (``gateway.security.schemes``, ``x-tif``).
SIGNATURE_HEADERS = {
    "x-tif-paasid": "The institution's caller id, as registered (PUT /api/v1/institutions/{fixmedins_code}).",
    "x-tif-timestamp": "Unix time in seconds; refused outside the signature window.",
    "x-tif-nonce": "A value used once per institution within the window (at most 64 characters).",
    "x-tif-signature": "sha256 hex of timestamp + secret + nonce + timestamp.",
}
HIS_OPERATIONS = ("/fsi/api/rsfComIfsService/callService", "/fsi/api/rsfComIfsService/callService/{infno}")

RESPONSE_ENVELOPE: dict[str, Any] = {
    "title": "ResponseEnvelope",
    "type": "object",
    "required": ["infcode", "inf_refmsgid", "refmsg_time", "respond_time", "output"],
    "properties": {
        "infcode": {"type": "integer", "enum": [0, -1], "description": "0 success, -1 refused"},
        "inf_refmsgid": {"type": "string", "description": "the gateway's id of this answer"},
        "refmsg_time": {"type": "string", "description": "received, yyyyMMddHHmmssSSS (Beijing)"},
        "respond_time": {"type": "string", "description": "answered, yyyyMMddHHmmssSSS (Beijing)"},
        "err_msg": {
            "type": ["string", "null"],
            "description": "the refusal: '[CODE] Chinese text' (the codes are listed on the operation)",
        },
        "warn_msg": {"type": ["string", "null"]},
        "cainfo": {"type": ["string", "null"]},
        "signtype": {"type": ["string", "null"]},
        "output": {
            "type": "object",
            "description": "the code's answer (docs/interface.md names its fields); {} on a refusal",
        },
    },
}


def _schema_name(infno: str) -> str:
    return f"Envelope{infno}"


def _output_name(infno: str) -> str:
    return f"Output{infno}"


_TIME_PATTERN = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
#: A field kind of ``gateway.nhsa.fields`` as JSON Schema.
KIND_SCHEMAS: dict[str, dict[str, Any]] = {
    "text": {"type": "string", "description": "text; an empty string when it has no value"},
    "date": {"type": "string", "format": "date", "description": "yyyy-MM-dd"},
    "time": {"type": "string", "pattern": _TIME_PATTERN, "description": "yyyy-MM-dd HH:mm:ss"},
    "amount": {"type": "number", "description": "yuan, at most two decimals"},
    "ratio": {"type": "number", "description": "a ratio, at most four decimals"},
    "number": {"type": "number"},
    "flag": {"type": "boolean"},
    "filed": {"description": "as the institution filed it"},
}


def _field_schema(field: fields.Field) -> dict[str, Any]:
    if isinstance(field, fields.Maybe):
        return _field_schema(field.field)
    if isinstance(field, tuple):
        return {"type": "array", "items": _field_schema(field[0])}
    if isinstance(field, dict):
        return _node_schema(field)
    schema = dict(KIND_SCHEMAS[field.rstrip("?")])
    if field.endswith("?"):
        schema["description"] = "; ".join(
            filter(None, (schema.get("description"), "left out when it has no value (never null)"))
        )
    return schema


def _required(field: fields.Field) -> bool:
    return not (isinstance(field, fields.Maybe) or (isinstance(field, str) and field.endswith("?")))


def _node_schema(node: fields.Node) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "required": [name for name, f in node.items() if name != "*" and _required(f)],
        "properties": {name: _field_schema(f) for name, f in node.items() if name != "*"},
    }
    if "*" in node:  # a record echoed as filed: other keys as the institution sent them
        schema["additionalProperties"] = True
    return schema


def output_schemas() -> dict[str, dict[str, Any]]:
    """Components: ``Output<infno>``, the ``output`` of each code whose fields are listed in
    ``gateway.nhsa.fields`` (a node of rows is an array; an output given in several forms, a catalogue
    download's page or file, is ``oneOf`` them)."""
    components: dict[str, dict[str, Any]] = {}
    for infno, nodes in sorted(fields.OUTPUT.items()):
        transaction = registry.TRANSACTIONS.get(infno)
        label = f"{infno} {transaction.label}" if transaction is not None else infno
        components[_output_name(infno)] = {
            "title": f"Output{infno}",
            "description": f"The output of {label} (infcode 0)",
            **(
                {"oneOf": [_node_schema(form) for form in nodes.forms]}
                if isinstance(nodes, fields.Either)
                else _node_schema(nodes)
            ),
        }
    return components


def request_schemas() -> dict[str, dict[str, Any]]:
    """Components: one envelope schema per transaction code, and the models their inputs use."""
    components: dict[str, dict[str, Any]] = {}
    envelope = RequestEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
    envelope.pop("$defs", None)
    for infno, transaction in sorted(registry.TRANSACTIONS.items()):
        input_schema = transaction.input.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in input_schema.pop("$defs", {}).items():
            components.setdefault(name, definition)
        properties = dict(envelope["properties"])
        properties["infno"] = {"const": infno, "type": "string"}
        properties["input"] = input_schema
        components[_schema_name(infno)] = {
            "title": f"{infno} {transaction.label}",
            "type": "object",
            "required": envelope.get("required", []),
            "properties": properties,
            "description": (
                f"{infno} {transaction.label} ({transaction.family})"
                + (f"; answered with `{_output_name(infno)}`" if infno in fields.OUTPUT else "")
                + ("; changes state" if transaction.changes_state else "")
                + ("; a repeated msgid is answered with the first answer" if transaction.replayed else "")
                + (f"; undone by {transaction.reversed_by}" if transaction.reversed_by else "")
                + ("; 2601 may void it" if transaction.voidable else "")
            ),
        }
    components.update(output_schemas())
    outputs = [{"$ref": f"#/components/schemas/{_output_name(i)}"} for i in sorted(fields.OUTPUT)]
    response = {**RESPONSE_ENVELOPE, "properties": dict(RESPONSE_ENVELOPE["properties"])}
    response["properties"]["output"] = {
        "description": "the code's answer: `Output<infno>` for the request's infno where one is listed, "
        "else an object docs/interface.md describes; {} on a refusal",
        "anyOf": [*outputs, {"type": "object"}],
    }
    components["ResponseEnvelope"] = response
    return components


def error_codes_text() -> str:
    codes = [c for c in ErrorCode if ENVELOPE_STATUS in c.statuses]
    return "\n".join(f"- `{c.value}`: {c.err_msg}" for c in sorted(codes, key=lambda c: c.value))


def document_his(spec: dict[str, Any]) -> dict[str, Any]:
    """Put the per-code request schemas, the response envelope, the signature headers and the error
    codes on the HIS operations of ``spec``."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(request_schemas())
    one_of = [{"$ref": f"#/components/schemas/{_schema_name(i)}"} for i in sorted(registry.TRANSACTIONS)]
    codes = ", ".join(sorted(registry.TRANSACTIONS))
    for path in HIS_OPERATIONS:
        operation = spec.get("paths", {}).get(path, {}).get("post")
        if operation is None:
            continue
        parameters = [p for p in operation.get("parameters", []) if p.get("in") != "header"]
        parameters += [
            {
                "name": name,
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": text,
            }
            for name, text in SIGNATURE_HEADERS.items()
        ]
        operation["parameters"] = parameters
        operation["requestBody"] = {
            "required": True,
            "description": f"One envelope; its `infno` chooses the input schema. Answered codes: {codes}.",
            "content": {
                "application/json": {
                    "schema": {"oneOf": one_of, "discriminator": {"propertyName": "infno"}},
                }
            },
        }
        operation["responses"] = {
            "200": {
                "description": "Always HTTP 200 with a response envelope: `infcode` 0 with the code's "
                "`output`, or -1 with `err_msg` '[CODE] text', the codes being:\n\n" + error_codes_text(),
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ResponseEnvelope"}}
                },
            }
        }
    return spec
