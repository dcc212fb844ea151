from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class SettlementSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SETTLEMENT_", extra="ignore", frozen=True)

    service_name: str = "settlement"
    consumer_group: str = "settlement"
