"""What a settlement is asked to settle, whichever transaction carried it (2102, 2207, 2304), in domain
terms, with the checks that need nothing but the request itself."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Protocol

from settlement.adjudication.engine import Kind
from settlement.settlements.schemas import PharmacySettlementRequest
from shared.clock import CHINA_TZ
from shared.errors import DomainError
from shared.money import fen_to_yuan, round_half_up_fen

#: A service may not be dated in the future beyond this clock skew between HIS and platform.
MAX_CLOCK_SKEW = timedelta(minutes=10)


class ClaimLine(Protocol):
    """A fee line to settle: a request's ``FeeLineIn`` (2102), or an uploaded line's row as read (2207 /
    2304: validated when it was uploaded, and not built into anything else for 100-200 lines)."""

    @property
    def feedetl_sn(self) -> str: ...
    @property
    def med_list_codg(self) -> str: ...
    @property
    def medins_list_codg(self) -> str: ...
    @property
    def cnt(self) -> Decimal: ...
    @property
    def pric(self) -> Decimal: ...
    @property
    def amount_fen(self) -> int: ...
    @property
    def hosp_appr_flag(self) -> str: ...
    @property
    def prd_days(self) -> Decimal | None: ...


@dataclass(frozen=True)
class Claim:
    """One request to settle, whatever transaction carried it (2102, 2207, 2304), in domain terms."""

    msgid: str
    digest: str
    fixmedins_code: str
    mdtrtarea_admvs: str
    insuplc_admdvs: str
    psn_no: str
    mdtrt_cert_type: str
    mdtrt_cert_no: str
    begntime: datetime
    medfee_sumamt_fen: int
    insutype: str
    med_type: str
    clr_type: str
    kind: Kind
    lines: Sequence[ClaimLine]
    invono: str | None = None
    mdtrt_id: str | None = None
    #: Institution kinds (fixmedins_type) allowed for this transaction: "2" pharmacies, "1" hospitals.
    institution_types: tuple[str, ...] = ("2",)
    filed: bool = False
    delivery_type: Literal["normal", "caesarean"] | None = None
    chronic_disease: str | None = None
    continuing_stay: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    #: The scheme whose coverage admits the person when it differs from ``insutype`` (a legacy year's
    #: coverage after the switch-over, see ``settlement.schemes.service``).
    coverage_insutype: str | None = None


@dataclass(frozen=True)
class PeerAdmission:
    """A visit registered or a patient admitted (2201/2401) whose insured region a peer platform hosts
    (跨省): what the peer is asked to say the person is covered for."""

    msgid: str
    psn_no: str
    insutype: str
    insuplc_admdvs: str
    begntime: datetime
    med_type: str
    mdtrt_cert_type: str
    mdtrt_cert_no: str


def digest_of(payload: Any) -> str:
    """The request's fingerprint: a msgid repeated with another body is a different request."""
    return hashlib.sha256(payload.model_dump_json().encode()).hexdigest()


def new_id(prefix: str, admdvs: str, at: datetime) -> str:
    """A setl_id ("S") or mdtrt_id ("M"): prefix(1) + admdvs(6) + yyyymmdd(8) + 15 random digits = 30
    characters, the NHSA field length."""
    return f"{prefix}{admdvs}{at.astimezone(CHINA_TZ):%Y%m%d}{secrets.randbelow(10**15):015d}"


def check_line_amounts(claim: Claim) -> None:
    for line in claim.lines:
        expected = round_half_up_fen(line.cnt * line.pric * 100)
        # One fen of tolerance: HIS systems round unit prices differently before multiplying.
        if abs(expected - line.amount_fen) > 1:
            raise DomainError(
                f"费用明细 {line.feedetl_sn} 金额 {fen_to_yuan(line.amount_fen)} 与数量×单价 "
                f"{line.cnt}×{line.pric}={fen_to_yuan(expected)} 不符",
                code="LINE_AMOUNT_MISMATCH",
                status_code=422,
            )
    total = sum(line.amount_fen for line in claim.lines)
    if total != claim.medfee_sumamt_fen:
        raise DomainError(
            f"医疗费总额 {fen_to_yuan(claim.medfee_sumamt_fen)} 与明细合计 {fen_to_yuan(total)} 不符",
            code="TOTAL_MISMATCH",
            status_code=422,
        )


def pharmacy_claim(request: PharmacySettlementRequest) -> Claim:
    """2101/2102: a purchase at a designated pharmacy; med_type 14xxxx buys for a registered chronic
    disease (门诊慢特病购药)."""
    chronic = request.med_type.startswith("14")
    return Claim(
        msgid=request.msgid,
        digest=digest_of(request),
        fixmedins_code=request.fixmedins_code,
        mdtrtarea_admvs=request.mdtrtarea_admvs,
        insuplc_admdvs=request.insuplc_admdvs,
        psn_no=request.psn_no,
        mdtrt_cert_type=request.mdtrt_cert_type,
        mdtrt_cert_no=request.mdtrt_cert_no,
        begntime=request.begntime,
        medfee_sumamt_fen=request.medfee_sumamt_fen,
        insutype=request.insutype,
        med_type=request.med_type,
        clr_type="41",
        kind="chronic" if chronic else "pharmacy",
        lines=request.lines,
        invono=request.invono,
        institution_types=("2",),
        chronic_disease=request.dise_codg if chronic else None,
    )
