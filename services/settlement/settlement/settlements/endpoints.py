from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from settlement.config import SettlementSettings
from settlement.idempotency import once
from settlement.settlements import group, service
from settlement.settlements.answers import PAY_LOC_CROSS_PLATFORM
from settlement.settlements.schemas import (
    PharmacySettlementRequest,
    ReversalRequest,
    SettlementOut,
    VoidOut,
    VoidRequest,
)
from settlement.settlements.settle import PeerRoute
from shared.errors import DomainError
from shared.service import RuntimeDep, model_response

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["settlements"])


def peer_route(request: Request) -> PeerRoute | None:
    """The treating side of the inter-platform protocol, when the app knows peer platforms."""
    route: PeerRoute | None = getattr(request.app.state, "peer_route", None)
    return route


async def send_owed(request: Request, runtime: RuntimeDep, answer: SettlementOut, setl_id: str) -> None:
    """After the commit: the confirmation or release the peer is owed for a 跨省 settlement (pay_loc 4);
    unanswered, it stays owed and the background loop sends it again."""
    route = peer_route(request)
    if route is not None and answer.pay_loc == PAY_LOC_CROSS_PLATFORM:
        await after_commit_call(request, runtime, route.send_owed(runtime.db, setl_id))


async def after_commit_call(request: Request, runtime: RuntimeDep, call: Coroutine[Any, Any, Any]) -> None:
    """A call owed to a peer once the answer is committed (a confirmation, a release, a void), awaited for
    at most ``interplatform_after_commit_wait_s`` and then left to finish in the background. The answer is
    decided by the commit: a peer that hangs must not delay it past the gateway's timeout, which would make
    a settled purchase look outcome-unknown to the HIS. What the call does not deliver stays owed and the
    retry loop sends it again; its failure is logged, never the caller's error."""
    settings = runtime.settings
    wait_s = settings.interplatform_after_commit_wait_s if isinstance(settings, SettlementSettings) else 1.0
    task = asyncio.ensure_future(call)
    task.add_done_callback(_after_commit_done)
    # Kept referenced until it ends, and waited for at shutdown before the pool closes (``keep``).
    runtime.keep(task)
    with contextlib.suppress(Exception):  # past the wait (TimeoutError) or failed: logged, still owed
        await asyncio.wait_for(asyncio.shield(task), wait_s)


def _after_commit_done(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("a call owed to a peer after the commit failed; it stays owed", exc_info=task.exception())


@router.post("/pharmacy-settlements", response_model=SettlementOut)
async def settle_pharmacy(body: PharmacySettlementRequest, runtime: RuntimeDep, request: Request) -> Response:
    """Settle a pharmacy purchase (2102). Repeating the same msgid with the same body returns the first
    settlement; with a different body it is refused. A peer platform's insured is settled through the peer
    (pay_loc 4, docs/interface.md, "Between platforms")."""
    claim = service.pharmacy_claim(body)
    peers = peer_route(request)
    grouped = group.for_runtime(runtime)
    if grouped is not None and (peers is None or not peers.hosts(claim.insuplc_admdvs)):
        # With other persons' settlements in one transaction (PostgreSQL, when set); a peer platform's
        # insured is settled alone, through the peer.
        settled = await grouped.settle(claim, fixmedins_code=body.fixmedins_code, msgid=body.msgid)
        return model_response(settled)
    settled = await once(
        runtime,
        lambda session: service.settle(session, claim, peers=peers),
        fixmedins_code=body.fixmedins_code,
        msgid=body.msgid,
    )
    await send_owed(request, runtime, settled, settled.setl_id)
    return model_response(settled)


@router.post("/pharmacy-settlements/preview", response_model=SettlementOut)
async def presettle_pharmacy(
    body: PharmacySettlementRequest, runtime: RuntimeDep, request: Request
) -> SettlementOut:
    """Pre-settle a pharmacy purchase (2101): the same calculation, nothing written."""
    async with runtime.db.session() as session:
        return await service.presettle(session, service.pharmacy_claim(body), peer_route(request))


@router.get("/settlements/{setl_id}", response_model=SettlementOut)
async def get_settlement(
    setl_id: str,
    runtime: RuntimeDep,
    fixmedins_code: str | None = Query(default=None, max_length=30),
) -> SettlementOut:
    """``fixmedins_code``: asked on behalf of this institution (the gateway always says), which may see
    its own settlements only."""
    async with runtime.db.session() as session:
        found = await service.load(session, setl_id)
    if fixmedins_code is not None and found.fixmedins_code != fixmedins_code:
        raise DomainError("只能查询本机构的结算", code="NOT_YOUR_SETTLEMENT", status_code=403)
    return found


@router.post("/settlements/{setl_id}/reversal", response_model=SettlementOut)
async def reverse(
    setl_id: str, body: ReversalRequest, runtime: RuntimeDep, request: Request
) -> SettlementOut:
    """Undo a settlement (2103/2208/2305) with its own record of negated amounts (a peer's insured: the
    peer's reservation released)."""
    reversal = await once(
        runtime,
        lambda session: service.reverse(session, setl_id, body.fixmedins_code, body.msgid, body.psn_no),
        "reverse",
        fixmedins_code=body.fixmedins_code,
        msgid=body.msgid,
    )
    await send_owed(request, runtime, reversal, setl_id)
    return reversal


@router.post("/voids", response_model=VoidOut)
async def void(body: VoidRequest, runtime: RuntimeDep, request: Request) -> VoidOut:
    """2601 冲正: reverse what the unanswered message settled, or make sure it never settles. Nothing
    settled for a peer platform's insured (the envelope's ``insuplc_admdvs``): the peer is told to give back
    a hold it may have made for a reserve whose answer was lost (docs/interface.md, "Between platforms")."""
    route = peer_route(request)
    region = body.insuplc_admdvs
    peer_region = region if route is not None and region is not None and route.hosts(region) else None

    async def run(session: AsyncSession) -> SettlementOut | None:
        reversal = await service.void_message(
            session, body.omsgid, body.fixmedins_code, body.msgid, body.psn_no
        )
        if reversal is None and route is not None and peer_region is not None:
            await route.owe_void(session, peer_region, body.omsgid, body.psn_no)
        return reversal

    reversal = await once(runtime, run, "void", fixmedins_code=body.fixmedins_code, msgid=body.msgid)
    if reversal is not None and reversal.reversal_of:
        await send_owed(request, runtime, reversal, reversal.reversal_of)
    elif reversal is None and route is not None and peer_region is not None:
        await after_commit_call(request, runtime, route.send_voids(runtime.db, body.omsgid))
    return VoidOut(outcome="voided" if reversal is None else "reversed", reversal=reversal)
