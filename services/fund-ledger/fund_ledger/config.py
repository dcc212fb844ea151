from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class LedgerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore", frozen=True)

    service_name: str = "ledger"
    consumer_group: str = "fund-ledger"
