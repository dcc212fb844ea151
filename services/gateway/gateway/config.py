from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
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
    #: The region's request signature scheme (``gateway.security.schemes.SCHEMES``).
    signature_scheme: str = "tif-sha256"
    #: The gateway's own SM2 private key (64 hex digits): signs the answers of institutions registered for
    #: SM2 (docs/interface.md, "National cryptography"). Empty: those answers go unsigned (logged at start).
    sm2_private_key: SecretStr = SecretStr("")
    #: A signed request's timestamp may be this far from the gateway's clock; its nonce is remembered as
    #: long.
    signature_window_s: int = Field(default=300, ge=10, le=3600)
    #: Requests per minute and institution unless its registry entry says otherwise (per gateway process).
    rate_limit_per_minute: int = Field(default=600, ge=1)
    #: A 9001 sign-in is valid this long unless signed out before.
    sign_in_hours: int = Field(default=24, ge=1, le=168)
    #: Envelopes this process may have downstream at once (admission control, ``gateway.capacity``); about
    #: what the services behind it answer well within ``downstream_timeout_s``, shared among the replicas.
    downstream_max_in_flight: int = Field(default=32, ge=1)
    #: Seconds a new envelope waits for a downstream slot before it is refused ``[E_BUSY]``.
    downstream_slot_wait_s: float = Field(default=0.01, ge=0)

    #: 9101: the largest zip an institution may upload (its base64 form must fit ``max_body_bytes`` too).
    file_max_bytes: int = Field(default=512 * 1024, gt=0)
    #: The largest text inside an uploaded zip, unzipped.
    file_max_text_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    #: Days an exchange file (9101 upload, catalogue or reconciliation file) may be downloaded with 9102 and
    #: is kept; ``python -m platformctl purge-files`` deletes the older ones.
    file_retention_days: int = Field(default=30, ge=1, le=3650)

    @model_validator(mode="after")
    def _sm2_key_in_range(self) -> GatewaySettings:
        key = self.sm2_private_key.get_secret_value()
        if key and not (len(key) == 64 and 0 < int(key, 16) < 2**256):
            raise ValueError("sm2_private_key must be 64 hex digits")
        return self

    @model_validator(mode="after")
    def _wait_well_under_timeout(self) -> GatewaySettings:
        if self.downstream_slot_wait_s * 4 > self.downstream_timeout_s:
            raise ValueError("downstream_slot_wait_s must be at most a quarter of downstream_timeout_s")
        return self
