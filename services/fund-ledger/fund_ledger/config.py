from __future__ import annotations

from datetime import time
from decimal import Decimal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class LedgerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore", frozen=True)

    service_name: str = "ledger"
    consumer_group: str = "fund-ledger"
    #: The settlement service, asked for its per-settlement figures by the reconciliation
    #: (``LEDGER_SETTLEMENT_URL``).
    settlement_url: str = "http://127.0.0.1:8002"
    settlement_timeout_s: float = Field(default=30.0, gt=0)
    #: The enrollment service, whose outbox the gap check reads (``LEDGER_ENROLLMENT_URL``).
    enrollment_url: str = "http://127.0.0.1:8001"
    #: The gap check (``shared.gapwatch``): seconds between passes against each producer's outbox (0 turns it
    #: off); an event the broker acknowledged more than ``gap_grace_s`` ago and not processed is a gap and is
    #: booked from the producer; the watermark moves only over events older than ``gap_commit_grace_s`` (the
    #: longest a producer's transaction may stay open after writing its outbox row).
    gap_check_interval_s: float = Field(default=2.0, ge=0)
    gap_grace_s: float = Field(default=10.0, gt=0)
    gap_commit_grace_s: float = Field(default=60.0, gt=0)
    #: An event still unsent this long after it was created is booked from the producer too (the books do not
    #: wait for a broker that takes writes and fails them).
    gap_unsent_grace_s: float = Field(default=120.0, gt=0)
    #: Share of what a clearing batch owes an institution for its period that is withheld as quality
    #: deposit (质量保证金), rounded half-up to the fen (``LEDGER_QUALITY_DEPOSIT_RATIO``).
    quality_deposit_ratio: Decimal = Field(default=Decimal("0.05"), ge=0, lt=1)
    #: Fund risk warning (基金风险预警): months of payment below these read "warning" / "danger"
    #: (``LEDGER_FUND_RISK_WARNING_MONTHS``, ``LEDGER_FUND_RISK_DANGER_MONTHS``).
    fund_risk_warning_months: Decimal = Field(default=Decimal("6"), gt=0)
    fund_risk_danger_months: Decimal = Field(default=Decimal("3"), gt=0)
    #: The in-process scheduler (``fund_ledger.schedule``): seconds between ticks; 0 turns it off.
    schedule_interval_s: float = Field(default=60.0, ge=0)
    #: Daily sweep of yesterday's income-account balance to the special account, after this Beijing time.
    sweep_daily: bool = True
    sweep_after: time = time(1, 0)
    #: Day of the month (1-28) from which last month is cleared for every institution owed; unset: clearing
    #: only by an operator (``POST /api/v1/clearing-batches``).
    auto_clearing_day: int | None = Field(default=None, ge=1, le=28)
    #: Seconds between full hash-chain walks, balance cross-checks and fund-risk gauge updates.
    integrity_check_interval_s: float = Field(default=3600.0, gt=0)

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> LedgerSettings:
        if self.fund_risk_danger_months > self.fund_risk_warning_months:
            raise ValueError("fund_risk_danger_months must not exceed fund_risk_warning_months")
        return self
