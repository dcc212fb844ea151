"""The API documentation pages every service serves, with no request leaving the machine: Swagger UI at
``/docs`` and ReDoc at ``/redoc``, their scripts and styles served by the service itself from the
``fastapi-offline`` package (``/docs/assets/...``) instead of a CDN. An office network without internet,
or one that blocks CDNs, still gets working pages."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/docs/assets"
#: The files the pages load (all from ``ASSETS_PATH``).
SWAGGER_JS = "swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui.css"
REDOC_JS = "redoc.standalone.js"
FAVICON = "favicon.png"


def assets_dir() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def install_offline_docs(app: FastAPI) -> None:
    """``app`` must be created with ``docs_url=None, redoc_url=None`` (FastAPI's own pages load a CDN)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=assets_dir()), name="docs-assets")
    oauth2_redirect = "/docs/oauth2-redirect"

    def asset(request: Request, name: str) -> str:
        return f"{request.scope.get('root_path', '')}{ASSETS_PATH}/{name}"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=asset(request, SWAGGER_JS),
            swagger_css_url=asset(request, SWAGGER_CSS),
            swagger_favicon_url=asset(request, FAVICON),
            oauth2_redirect_url=f"{root}{oauth2_redirect}",
        )

    @app.get(oauth2_redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=asset(request, REDOC_JS),
            redoc_favicon_url=asset(request, FAVICON),
            with_google_fonts=False,
        )


#: The body of every refusal (``shared.errors.error_body``), as the OpenAPI document names it.
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "stable error code (README.md, error codes)"},
                "message": {"type": "string", "description": "Chinese text for the clerk"},
                "details": {"description": "per-field reasons of a VALIDATION_ERROR"},
            },
        },
        "request_id": {"type": "string", "description": "the request's X-Request-ID, for the logs"},
    },
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
#: The refusals every operation of a kind can answer, documented on each unless it documents its own.
_SECURED = {
    "401": "UNAUTHENTICATED: no bearer token, a bad signature, or an expired token.",
    "403": "FORBIDDEN: the token's roles may not do this (each router names the roles that may read and "
    "that may change).",
}
_VALIDATION = (
    "VALIDATION_ERROR: a parameter or body field is missing or malformed (``error.details`` names each), "
    "or a domain refusal of the request as given (the code is in ``error.code``, see README.md). "
    "Nothing was changed."
)


def document_refusals(spec: dict[str, Any]) -> dict[str, Any]:
    """Every operation documents the refusals it can answer with the platform's error body: 401 and 403
    for an operation behind a bearer token, 422 for one that takes parameters or a body (FastAPI's own
    422 schema is not what the services answer)."""
    spec.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for methods in spec.get("paths", {}).values():
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            codes: dict[str, str] = {}
            if operation.get("security"):
                codes.update(_SECURED)
            if operation.get("parameters") or operation.get("requestBody"):
                codes["422"] = _VALIDATION
            for status, description in codes.items():
                documented = responses.setdefault(status, {"description": description})
                if status == "422" and "HTTPValidationError" in str(documented.get("content", "")):
                    documented["description"] = description
                documented["content"] = {"application/json": {"schema": _ERROR_REF}}
    spec["components"]["schemas"].pop("HTTPValidationError", None)
    spec["components"]["schemas"].pop("ValidationError", None)
    return spec


def install_documented_refusals(app: FastAPI) -> None:
    """The app's OpenAPI document, built once, with ``document_refusals`` applied."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_refusals(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
