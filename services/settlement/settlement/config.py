from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


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
    #: Group commit of pharmacy settlements (2102) on PostgreSQL (``settlement.settlements.group``;
    #: docs/architecture.md, "Group commit"): at most this many settle requests share one transaction
    #: (0 or 1: off, each its own transaction, as on SQLite always).
    group_commit_max: int = Field(default=0, ge=0, le=64)
    #: How long a group waits for more requests after its first one, in milliseconds.
    group_commit_wait_ms: float = Field(default=2.0, ge=0, le=50)
