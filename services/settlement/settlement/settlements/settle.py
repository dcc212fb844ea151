"""Binding settlements and pre-settlements. A settlement is ONE transaction: claim the msgid, lock the
person's accumulator row, classify the lines against the catalogue, run the policy, write the settlement
with its fund detail and lines, move the accumulator and write the outbox event (docs/architecture.md,
flow 3)."""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from settlement import metrics
from settlement.catalogue import mappings
from settlement.catalogue import service as catalogue
from settlement.eligibility import service as eligibility
from settlement.inventory import service as inventory
from settlement.settlements.answers import answer
from settlement.settlements.calculation import (
    coverage_key,
    move,
    prepare,
    records,
    use_voucher,
    with_scheme,
)
from settlement.settlements.claims import Claim, PeerAdmission, new_id
from settlement.settlements.replay import claim_msgid
from settlement.settlements.schemas import FeeLineIn, SettlementOut
from settlement.settlements.store import NewSettlement, StayLines
from settlement.settlements.stores import store_for
from settlement.supervision import service as supervision
from shared.clock import CHINA_TZ, now_china
from shared.db import Database
from shared.events import FundPayment, SettlementCompleted

#: 清算类别 41 药店购药: the pharmacy purchases (2102), whose lines dispense drugs.
PHARMACY_CLR_TYPE = "41"


async def with_national_codes(session: AsyncSession, claim: Claim) -> Claim:
    """A purchase's lines (2101/2102) that carry only the pharmacy's own code (``med_list_codg`` empty, as
    a POS that has mapped its catalogue sends them), with the national code mapped for it (3301) on the day
    of the purchase: the resolution encounter fee uploads use (``mappings.national_codes``). An unmapped
    code is refused ``UNMAPPED_ITEM`` naming the line. Uploaded encounter lines were mapped on upload."""
    day = claim.begntime.astimezone(CHINA_TZ).date()
    sent = [x for x in claim.lines if isinstance(x, FeeLineIn)]
    mapped = await mappings.national_codes(session, claim.fixmedins_code, [(x, day) for x in sent])
    if not mapped:
        return claim
    lines = [
        x.model_copy(update={"med_list_codg": mapped[x.feedetl_sn]})
        if isinstance(x, FeeLineIn) and x.feedetl_sn in mapped
        else x
        for x in claim.lines
    ]
    return replace(claim, lines=lines)


class PeerRoute(Protocol):
    """The treating side of the inter-platform protocol (``settlement.interplatform.treating``), given by
    the app: a person whose insured region a peer platform hosts is settled through the peer (pay_loc 4)."""

    def hosts(self, insuplc_admdvs: str) -> bool: ...

    async def admit(self, admission: PeerAdmission) -> str:
        """2201/2401 of a peer's insured: the peer says the person is covered on the day (refused
        otherwise); the scheme the encounter is settled under."""
        ...

    async def presettle(self, session: AsyncSession, claim: Claim) -> SettlementOut:
        """2101/2206/2303 of a peer's insured: the peer's policy previewed, nothing written."""
        ...

    async def settle(
        self, session: AsyncSession, claim: Claim, stay: StayLines | None = None
    ) -> SettlementOut:
        """``stay``: the encounter whose uploaded lines are settled (2207 / 2304)."""
        ...

    async def send_owed(self, db: Database, setl_id: str | None = None) -> int:
        """After the commit: the confirmations and releases owed to peers (of one settlement, or all)."""
        ...

    async def owe_void(
        self, session: AsyncSession, insuplc_admdvs: str, msgid: str, psn_no: str | None
    ) -> None:
        """In a 2601's transaction that found nothing settled under ``msgid``: the void owed to the peer
        hosting ``insuplc_admdvs`` (it may hold the year for a reserve whose answer was lost)."""
        ...

    async def send_voids(self, db: Database, msgid: str | None = None) -> int:
        """After the commit: the voids owed to peers (of one msgid, or all)."""
        ...


async def presettle(session: AsyncSession, claim: Claim, peers: PeerRoute | None = None) -> SettlementOut:
    """2101/2206/2303: what settling would give now, changing nothing (a peer platform's insured: as the
    peer previews it)."""
    claim = await with_national_codes(session, claim)
    if peers is not None and peers.hosts(claim.insuplc_admdvs):
        return await peers.presettle(session, claim)
    claim, year_rows, _ = await with_scheme(session, claim)
    care_year = claim.begntime.astimezone(CHINA_TZ).year
    totals = await eligibility.peek_accumulator(session, claim.psn_no, care_year, claim.insutype)
    prepared = await prepare(session, claim, totals, year_rows)
    preview = records(prepared, setl_id="", mdtrt_id=claim.mdtrt_id or "", at=now_china(), status="preview")
    return answer(*preview, prepared.person)


