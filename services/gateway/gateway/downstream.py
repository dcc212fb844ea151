"""HTTP calls to the enrollment and settlement services, with the failure modes a cashier must be told
apart: refused (nothing happened), unavailable (nothing happened), outcome unknown (maybe happened)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import date
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import httpx
import msgspec
from pydantic import BaseModel, ValidationError

from gateway import capacity
from gateway.protocol.errors import OutcomeUnknown, Refusal
from shared.contracts.v1.catalogue import CatalogueChanges, MappingOut, MappingRevocation, MappingUpload
from shared.contracts.v1.clearing import ApplicationIn, ApplicationOut, RevocationIn
from shared.contracts.v1.enrollment import PersonCoverage, VoucherOut
from shared.contracts.v1.filings import (
    ChronicFilingCreate,
    DesignatedFilingCreate,
    Entitlement,
    FilingList,
    FilingOut,
    FilingRevoke,
    InjuryFilingCreate,
    ReferralFilingCreate,
)
from shared.contracts.v1.institutions import InstitutionInfo, InstitutionList
from shared.contracts.v1.interplatform import PeerPersonQuery, PersonAnswer
from shared.contracts.v1.inventory import DeletionIn, DeletionOut, MovementIn, MovementOut
from shared.contracts.v1.prechecks import FeedbackOut, FeedbackRequest, PrecheckOut, PrecheckRequest
from shared.contracts.v1.queries import AccumulationList, DiagnosisList, FeeDetailList, VisitList
from shared.contracts.v1.reconciliation import SettlementsOut
from shared.contracts.v1.setl_lists import SettlementListOut, SettlementListUpload, StatusChange
from shared.contracts.v1.settlement import (
    EncounterOut,
    FeesCancelled,
    FeesOut,
    SettlementOut,
    TotalsOut,
    VoidOut,
)
from shared.http import AiohttpTransport, ServiceHop
from shared.observability import msgid_var, request_id_var

#: Open connections to the services at most (per process).
_CONNECTIONS = 200

#: The bodies of the POSTs (``Downstream._post``).
_ENCODER = msgspec.json.Encoder(decimal_format="number")
_JSON = {"content-type": "application/json"}
#: 2206/2207 and 2303/2304 answer setlinfo and setldetail, not the lines: the settlement service is asked
#: to leave them out of its answer (a stay's 100 lines were most of its bytes and of the decoding here).
_WITHOUT_LINES = {"lines": "false"}

#: The answer model a call reads its body into.
Answer = TypeVar("Answer", bound=BaseModel)


#: After a settlement whose answer was lost (the wording the 2102 cashiers already know).
_VOIDABLE_HINT = "，交易结果未知：请勿重复收费，请用原报文ID重发本交易查询结果，或使用2601冲正"
#: After a registration, fee upload, discharge... whose answer was lost. The settlement service keeps the
#: answer of each by msgid (``settlement.replay``): a repeat gets it, nothing is done twice.
_REPEAT_HINT = "，办理结果未知：请用原报文ID重发本交易，将得到原交易的办理结果"


class _NoCookies(httpx.Cookies):
    """A jar that keeps nothing (``Downstream``)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class Declared(Protocol):
    """What a call needs of the transaction it is made for (``gateway.declaration.Transaction``)."""

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
        *,
        ledger_url: str = "http://127.0.0.1:8003",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``credential`` gives the gateway's service-credential headers for each call; ``transport``:
        aiohttp's pool (``shared.http``) unless given (httpx's own transport was a fifth of the gateway's
        CPU per 2102)."""
        self.credential = credential or dict
        connect_s = min(2.0, timeout_s)
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=connect_s),
            transport=transport or AiohttpTransport(httpx.Limits(max_connections=_CONNECTIONS)),
        )
        # No cookie jar: the services set no cookies, and one client carries every institution's calls, so
        # a cookie kept from one answer must never ride on another's request. httpx reads every answer into
        # its jar through urllib's request objects (≈ 2 % of the gateway's CPU per 2102).
        self.client._cookies = _NoCookies()
        #: The calls themselves go on aiohttp directly (``shared.http.ServiceHop``, the same wire and the same
        #: failures, without httpx's objects) unless a transport was given or ``client`` was replaced: the
        #: tests put their in-process services and their faults behind an httpx client.
        self._hop = (
            None
            if transport is not None
            else ServiceHop(
                max_connections=_CONNECTIONS, connect_s=connect_s, pool_s=timeout_s, read_s=timeout_s
            )
        )
        self._hop_client = self.client
        self.enrollment_url = enrollment_url.rstrip("/")
        self.settlement_url = settlement_url.rstrip("/")
        self.ledger_url = ledger_url.rstrip("/")

    async def close(self) -> None:
        await self.client.aclose()
        if self._hop is not None:
            await self._hop.aclose()

    async def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        params: Mapping[str, Any] | None,
        content: bytes | None,
    ) -> tuple[int, bytes]:
        """One call: the answer's status and body; httpx's errors for what went wrong on the way."""
        if self._hop is not None and self.client is self._hop_client:
            return await self._hop.request(method, url, headers=headers, params=params, content=content)
        response = await self.client.request(method, url, headers=headers, params=params, content=content)
        return response.status_code, response.content

    async def _call(
        self,
        method: str,
        url: str,
        answer: type[Answer],
        *,
        changes_state: bool,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """``changes_state``: the call writes, so a lost answer is "outcome unknown" (a read before it is
        simply "try again"). How the cashier settles the doubt is the transaction's (the registry's
        ``moves_money``: a settlement or a reversal, where 2601 is named; the other ones, registering,
        uploading fee lines, discharging..., are settled by repeating the msgid). The body is read into
        ``answer``, the contract both sides import (``shared.contracts``): an answer that does not fit it
        is the service's fault, never the caller's. Every call has its contract: ``_get`` and ``_post``
        below are how the methods call."""
        sent = {**self.credential(), "x-request-id": request_id_var.get(), **(headers or {})}
        msgid = msgid_var.get()
        if msgid:
            sent["x-msgid"] = msgid

        declared = downstream_transaction.get()
        voidable = declared is None or declared.moves_money

        def unknown(cause: str) -> OutcomeUnknown:
            return OutcomeUnknown("E_OUTCOME_UNKNOWN", cause + (_VOIDABLE_HINT if voidable else _REPEAT_HINT))

        await capacity.before_call()  # a slot for the envelope, or E_BUSY with nothing sent
        try:
            status, body = await self._send(method, url, sent, params, content)
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
        if status >= 500:
            if changes_state:
                raise unknown("医保服务内部错误")
            raise Refusal("E_UNAVAILABLE", "医保服务内部错误，请稍后重试")
        if status >= 400:
            raise _refusal(body)
        try:
            return answer.model_validate_json(body)
        except (ValidationError, ValueError) as exc:
            if changes_state:
                raise OutcomeUnknown("E_OUTCOME_UNKNOWN", "医保服务应答格式错误，交易结果未知") from exc
            raise Refusal("E_UNAVAILABLE", "医保服务应答格式错误，请稍后重试") from exc

    async def _get(
        self, url: str, answer: type[Answer], *, params: Mapping[str, Any] | None = None
    ) -> Answer:
        """A read: nothing changes downstream, so a lost answer is simply "try again"."""
        return await self._call("GET", url, answer, params=params, changes_state=False)

    async def _post(
        self,
        url: str,
        answer: type[Answer],
        body: BaseModel | dict[str, Any] | None,
        *,
        params: Mapping[str, Any] | None = None,
        changes_state: bool = True,
    ) -> Answer:
        """A POST with ``body`` (a contract model or, for the settling calls, the prepared JSON object): it
        writes unless ``changes_state`` says otherwise (a preview, a pre-check), so a lost answer is
        "outcome unknown"."""
        if body is None:
            return await self._call("POST", url, answer, params=params, changes_state=changes_state)
        # The JSON written here rather than by httpx (the standard library's encoder): a contract model by
        # pydantic, a prepared object by msgspec, each several times faster, the same values.
        content = body.model_dump_json().encode() if isinstance(body, BaseModel) else _ENCODER.encode(body)
        return await self._call(
            "POST", url, answer, content=content, headers=_JSON, params=params, changes_state=changes_state
        )

    async def person_coverage(self, certno: str) -> PersonCoverage:
        return await self._get(
            f"{self.enrollment_url}/api/v1/persons/lookup", PersonCoverage, params={"certno": certno}
        )

    async def voucher(self, token: str) -> VoucherOut:
        """An e-voucher token as its issuer knows it: whose, and whether revoked (enrollment answers 404
        VOUCHER_NOT_FOUND for a token it never issued)."""
        return await self._get(f"{self.enrollment_url}/api/v1/vouchers/{token}", VoucherOut)

    async def person_coverage_by_card(self, card_no: str, card_sn: str | None) -> PersonCoverage:
        """The person a social-security card belongs to; a lost or replaced card is refused by enrollment
        (422 CARD_NOT_ACTIVE), which ``_call`` turns into a Refusal with that code and message."""
        params = {"card_no": card_no}
        if card_sn:
            params["card_sn"] = card_sn
        return await self._get(f"{self.enrollment_url}/api/v1/persons/lookup", PersonCoverage, params=params)

    async def peer_person(self, query: PeerPersonQuery) -> PersonAnswer | None:
        """1101 of a person insured on a peer platform (跨省): the settlement service asks the peer hosting
        ``insuplc_admdvs``; None when no peer hosts it. A read: a lost answer is "try again"."""
        try:
            return await self._post(
                f"{self.settlement_url}/api/v1/interplatform/peer-persons",
                PersonAnswer,
                query,
                changes_state=False,
            )
        except Refusal as refused:
            if refused.code == "NO_PEER_FOR_REGION":
                return None
            raise

    async def settle_pharmacy(self, payload: dict[str, Any]) -> SettlementOut:
        return await self._post(f"{self.settlement_url}/api/v1/pharmacy-settlements", SettlementOut, payload)

    async def preview_pharmacy(self, payload: dict[str, Any]) -> SettlementOut:
        """2101: the same calculation as a settlement, nothing written; a timeout is simply "try again"."""
        return await self._post(
            f"{self.settlement_url}/api/v1/pharmacy-settlements/preview",
            SettlementOut,
            payload,
            changes_state=False,
        )

    async def settlement(self, setl_id: str, fixmedins_code: str) -> SettlementOut:
        """One settlement of the calling institution (another's is refused, 403 NOT_YOUR_SETTLEMENT)."""
        return await self._get(
            f"{self.settlement_url}/api/v1/settlements/{_segment(setl_id)}",
            SettlementOut,
            params={"fixmedins_code": fixmedins_code},
        )

    async def reverse_settlement(self, setl_id: str, payload: dict[str, Any]) -> SettlementOut:
        return await self._post(
            f"{self.settlement_url}/api/v1/settlements/{_segment(setl_id)}/reversal", SettlementOut, payload
        )

    async def void_message(self, payload: dict[str, Any]) -> VoidOut:
        return await self._post(f"{self.settlement_url}/api/v1/voids", VoidOut, payload)

    # --- encounters: outpatient visits (2201-2208) and inpatient stays (2401-2405, 2301-2305) ------------

    def _encounter_url(self, mdtrt_id: str, tail: str = "") -> str:
        return f"{self.settlement_url}/api/v1/encounters/{_segment(mdtrt_id)}{tail}"

    async def open_encounter(self, payload: dict[str, Any]) -> EncounterOut:
        """2201 / 2401; the same (fixmedins_code, ipt_otp_no) again answers with the same encounter."""
        return await self._post(f"{self.settlement_url}/api/v1/encounters", EncounterOut, payload)

    async def encounter(self, mdtrt_id: str, fixmedins_code: str) -> EncounterOut:
        """One encounter of the calling institution (another's is refused, 403 NOT_YOUR_ENCOUNTER)."""
        return await self._get(
            self._encounter_url(mdtrt_id), EncounterOut, params={"fixmedins_code": fixmedins_code}
        )

    async def cancel_encounter(self, mdtrt_id: str, fixmedins_code: str) -> EncounterOut:
        """2202 / 2404."""
        return await self._post(
            self._encounter_url(mdtrt_id, "/cancellation"),
            EncounterOut,
            None,
            params={"fixmedins_code": fixmedins_code},
        )

    async def update_diagnosis(self, mdtrt_id: str, payload: dict[str, Any]) -> EncounterOut:
        """2203 / 2403 (and the maternity fields of 2402)."""
        return await self._post(self._encounter_url(mdtrt_id, "/diagnosis"), EncounterOut, payload)

    async def upload_fees(self, mdtrt_id: str, payload: dict[str, Any]) -> FeesOut:
        """2204 / 2301: the lines are stored and answered with their classification."""
        return await self._post(self._encounter_url(mdtrt_id, "/fees"), FeesOut, payload)

    async def cancel_fees(self, mdtrt_id: str, payload: dict[str, Any]) -> FeesCancelled:
        """2205 / 2302: ``{"cancelled": n}``."""
        return await self._post(self._encounter_url(mdtrt_id, "/fees/cancellation"), FeesCancelled, payload)

    async def discharge(self, mdtrt_id: str, payload: dict[str, Any]) -> EncounterOut:
        """2402."""
        return await self._post(self._encounter_url(mdtrt_id, "/discharge"), EncounterOut, payload)

    async def undo_discharge(self, mdtrt_id: str, fixmedins_code: str) -> EncounterOut:
        """2405."""
        return await self._post(
            self._encounter_url(mdtrt_id, "/discharge/cancellation"),
            EncounterOut,
            None,
            params={"fixmedins_code": fixmedins_code},
        )

    async def preview_encounter(self, mdtrt_id: str, payload: dict[str, Any]) -> SettlementOut:
        """2206 / 2303: nothing is written, so a timeout is simply "try again"."""
        return await self._post(
            self._encounter_url(mdtrt_id, "/settlement/preview"),
            SettlementOut,
            payload,
            params=_WITHOUT_LINES,
            changes_state=False,
        )

    async def settle_encounter(self, mdtrt_id: str, payload: dict[str, Any]) -> SettlementOut:
        """2207 / 2304: binding, once per msgid; a lost answer is "outcome unknown" (2601 can undo it)."""
        url = self._encounter_url(mdtrt_id, "/settlement")
        return await self._post(url, SettlementOut, payload, params=_WITHOUT_LINES)

    # --- filings (2501-2507, 5301/5302, 2001) ---------------------------------------------------------------

    async def _file(self, kind: str, body: BaseModel) -> FilingOut:
        return await self._post(f"{self.settlement_url}/api/v1/filings/{kind}", FilingOut, body)

    async def file_chronic(self, body: ChronicFilingCreate) -> FilingOut:
        """2503: the stored filing with its ``trt_dcla_detl_sn``; once per msgid."""
        return await self._file("chronic", body)

    async def file_designated(self, body: DesignatedFilingCreate) -> FilingOut:
        """2505: the stored designated-facility filing with its ``trt_dcla_detl_sn``; once per msgid."""
        return await self._file("designated", body)

    async def file_referral(self, body: ReferralFilingCreate) -> FilingOut:
        """2501 / 2501A: the stored referral (out-of-area care) filing; once per msgid."""
        return await self._file("referral", body)

    async def file_injury(self, body: InjuryFilingCreate) -> FilingOut:
        """2507: the stored injury filing with its ``chk_pay_flag``; once per msgid."""
        return await self._file("injury", body)

    async def revoke_filing(self, trt_dcla_detl_sn: str, body: FilingRevoke) -> FilingOut:
        """2502 / 2504 / 2506: the filing as revoked; once per msgid."""
        return await self._post(
            f"{self.settlement_url}/api/v1/filings/{_segment(trt_dcla_detl_sn)}/revocation", FilingOut, body
        )

    async def person_filings(self, psn_no: str, kind: str | None = None) -> FilingList:
        """5301 / 5302 / 5304: every filing of the person (of ``kind``), revoked ones too."""
        return await self._get(
            f"{self.settlement_url}/api/v1/filings/persons/{_segment(psn_no)}",
            FilingList,
            params={"kind": kind} if kind else None,
        )

    async def entitlement(self, psn_no: str, params: dict[str, str]) -> Entitlement:
        """2001: what the person may draw on for the care asked, one row per fund."""
        return await self._get(
            f"{self.settlement_url}/api/v1/filings/persons/{_segment(psn_no)}/entitlement",
            Entitlement,
            params=params,
        )

    async def reconciliation_totals(
        self, fixmedins_code: str, insutype: str, clr_type: str, date_from: date, date_to: date
    ) -> TotalsOut:
        """3201: settlement's totals per day for one institution, insutype and clr_type."""
        return await self._get(
            f"{self.settlement_url}/api/v1/reconciliation/totals",
            TotalsOut,
            params={
                "fixmedins_code": fixmedins_code,
                "insutype": insutype,
                "clr_type": clr_type,
                "date_from": date_from.isoformat(),
                "date_to": date_to.isoformat(),
            },
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
        fixmedins_code: str | None = None,
        admdvs: str | None = None,
        narrow: Mapping[str, str] | None = None,
    ) -> CatalogueChanges:
        """One page of the rows of a catalogue list changed after version ``ver``; with ``cursor`` ("0:0"
        to start), the batch after it up to ``upto_ver``. ``fixmedins_code``: whose mappings (1317);
        ``admdvs``: the caller's region (1318); ``narrow``: the filters of a query (1316 / 1317), as the
        settlement service names them."""
        params: dict[str, Any] = {"ver": ver, "page_num": page_num, "page_size": page_size, **(narrow or {})}
        if cursor is not None:
            params.update(cursor=cursor, upto_ver=upto_ver)
        if fixmedins_code is not None:
            params["fixmedins_code"] = fixmedins_code
        if admdvs is not None:
            params["admdvs"] = admdvs
        return await self._get(
            f"{self.settlement_url}/api/v1/catalogue/downloads/{_segment(list_name)}",
            CatalogueChanges,
            params=params,
        )

    # --- queries (5201-5206): typed bodies of shared.contracts.v1.queries -------------------------------

    async def visits(
        self,
        psn_no: str,
        fixmedins_code: str,
        *,
        begntime: str | None = None,
        endtime: str | None = None,
        med_type: str | None = None,
        mdtrt_id: str | None = None,
    ) -> VisitList:
        """5201: the institution's visits of the person (times as ISO 8601 with their offset)."""
        params = {"psn_no": psn_no, "fixmedins_code": fixmedins_code}
        optional = {"begntime": begntime, "endtime": endtime, "med_type": med_type, "mdtrt_id": mdtrt_id}
        params.update({k: v for k, v in optional.items() if v})
        url = f"{self.settlement_url}/api/v1/queries/visits"
        return await self._get(url, VisitList, params=params)

    async def diagnoses(self, psn_no: str, fixmedins_code: str, mdtrt_id: str) -> DiagnosisList:
        """5202: every diagnosis of one of the institution's visits of the person."""
        params = {"psn_no": psn_no, "fixmedins_code": fixmedins_code, "mdtrt_id": mdtrt_id}
        url = f"{self.settlement_url}/api/v1/queries/diagnoses"
        return await self._call("GET", url, DiagnosisList, params=params, changes_state=False)

    async def fee_details(
        self, psn_no: str, fixmedins_code: str, mdtrt_id: str, setl_id: str | None
    ) -> FeeDetailList:
        """5204: the settled lines of one of the institution's visits."""
        params = {"psn_no": psn_no, "fixmedins_code": fixmedins_code, "mdtrt_id": mdtrt_id}
        if setl_id:
            params["setl_id"] = setl_id
        url = f"{self.settlement_url}/api/v1/queries/fee-details"
        return await self._get(url, FeeDetailList, params=params)

    async def chronic_drugs(self, psn_no: str, begntime: str, endtime: str | None) -> FeeDetailList:
        """5205: the person's chronic-disease drug records, at any institution."""
        params = {"psn_no": psn_no, "begntime": begntime}
        if endtime:
            params["endtime"] = endtime
        url = f"{self.settlement_url}/api/v1/queries/chronic-drugs"
        return await self._get(url, FeeDetailList, params=params)

    async def accumulations(self, psn_no: str, year: int) -> AccumulationList:
        """5206: the person's year-to-date totals."""
        params = {"psn_no": psn_no, "year": str(year)}
        url = f"{self.settlement_url}/api/v1/queries/accumulations"
        return await self._get(url, AccumulationList, params=params)

    # --- pre-checks (3101-3103) ---------------------------------------------------------------------------

    async def precheck(self, request: PrecheckRequest) -> PrecheckOut:
        """3101 / 3102: the supervision rules on a proposed order; nothing is written."""
        url = f"{self.settlement_url}/api/v1/prechecks"
        body = request.model_dump(mode="json")
        return await self._post(url, PrecheckOut, body, changes_state=False)

    async def precheck_feedback(self, request: FeedbackRequest) -> FeedbackOut:
        """3103: once per msgid."""
        url = f"{self.settlement_url}/api/v1/prechecks/feedback"
        body = request.model_dump(mode="json")
        return await self._post(url, FeedbackOut, body)

    # --- settlement lists (4101/4101A, 4102, 4103) ----------------------------------------------------------

    async def upload_settlement_list(self, request: SettlementListUpload) -> SettlementListOut:
        """4101 / 4101A: once per msgid."""
        url = f"{self.settlement_url}/api/v1/settlement-lists"
        body = request.model_dump(mode="json")
        return await self._post(url, SettlementListOut, body)

    async def settlement_list(self, setl_id: str, fixmedins_code: str, psn_no: str) -> SettlementListOut:
        """4103: the caller's list of one settlement."""
        url = f"{self.settlement_url}/api/v1/settlement-lists/{_segment(setl_id)}"
        params = {"fixmedins_code": fixmedins_code, "psn_no": psn_no}
        return await self._get(url, SettlementListOut, params=params)

    async def settlement_list_status(self, setl_id: str, request: StatusChange) -> SettlementListOut:
        """4102: once per msgid."""
        url = f"{self.settlement_url}/api/v1/settlement-lists/{_segment(setl_id)}/status"
        body = request.model_dump(mode="json")
        return await self._post(url, SettlementListOut, body)

    # --- inventory (3501-3507) -----------------------------------------------------------------------------

    async def inventory_movement(self, request: MovementIn) -> MovementOut:
        """3501-3506: one movement of a batch; once per msgid."""
        url = f"{self.settlement_url}/api/v1/inventory/movements"
        body = request.model_dump(mode="json")
        return await self._post(url, MovementOut, body)

    async def inventory_deletion(self, request: DeletionIn) -> DeletionOut:
        """3507: the batch's movements of one kind taken back; once per msgid."""
        url = f"{self.settlement_url}/api/v1/inventory/deletions"
        body = request.model_dump(mode="json")
        return await self._post(url, DeletionOut, body)

    # --- catalogue mapping (3301/3302), 3202 records, clearing applications (3203/3204, the fund ledger) ---

    async def institutions(self) -> list[InstitutionInfo]:
        """1201: every designated institution the settlement service keeps."""
        url = f"{self.settlement_url}/api/v1/institutions"
        return (await self._get(url, InstitutionList)).root

    async def upload_mapping(self, request: MappingUpload) -> MappingOut:
        """3301: the mapping as stored (the same msgid again: the same mapping)."""
        return await self._post(f"{self.settlement_url}/api/v1/catalogue/mappings", MappingOut, request)

    async def revoke_mapping(self, request: MappingRevocation) -> MappingOut:
        """3302: the mapping as revoked (the same msgid again: the same mapping)."""
        url = f"{self.settlement_url}/api/v1/catalogue/mappings/revocation"
        return await self._post(url, MappingOut, request)

    async def reconciliation_settlements(
        self, fixmedins_code: str, clr_type: str | None, date_from: date, date_to: date
    ) -> SettlementsOut:
        """3202: every settlement and reversal record of one institution in the period, with amounts."""
        params = {
            "fixmedins_code": fixmedins_code,
            "date_from": date_from.isoformat(),
            "date_to": date_to.isoformat(),
        }
        if clr_type:
            params["clr_type"] = clr_type
        url = f"{self.settlement_url}/api/v1/reconciliation/settlements"
        return await self._get(url, SettlementsOut, params=params)

    async def apply_for_clearing(self, request: ApplicationIn) -> ApplicationOut:
        """3203: the application as the fund ledger keeps it; once per msgid."""
        return await self._post(f"{self.ledger_url}/api/v1/clearing-applications", ApplicationOut, request)

    async def revoke_clearing(self, clr_appy_evt_id: str, fixmedins_code: str) -> ApplicationOut:
        url = f"{self.ledger_url}/api/v1/clearing-applications/{_segment(clr_appy_evt_id)}/revocation"
        """3204: the application as revoked; once per msgid."""
        return await self._post(url, ApplicationOut, RevocationIn(fixmedins_code=fixmedins_code))

    async def ping(self) -> None:
        for base in (self.enrollment_url, self.settlement_url):
            response = await self.client.get(f"{base}/healthz", timeout=2.0)
            response.raise_for_status()


def _refusal(content: bytes) -> Refusal:
    """A 4xx answer: the service refused, with its stable code and message (``shared.errors``)."""
    try:
        body = json.loads(content)
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {}
    return Refusal(str(error.get("code", "E_REFUSED")), str(error.get("message", "交易被拒绝")))


def _segment(value: str) -> str:
    """One URL path segment: "/", "?" and "#" in a caller's id are escaped, never read as URL structure."""
    return quote(value, safe="")
