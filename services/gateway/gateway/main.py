"""Gateway app: ``uvicorn gateway.main:app``."""

from __future__ import annotations

from fastapi import FastAPI

from gateway.config import GatewaySettings
from gateway.downstream import Downstream
from gateway.endpoints import router
from gateway.transactions import EnvelopeProcessor
from shared.config import ServiceSettings
from shared.observability import ReadinessCheck
from shared.service import ServiceRuntime, create_service_app


class GatewayRuntime(ServiceRuntime):
    def __init__(self, settings: GatewaySettings) -> None:
        super().__init__(settings, None)
        self.downstream = Downstream(
            settings.enrollment_url, settings.settlement_url, settings.downstream_timeout_s
        )
        self.processor = EnvelopeProcessor(
            self.db, self.downstream, settings.region_admvs, settings.max_body_bytes
        )

    async def stop(self) -> None:
        await self.downstream.close()
        await super().stop()

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        return {"database": self.db.ping, "downstream": self.downstream.ping}


def build_runtime(settings: ServiceSettings) -> ServiceRuntime:
    assert isinstance(settings, GatewaySettings)
    return GatewayRuntime(settings)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    return create_service_app(
        settings or GatewaySettings(),
        title="Gateway",
        description="National healthcare-security interface envelope (infno/msgid/input -> infcode/output).",
        runtime_factory=build_runtime,
        routers=[router],
    )


app = create_app()
