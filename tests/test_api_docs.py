"""The services' API documentation (issue 28): the pages work without internet (their assets come from the
service), and the OpenAPI document describes every operation with its refusals."""

from __future__ import annotations

import importlib
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from platformctl.services import SERVICES

NAMES = sorted(SERVICES)


def _app(name: str) -> FastAPI:
    app: FastAPI = importlib.import_module(f"{SERVICES[name].package}.main").create_app()
    return app


@pytest.mark.parametrize("name", NAMES)
async def test_docs_pages_load_every_asset_from_the_service_itself(name: str) -> None:
    app = _app(name)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        for page in ("/docs", "/redoc"):
            html = (await client.get(page)).text
            assert "<html" in html.lower(), page
            sources = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html) + re.findall(
                r"""url:\s*['"]([^'"]+)['"]""", html
            )
            assert sources, page
            external = [s for s in sources if re.match(r"^(?:https?:)?//", s)]
            assert external == [], (page, external)  # no CDN, no web font
            for source in sources:
                response = await client.get(source)
                assert response.status_code == 200, (page, source)
                assert len(response.content) > 1000 or source.endswith(".json"), (page, source)
        spec = (await client.get("/openapi.json")).json()
    assert spec["info"]["title"]


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    ]


@pytest.mark.parametrize("name", NAMES)
def test_every_operation_is_described_with_its_refusals(name: str) -> None:
    spec = _app(name).openapi()
    undescribed = [f"{m} {p}" for m, p, op in _operations(spec) if len(op.get("description", "")) < 20]
    assert undescribed == [], f"{name}: operations without a description: {undescribed}"
    no_refusals = [
        f"{m} {p}"
        for m, p, op in _operations(spec)
        if not p.startswith(("/healthz", "/readyz", "/fsi/"))
        and not any(str(code).startswith("4") for code in op.get("responses", {}))
    ]
    assert no_refusals == [], f"{name}: operations documenting no 4xx: {no_refusals}"


def test_call_service_documents_each_code_its_headers_and_refusals() -> None:
    """The HIS entry point: a request schema per transaction code from the registry (its ``input`` model),
    the response envelope, the signature headers, and every code an ``err_msg`` can carry."""
    from gateway import registry

    from shared.error_codes import ErrorCode

    spec = _app("gateway").openapi()
    operation = spec["paths"]["/fsi/api/rsfComIfsService/callService"]["post"]
    schemas = spec["components"]["schemas"]
    refs = [
        r["$ref"].rsplit("/", 1)[1]
        for r in operation["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    ]
    assert refs == [f"Envelope{infno}" for infno in sorted(registry.TRANSACTIONS)]
    for infno, transaction in registry.TRANSACTIONS.items():
        envelope = schemas[f"Envelope{infno}"]
        assert envelope["properties"]["infno"]["const"] == infno
        expected = transaction.input.model_json_schema(ref_template="#/components/schemas/{model}")
        expected.pop("$defs", None)
        assert envelope["properties"]["input"] == expected, infno
        assert transaction.label in envelope["title"]
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert headers == {"x-tif-paasid", "x-tif-timestamp", "x-tif-nonce", "x-tif-signature"}
    answer = operation["responses"]["200"]
    assert answer["content"]["application/json"]["schema"]["$ref"].endswith("/ResponseEnvelope")
    for code in (ErrorCode.E_SIGNATURE, ErrorCode.E_INFNO, ErrorCode.E_INPUT, ErrorCode.E_MSGID_REUSED):
        assert f"`{code.value}`" in answer["description"]


def test_call_service_documents_each_codes_output_fields_and_types() -> None:
    """The answer's ``output`` per code (``Output<infno>``), generated from the field lists written from
    the interface (``gateway/nhsa/fields.py``): names, types, lists of rows, fields that may be left out."""
    from gateway.nhsa import fields

    spec = _app("gateway").openapi()
    schemas = spec["components"]["schemas"]
    outputs = [r["$ref"] for r in schemas["ResponseEnvelope"]["properties"]["output"]["anyOf"] if "$ref" in r]
    assert outputs == [f"#/components/schemas/Output{infno}" for infno in sorted(fields.OUTPUT)]
    assert "`Output2102`" in schemas["Envelope2102"]["description"]

    settled = schemas["Output2102"]
    assert settled["required"] == ["setlinfo", "setldetail", "detlcutinfo"]
    setlinfo = settled["properties"]["setlinfo"]
    assert setlinfo["properties"]["hifp_pay"]["type"] == "number"
    assert setlinfo["properties"]["naty"]["type"] == "string"
    assert setlinfo["properties"]["brdy"]["format"] == "date"
    assert {"psn_no", "setl_id", "psn_cash_pay", "medins_setl_id"} <= set(setlinfo["required"])
    lines = settled["properties"]["detlcutinfo"]
    assert lines["type"] == "array"
    assert {"bas_medn_flag", "lmt_used_flag"} <= set(lines["items"]["required"])
    assert "pric_uplmt_amt" not in lines["items"]["required"]  # left out when there is no cap

    person = schemas["Output1101"]["properties"]
    assert person["insuinfo"]["type"] == "array" and person["idetinfo"]["type"] == "array"
    assert person["baseinfo"]["properties"]["age"]["type"] == "number"
    assert "paus_insu_date" not in person["insuinfo"]["items"]["required"]
    assert set(schemas["Output9001"]["properties"]["signinoutb"]["properties"]) == {"sign_time", "sign_no"}
    page, file = schemas["Output1312"]["oneOf"]  # a catalogue download: one page inline, or a file
    assert page["properties"]["firstPage"]["type"] == "boolean" and "data" in page["required"]
    assert {"file_qury_no", "ver", "recordCounts"} <= set(file["required"])
    assert "data" not in file["properties"]

    # Every listed field of every code is in its schema.
    def same(field: fields.Field, schema: dict[str, Any], where: str) -> None:
        if isinstance(field, fields.Maybe):
            same(field.field, schema, where)
        elif isinstance(field, tuple):
            same(field[0], schema["items"], where)
        elif isinstance(field, dict):
            assert set(schema["properties"]) == set(field) - {"*"}, where
            for name, inner in field.items():
                if name != "*":
                    same(inner, schema["properties"][name], f"{where}.{name}")

    for infno, nodes in fields.OUTPUT.items():
        if isinstance(nodes, fields.Either):  # a catalogue download: one page, or a file
            for form, schema in zip(nodes.forms, schemas[f"Output{infno}"]["oneOf"], strict=True):
                same(form, schema, infno)
        else:
            same(nodes, schemas[f"Output{infno}"], infno)


def test_the_gateways_document_has_no_duplicate_operation_id() -> None:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec = _app("gateway").openapi()
    assert [str(w.message) for w in caught if "Duplicate Operation ID" in str(w.message)] == []
    ids = [op["operationId"] for _, _, op in _operations(spec)]
    assert len(ids) == len(set(ids))
    catch_all = spec["paths"]["/fsi/{rest}"]
    assert set(catch_all) == {"get", "post", "put", "delete", "patch"}
