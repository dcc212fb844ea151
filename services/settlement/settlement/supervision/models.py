"""Supervision (docs/domain.md, "Supervision"): fraud-signal rules and their hits for review, sanctions on
institutions and persons, and the audit trail of every supervisory decision. Nothing here is ever deleted:
a sanction ends by a date, a hit is reviewed, and each change leaves a row in ``supervision_audit``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field

from settlement.db import Base, ReferenceData
from shared.db import AwareDateTime, BigIntPK, timestamp_field


class SignalRule(ReferenceData, Base, table=True):
    """A rule's configuration as changed by an operator; a rule without a row runs with its defaults
    (``settlement.supervision.rules.RULES``)."""

    __tablename__ = "signal_rules"

    code: str = Field(primary_key=True, max_length=40)
    enabled: bool = True
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: The bearer token's subject and roles (sorted, comma-separated; None on rows from before identities
    #: came from the token) of whoever changed it last.
    updated_by: str = Field(max_length=100)
    updated_roles: str | None = Field(default=None, max_length=100)
    updated_at: datetime = timestamp_field()


class SignalHit(Base, table=True):
    """One suspicion raised by a rule, waiting for a reviewer, with the evidence that raised it."""

    __tablename__ = "signal_hits"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    rule_code: str = Field(max_length=40, index=True)
    #: person (subject = psn_no) or institution (subject = fixmedins_code).
    subject_type: str = Field(max_length=12)
    subject: str = Field(max_length=30, index=True)
    #: The settlement that raised it at settlement time; None for a batch finding over many.
    setl_id: str | None = Field(default=None, max_length=30)
    #: settlement (evaluated while settling) or batch (the daily scan).
    found_by: str = Field(max_length=12)
    #: The same finding is raised once, whoever finds it first (settlement or batch, or a rerun).
    dedupe_key: str = Field(max_length=200, unique=True)
    evidence: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    summary: str = Field(max_length=300)
    #: open, confirmed, dismissed.
    status: str = Field(default="open", max_length=12, index=True)
    reviewed_by: str | None = Field(default=None, max_length=100)
    reviewed_roles: str | None = Field(default=None, max_length=100)
    reviewed_at: datetime | None = Field(default=None, sa_column=Column(AwareDateTime(), nullable=True))
    review_note: str | None = Field(default=None, max_length=500)
    detected_at: datetime = timestamp_field()


class Sanction(ReferenceData, Base, table=True):
    """A dated, reasoned sanction: an institution suspended (暂停结算) or a person switched to full
    self-advance (全额垫付后审核报销, Tianjin art. 45). In force from ``begin_date`` to ``end_date``
    inclusive (open-ended when None)."""

    __tablename__ = "sanctions"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    #: institution_suspension (subject = fixmedins_code) or full_self_advance (subject = psn_no).
    kind: str = Field(max_length=30, index=True)
    subject: str = Field(max_length=30, index=True)
    begin_date: date
    end_date: date | None = None
    reason: str = Field(max_length=500)
    #: The reviewed hit that led to it, if any.
    hit_id: int | None = None
    document_ref: str | None = Field(default=None, max_length=100)
    #: Token subject and roles of who imposed it and who ended it (roles None on rows from before).
    decided_by: str = Field(max_length=100)
    decided_roles: str | None = Field(default=None, max_length=100)
    ended_by: str | None = Field(default=None, max_length=100)
    ended_roles: str | None = Field(default=None, max_length=100)
    end_reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = timestamp_field()


class SupervisionAudit(Base, table=True):
    """Append-only record of every supervisory act: who did what to which subject, when, and why."""

    __tablename__ = "supervision_audit"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    at: datetime = timestamp_field()
    #: Who acted: the bearer token's subject, and its roles (None on rows from before identities came from
    #: the token, when ``operator`` was a name typed into the request).
    operator: str = Field(max_length=100)
    roles: str | None = Field(default=None, max_length=100)
    #: sanction_imposed, sanction_ended, rule_configured, hit_reviewed, ...
    action: str = Field(max_length=40)
    object_type: str = Field(max_length=30)
    object_id: str = Field(max_length=60)
    detail: str = Field(sa_column=Column(Text, nullable=False))
