"""Gateway app: ``uvicorn gateway.main:app``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI

from gateway.capacity import DownstreamSlots
from gateway.config import GatewaySettings
from gateway.db import audit
from gateway.downstream import Downstream
from gateway.endpoints import HIS_PATH, HIS_PREFIX, router
from gateway.files.service import FileLimits, FileStore
from gateway.messages.trail import router as trail_router
from gateway.openapi import document_his
from gateway.security.endpoints import router as institutions_router
from gateway.security.schemes import scheme
from gateway.security.service import HisSecurity
from gateway.transactions import EnvelopeProcessor
from shared.auth import AUDITOR, FUND_ACCOUNTANT, Authenticator, access, guarded
from shared.config import ServiceSettings
from shared.inputs import exempt, exempt_prefix
from shared.observability import ReadinessCheck
from shared.service import ServiceRuntime, create_service_app

log = logging.getLogger(__name__)

#: Administrators register institutions and their credentials; auditors see the registry (never a secret).
REGISTRY = access(read={AUDITOR}, write=set())
#: The transaction trail (what the institution was answered): auditors and fund accountants read it.
TRAIL = access(read={AUDITOR, FUND_ACCOUNTANT}, write=set())


class GatewayRuntime(ServiceRuntime):
    def __init__(self, settings: GatewaySettings) -> None:
        super().__init__(settings, None)
        credential = Authenticator(settings.auth_secret.get_secret_value(), settings.service_name)
        self.downstream = Downstream(
            settings.enrollment_url,
            settings.settlement_url,
            settings.downstream_timeout_s,
            credential.service_headers,
        )
        self.security = HisSecurity(
            self.db,
            scheme(settings.signature_scheme),
            window_s=settings.signature_window_s,
            rate_limit_per_minute=settings.rate_limit_per_minute,
            sign_in_hours=settings.sign_in_hours,
        )
        self.processor = EnvelopeProcessor(
            self.db,
            self.downstream,
            settings.region_admvs,
            settings.max_body_bytes,
            security=self.security,
            slots=DownstreamSlots(settings.downstream_max_in_flight, settings.downstream_slot_wait_s),
            files=FileStore(
                FileLimits(
                    max_file_bytes=settings.file_max_bytes,
                    max_text_bytes=settings.file_max_text_bytes,
                    retention_days=settings.file_retention_days,
                )
            ),
            sm2_private_key=settings.sm2_private_key.get_secret_value(),
        )
        if not settings.sm2_private_key.get_secret_value():
            log.warning("no GATEWAY_SM2_PRIVATE_KEY: answers to institutions registered for SM2 go unsigned")

    async def stop(self) -> None:
        await self.downstream.close()
        await super().stop()

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        return {"database": self.db.ping, "downstream": self.downstream.ping}


def build_runtime(settings: ServiceSettings) -> ServiceRuntime:
    assert isinstance(settings, GatewaySettings)
    return GatewayRuntime(settings)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    app = create_service_app(
        settings or GatewaySettings(),
        title="Gateway",
        description="National healthcare-security interface envelope (infno/msgid/input -> infcode/output).",
        runtime_factory=build_runtime,
        his_routers=[router],
        routers=[guarded(institutions_router, REGISTRY), guarded(trail_router, TRAIL)],
        audit_table=audit,
    )
    build = app.openapi

    def openapi() -> dict[str, Any]:  # the HIS entry point documented from the registry (gateway.openapi)
        if app.openapi_schema is None:
            app.openapi_schema = document_his(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    # Answered with an envelope whatever it carries (bad text or numbers: infcode -1, nhsa/envelope.py).
    exempt(app, HIS_PATH)
    exempt_prefix(app, HIS_PREFIX)  # the path forms and unknown /fsi/ paths (gateway/endpoints.py)
    return app


app = create_app()
