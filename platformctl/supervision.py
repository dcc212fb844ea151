"""Operator commands for supervision and public reporting, over the settlement service's HTTP API:
``platformctl supervision-scan`` (the daily batch of fraud-signal rules, for cron) and
``platformctl publicity-report`` (the monthly public report as CSV and HTML files)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx


class CommandFailed(Exception):
    pass


def _check(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            message = f"[{error['code']}] {error['message']}"
        except (ValueError, KeyError, TypeError):
            message = response.text[:300]
        raise CommandFailed(f"HTTP {response.status_code}: {message}")
    return response


def scan(
    settlement_url: str, day: date, timeout_s: float = 300.0, headers: dict[str, str] | None = None
) -> tuple[int, int]:
    """Run the daily batch for ``day``; (settlements checked, new hits)."""
    response = _check(
        httpx.post(
            f"{settlement_url.rstrip('/')}/api/v1/supervision/scans",
            params={"day": day.isoformat()},
            timeout=timeout_s,
            headers=headers or {},
        )
    )
    body = response.json()
    return int(body["settlements_checked"]), int(body["new_hits"])


@dataclass(frozen=True)
class Written:
    paths: list[Path]


FILES = {"csv": "{name}.csv", "summary-csv": "{name}-summary.csv", "html": "{name}.html"}


def publicity(
    settlement_url: str,
    admdvs: str,
    month: str,
    out_dir: Path,
    timeout_s: float = 120.0,
    headers: dict[str, str] | None = None,
) -> Written:
    """Fetch the report in each format from the operator endpoint and write the files into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt, pattern in FILES.items():
        response = _check(
            httpx.get(
                f"{settlement_url.rstrip('/')}/api/v1/reports/publicity",
                params={"admdvs": admdvs, "month": month, "format": fmt},
                timeout=timeout_s,
                headers=headers or {},
            )
        )
        path = out_dir / pattern.format(name=f"publicity-{admdvs}-{month}")
        path.write_bytes(response.content)
        paths.append(path)
    return Written(paths)
