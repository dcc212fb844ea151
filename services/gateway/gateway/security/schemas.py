from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class InstitutionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    fixmedins_name: str = Field(min_length=1, max_length=200)
    #: The caller id the region's gateway scheme sends (``x-tif-paasid``).
    paasid: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    secret: SecretStr = Field(min_length=16, max_length=200)
    rate_limit_per_minute: int | None = Field(default=None, ge=1, le=100_000)
    active: bool = True


class InstitutionOut(BaseModel):
    """Never carries the secret."""

    model_config = ConfigDict(from_attributes=True)

    fixmedins_code: str
    fixmedins_name: str
    paasid: str
    rate_limit_per_minute: int | None
    active: bool
