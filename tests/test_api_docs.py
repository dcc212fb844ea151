"""The services' API documentation (issue 28): the pages work without internet (their assets come from the
service), and the OpenAPI document describes every operation with its refusals."""

from __future__ import annotations

import importlib
import re

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
