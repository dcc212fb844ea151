from __future__ import annotations

from datetime import date

from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class EnrollmentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ENROLLMENT_", extra="ignore", frozen=True)

    service_name: str = "enrollment"
    #: Pretend today is this date (training environments, tests). Unset in production.
    fixed_today: date | None = None
