"""``platformctl supervision-scan`` and ``platformctl publicity-report`` against a stand-in for the
settlement service's HTTP API (the endpoints are tested in test_supervision and test_public_reporting): the
files land where asked, refusals become a clear message and a non-zero exit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from platformctl.__main__ import app
from shared.auth import AUDITOR, DEV_AUTH_SECRET, verify_token


def _fake(calls: list[tuple[str, dict[str, Any]]], tokens: list[str] | None = None) -> Any:
    def respond(url: str, params: dict[str, Any], headers: dict[str, str], **_: Any) -> httpx.Response:
        calls.append((url, params))
        if tokens is not None:
            tokens.append(headers["Authorization"])
        request = httpx.Request("GET", url)
        if params.get("month") == "2026-13":
            error = {"error": {"code": "VALIDATION_ERROR", "message": "请求参数校验失败: month"}}
            return httpx.Response(422, json=error, request=request)
        if url.endswith("/scans"):
            return httpx.Response(200, json={"settlements_checked": 12, "new_hits": 2}, request=request)
        return httpx.Response(200, content=f"report {params['format']}".encode(), request=request)

    return respond


def test_publicity_report_writes_the_three_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(httpx, "get", _fake(calls))
    args = ["publicity-report", "--admdvs", "341524", "--month", "2026-11", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--settlement-url", "http://settlement:8002"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "publicity-341524-2026-11-summary.csv",
        "publicity-341524-2026-11.csv",
        "publicity-341524-2026-11.html",
    ]
    assert (tmp_path / "publicity-341524-2026-11.html").read_text() == "report html"
    assert {c[0] for c in calls} == {"http://settlement:8002/api/v1/reports/publicity"}


def test_a_refused_report_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpx, "get", _fake([]))
    result = CliRunner().invoke(
        app, ["publicity-report", "--admdvs", "341524", "--month", "2026-13", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "VALIDATION_ERROR" in result.output
    assert list(tmp_path.iterdir()) == []


def test_supervision_scan_reports_what_it_found(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    tokens: list[str] = []
    monkeypatch.setattr(httpx, "post", _fake(calls, tokens))
    result = CliRunner().invoke(app, ["supervision-scan", "--day", "2026-11-20"])
    assert result.exit_code == 0, result.output
    # A token minted with the auth secret for an auditor, as `platformctl token --role auditor` would.
    principal = verify_token(DEV_AUTH_SECRET, tokens[0].removeprefix("Bearer "))
    assert AUDITOR in principal.roles
    given = CliRunner().invoke(app, ["supervision-scan", "--day", "2026-11-20", "--token", "abc"])
    assert given.exit_code == 0 and tokens[-1] == "Bearer abc"
    assert "2026-11-20: 12 settlements checked, 2 new hits" in result.output
    assert calls[0] == ("http://127.0.0.1:8002/api/v1/supervision/scans", {"day": "2026-11-20"})
    bad = CliRunner().invoke(app, ["supervision-scan", "--day", "20 November"])
    assert bad.exit_code == 2
