from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from gateway.security.sealing import validate_key

#: ``gateway.security.sealing.SCHEMES``.
EnvelopeCrypto = Literal["none", "sm2", "sm4", "sm2-sm4"]


class InstitutionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    fixmedins_name: str = Field(min_length=1, max_length=200)
    #: The caller id the region's gateway scheme sends (``x-tif-paasid``).
    paasid: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    secret: SecretStr = Field(min_length=16, max_length=200)
    rate_limit_per_minute: int | None = Field(default=None, ge=1, le=100_000)
    active: bool = True
    #: The national cryptography of its envelopes (docs/interface.md, "National cryptography").
    envelope_crypto: EnvelopeCrypto = "none"


class InstitutionOut(BaseModel):
    """Never carries the secret."""

    model_config = ConfigDict(from_attributes=True)

    fixmedins_code: str
    fixmedins_name: str
    paasid: str
    rate_limit_per_minute: int | None
    active: bool
    envelope_crypto: str


class KeyIn(BaseModel):
    """A key the gateway holds for the institution: ``sm2_public`` (its public key, 128 hex digits, ``04``
    prefix allowed) or ``sm4`` (the shared key, 32 hex digits)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Literal["sm2_public", "sm4"]
    key: SecretStr = Field(min_length=32, max_length=130)
    #: From when it is valid (default: now).
    valid_from: datetime | None = None
    #: A rotation: every other key of the kind valid now stays valid this many seconds more, then ends
    #: (both work meanwhile). None: the others are left as they are.
    retire_others_after_s: int | None = Field(default=None, ge=0, le=30 * 86400)

    @model_validator(mode="after")
    def _key_form(self) -> KeyIn:
        validate_key(self.kind, self.key.get_secret_value())
        if self.valid_from is not None and self.valid_from.tzinfo is None:
            raise ValueError("valid_from 须带时区")
        return self


class KeyOut(BaseModel):
    """Never carries the key: its fingerprint (the first 16 hex digits of its SM3 digest)."""

    id: int
    kind: str
    fingerprint: str
    valid_from: datetime
    valid_until: datetime | None
