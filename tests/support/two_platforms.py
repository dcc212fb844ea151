"""Two platforms in one process (docs/interface.md, "Between platforms"): platform B, a second settlement
service with its own database and its own policy for the region it hosts (110105), reached by platform A's
settlement over HTTP (ASGI) as A's peer, behind a link that can lose an answer or cut a call. Used by the
跨省 tests through A's gateway (tests/gateway/test_cross_platform*.py) and by their sequence and race tests.

B's policy for 110105 (illustrative): outpatient pooling 10.00 yearly deductible, 60 %, 300.00 a year;
unfiled out-of-area care 10 points less (the demo's). A's own policy is 20.00 and 50 %: a wrong side's
policy shows in every amount."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI
from settlement.config import PeerPlatform, SettlementSettings
from settlement.interplatform.models import Reservation
from settlement.interplatform.treating import Treating
from settlement.main import create_app
from settlement.policy.document import OutpatientPooling, jinzhai_yutian_demo
from sqlmodel import select

from shared.db import Database
from shared.events import CoverageActivated, PersonIdentity
from shared.idcard import make_id_number
from tests.conftest import DatabaseFactory
from tests.settlement.conftest import SettlementApi, seeded_settlement
from tests.support.apps import ADMIN_TOKEN, build, running

B_REGION = "110105"
#: B's outpatient pooling for 110105, in fen (the module docstring).
B_DEDUCTIBLE, B_RATIO, B_CAP = 10_00, Decimal("0.6"), 300_00


@dataclass
class LossyPeer(httpx.AsyncBaseTransport):
    """B's app behind A's peer client; the answer of the next call whose path ends with ``lose`` is dropped
    after B answered (and committed), as a timeout on the way back does; ``down``: nothing reaches B."""

    inner: httpx.AsyncBaseTransport
    lose: str | None = None
    down: bool = False
    #: Calls whose path ends with this do not reach B.
    cut: str | None = None
    lost: list[str] = field(default_factory=list)
    #: Calls whose path ends with this hang (a peer that neither answers nor fails) until ``resume`` is set.
    stall: str | None = None
    resume: asyncio.Event = field(default_factory=asyncio.Event)
    stalled: list[str] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down or (self.cut is not None and request.url.path.endswith(self.cut)):
            raise httpx.ConnectError("peer down", request=request)
        if self.stall is not None and request.url.path.endswith(self.stall):
            self.stalled.append(request.url.path)
            await self.resume.wait()
        response = await self.inner.handle_async_request(request)
        if self.lose is not None and request.url.path.endswith(self.lose):
            self.lose = None
            self.lost.append(request.url.path)
            await response.aread()
            raise httpx.ReadTimeout("answer lost on its way back", request=request)
        return response


@dataclass
class PlatformB:
    api: SettlementApi
    link: LossyPeer

    async def person(self, sequence: int = 31) -> tuple[str, str]:
        """A person insured on B (region 110105, 390, all of 2026); ``sequence`` 0..999 makes them."""
        certno = make_id_number(B_REGION, date(1985, 3, 12), sequence)
        psn_no = f"{B_REGION}{sequence:016d}"
        await self.api.apply(
            PersonIdentity(
                psn_no=psn_no, certno=certno, psn_name="北京人员", gend="2", brdy=date(1985, 3, 12)
            )
        )
        event = CoverageActivated(
            enrollment_id=sequence, psn_no=psn_no, insutype="390", psn_type="1501", insuplc_admdvs=B_REGION,
            year=2026, coverage_begin=date(2026, 1, 1), coverage_end=date(2026, 12, 31),
        )  # fmt: skip
        await self.api.apply(event)
        return psn_no, certno

    async def reservations(self, psn_no: str) -> list[Reservation]:
        async with self.api.db.session() as session:
            return list(await session.scalars(select(Reservation).where(Reservation.psn_no == psn_no)))

    async def totals(self, psn_no: str) -> dict[str, Any]:
        body = {
            "msgid": "Q1",
            "platform": "A",
            "psn_no": psn_no,
            "insutype": "390",
            "begntime": "2026-11-20T10:00:00+08:00",
        }
        response = await self.api.client.post("/api/v1/interplatform/eligibility", json=body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer


def after_commit_wait(app: FastAPI, seconds: float) -> None:
    """How long ``app``'s settlement waits for a call owed to a peer after the commit (its settings are
    frozen: replaced by a copy with that one setting changed)."""
    runtime = app.state.runtime
    runtime.settings = runtime.settings.model_copy(update={"interplatform_after_commit_wait_s": seconds})


@asynccontextmanager
async def peer_platform(databases: DatabaseFactory, treating_app: FastAPI) -> AsyncIterator[PlatformB]:
    """Platform B with its own policy for 110105, and A's settlement (``treating_app``, platform id A)
    knowing B as its peer."""
    url = await seeded_settlement(databases)
    app = build(
        create_app, SettlementSettings, database_url=url, run_background_workers=False, platform_id="B"
    )
    db = Database(url)
    try:
        async with running(app) as client:
            api = SettlementApi(client, db, app)
            own = jinzhai_yutian_demo().model_copy(
                update={
                    "outpatient": OutpatientPooling(
                        deductible_fen=B_DEDUCTIBLE, ratio=B_RATIO, annual_cap_fen=B_CAP
                    )
                }
            )
            policy = {
                "admdvs": B_REGION,
                "insutype": "390",
                "name": "B 门诊统筹",
                "effective_from": "2026-01-01",
                "document": own.model_dump(mode="json"),
            }
            assert (await client.post("/api/v1/policies", json=policy)).status_code == 201
            link = LossyPeer(httpx.ASGITransport(app=app))
            treating: Treating = treating_app.state.peer_route
            treating.peers.platform_id = "A"
            treating.peers.by_id = {
                "B": PeerPlatform(id="B", base_url="http://platform-b", admdvs=[B_REGION], token=ADMIN_TOKEN)
            }
            treating.peers.transport = link
            # The tests read each confirmation and release right after the answer: waited for in full
            # (``after_commit_call``; a test of a peer that hangs sets it shorter).
            after_commit_wait(treating_app, 4.0)
            yield PlatformB(api, link)
    finally:
        await db.dispose()
