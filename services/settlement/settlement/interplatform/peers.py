"""The treating side's calls to peer platforms (docs/interface.md, "Between platforms"): which peer hosts
an insured region, and the eligibility, reserve, confirm and release calls with the outcome-unknown rule
(a call whose answer did not arrive is sent again with the same msgid: the peer answers a repeat as the
first)."""

from __future__ import annotations

from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from settlement.config import PeerPlatform, SettlementSettings
from shared.contracts.v1.interplatform import (
    ConfirmRequest,
    EligibilityAnswer,
    EligibilityQuery,
    PersonAnswer,
    PersonQuery,
    ReleaseRequest,
    ReservationOut,
    ReservationRequest,
    ReservationVoid,
    ReservationVoidOut,
    Statement,
)
from shared.errors import DomainError

Answer = TypeVar("Answer", bound=BaseModel)


def outcome_unknown(peer: str, cause: str) -> DomainError:
    """503: the gateway answers the HIS ``E_OUTCOME_UNKNOWN`` (repeat the msgid, or 2601)."""
    return DomainError(
        f"参保地平台 {peer} {cause}，跨平台交易结果未知", code="PEER_OUTCOME_UNKNOWN", status_code=503
    )


class Peers:
    """The peers of the settings, and one HTTP client for the calls (``transport`` replaceable in tests)."""

    def __init__(
        self, settings: SettlementSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.platform_id = settings.platform_id
        self.hold_s = settings.interplatform_hold_s
        self.timeout_s = settings.interplatform_timeout_s
        self.by_id = {peer.id: peer for peer in settings.interplatform_peers}
        self.transport = transport

    def hosting(self, insuplc_admdvs: str) -> PeerPlatform | None:
        """The peer platform that hosts the insured region, if one does."""
        return next((p for p in self.by_id.values() if insuplc_admdvs in p.admdvs), None)

    async def _post(
        self, peer: PeerPlatform, path: str, body: BaseModel | None, answer: type[Answer]
    ) -> Answer:
        """POST ``body`` (None: a GET) to the peer; its answer, or the refusal or outcome unknown."""
        headers = {"authorization": f"Bearer {peer.token}"} if peer.token else {}
        try:
            async with httpx.AsyncClient(
                base_url=peer.base_url, timeout=self.timeout_s, transport=self.transport, headers=headers
            ) as client:
                if body is None:
                    response = await client.get(path)
                else:
                    response = await client.post(path, content=body.model_dump_json(), headers={
                        "content-type": "application/json"
                    })  # fmt: skip
        except httpx.HTTPError as exc:
            raise outcome_unknown(peer.id, "未应答") from exc
        if response.status_code >= 500:
            raise outcome_unknown(peer.id, f"应答 {response.status_code}")
        if response.status_code >= 400:
            error = _error(response)
            raise DomainError(
                f"参保地平台 {peer.id}: {error.get('message', '拒绝')}",
                code=str(error.get("code", "PEER_REFUSED")),
                status_code=422,
            )
        try:
            return answer.model_validate_json(response.content)
        except (ValidationError, ValueError) as exc:
            raise outcome_unknown(peer.id, "应答格式错误") from exc

    async def eligibility(self, peer: PeerPlatform, query: EligibilityQuery) -> EligibilityAnswer:
        return await self._post(peer, "/api/v1/interplatform/eligibility", query, EligibilityAnswer)

    async def person(self, peer: PeerPlatform, query: PersonQuery) -> PersonAnswer:
        return await self._post(peer, "/api/v1/interplatform/persons", query, PersonAnswer)

    async def reserve(self, peer: PeerPlatform, body: ReservationRequest) -> ReservationOut:
        return await self._post(peer, "/api/v1/interplatform/reservations", body, ReservationOut)

    async def preview(self, peer: PeerPlatform, body: ReservationRequest) -> ReservationOut:
        return await self._post(peer, "/api/v1/interplatform/previews", body, ReservationOut)

    async def confirm(self, peer: PeerPlatform, reservation_id: str, body: ConfirmRequest) -> ReservationOut:
        path = f"/api/v1/interplatform/reservations/{reservation_id}/confirmation"
        return await self._post(peer, path, body, ReservationOut)

    async def release(self, peer: PeerPlatform, reservation_id: str, body: ReleaseRequest) -> ReservationOut:
        path = f"/api/v1/interplatform/reservations/{reservation_id}/release"
        return await self._post(peer, path, body, ReservationOut)

    async def void(self, peer: PeerPlatform, body: ReservationVoid) -> ReservationVoidOut:
        return await self._post(peer, "/api/v1/interplatform/reservation-voids", body, ReservationVoidOut)

    async def statement(self, peer: PeerPlatform, month: str) -> Statement:
        """The peer's statement of ``month`` with this platform (its own records)."""
        path = f"/api/v1/interplatform/statements/{month}?peer={self.platform_id}"
        return await self._post(peer, path, None, Statement)


def _error(response: httpx.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}
