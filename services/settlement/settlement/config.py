from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class PeerPlatform(BaseModel):
    """Another platform this one settles with (docs/interface.md, "Between platforms"): its id, its
    settlement service's base URL, the insured regions (admdvs) it hosts, and this platform's service token
    for it (role ``service``, subject this platform's id)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,30}$")
    base_url: str
    admdvs: list[str] = Field(default_factory=list)
    token: str = ""


class SettlementSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SETTLEMENT_", extra="ignore", frozen=True)

    service_name: str = "settlement"
    consumer_group: str = "settlement"
    #: Public reporting reads the enrollment rate and villages from enrollment, the fund's income and
    #: spending from the ledger (never recomputed here).
    enrollment_url: str = "http://127.0.0.1:8001"
    ledger_url: str = "http://127.0.0.1:8003"
    report_timeout_s: float = Field(default=10.0, gt=0)
    #: Days after discharge by which an inpatient settlement's settlement list (4101) is due; later, it is
    #: in the overdue report and the ``settlement_lists_overdue`` gauge (illustrative: set per region).
    settlement_list_deadline_days: int = Field(default=30, ge=0, le=366)
    #: How often the gauge is recomputed (0: only when the report is asked for).
    settlement_list_check_interval_s: float = Field(default=600.0, ge=0)
    #: How often inter-platform reservations whose hold ran out are released (0: never; docs/interface.md,
    #: "Between platforms").
    interplatform_expiry_interval_s: float = Field(default=30.0, ge=0)
    #: This platform's id as its peers know it (the ``platform`` of its inter-platform calls).
    platform_id: str = Field(default="local", pattern=r"^[A-Za-z0-9_-]{1,30}$")
    #: The peer platforms whose insured this platform treats (JSON list in SETTLEMENT_INTERPLATFORM_PEERS).
    interplatform_peers: list[PeerPlatform] = Field(default_factory=list)
    #: One call to a peer; a call not answered in time is outcome-unknown (sent again with its msgid).
    interplatform_timeout_s: float = Field(default=5.0, gt=0)
    #: How long an answer already committed waits for the call it owes a peer after the commit (the
    #: confirmation of a 跨省 settlement, the release of its reversal, a 2601's void): past it the call
    #: goes on in the background and the answer goes out, so that a slow peer cannot push a decided
    #: answer past the gateway's own timeout (what is not delivered stays owed and is sent again).
    interplatform_after_commit_wait_s: float = Field(default=1.0, ge=0, le=4.0)
    #: How long a peer holds a reservation unconfirmed (``hold_s``), and how often the confirmations and
    #: releases still owed to peers are sent again (0: never).
    interplatform_hold_s: int = Field(default=600, ge=1, le=86_400)
    interplatform_retry_interval_s: float = Field(default=30.0, ge=0)
    #: Group commit of pharmacy settlements (2102) on PostgreSQL (``settlement.settlements.group``;
    #: docs/architecture.md, "Group commit"): at most this many settle requests share one transaction
    #: (0 or 1: off, each its own transaction, as on SQLite always).
    group_commit_max: int = Field(default=0, ge=0, le=64)
    #: How long a group waits for more requests after its first one, in milliseconds.
    group_commit_wait_ms: float = Field(default=2.0, ge=0, le=50)
