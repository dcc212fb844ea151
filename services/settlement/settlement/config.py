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
