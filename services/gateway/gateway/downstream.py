"""HTTP calls to the enrollment and settlement services, with the failure modes a cashier must be told
apart: refused (nothing happened), unavailable (nothing happened), outcome unknown (maybe happened)."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from datetime import date
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from gateway import capacity
from gateway.nhsa.errors import OutcomeUnknown, Refusal
from shared.contracts.v1.catalogue import CatalogueChanges, MappingOut, MappingRevocation, MappingUpload
from shared.contracts.v1.institutions import InstitutionInfo
from shared.http import AiohttpTransport
from shared.observability import msgid_var, request_id_var

#: After a settlement whose answer was lost (the wording the 2102 cashiers already know).
_VOIDABLE_HINT = "，交易结果未知：请勿重复收费，请用原报文ID重发本交易查询结果，或使用2601冲正"
#: After a registration, fee upload, discharge... whose answer was lost. The settlement service keeps the
#: answer of each by msgid (``settlement.replay``): a repeat gets it, nothing is done twice.
_REPEAT_HINT = "，办理结果未知：请用原报文ID重发本交易，将得到原交易的办理结果"


class Declared(Protocol):
    """What a call needs of the transaction it is made for (``gateway.nhsa.transaction.Transaction``)."""

    @property
    def moves_money(self) -> bool: ...


#: The transaction the envelope being answered is (set by the pipeline around its handler).
downstream_transaction: ContextVar[Declared | None] = ContextVar("downstream_transaction", default=None)


class Downstream:
    def __init__(
        self,
        enrollment_url: str,
        settlement_url: str,
        timeout_s: float,
        credential: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        """``credential`` gives the gateway's service-credential headers for each call."""
        self.credential = credential or dict
        # On aiohttp's pool (shared.http): httpx's own transport was a fifth of the gateway's CPU per 2102.
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=min(2.0, timeout_s)),
            transport=AiohttpTransport(httpx.Limits(max_connections=200)),
        )
        self.enrollment_url = enrollment_url.rstrip("/")
        self.settlement_url = settlement_url.rstrip("/")

    async def close(self) -> None:
        await self.client.aclose()

    async def _call(
        self, method: str, url: str, *, changes_state: bool, listing: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        """``changes_state``: the call writes, so a lost answer is "outcome unknown" (a read before it is
        simply "try again"). How the cashier settles the doubt is the transaction's (the registry's
        ``moves_money``: a settlement or a reversal, where 2601 is named; the other ones, registering,
        uploading fee lines, discharging..., are settled by repeating the msgid). ``listing``: the endpoint
        answers a JSON array, given back as ``{"items": [...]}``."""
        headers = {**self.credential(), "x-request-id": request_id_var.get()}
        msgid = msgid_var.get()
        if msgid:
            headers["x-msgid"] = msgid

        declared = downstream_transaction.get()
        voidable = declared is None or declared.moves_money

        def unknown(cause: str) -> OutcomeUnknown:
            return OutcomeUnknown("E_OUTCOME_UNKNOWN", cause + (_VOIDABLE_HINT if voidable else _REPEAT_HINT))

        await capacity.before_call()  # a slot for the envelope, or E_BUSY with nothing sent
        try:
            response = await self.client.request(method, url, headers=headers, **kwargs)
        except httpx.ConnectError as exc:
            raise Refusal("E_UNAVAILABLE", "医保服务暂不可用，交易未执行，请稍后重试") from exc
        except httpx.TimeoutException as exc:
            if changes_state:
                raise unknown("医保服务响应超时") from exc
            raise Refusal("E_TIMEOUT", "医保服务响应超时，请重试") from exc
        except httpx.HTTPError as exc:
            if changes_state:
                raise unknown("医保服务通讯异常") from exc
            raise Refusal("E_UNAVAILABLE", "医保服务通讯异常，请重试") from exc
        if response.status_code >= 500:
            if changes_state:
                raise unknown("医保服务内部错误")
            raise Refusal("E_UNAVAILABLE", "医保服务内部错误，请稍后重试")
        try:
            body = response.json()
        except ValueError as exc:
            raise OutcomeUnknown("E_OUTCOME_UNKNOWN", "医保服务应答无法解析，交易结果未知") from exc
        if response.status_code >= 400:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            raise Refusal(str(error.get("code", "E_REFUSED")), str(error.get("message", "交易被拒绝")))
        if listing and isinstance(body, list):  # an endpoint that answers a JSON array
            return {"items": body}
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

    async def settlement(self, setl_id: str, fixmedins_code: str) -> dict[str, Any]:
        """One settlement of the calling institution (another's is refused, 403 NOT_YOUR_SETTLEMENT)."""
        return await self._call(
            "GET",
            f"{self.settlement_url}/api/v1/settlements/{_segment(setl_id)}",
            params={"fixmedins_code": fixmedins_code},
            changes_state=False,
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

    # --- encounters: outpatient visits (2201-2208) and inpatient stays (2401-2405, 2301-2305) ------------

    def _encounter_url(self, mdtrt_id: str, tail: str = "") -> str:
        return f"{self.settlement_url}/api/v1/encounters/{_segment(mdtrt_id)}{tail}"

    async def open_encounter(self, payload: dict[str, Any]) -> dict[str, Any]:
        """2201 / 2401; the same (fixmedins_code, ipt_otp_no) again answers with the same encounter."""
        return await self._call(
            "POST",
            f"{self.settlement_url}/api/v1/encounters",
            json=payload,
            changes_state=True,
        )

    async def encounter(self, mdtrt_id: str, fixmedins_code: str) -> dict[str, Any]:
        """One encounter of the calling institution (another's is refused, 403 NOT_YOUR_ENCOUNTER)."""
        return await self._call(
            "GET",
            self._encounter_url(mdtrt_id),
            params={"fixmedins_code": fixmedins_code},
            changes_state=False,
        )

    async def cancel_encounter(self, mdtrt_id: str, fixmedins_code: str) -> dict[str, Any]:
        """2202 / 2404."""
        return await self._call(
            "POST",
            self._encounter_url(mdtrt_id, "/cancellation"),
            params={"fixmedins_code": fixmedins_code},
            changes_state=True,
        )

    async def update_diagnosis(self, mdtrt_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """2203 / 2403 (and the maternity fields of 2402)."""
        return await self._call(
            "POST",
            self._encounter_url(mdtrt_id, "/diagnosis"),
            json=payload,
            changes_state=True,
        )

    async def upload_fees(self, mdtrt_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """2204 / 2301: the lines are stored and answered with their classification."""
        return await self._call(
            "POST", self._encounter_url(mdtrt_id, "/fees"), json=payload, changes_state=True
        )

    async def cancel_fees(self, mdtrt_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """2205 / 2302: ``{"cancelled": n}``."""
        return await self._call(
            "POST",
            self._encounter_url(mdtrt_id, "/fees/cancellation"),
            json=payload,
            changes_state=True,
        )

    async def discharge(self, mdtrt_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """2402."""
        return await self._call(
            "POST",
            self._encounter_url(mdtrt_id, "/discharge"),
            json=payload,
            changes_state=True,
        )

    async def undo_discharge(self, mdtrt_id: str, fixmedins_code: str) -> dict[str, Any]:
        """2405."""
        return await self._call(
            "POST",
            self._encounter_url(mdtrt_id, "/discharge/cancellation"),
            params={"fixmedins_code": fixmedins_code},
            changes_state=True,
        )

    async def preview_encounter(self, mdtrt_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """2206 / 2303: nothing is written, so a timeout is simply "try again"."""
        return await self._call(
            "POST", self._encounter_url(mdtrt_id, "/settlement/preview"), json=payload, changes_state=False
        )

    async def settle_encounter(self, mdtrt_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """2207 / 2304: binding, once per msgid; a lost answer is "outcome unknown" (2601 can undo it)."""
        return await self._call(
            "POST", self._encounter_url(mdtrt_id, "/settlement"), json=payload, changes_state=True
        )

    # --- filings (2503/2504, 5301) ------------------------------------------------------------------------

    async def file_chronic(self, payload: dict[str, Any]) -> dict[str, Any]:
        """2503: the stored filing with its ``trt_dcla_detl_sn``; once per msgid."""
        return await self._call(
            "POST", f"{self.settlement_url}/api/v1/filings/chronic", json=payload, changes_state=True
        )

    async def file_designated(self, payload: dict[str, Any]) -> dict[str, Any]:
        """2505: the stored designated-facility filing with its ``trt_dcla_detl_sn``; once per msgid."""
        return await self._call(
            "POST", f"{self.settlement_url}/api/v1/filings/designated", json=payload, changes_state=True
        )

    async def revoke_filing(self, trt_dcla_detl_sn: str, payload: dict[str, Any]) -> dict[str, Any]:
        """2504: the filing as revoked; once per msgid."""
        return await self._call(
            "POST",
            f"{self.settlement_url}/api/v1/filings/{_segment(trt_dcla_detl_sn)}/revocation",
            json=payload,
            changes_state=True,
        )

    async def person_filings(self, psn_no: str, kind: str | None = None) -> dict[str, Any]:
        """5301: ``{"filings": [...]}``, every filing of the person, revoked ones too."""
        return await self._call(
            "GET",
            f"{self.settlement_url}/api/v1/filings/persons/{_segment(psn_no)}",
            params={"kind": kind} if kind else None,
            changes_state=False,
        )

    async def reconciliation_totals(
        self, fixmedins_code: str, insutype: str, clr_type: str, date_from: date, date_to: date
    ) -> dict[str, Any]:
        """3201: settlement's totals per day for one institution, insutype and clr_type."""
        return await self._call(
            "GET",
            f"{self.settlement_url}/api/v1/reconciliation/totals",
            params={
                "fixmedins_code": fixmedins_code,
                "insutype": insutype,
                "clr_type": clr_type,
                "date_from": date_from.isoformat(),
                "date_to": date_to.isoformat(),
            },
            changes_state=False,
        )

    # --- catalogue downloads (13xx) ------------------------------------------------------------------------

    async def catalogue_changes(
        self,
        list_name: str,
        ver: int,
        page_num: int,
        page_size: int,
        *,
        upto_ver: int | None = None,
        cursor: str | None = None,
    ) -> CatalogueChanges:
        """One page of the rows of a catalogue list changed after version ``ver``; with ``cursor`` ("0:0"
        to start), the batch after it up to ``upto_ver``."""
        params: dict[str, Any] = {"ver": ver, "page_num": page_num, "page_size": page_size}
        if cursor is not None:
            params.update(cursor=cursor, upto_ver=upto_ver)
        body = await self._call(
            "GET",
            f"{self.settlement_url}/api/v1/catalogue/downloads/{_segment(list_name)}",
            params=params,
            changes_state=False,
        )
        return CatalogueChanges.model_validate(body)

    async def institutions(self) -> list[InstitutionInfo]:
        """1201: every designated institution the settlement service keeps."""
        body = await self._call(
            "GET", f"{self.settlement_url}/api/v1/institutions", changes_state=False, listing=True
        )
        return [InstitutionInfo.model_validate(row) for row in body["items"]]

    async def upload_mapping(self, request: MappingUpload) -> MappingOut:
        """3301: the mapping as stored (the same msgid again: the same mapping)."""
        body = await self._call(
            "POST",
            f"{self.settlement_url}/api/v1/catalogue/mappings",
            json=request.model_dump(mode="json"),
            changes_state=True,
        )
        return MappingOut.model_validate(body)

    async def revoke_mapping(self, request: MappingRevocation) -> MappingOut:
        """3302: the mapping as revoked (the same msgid again: the same mapping)."""
        body = await self._call(
            "POST",
            f"{self.settlement_url}/api/v1/catalogue/mappings/revocation",
            json=request.model_dump(mode="json"),
            changes_state=True,
        )
        return MappingOut.model_validate(body)

    async def ping(self) -> None:
        for base in (self.enrollment_url, self.settlement_url):
            response = await self.client.get(f"{base}/healthz", timeout=2.0)
            response.raise_for_status()


def _segment(value: str) -> str:
    """One URL path segment: "/", "?" and "#" in a caller's id are escaped, never read as URL structure."""
    return quote(value, safe="")
