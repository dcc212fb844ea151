"""Supervision operations: rule configuration, evaluating rules (at settlement time and in the daily batch),
the review queue, sanctions, and the audit trail. Every supervisory act writes a ``SupervisionAudit`` row in
the same transaction as the change it records. Who acted is the authenticated caller (``Principal``: the
bearer token's subject, kept with its roles on the record and on its audit row), never a name typed into
the request."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement import reference
from settlement.eligibility.models import Eligibility
from settlement.institutions.models import Institution
from settlement.settlements.models import Settlement
from settlement.supervision.models import Sanction, SignalHit, SignalRule, SupervisionAudit
from settlement.supervision.rules import PROBES, RULES, Finding, Probes, Rule, day_bounds
from settlement.supervision.schemas import (
    HitReview,
    RuleOut,
    RuleUpdate,
    SanctionCreate,
    SanctionEnd,
)
from shared.auth import Principal
from shared.clock import now_china
from shared.db import dialect_name, per_dialect, run, table_of, transient, utcnow
from shared.errors import Conflict, DomainError, NotFound, Unprocessable

INSTITUTION_SUSPENSION = "institution_suspension"
FULL_SELF_ADVANCE = "full_self_advance"


def _audit(
    session: AsyncSession,
    actor: Principal,
    action: str,
    object_type: str,
    object_id: str,
    detail: dict[str, Any],
) -> None:
    session.add(
        SupervisionAudit(
            operator=actor.subject,
            roles=actor.roles_text,
            action=action,
            object_type=object_type,
            object_id=object_id,
            detail=json.dumps(detail, ensure_ascii=False, default=str, sort_keys=True),
        )
    )


# --- rules ---------------------------------------------------------------------------------------------


def _rule(code: str) -> Rule:
    rule = RULES.get(code)
    if rule is None:
        raise NotFound(f"监管规则不存在: {code}", code="RULE_NOT_FOUND")
    return rule


async def _configured(session: AsyncSession) -> dict[str, tuple[bool, Any]]:
    """Each rule's (enabled, parsed parameters), defaults where no operator changed them; from the reference
    cache (every settlement asks)."""

    async def load() -> dict[str, tuple[bool, Any]]:
        rows = {r.code: r for r in await session.scalars(select(SignalRule))}
        out: dict[str, tuple[bool, Any]] = {}
        for code, rule in RULES.items():
            row = rows.get(code)
            out[code] = (row.enabled, rule.params(**row.params)) if row else (True, rule.params())
        return out

    return await reference.cached(session, "signal_rules", load)


async def list_rules(session: AsyncSession) -> list[RuleOut]:
    rows = {r.code: r for r in await session.scalars(select(SignalRule))}
    config = await _configured(session)
    return [
        RuleOut(
            code=code,
            title=rule.title,
            enabled=config[code][0],
            params=config[code][1].model_dump(mode="json"),
            at_settlement=rule.at_settlement,
            in_batch=True,
            updated_by=rows[code].updated_by if code in rows else None,
            updated_roles=rows[code].updated_roles if code in rows else None,
            updated_at=rows[code].updated_at if code in rows else None,
        )
        for code, rule in RULES.items()
    ]


async def configure_rule(session: AsyncSession, code: str, data: RuleUpdate, actor: Principal) -> RuleOut:
    rule = _rule(code)
    try:
        params = rule.params(**data.params)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise Unprocessable(f"规则参数不正确: {problems}", code="BAD_RULE_PARAMS") from exc
    row = await session.get(SignalRule, code)
    before = {"enabled": row.enabled, "params": row.params} if row else None
    stored = params.model_dump(mode="json")
    if row is None:
        row = SignalRule(code=code, enabled=data.enabled, params=stored, updated_by=actor.subject)
        session.add(row)
    else:
        row.enabled, row.params, row.updated_at = data.enabled, stored, utcnow()
    row.updated_by, row.updated_roles = actor.subject, actor.roles_text
    _audit(
        session,
        actor,
        "rule_configured",
        "rule",
        code,
        {"before": before, "after": {"enabled": data.enabled, "params": stored}},
    )
    await session.flush()
    return next(r for r in await list_rules(session) if r.code == code)


# --- evaluation ----------------------------------------------------------------------------------------


_SIGNAL_HITS = table_of(SignalHit)
_HIT_COLUMNS = tuple(column.name for column in _SIGNAL_HITS.c if column.name != "id")
#: A hit written unless one with the same ``dedupe_key`` is there (committed, or in flight in another
#: transaction, which this waits for): one statement, no savepoint, nothing undone when it is there.
_INSERT_HIT = per_dialect(
    lambda insert: (
        insert(_SIGNAL_HITS)
        .values({name: bindparam(name, type_=_SIGNAL_HITS.c[name].type) for name in _HIT_COLUMNS})
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(_SIGNAL_HITS.c.id)
    )
)


async def _record(session: AsyncSession, finding: Finding, found_by: str) -> SignalHit | None:
    """Store a finding as a hit unless the same facts were raised before (by either path): the hit, or
    None when it was there already."""
    hit = transient(
        SignalHit,
        rule_code=finding.rule_code,
        subject_type=finding.subject_type,
        subject=finding.subject,
        setl_id=finding.setl_id,
        found_by=found_by,
        dedupe_key=finding.dedupe_key[:200],
        evidence=finding.evidence,
        summary=finding.summary[:300],
    )
    values = {name: getattr(hit, name) for name in _HIT_COLUMNS}
    written = (await run(session, _INSERT_HIT[dialect_name(session)], values)).first()
    if written is None:
        return None
    hit.id = written.id
    return hit


async def settlement_probes(session: AsyncSession, anchor: Settlement, drugs: list[str]) -> Probes:
    """The per-settlement rules' reads for a settlement about to be written (its lines' drugs given), to be
    sent with its writes where the backend can (``Probes.in_flight``)."""
    return Probes(anchor, _enabled_probes(await _configured(session)), drugs)


async def evaluate_settlement(
    session: AsyncSession, probes: Probes, rows: list[Any] | None = None
) -> list[SignalHit]:
    """At settlement time, inside the settlement's transaction (the settlement and its lines written): the
    per-settlement rules for it, ``rows`` what ``probes.in_flight()`` read along with the writes (None: not
    sent, read now). A hit only queues a review; the settlement goes through."""
    found = probes.judge(rows, in_flight=True) if rows is not None else await probes.read(session)
    return await _evaluate(session, probes.anchor, await _configured(session), "settlement", found)


async def judge_proposal(
    session: AsyncSession, anchor: Settlement, drugs: list[str], rule_codes: set[str] | None = None
) -> list[Finding]:
    """The per-settlement rules (enabled ones; of ``rule_codes`` when given) on a proposed settlement that
    the caller has written in ``session`` and will roll back (a 3101/3102 pre-check, docs/domain.md,
    "Pre-checks"): the same reads and judgements as at settlement time, nothing recorded."""
    config = await _configured(session)
    if rule_codes is not None:
        config = {
            code: (enabled and code in rule_codes, params) for code, (enabled, params) in config.items()
        }
    found = [findings for _, findings in await Probes(anchor, _enabled_probes(config), drugs).read(session)]
    for code, rule in RULES.items():
        enabled, params = config[code]
        if enabled and rule.per_settlement is not None:
            found.append(await rule.per_settlement(session, params, anchor))
    return [f for findings in found for f in findings]


def _enabled_probes(config: dict[str, tuple[bool, Any]]) -> list[tuple[str, Any]]:
    return [(code, config[code][1]) for code in PROBES if config[code][0]]


async def _evaluate(
    session: AsyncSession,
    anchor: Settlement,
    config: dict[str, tuple[bool, Any]],
    found_by: str,
    probed: list[tuple[str, list[Finding]]],
) -> list[SignalHit]:
    found = [findings for _, findings in probed]
    for code, rule in RULES.items():
        enabled, params = config[code]
        if enabled and rule.per_settlement is not None:
            found.append(await rule.per_settlement(session, params, anchor))
    hits = []
    for finding in (f for findings in found for f in findings):
        hit = await _record(session, finding, found_by)
        if hit is not None:
            hits.append(hit)
    return hits


async def scan_day(session: AsyncSession, day: date, actor: Principal) -> tuple[int, list[SignalHit]]:
    """The daily batch: every rule over the day's settlements (what settlement time may have missed, e.g.
    a rule enabled since, or a later stay's dates) and the institution comparisons. Idempotent: a rerun
    raises nothing new (each run is audited, with who ran it and the hits it raised)."""
    config = await _configured(session)
    start, end = day_bounds(day)
    anchors = list(
        await session.scalars(
            select(Settlement)
            .where(
                col(Settlement.status).in_(("settled",)),
                col(Settlement.begntime) >= start,
                col(Settlement.begntime) < end,
            )
            .order_by(col(Settlement.begntime), col(Settlement.id))
        )
    )
    hits: list[SignalHit] = []
    for anchor in anchors:
        probed = await Probes(anchor, _enabled_probes(config), drugs=[]).read(session)
        hits += await _evaluate(session, anchor, config, "batch", probed)
    for code, rule in RULES.items():
        enabled, params = config[code]
        if not enabled or rule.per_day is None:
            continue
        for finding in await rule.per_day(session, params, day):
            hit = await _record(session, finding, "batch")
            if hit is not None:
                hits.append(hit)
    await session.flush()
    _audit(
        session,
        actor,
        "scan_run",
        "day",
        day.isoformat(),
        {"settlements_checked": len(anchors), "new_hits": [h.id for h in hits]},
    )
    await session.flush()
    return len(anchors), hits


# --- review queue --------------------------------------------------------------------------------------


async def list_hits(
    session: AsyncSession, status: str | None, rule_code: str | None, subject: str | None, limit: int
) -> list[SignalHit]:
    query = select(SignalHit).order_by(col(SignalHit.id).desc()).limit(limit)
    if status:
        query = query.where(SignalHit.status == status)
    if rule_code:
        query = query.where(SignalHit.rule_code == rule_code)
    if subject:
        query = query.where(SignalHit.subject == subject)
    return list(await session.scalars(query))


async def get_hit(session: AsyncSession, hit_id: int) -> SignalHit:
    hit = await session.get(SignalHit, hit_id)
    if hit is None:
        raise NotFound(f"疑点不存在: {hit_id}", code="HIT_NOT_FOUND")
    return hit


async def review_hit(session: AsyncSession, hit_id: int, data: HitReview, actor: Principal) -> SignalHit:
    hit = await get_hit(session, hit_id)
    if hit.status != "open":
        raise Conflict(
            f"疑点 {hit_id} 已由 {hit.reviewed_by} 审核为 {hit.status}", code="HIT_ALREADY_REVIEWED"
        )
    hit.status, hit.reviewed_by, hit.reviewed_roles = data.decision, actor.subject, actor.roles_text
    hit.reviewed_at, hit.review_note = utcnow(), data.note
    _audit(
        session,
        actor,
        "hit_reviewed",
        "hit",
        str(hit_id),
        {"decision": data.decision, "note": data.note},
    )
    await session.flush()
    return hit


# --- sanctions -----------------------------------------------------------------------------------------


async def impose(session: AsyncSession, data: SanctionCreate, actor: Principal) -> Sanction:
    if data.kind == INSTITUTION_SUSPENSION:
        if (
            await session.scalar(select(Institution.id).where(Institution.fixmedins_code == data.subject))
            is None
        ):
            raise NotFound(f"定点医药机构不存在: {data.subject}", code="INSTITUTION_NOT_FOUND")
    elif (
        await session.scalar(select(Eligibility.id).where(Eligibility.psn_no == data.subject).limit(1))
        is None
    ):
        raise NotFound(f"参保人员不存在: {data.subject}", code="PERSON_NOT_FOUND")
    if data.hit_id is not None:
        hit = await get_hit(session, data.hit_id)
        if hit.subject != data.subject:
            raise Unprocessable("处理决定的对象与疑点对象不符", code="HIT_SUBJECT_MISMATCH")
    sanction = Sanction(
        kind=data.kind,
        subject=data.subject,
        begin_date=data.begin_date,
        end_date=data.end_date,
        reason=data.reason,
        hit_id=data.hit_id,
        document_ref=data.document_ref,
        decided_by=actor.subject,
        decided_roles=actor.roles_text,
    )
    session.add(sanction)
    await session.flush()
    assert sanction.id is not None
    _audit(
        session,
        actor,
        "sanction_imposed",
        "sanction",
        str(sanction.id),
        data.model_dump(mode="json", exclude={"operator"}),
    )
    await session.flush()
    return sanction


async def end_sanction(
    session: AsyncSession, sanction_id: int, data: SanctionEnd, actor: Principal
) -> Sanction:
    """A sanction ends by a date (never deleted): the last day it is in force."""
    sanction = await get_sanction(session, sanction_id)
    if data.end_date < sanction.begin_date - timedelta(days=1):
        raise Unprocessable("结束日期早于处理开始日期", code="BAD_PERIOD")
    if sanction.end_date is not None and data.end_date >= sanction.end_date:
        raise Unprocessable(f"处理已于 {sanction.end_date} 结束，只能提前结束", code="BAD_PERIOD")
    before = sanction.end_date
    sanction.end_date, sanction.end_reason = data.end_date, data.reason
    sanction.ended_by, sanction.ended_roles = actor.subject, actor.roles_text
    _audit(
        session,
        actor,
        "sanction_ended",
        "sanction",
        str(sanction_id),
        {"end_date_before": before, "end_date": data.end_date, "reason": data.reason},
    )
    await session.flush()
    return sanction


async def get_sanction(session: AsyncSession, sanction_id: int) -> Sanction:
    sanction = await session.get(Sanction, sanction_id)
    if sanction is None:
        raise NotFound(f"处理决定不存在: {sanction_id}", code="SANCTION_NOT_FOUND")
    return sanction


async def list_sanctions(session: AsyncSession, kind: str | None, subject: str | None) -> list[Sanction]:
    query = select(Sanction).order_by(col(Sanction.id))
    if kind:
        query = query.where(Sanction.kind == kind)
    if subject:
        query = query.where(Sanction.subject == subject)
    return list(await session.scalars(query))


async def _sanctions(session: AsyncSession) -> dict[tuple[str, str], list[Sanction]]:
    """Every sanction by (kind, subject), oldest first; from the reference cache (every settlement asks)."""

    async def load() -> dict[tuple[str, str], list[Sanction]]:
        grouped: dict[tuple[str, str], list[Sanction]] = {}
        for row in await session.scalars(select(Sanction).order_by(col(Sanction.id))):
            grouped.setdefault((row.kind, row.subject), []).append(row)
        return grouped

    return await reference.cached(session, "sanctions", load)


async def in_force(session: AsyncSession, kind: str, subject: str, on: date) -> Sanction | None:
    """The oldest sanction of this kind on this subject in force on ``on``."""
    for sanction in (await _sanctions(session)).get((kind, subject), ()):
        if sanction.begin_date <= on and (sanction.end_date is None or sanction.end_date >= on):
            return sanction
    return None


async def require_not_suspended(session: AsyncSession, fixmedins_code: str, on: date) -> None:
    """A suspended institution cannot settle care given while the suspension is in force."""
    found = await in_force(session, INSTITUTION_SUSPENSION, fixmedins_code, on)
    if found is not None:
        until = f"至 {found.end_date}" if found.end_date else "至另行通知"
        raise DomainError(
            f"定点医药机构自 {found.begin_date} 起暂停医保结算({until})，原因: {found.reason}",
            code="INSTITUTION_SUSPENDED",
            status_code=403,
        )


async def require_not_self_advance(session: AsyncSession, psn_no: str, on: date) -> None:
    """Tianjin art. 45: a person switched to full self-advance settles nothing from the funds at the
    counter; the cashier charges everything and the person claims afterwards (零星报销)."""
    found = await in_force(session, FULL_SELF_ADVANCE, psn_no, on)
    if found is not None:
        until = f"至 {found.end_date}" if found.end_date else "至另行通知"
        raise DomainError(
            f"该参保人自 {found.begin_date} 起实行全额垫付({until})，原因: {found.reason}。"
            "本次医保基金不予直接结算，请按全额自费收费；参保人可持票据到医保经办机构申请零星报销",
            code="FULL_SELF_ADVANCE",
            status_code=403,
        )


async def audit_trail(
    session: AsyncSession, object_type: str | None, object_id: str | None
) -> list[SupervisionAudit]:
    query = select(SupervisionAudit).order_by(col(SupervisionAudit.id))
    if object_type:
        query = query.where(SupervisionAudit.object_type == object_type)
    if object_id:
        query = query.where(SupervisionAudit.object_id == object_id)
    return list(await session.scalars(query))


def today() -> date:
    return now_china().date()