async def settle(
    session: AsyncSession,
    claim: Claim,
    *,
    claimed: bool = False,
    stay: StayLines | None = None,
    peers: PeerRoute | None = None,
    with_lines: bool = True,
) -> SettlementOut:
    """A binding settlement. Repeating a msgid with the same request answers with the first settlement.
    ``claimed``: the caller has claimed the msgid in this transaction already (``claim_msgid``).
    ``peers``: the peer platforms, for a person insured on one of them (跨省). ``with_lines``: False
    answers without the lines (``lines`` []; they are written all the same)."""
    peer_hosted = peers is not None and peers.hosts(claim.insuplc_admdvs)
    if not claimed:
        # The reads ``with_scheme`` begins with go with the claim (one round trip), a peer's insured aside.
        cover = None if peer_hosted else coverage_key(claim)
        replay = await claim_msgid(session, claim.msgid, claim.digest, cover)
        if replay is not None:
            return replay
    claim = await with_national_codes(session, claim)
    if peer_hosted:
        assert peers is not None
        return await peers.settle(session, claim, stay)
    if claim.clr_type == PHARMACY_CLR_TYPE:
        # A drug the list marks as traced is sold with its traceability codes (docs/domain.md, "Inventory").
        dispensed = [x for x in claim.lines if isinstance(x, FeeLineIn)]
        await catalogue.require_trace_codes(session, dispensed, claim.begntime.astimezone(CHINA_TZ).date())
    # A line that names traceability codes dispenses drugs the institution holds (lines without one, and
    # uploaded encounter lines, are not checked).
    traced = [(x.med_list_codg, code) for x in claim.lines for code in getattr(x, "drug_trac_codg", ())]
    await inventory.require_held(session, claim.fixmedins_code, traced)
    requested = claim.insutype
    claim, year_rows, locked = await with_scheme(session, claim, lock=True)
    care_year = claim.begntime.astimezone(CHINA_TZ).year
    totals = locked or await eligibility.lock_accumulator(
        session,
        claim.psn_no,
        care_year,
        claim.insutype,
        # Read beside the coverage rows and not there: the person's first settlement of the year.
        absent=bool(year_rows) and claim.insutype == requested,
    )
    prepared = await prepare(session, claim, totals, year_rows)
    await use_voucher(
        session,
        claim.mdtrt_cert_type,
        claim.mdtrt_cert_no,
        psn_no=prepared.person.psn_no,
        msgid=claim.msgid,
        fixmedins_code=claim.fixmedins_code,
    )
    result = prepared.result
    now = now_china()
    setl_id = new_id("S", claim.mdtrtarea_admvs, now)
    mdtrt_id = claim.mdtrt_id or new_id("M", claim.mdtrtarea_admvs, now)
    settlement, funds, lines = records(prepared, setl_id=setl_id, mdtrt_id=mdtrt_id, at=now, status="settled")
    move(totals, result.delta, +1)
    completed = SettlementCompleted(
        setl_id=setl_id,
        mdtrt_id=mdtrt_id,
        msgid=claim.msgid,
        psn_no=prepared.person.psn_no,
        fixmedins_code=prepared.institution.fixmedins_code,
        institution_level=prepared.institution.hosp_lv,
        insutype=claim.insutype,
        insuplc_admdvs=prepared.person.insuplc_admdvs,
        mdtrtarea_admvs=claim.mdtrtarea_admvs,
        med_type=claim.med_type,
        clr_type=claim.clr_type,
        setl_time=now,
        medfee_sumamt_fen=result.medfee_sumamt_fen,
        fund_pay_sumamt_fen=result.fund_paid_total_fen,
        psn_cash_pay_fen=result.cash_paid_fen,
        fund_payments=[
            FundPayment(fund_pay_type=f.fund_pay_type, amount_fen=f.paid_fen) for f in result.funds
        ],
    )
    # Fraud signals for review (they never refuse: a refusal is a sanction decided by a person), read by
    # the statement that writes the settlement where the backend allows.
    probes = await supervision.settlement_probes(session, settlement, [x["med_list_codg"] for x in lines])
    new = NewSettlement(settlement, funds, lines, totals, completed, stay)
    probed = await store_for(session).write_settlement(session, new, probes)
    await supervision.evaluate_settlement(session, probes, probed)
    if session.new or session.dirty or session.deleted:  # a signal, a voucher use: written now
        await session.flush()
    metrics.record_settlement(
        session,
        setl_id=setl_id,
        encounter_kind=claim.kind,
        med_type=claim.med_type,
        clr_type=claim.clr_type,
        institution_level=prepared.institution.hosp_lv,
        fixmedins_code=prepared.institution.fixmedins_code,
        funds=[(f.fund_pay_type, f.paid_fen) for f in result.funds],
        medfee_sumamt_fen=result.medfee_sumamt_fen,
        cash_paid_fen=result.cash_paid_fen,
    )
    metrics.record_out_of_area(
        session,
        insuplc_admdvs=settlement.insuplc_admdvs,
        mdtrtarea_admvs=settlement.mdtrtarea_admvs,
        fund_fen=result.fund_paid_total_fen,
        operation="settle",
    )
    # Built from what was just written; reading it back gives the same (tests/settlement, "reads exactly").
    return answer(settlement, funds, lines if with_lines else (), prepared.person)
