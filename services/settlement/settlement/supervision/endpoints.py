from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from settlement.supervision import service
from settlement.supervision.schemas import (
    AuditOut,
    HitOut,
    HitReview,
    RuleOut,
    RuleUpdate,
    SanctionCreate,
    SanctionEnd,
    SanctionKind,
    SanctionOut,
    ScanOut,
)
from shared.auth import PrincipalDep, acting
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/supervision", tags=["supervision"])

#: Said by every endpoint that records who acted.
WHO_ACTS = (
    " Who acts is the caller the bearer token names: its subject and roles are recorded, with an audit row "
    "(`/api/v1/supervision/audit`). The body's `operator` is deprecated and may be left out; if given it "
    "must equal the token's subject, else 403 `OPERATOR_MISMATCH` and nothing changes."
)


@router.get("/rules", response_model=list[RuleOut])
async def list_rules(runtime: RuntimeDep) -> list[RuleOut]:
    """The fraud-signal rules with their parameters and whether they run at settlement or in
    the daily batch."""
    async with runtime.db.session() as session:
        return await service.list_rules(session)


@router.put(
    "/rules/{code}",
    response_model=RuleOut,
    description="Switch a rule on or off and set its parameters." + WHO_ACTS,
)
async def configure_rule(code: str, body: RuleUpdate, runtime: RuntimeDep, caller: PrincipalDep) -> RuleOut:
    actor = acting(caller, body.operator)
    async with runtime.transaction() as session:
        return await service.configure_rule(session, code, body, actor)


@router.post(
    "/scans",
    response_model=ScanOut,
    description="The daily batch for one day of care (run by `platformctl supervision scan` from cron). "
    "Each run leaves an audit row with the caller's token subject and roles.",
)
async def scan(runtime: RuntimeDep, day: Annotated[date, Query()], caller: PrincipalDep) -> ScanOut:
    actor = acting(caller, None)
    async with runtime.transaction() as session:
        checked, hits = await service.scan_day(session, day, actor)
        return ScanOut(
            day=day,
            settlements_checked=checked,
            new_hits=len(hits),
            hits=[HitOut.model_validate(h) for h in hits],
        )


@router.get("/hits", response_model=list[HitOut])
async def list_hits(
    runtime: RuntimeDep,
    status: Annotated[str | None, Query(pattern=r"^(open|confirmed|dismissed)$")] = None,
    rule_code: str | None = None,
    subject: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[HitOut]:
    """Fraud signals waiting for review or reviewed, filtered by status, rule or subject.
    Refused: 422 on a status other than open, confirmed or dismissed."""
    async with runtime.db.session() as session:
        return [
            HitOut.model_validate(h)
            for h in await service.list_hits(session, status, rule_code, subject, limit)
        ]


@router.get("/hits/{hit_id}", response_model=HitOut)
async def get_hit(hit_id: int, runtime: RuntimeDep) -> HitOut:
    """One fraud signal with its evidence and review. Refused: 404 HIT_NOT_FOUND."""
    async with runtime.db.session() as session:
        return HitOut.model_validate(await service.get_hit(session, hit_id))


@router.post(
    "/hits/{hit_id}/review",
    response_model=HitOut,
    description="Confirm or dismiss an open hit, with the reason." + WHO_ACTS,
)
async def review_hit(hit_id: int, body: HitReview, runtime: RuntimeDep, caller: PrincipalDep) -> HitOut:
    actor = acting(caller, body.operator)
    async with runtime.transaction() as session:
        return HitOut.model_validate(await service.review_hit(session, hit_id, body, actor))


@router.post(
    "/sanctions",
    status_code=201,
    response_model=SanctionOut,
    description="Suspend an institution or put a person on full self-advance from a date." + WHO_ACTS,
)
async def impose(body: SanctionCreate, runtime: RuntimeDep, caller: PrincipalDep) -> SanctionOut:
    actor = acting(caller, body.operator)
    async with runtime.transaction() as session:
        return SanctionOut.model_validate(await service.impose(session, body, actor))


@router.get("/sanctions", response_model=list[SanctionOut])
async def list_sanctions(
    runtime: RuntimeDep, kind: SanctionKind | None = None, subject: str | None = None
) -> list[SanctionOut]:
    """Sanctions decided by auditors (suspension, full self-advance), by kind or subject."""
    async with runtime.db.session() as session:
        return [SanctionOut.model_validate(s) for s in await service.list_sanctions(session, kind, subject)]


@router.post(
    "/sanctions/{sanction_id}/end",
    response_model=SanctionOut,
    description="End a sanction early: the last day it is in force (never deleted)." + WHO_ACTS,
)
async def end_sanction(
    sanction_id: int, body: SanctionEnd, runtime: RuntimeDep, caller: PrincipalDep
) -> SanctionOut:
    actor = acting(caller, body.operator)
    async with runtime.transaction() as session:
        return SanctionOut.model_validate(await service.end_sanction(session, sanction_id, body, actor))


@router.get("/audit", response_model=list[AuditOut])
async def audit(
    runtime: RuntimeDep,
    object_type: Annotated[str | None, Query(max_length=30)] = None,
    object_id: Annotated[str | None, Query(max_length=60)] = None,
) -> list[AuditOut]:
    """The supervision audit trail (reviews, sanctions, rule changes): who did what and when,
    by object."""
    async with runtime.db.session() as session:
        return [
            AuditOut.model_validate(a) for a in await service.audit_trail(session, object_type, object_id)
        ]
