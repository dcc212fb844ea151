from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from settlement.config import SettlementSettings
from settlement.reporting import document, service
from shared.auth import authenticator
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/reports", tags=["public reporting"])


@router.get("/publicity", response_model=None)
async def publicity(
    runtime: RuntimeDep,
    request: Request,
    admdvs: Annotated[str, Query(pattern=r"^\d{6}$")],
    month: Annotated[str, Query(pattern=r"^20\d\d-(0[1-9]|1[0-2])$")],
    format: Annotated[str, Query(pattern=r"^(json|csv|summary-csv|html)$")] = "json",
) -> Any:
    """The monthly public report of a pooling region: the compensation list per village (names masked), the
    beneficiaries, the inpatient actual reimbursement ratio, the largest compensations, the enrollment rate
    (from enrollment) and the fund's income, spending and balance (the ledger's disclosure statement).
    ``format``: json, csv (the publicity list), summary-csv, html (a document with charts)."""
    settings = runtime.settings
    assert isinstance(settings, SettlementSettings)
    sources = service.HttpSources(
        settings.enrollment_url,
        settings.ledger_url,
        settings.report_timeout_s,
        authenticator(request).service_headers(),
    )
    async with runtime.db.session() as session:
        report = await service.build(session, admdvs, month, sources)
    name = f"publicity-{admdvs}-{month}"
    if format == "csv":
        return _file(document.publicity_csv(report), "text/csv; charset=utf-8", f"{name}.csv")
    if format == "summary-csv":
        return _file(document.summary_csv(report), "text/csv; charset=utf-8", f"{name}-summary.csv")
    if format == "html":
        return _file(document.html(report).encode(), "text/html; charset=utf-8", f"{name}.html")
    return {
        "admdvs": report.admdvs,
        "month": report.month,
        "beneficiaries": report.beneficiaries,
        "compensations": len(report.compensations),
        "medfee_fen": report.medfee_fen,
        "fund_paid_fen": report.fund_paid_fen,
        "inpatient_medfee_fen": report.inpatient_medfee_fen,
        "inpatient_fund_paid_fen": report.inpatient_fund_paid_fen,
        "inpatient_ratio": None if report.inpatient_ratio is None else str(report.inpatient_ratio),
        "by_village": [{"village": v, "count": n, "fund_paid_fen": p} for v, n, p in report.by_village],
        "largest": [_line(c) for c in report.largest],
        "list": [_line(c) for c in report.compensations],
        "enrollment": report.enrollment,
        "disclosure": report.disclosure,
        "unavailable": report.unavailable,
    }


def _line(c: service.Compensation) -> dict[str, Any]:
    return {
        "village": c.village,
        "name": c.masked_name,
        "kind": c.kind,
        "care_day": c.care_day.isoformat(),
        "source": c.source,
        "reference": c.reference,
        "medfee_fen": c.medfee_fen,
        "fund_paid_fen": c.fund_paid_fen,
    }


def _file(body: bytes, media_type: str, filename: str) -> Response:
    return Response(
        body, media_type=media_type, headers={"content-disposition": f'attachment; filename="{filename}"'}
    )
