"""HTTP calls to the enrollment and settlement services, with the failure modes a cashier must be told
apart: refused (nothing happened), unavailable (nothing happened), outcome unknown (maybe happened)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from gateway.nhsa.errors import OutcomeUnknown, Refusal
from shared.observability import request_id_var


class Downstream:
    def __init__(self, enrollment_url: str, settlement_url: str, timeout_s: float) -> None:
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=min(2.0, timeout_s)),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        self.enrollment_url = enrollment_url.rstrip("/")
        self.settlement_url = settlement_url.rstrip("/")

    async def close(self) -> None:
        await self.client.aclose()

    async def _call(self, method: str, url: str, *, changes_state: bool, **kwargs: Any) -> dict[str, Any]:
        headers = {"x-request-id": request_id_var.get()}
        try:
            response = await self.client.request(method, url, headers=headers, **kwargs)
        except httpx.ConnectError as exc:
            raise Refusal("E_UNAVAILABLE", "医保服务暂不可用，交易未执行，请稍后重试") from exc
        except httpx.TimeoutException as exc:
            if changes_state:
                raise OutcomeUnknown(
                    "E_OUTCOME_UNKNOWN",
                    "医保服务响应超时，交易结果未知：请勿重复收费，请用原报文ID重发本交易查询结果，或使用2601冲正",
                ) from exc
            raise Refusal("E_TIMEOUT", "医保服务响应超时，请重试") from exc
        except httpx.HTTPError as exc:
            if changes_state:
                raise OutcomeUnknown(
                    "E_OUTCOME_UNKNOWN",
                    "医保服务通讯异常，交易结果未知：请用原报文ID重发本交易查询结果，或使用2601冲正",
                ) from exc
            raise Refusal("E_UNAVAILABLE", "医保服务通讯异常，请重试") from exc
        if response.status_code >= 500:
            if changes_state:
                raise OutcomeUnknown(
                    "E_OUTCOME_UNKNOWN",
                    "医保服务内部错误，交易结果未知：请用原报文ID重发本交易查询结果，或使用2601冲正",
                )
            raise Refusal("E_UNAVAILABLE", "医保服务内部错误，请稍后重试")
        try:
            body = response.json()
        except ValueError as exc:
            raise OutcomeUnknown("E_OUTCOME_UNKNOWN", "医保服务应答无法解析，交易结果未知") from exc
        if response.status_code >= 400:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            raise Refusal(str(error.get("code", "E_REFUSED")), str(error.get("message", "交易被拒绝")))
        if not isinstance(body, dict):
            raise OutcomeUnknown("E_OUTCOME_UNKNOWN", "医保服务应答格式错误，交易结果未知")
        return body

    async def person_coverage(self, certno: str) -> dict[str, Any]:
        return await self._call(
            "GET",
            f"{self.enrollment_url}/api/v1/persons/lookup",
            params={"certno": certno},
            changes_state=False,
        )

    async def person_coverage_by_card(self, card_no: str, card_sn: str | None) -> dict[str, Any]:
        """The person a social-security card belongs to; a lost or replaced card is refused by enrollment
        (422 CARD_NOT_ACTIVE), which ``_call`` turns into a Refusal with that code and message."""
        params = {"card_no": card_no}
        if card_sn:
            params["card_sn"] = card_sn
        return await self._call(
            "GET", f"{self.enrollment_url}/api/v1/persons/lookup", params=params, changes_state=False
        )

    async def settle_pharmacy(self, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._call(
            "POST", f"{self.settlement_url}/api/v1/pharmacy-settlements", json=payload, changes_state=True
        )

    async def preview_pharmacy(self, payload: dict[str, Any]) -> dict[str, Any]:
        """2101: the same calculation as a settlement, nothing written; a timeout is simply "try again"."""
        return await self._call(
            "POST",
            f"{self.settlement_url}/api/v1/pharmacy-settlements/preview",
            json=payload,
            changes_state=False,
        )

    async def settlement(self, setl_id: str) -> dict[str, Any]:
        return await self._call(
            "GET", f"{self.settlement_url}/api/v1/settlements/{_segment(setl_id)}", changes_state=False
        )

    async def reverse_settlement(self, setl_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._call(
            "POST",
            f"{self.settlement_url}/api/v1/settlements/{_segment(setl_id)}/reversal",
            json=payload,
            changes_state=True,
        )

    async def void_message(self, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._call(
            "POST", f"{self.settlement_url}/api/v1/voids", json=payload, changes_state=True
        )

    async def ping(self) -> None:
        for base in (self.enrollment_url, self.settlement_url):
            response = await self.client.get(f"{base}/healthz", timeout=2.0)
            response.raise_for_status()


def _segment(value: str) -> str:
    """One URL path segment: "/", "?" and "#" in a caller's id are escaped, never read as URL structure."""
    return quote(value, safe="")
