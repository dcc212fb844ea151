from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    service_name: str = "gateway"
    enrollment_url: str = "http://127.0.0.1:8001"
    settlement_url: str = "http://127.0.0.1:8002"
    #: Seconds the gateway waits for a downstream service before answering "outcome unknown".
    downstream_timeout_s: float = Field(default=5.0, gt=0)
    #: The receiving side's admin-division code, used to build ``inf_refmsgid``.
    region_admvs: str = Field(default="341524", pattern=r"^\d{6}$")
    #: Largest request body accepted, in bytes.
    max_body_bytes: int = Field(default=1_048_576, gt=0)
