"""What the local runner and the tests need to know about each service."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import ServiceSettings


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # as used by `platformctl migrate <name>`
    package: str
    env_prefix: str
    default_port: int

    @property
    def asgi_app(self) -> str:
        return f"{self.package}.main:app"

    def settings(self) -> ServiceSettings:
        if self.package == "gateway":
            from gateway.config import GatewaySettings

            return GatewaySettings()
        if self.package == "enrollment":
            from enrollment.config import EnrollmentSettings

            return EnrollmentSettings()
        if self.package == "settlement":
            from settlement.config import SettlementSettings

            return SettlementSettings()
        from fund_ledger.config import LedgerSettings

        return LedgerSettings()


SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        ServiceSpec("enrollment", "enrollment", "ENROLLMENT_", 8001),
        ServiceSpec("settlement", "settlement", "SETTLEMENT_", 8002),
        ServiceSpec("ledger", "fund_ledger", "LEDGER_", 8003),
        ServiceSpec("gateway", "gateway", "GATEWAY_", 8000),
    )
}
