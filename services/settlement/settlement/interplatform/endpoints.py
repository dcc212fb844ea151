"""The insured platform's side of the inter-platform protocol (docs/interface.md, "Between platforms")."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from sqlmodel import col, select

from settlement.interplatform import clearing, reservations, service
from settlement.interplatform.models import PeerSettlement
from settlement.interplatform.treating import Treating
from shared.auth import ADMINISTRATOR, AUDITOR, Forbidden, Principal
from shared.clock import now_china
from shared.contracts.v1.interplatform import (
    ConfirmRequest,
    EligibilityAnswer,
    EligibilityQuery,
    PeerPersonQuery,
    PeerSettlementOut,
    PersonAnswer,
    PersonQuery,
    Reconciliation,
    ReconciliationRequest,
    ReleaseRequest,
    ReservationOut,
    ReservationRequest,
    ReservationVoid,
    ReservationVoidOut,
    Statement,
)
from shared.db import Database
from shared.errors import NotFound
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/interplatform", tags=["inter-platform"])
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
log = logging.getLogger(__name__)


def _speaking_for(request: Request, platform: str, *, readers: tuple[str, ...] = ()) -> None:
    """A peer platform calls with the service token this platform issued it, whose subject is its
    platform id: it speaks for that platform only (``platform`` in the body, or the ``peer`` whose
    statement it reads), else 403 ``PLATFORM_MISMATCH``. An administrator may act for any platform (an
    operator's correction), and ``readers`` (auditors, for statements) may read any."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None or principal.roles & {ADMINISTRATOR, *readers}:
        return
    if principal.subject != platform:
        raise Forbidden(
            f"访问令牌属于 {principal.subject}，不能代表平台 {platform} 调用 (the token speaks for its own "
            "platform only)",
            code="PLATFORM_MISMATCH",
        )


@router.post(
    "/eligibility", response_model=EligibilityAnswer, responses={422: {"description": "VALIDATION_ERROR"}}
)
async def interplatform_eligibility(
    body: EligibilityQuery, runtime: RuntimeDep, request: Request
) -> EligibilityAnswer:
    """A treating platform asks whether a person insured here is covered for care on a day, under which
    scheme and insured region, with the year's totals the policy reads and the filings in force. Writes
    nothing; a person not covered is answered ``covered`` false with the reason."""
    _speaking_for(request, body.platform)
    async with runtime.db.session() as session:
        answer = await service.eligibility_of(session, body)
    log.info(
        "inter-platform eligibility",
        extra={"platform": body.platform, "msgid": body.msgid, "covered": answer.covered},
    )
    return answer


@router.post(
    "/persons",
    response_model=PersonAnswer,
    responses={404: {"description": "PERSON_NOT_FOUND"}, 422: {"description": "CARD_NOT_ACTIVE"}},
)
async def interplatform_person(body: PersonQuery, runtime: RuntimeDep, request: Request) -> PersonAnswer:
    """A treating platform asks who a person insured here is, by ID number or card (its institution's
    1101): identity, every year's cover and identity categories. Writes nothing."""
    _speaking_for(request, body.platform)
    async with runtime.db.session() as session:
        answer = await service.person_of(session, body)
    log.info("inter-platform person", extra={"platform": body.platform, "msgid": body.msgid})
    return answer


@router.post(
    "/peer-persons",
    response_model=PersonAnswer,
    responses={
        404: {"description": "NO_PEER_FOR_REGION, PERSON_NOT_FOUND"},
        422: {"description": "CARD_NOT_ACTIVE, PEER_REFUSED"},
        503: {"description": "PEER_OUTCOME_UNKNOWN"},
    },
)
async def peer_person(body: PeerPersonQuery, request: Request) -> PersonAnswer:
    """The treating side (the gateway's 1101): the person as the peer platform hosting
    ``insuplc_admdvs`` knows them; 404 ``NO_PEER_FOR_REGION`` when no peer hosts the region."""
    treating: Treating | None = getattr(request.app.state, "peer_route", None)
    if treating is None:
        raise NotFound(f"参保地区划 {body.insuplc_admdvs} 不属于任何对端平台", code="NO_PEER_FOR_REGION")
    return await treating.person(body)


@router.post(
    "/reservations",
    response_model=ReservationOut,
    status_code=201,
    responses={
        404: {"description": "NOT_COVERED"},
        409: {"description": "MSGID_REUSED"},
        422: {"description": "VALIDATION_ERROR, NOT_COVERED, NOT_ELIGIBLE, POLICY_NOT_FOUND"},
    },
)
async def reserve(
    body: ReservationRequest, runtime: RuntimeDep, response: Response, request: Request
) -> ReservationOut:
    """Reserve: this platform's policy on the treating platform's classified lines, the person's yearly
    totals held for it until confirmed or released (or the hold runs out). The same (platform, msgid)
    again answers 200 with the reservation."""
    _speaking_for(request, body.platform)
    try:
        async with runtime.db.transaction() as session:
            answer = await reservations.reserve(session, body, now_china())
    except reservations.InFlight:
        # The same msgid reserved by a call that committed first (the treating side gave up waiting and
        # sent it again): the one reservation, replayed, rather than a refusal the treating side would take
        # for a msgid reused with another body.
        async with runtime.db.transaction() as session:
            answer = await reservations.reserve(session, body, now_china())
    if answer.replayed:
        response.status_code = 200
    return answer


@router.post(
    "/previews",
    response_model=ReservationOut,
    responses={
        404: {"description": "NOT_COVERED"},
        422: {"description": "VALIDATION_ERROR, NOT_COVERED, NOT_ELIGIBLE, POLICY_NOT_FOUND"},
    },
)
async def preview(body: ReservationRequest, runtime: RuntimeDep, request: Request) -> ReservationOut:
    """A reservation's calculation without the hold (the treating platform's pre-settlement): what this
    platform's policy would pay now, status ``preview``; nothing is written (``hold_s`` is not used)."""
    _speaking_for(request, body.platform)
    async with runtime.db.session() as session:
        return await reservations.preview(session, body, now_china())


@router.post(
    "/reservations/{reservation_id}/confirmation",
    response_model=ReservationOut,
    responses={
        404: {"description": "RESERVATION_NOT_FOUND"},
        409: {"description": "RESERVATION_EXPIRED, RESERVATION_RELEASED"},
    },
)
async def confirm(
    reservation_id: str, body: ConfirmRequest, runtime: RuntimeDep, request: Request
) -> ReservationOut:
    """Confirm: the treating platform settled; the held totals stay. A hold whose time ran out is released
    (its totals given back) and the confirmation refused."""
    _speaking_for(request, body.platform)
    async with runtime.db.transaction() as session:
        answer, refusal = await reservations.confirm(session, reservation_id, body, now_china())
    if refusal is not None:
        raise refusal  # after the commit: the release of a hold that ran out stands
    assert answer is not None
    return answer


@router.post(
    "/reservations/{reservation_id}/release",
    response_model=ReservationOut,
    responses={404: {"description": "RESERVATION_NOT_FOUND"}},
)
async def release(
    reservation_id: str, body: ReleaseRequest, runtime: RuntimeDep, request: Request
) -> ReservationOut:
    """Release: the treating platform reversed or failed; the person's held totals are given back. A
    reservation released before answers as it stands."""
    _speaking_for(request, body.platform)
    async with runtime.db.transaction() as session:
        return await reservations.release(session, reservation_id, body, now_china())


@router.post(
    "/reservation-voids",
    response_model=ReservationVoidOut,
    responses={409: {"description": "RESERVATION_CONFIRMED"}},
)
async def void(body: ReservationVoid, runtime: RuntimeDep, request: Request) -> ReservationVoidOut:
    """Void: the treating platform's 2601 found nothing settled under ``reserve_msgid``. A reservation made
    under it is released (its answer was lost); none made, a reserve arriving later under it is refused
    ``RESERVATION_VOIDED`` and holds nothing. The same void again answers as the first."""
    _speaking_for(request, body.platform)
    try:
        async with runtime.db.transaction() as session:
            return await reservations.void(session, body, now_china())
    except reservations.InFlight:
        # The reserve under that msgid committed while this void was writing its row: release it now.
        async with runtime.db.transaction() as session:
            return await reservations.void(session, body, now_china())


@router.get("/peer-settlements", response_model=list[PeerSettlementOut])
async def peer_settlements(
    runtime: RuntimeDep,
    status: Annotated[str | None, Query(max_length=10)] = None,
    release_reason: Annotated[str | None, Query(max_length=10)] = None,
    peer: Annotated[str | None, Query(max_length=30)] = None,
) -> list[PeerSettlementOut]:
    """The operator's view of the treating side: this platform's settlements of peers' insured, what each
    peer was told (``status``) and why one was reversed (``release_reason`` ``timeout``: the peer released
    its hold before the confirmation and the settlement was reversed here automatically)."""
    query = select(PeerSettlement).order_by(col(PeerSettlement.id))
    if status is not None:
        query = query.where(PeerSettlement.status == status)
    if release_reason is not None:
        query = query.where(PeerSettlement.release_reason == release_reason)
    if peer is not None:
        query = query.where(PeerSettlement.peer == peer)
    async with runtime.db.session() as session:
        rows = list(await session.scalars(query.limit(1000)))
    return [PeerSettlementOut.model_validate(row, from_attributes=True) for row in rows]


@router.get(
    "/statements/{month}", response_model=Statement, responses={422: {"description": "VALIDATION_ERROR"}}
)
async def month_statement(
    month: Annotated[str, Path(pattern=MONTH)],
    runtime: RuntimeDep,
    request: Request,
    peer: Annotated[str, Query(pattern=r"^[A-Za-z0-9_-]{1,30}$")],
) -> Statement:
    """This platform's statement of a month with ``peer``, from its own records only (docs/interface.md,
    "Between platforms", "Clearing"): the peer's insured treated here and this platform's insured treated
    there, reservation by reservation. A peer asks it for the reconciliation; writes nothing."""
    _speaking_for(request, peer, readers=(AUDITOR,))
    async with runtime.db.session() as session:
        return await clearing.statement(session, _treating(request).peers.platform_id, peer, month)


@router.post(
    "/reconciliations",
    response_model=Reconciliation,
    responses={
        404: {"description": "PEER_NOT_FOUND"},
        503: {"description": "PEER_OUTCOME_UNKNOWN"},
    },
)
async def reconciliation(
    body: ReconciliationRequest, runtime: RuntimeDep, request: Request
) -> Reconciliation:
    """The month's reconciliation with a peer: this platform's statement against the one the peer sends
    (asked over the inter-platform link), in both directions: matched, released on both, only here, only
    there, amount differences, pending; and this platform's side of the clearing of each reconciled
    direction (what the fund ledger books). Writes nothing."""
    peers = _treating(request).peers
    peer = peers.by_id.get(body.peer)
    if peer is None:
        raise NotFound(f"对端平台 {body.peer} 未配置", code="PEER_NOT_FOUND")
    async with runtime.db.session() as session:
        own = await clearing.statement(session, peers.platform_id, body.peer, body.month)
    theirs = await peers.statement(peer, body.month)
    return clearing.reconcile(own, theirs)


def _treating(request: Request) -> Treating:
    treating: Treating = request.app.state.peer_route
    return treating


async def watch_expired(db: Database, interval_s: float, stop: asyncio.Event) -> None:
    """Releases reservations whose hold ran out unconfirmed, every ``interval_s``."""
    while interval_s > 0 and not stop.is_set():
        try:
            async with db.transaction() as session:
                released = await reservations.release_expired(session, now_china())
            if released:
                log.info("inter-platform reservations released at timeout", extra={"count": released})
        except Exception:
            log.exception("inter-platform reservation expiry failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
