"""Binding settlements, pre-settlements and reversals. A settlement is ONE transaction: claim the msgid,
lock the person's accumulator row, classify the lines against the catalogue, run the policy, write the
settlement with its fund detail and lines, move the accumulator and write the outbox event
(docs/architecture.md). A reversal is its own settlement record with a new setl_id and negated amounts
that subtracts exactly what the original added to the accumulator."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, Literal, Protocol

from sqlalchemy import ARRAY, Boolean, String, any_, bindparam, insert, update
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement import metrics, reference
from settlement.adjudication.engine import (
    Adjudication,
    Encounter,
    FeeLine,
    Kind,
    NotEligible,
    YearToDate,
    adjudicate,
)
from settlement.catalogue import service as catalogue
from settlement.db import infra
from settlement.eligibility import service as eligibility
from settlement.eligibility.models import Eligibility
from settlement.encounters.models import Encounter as EncounterRecord
from settlement.encounters.models import FeeLineRecord
from settlement.institutions import service as institutions
from settlement.institutions.models import Institution
from settlement.policy import service as policies
from settlement.schemes import service as schemes
from settlement.settlements.models import MsgidClaim, Settlement, SettlementFund, SettlementLine
from settlement.settlements.schemas import (
    FundOut,
    LineOut,
    PersonSnapshot,
    PharmacySettlementRequest,
    SettlementOut,
)
from settlement.supervision import service as supervision
from shared.clock import CHINA_TZ, now_china
from shared.db import OneRoundTrip, dialect_name, per_dialect, run, utcnow
from shared.errors import Conflict, DomainError, NotFound
from shared.events import FundPayment, SettlementCompleted, SettlementReversed
from shared.money import fen_to_yuan, round_half_up_fen
from shared.outbox import OUTBOX_COLUMNS, enqueue, outbox_row

PRODUCER = "settlement"
#: A service may not be dated in the future beyond this clock skew between HIS and platform.
MAX_CLOCK_SKEW = timedelta(minutes=10)
YTD_FIELDS = eligibility.TOTAL_COLUMNS


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


def digest_of(payload: Any) -> str:
    return hashlib.sha256(payload.model_dump_json().encode()).hexdigest()


def _new_id(prefix: str, admdvs: str, at: datetime) -> str:
    # prefix(1) + admdvs(6) + yyyymmdd(8) + 15 random digits = 30 characters, the NHSA field length.
    return f"{prefix}{admdvs}{at.astimezone(CHINA_TZ):%Y%m%d}{secrets.randbelow(10**15):015d}"


def _check_line_amounts(claim: Claim) -> None:
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


@dataclass
class Prepared:
    claim: Claim
    institution: Institution
    person: Eligibility
    policy_id: int
    result: Adjudication
    care_day: date


async def _prepare(
    session: AsyncSession, claim: Claim, totals: eligibility.Totals, year_rows: dict[str, Eligibility]
) -> Prepared:
    """Every check and the calculation, without writing anything. ``year_rows``: the person's coverage
    rows of the year of care (``_with_scheme``)."""
    if claim.begntime - now_china() > MAX_CLOCK_SKEW:
        raise DomainError("就诊/购药时间晚于当前时间", code="FUTURE_TIME", status_code=422)
    _check_line_amounts(claim)
    care_day = claim.begntime.astimezone(CHINA_TZ).date()
    institution = await institutions.settling(session, claim.fixmedins_code)
    if institution.fixmedins_type not in claim.institution_types:
        if claim.institution_types == ("2",):
            raise DomainError("药店结算只适用于定点零售药店", code="NOT_A_PHARMACY", status_code=422)
        raise DomainError("门诊和住院结算只适用于定点医疗机构", code="NOT_A_HOSPITAL", status_code=422)
    if institution.admdvs != claim.mdtrtarea_admvs:
        raise DomainError(
            f"就医地区划 {claim.mdtrtarea_admvs} 与机构所在区划 {institution.admdvs} 不符",
            code="ADMVS_MISMATCH",
            status_code=422,
        )
    await institutions.require_can_settle_on(session, institution, care_day)
    person = await eligibility.covered(
        session, claim.psn_no, claim.coverage_insutype or claim.insutype, care_day, year_rows
    )
    await check_certificate(session, claim.mdtrt_cert_type, claim.mdtrt_cert_no, person)
    await supervision.require_not_self_advance(session, person.psn_no, care_day)
    if person.insuplc_admdvs != claim.insuplc_admdvs:
        raise DomainError(
            f"参保地区划 {claim.insuplc_admdvs} 与人员参保地 {person.insuplc_admdvs} 不符",
            code="ADMDVS_MISMATCH",
            status_code=422,
        )
    policy, document = await policies.in_force_with_document(
        session, person.insuplc_admdvs, claim.insutype, care_day
    )
    entries = await catalogue.find_entries(session, {line.med_list_codg for line in claim.lines}, care_day)
    ytd = YearToDate(*(getattr(totals, name) for name in YTD_FIELDS))
    encounter = Encounter(
        kind=claim.kind,
        service_date=care_day,
        institution_level=institution.hosp_lv,
        admission_sequence=ytd.admissions + 1,
        out_of_area=institution.admdvs != person.insuplc_admdvs,
        filed=claim.filed,
        delivery_type=claim.delivery_type,
        chronic_disease=claim.chronic_disease,
        continuing_stay=claim.continuing_stay,
    )
    try:
        result = adjudicate(
            [
                FeeLine(x.feedetl_sn, x.med_list_codg, x.cnt, x.pric, x.amount_fen, x.hosp_appr_flag)
                for x in claim.lines
            ],
            entries,
            encounter,
            eligibility.identities_on(person, care_day),
            document,
            ytd,
        )
    except NotEligible as exc:
        raise DomainError(str(exc), code="NOT_ELIGIBLE", status_code=422) from exc
    assert policy.id is not None
    return Prepared(claim, institution, person, policy.id, result, care_day)


async def _with_scheme(
    session: AsyncSession, claim: Claim, *, lock: bool = False
) -> tuple[Claim, dict[str, Eligibility], eligibility.Totals | None]:
    """The claim under the scheme the person settles under on the day of care (dual track, switch-over),
    the person's coverage rows of that year and, with ``lock``, the accumulator of the claim's scheme read
    and locked beside them (None: not read, or none yet)."""
    day = claim.begntime.astimezone(CHINA_TZ).date()
    locked = None
    if lock:
        rows, locked = await eligibility.coverage_and_lock(session, claim.psn_no, day.year, claim.insutype)
    else:
        rows = await schemes.year_coverage(session, claim.psn_no, day.year)
    coverage, effective = await schemes.resolve(session, claim.psn_no, claim.insutype, day, rows)
    if (coverage, effective) == (claim.insutype, claim.insutype):
        return claim, rows, locked
    changed = replace(
        claim, insutype=effective, coverage_insutype=coverage if coverage != effective else None
    )
    # Settled under another scheme than requested: its accumulator is locked by the caller.
    return changed, rows, locked if effective == claim.insutype else None


def _records(
    prepared: Prepared, *, setl_id: str, mdtrt_id: str, at: datetime, status: str
) -> tuple[Settlement, list[SettlementFund], list[dict[str, Any]]]:
    """The settlement record, its fund shares and its lines (as rows) for a calculation: what ``settle``
    writes and what a pre-settlement shows without writing."""
    claim, result = prepared.claim, prepared.result
    settlement = Settlement(
        setl_id=setl_id,
        mdtrt_id=mdtrt_id,
        msgid=claim.msgid,
        request_sha256=claim.digest,
        fixmedins_code=prepared.institution.fixmedins_code,
        institution_level=prepared.institution.hosp_lv,
        psn_no=prepared.person.psn_no,
        insutype=claim.insutype,
        psn_type=prepared.person.psn_type,
        insuplc_admdvs=prepared.person.insuplc_admdvs,
        mdtrtarea_admvs=claim.mdtrtarea_admvs,
        med_type=claim.med_type,
        clr_type=claim.clr_type,
        mdtrt_cert_type=claim.mdtrt_cert_type,
        invono=claim.invono,
        policy_id=prepared.policy_id,
        begntime=claim.begntime,
        setl_time=at,
        medfee_sumamt_fen=result.medfee_sumamt_fen,
        fully_self_paid_fen=result.fully_self_paid_fen,
        over_price_cap_fen=result.over_price_cap_fen,
        self_pay_first_fen=result.self_pay_first_fen,
        policy_range_fen=result.policy_range_fen,
        deductible_fen=result.deductible_fen,
        pool_ratio=result.pool_ratio,
        pooled_fund_paid_fen=result.pooled_fen,
        catastrophic_paid_fen=result.catastrophic_fen,
        assistance_paid_fen=result.assistance_fen,
        fund_paid_total_fen=result.fund_paid_total_fen,
        personal_burden_fen=result.personal_burden_fen,
        account_paid_fen=0,
        cash_paid_fen=result.cash_paid_fen,
        calc_trace="\n".join(result.trace),
        encounter_kind=claim.kind,
        status=status,
        ytd_delta={name: getattr(result.delta, name) for name in YTD_FIELDS},
    )
    funds = [
        SettlementFund(
            setl_id=setl_id,
            fund_pay_type=share.fund_pay_type,
            policy_range_fen=share.base_fen,
            payable_limit_fen=share.room_fen,
            paid_fen=share.paid_fen,
            calc_trace=share.trace,
        )
        for share in result.funds
    ]
    wire_lines = {x.feedetl_sn: x for x in claim.lines}
    # Lines as rows (one multi-row INSERT): building ORM objects cost more than the calculation itself.
    lines = [
        {
            "setl_id": setl_id,
            "feedetl_sn": line.line.feedetl_sn,
            "med_list_codg": line.line.med_list_codg,
            "medins_list_codg": wire_lines[line.line.feedetl_sn].medins_list_codg,
            "cnt": line.line.cnt,
            "pric": line.line.pric,
            "amount_fen": line.line.amount_fen,
            "price_cap": line.price_cap,
            "selfpay_prop": line.selfpay_prop,
            "chrgitm_lv": line.chrgitm_lv,
            "med_chrgitm_type": line.med_chrgitm_type,
            "fully_self_paid_fen": line.fully_self_paid_fen,
            "over_price_cap_fen": line.over_price_cap_fen,
            "self_pay_first_fen": line.self_pay_first_fen,
            "policy_range_fen": line.policy_range_fen,
            "memo": line.memo[:200],
            "prd_days": wire_lines[line.line.feedetl_sn].prd_days,
        }
        for line in result.lines
    ]
    return settlement, funds, lines


async def presettle(session: AsyncSession, claim: Claim) -> SettlementOut:
    """2101/2206/2303: what settling would give now, changing nothing."""
    claim, year_rows, _ = await _with_scheme(session, claim)
    care_year = claim.begntime.astimezone(CHINA_TZ).year
    totals = await eligibility.peek_accumulator(session, claim.psn_no, care_year, claim.insutype)
    prepared = await _prepare(session, claim, totals, year_rows)
    preview = _records(prepared, setl_id="", mdtrt_id=claim.mdtrt_id or "", at=now_china(), status="preview")
    return _settled(*preview, prepared.person)


@dataclass(frozen=True)
class StayLines:
    """The encounter whose uploaded lines a settlement settles (2207 / 2304): the statement writing the
    settlement marks those lines with its setl_id and, for a stay settled at discharge (``close``), sets
    the encounter settled."""

    mdtrt_id: str
    close: bool


async def settle(
    session: AsyncSession, claim: Claim, *, claimed: bool = False, stay: StayLines | None = None
) -> SettlementOut:
    """A binding settlement. Repeating a msgid with the same request answers with the first settlement.
    ``claimed``: the caller has claimed the msgid in this transaction already (``claim_msgid``)."""
    if not claimed:
        replay = await claim_msgid(session, claim.msgid, claim.digest)
        if replay is not None:
            return replay
    requested = claim.insutype
    claim, year_rows, locked = await _with_scheme(session, claim, lock=True)
    care_year = claim.begntime.astimezone(CHINA_TZ).year
    totals = locked or await eligibility.lock_accumulator(
        session,
        claim.psn_no,
        care_year,
        claim.insutype,
        # Read beside the coverage rows and not there: the person's first settlement of the year.
        absent=bool(year_rows) and claim.insutype == requested,
    )
    prepared = await _prepare(session, claim, totals, year_rows)
    result = prepared.result
    now = now_china()
    setl_id = _new_id("S", claim.mdtrtarea_admvs, now)
    mdtrt_id = claim.mdtrt_id or _new_id("M", claim.mdtrtarea_admvs, now)
    settlement, funds, lines = _records(
        prepared, setl_id=setl_id, mdtrt_id=mdtrt_id, at=now, status="settled"
    )
    _move(totals, result.delta, +1)
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
    probed = await _write(session, settlement, funds, lines, totals, completed, probes, stay)
    await supervision.evaluate_settlement(session, probes, probed)
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
    # Built from what was just written; reading it back gives the same (tests/settlement, "reads exactly").
    return _settled(settlement, funds, lines, prepared.person)


_INSERT_SETTLEMENT = insert(Settlement.__table__)  # type: ignore[attr-defined]
_INSERT_FUNDS = insert(SettlementFund.__table__)  # type: ignore[attr-defined]
_INSERT_LINES = insert(SettlementLine.__table__)  # type: ignore[attr-defined]
_SETTLEMENT_COLUMNS = tuple(c.name for c in Settlement.__table__.columns if c.name != "id")  # type: ignore[attr-defined]
_FUND_COLUMNS = tuple(c.name for c in SettlementFund.__table__.columns if c.name != "id")  # type: ignore[attr-defined]
_LINE_COLUMNS = tuple(c.name for c in SettlementLine.__table__.columns if c.name != "id")  # type: ignore[attr-defined]
_WRITES = {
    "s": (Settlement.__table__, _SETTLEMENT_COLUMNS, False),  # type: ignore[attr-defined]
    "f": (SettlementFund.__table__, _FUND_COLUMNS, True),  # type: ignore[attr-defined]
    "l": (SettlementLine.__table__, _LINE_COLUMNS, True),  # type: ignore[attr-defined]
    "o": (infra.outbox, OUTBOX_COLUMNS, False),
}
_FEE_LINES = FeeLineRecord.__table__  # type: ignore[attr-defined]
_ENCOUNTERS = EncounterRecord.__table__  # type: ignore[attr-defined]
#: A stay's (a visit's batch's) lines marked settled, named by the settlement's own lines: in the write
#: statement (PostgreSQL) they are bound as an array, since its CTEs do not see the lines written beside
#: them; on SQLite, after the lines are written, read back from them.
_MARK_LINES_BY_ARRAY = (
    update(_FEE_LINES)
    .where(
        _FEE_LINES.c.mdtrt_id == bindparam("mark_mdtrt_id"),  # the index; setl_id has none
        _FEE_LINES.c.setl_id.is_(None),
        _FEE_LINES.c.feedetl_sn == any_(bindparam("mark_sns", type_=ARRAY(String))),
    )
    .values(setl_id=bindparam("mark_setl_id"))
)
_MARK_LINES_BY_SETTLEMENT = (
    update(_FEE_LINES)
    .where(
        _FEE_LINES.c.mdtrt_id == bindparam("mark_mdtrt_id"),
        _FEE_LINES.c.setl_id.is_(None),
        _FEE_LINES.c.feedetl_sn.in_(
            sa_select(col(SettlementLine.feedetl_sn)).where(
                col(SettlementLine.setl_id) == bindparam("mark_setl_id")
            )
        ),
    )
    .values(setl_id=bindparam("mark_setl_id"))
)
#: A stay settled at discharge is settled; a mid-stay settlement or a visit's batch leaves it as it is.
_CLOSE_STAY = (
    update(_ENCOUNTERS)
    .where(_ENCOUNTERS.c.mdtrt_id == bindparam("mark_mdtrt_id"), bindparam("mark_close", type_=Boolean))
    .values(status="settled")
)
#: PostgreSQL: the settlement, its fund shares, its lines, the accumulator and the outbox event in one
#: statement (one round trip instead of five); for an encounter's lines, marking them and closing the stay
#: too (instead of seven).
_ONE_WRITE = OneRoundTrip(_WRITES, {"a": eligibility.SAVE_ACCUMULATOR})
_ONE_WRITE_STAY = OneRoundTrip(
    _WRITES,
    {"a": eligibility.SAVE_ACCUMULATOR, "m": _MARK_LINES_BY_ARRAY, "e": _CLOSE_STAY},
)


@cache
def _write_and_read(write: OneRoundTrip, read: Any) -> Any:
    """``write`` followed by the supervision rules' probes (``read``, itself built once per set of enabled
    rules)."""
    return write.then(read)


async def _write(
    session: AsyncSession,
    settlement: Settlement,
    funds: list[SettlementFund],
    lines: list[dict[str, Any]],
    totals: eligibility.Totals,
    event: SettlementCompleted,
    probes: supervision.Probes,
    stay: StayLines | None = None,
) -> list[Any] | None:
    """The settlement, its fund shares and its lines, the moved accumulator and the outbox event, and for
    an encounter its lines marked and the stay closed, as prebuilt Core statements (the records stay out of
    the ORM session: they are the answer, and nothing in the transaction changes them): one round trip on
    PostgreSQL, which reads the supervision rules' ``probes`` as well and returns their rows, five to seven
    on SQLite (None: the probes are not read)."""
    row = {name: getattr(settlement, name) for name in _SETTLEMENT_COLUMNS}
    fund_rows = [{name: getattr(f, name) for name in _FUND_COLUMNS} for f in funds]
    marks: dict[str, Any] = {}
    if stay is not None:
        marks = {"mark_mdtrt_id": stay.mdtrt_id, "mark_setl_id": settlement.setl_id, "mark_close": stay.close}
    if dialect_name(session) == "postgresql":
        inserted: dict[str, Any] = {
            "s": row,
            "f": fund_rows,
            "l": lines,
            "o": outbox_row(event, event.envelope(PRODUCER)),
        }
        write = _ONE_WRITE
        if stay is not None:
            write = _ONE_WRITE_STAY
            marks["mark_sns"] = [x["feedetl_sn"] for x in lines]
        parameters = write.parameters(inserted, **eligibility.save_parameters(totals), **marks)
        read = probes.in_flight()
        if read is None:
            await run(session, write.statement, parameters)
            return []
        return list(await run(session, _write_and_read(write, read), {**parameters, **probes.binds}))
    await run(session, _INSERT_SETTLEMENT, row)
    if fund_rows:
        await run(session, _INSERT_FUNDS, fund_rows)
    if lines:
        await run(session, _INSERT_LINES, lines)
    await eligibility.save_accumulator(session, totals)
    await enqueue(session, infra, event, PRODUCER)
    if stay is not None:
        await run(session, _MARK_LINES_BY_SETTLEMENT, marks)
        if stay.close:
            await run(session, _CLOSE_STAY, marks)
    return None


def _move(totals: eligibility.Totals, delta: YearToDate | dict[str, int], sign: int) -> None:
    """One settlement (+1) or its reversal (-1) on the person's year-to-date totals."""
    totals.move(
        delta if isinstance(delta, dict) else {name: getattr(delta, name) for name in YTD_FIELDS}, sign
    )
    totals.settlement_count += sign


_BY_MSGID = select(Settlement).where(Settlement.msgid == bindparam("msgid"))


async def replay_if_settled(session: AsyncSession, msgid: str, digest: str) -> SettlementOut | None:
    """The first answer when this msgid already settled the same request; a refusal when it was used for
    something else; None when it is new here."""
    earlier = await session.scalar(_BY_MSGID, {"msgid": msgid})
    if earlier is None:
        return None
    if earlier.request_sha256 != digest:
        raise Conflict(f"报文ID {msgid} 已用于另一笔不同内容的交易", code="MSGID_REUSED")
    return await load(session, earlier.setl_id, replayed=True)


_CLAIM = per_dialect(
    lambda insert_of: (
        insert_of(MsgidClaim.__table__)  # type: ignore[attr-defined]
        .values(msgid=bindparam("msgid"), kind="settle", created_at=bindparam("now"))
        .on_conflict_do_nothing(index_elements=["msgid"])
        # The reference data's version beside it: the cache then needs no statement of its own.
        .returning(col(MsgidClaim.msgid), reference.VERSION_NOW.label("reference_version"))
    )
)


async def claim_msgid(session: AsyncSession, msgid: str, digest: str) -> SettlementOut | None:
    """Claim the msgid for a settlement: None when it is new; the first answer when it was settled with the
    same request; a refusal when it was used otherwise or voided by 2601.

    One statement for a new msgid, which reads the reference data's version too (``reference.seen_version``).
    A claim in flight in another transaction makes the insert wait for it
    (the primary key), so a retry racing its first attempt answers with what the first one committed."""
    claimed = (await run(session, _CLAIM[dialect_name(session)], {"msgid": msgid, "now": utcnow()})).first()
    if claimed is not None:
        reference.seen_version(session, claimed.reference_version)
        return None
    replay = await replay_if_settled(session, msgid, digest)
    if replay is not None:
        return replay
    claim = await session.scalar(select(MsgidClaim).where(MsgidClaim.msgid == msgid))
    if claim is not None and claim.kind == "void":
        raise Conflict(f"报文ID {msgid} 已被冲正(2601)作废，不能再结算", code="MSGID_VOIDED")
    # Claimed, committed, and no settlement under it: the claim of a transaction that is not a settlement.
    raise Conflict(f"报文ID {msgid} 已用于另一笔交易", code="MSGID_REUSED")


def _snapshot(person: Eligibility, psn_type: str, on: date) -> PersonSnapshot:
    age = on.year - person.brdy.year - ((on.month, on.day) < (person.brdy.month, person.brdy.day))
    return PersonSnapshot(
        psn_no=person.psn_no,
        psn_name=person.psn_name,
        certno=person.certno,
        gend=person.gend,
        brdy=person.brdy,
        age=age,
        psn_type=psn_type,
    )


_LOCK_SETTLEMENT = (
    select(Settlement)
    .where(Settlement.setl_id == bindparam("setl_id"))
    .with_for_update()
    # The row as committed now, not as this session may have loaded it before waiting for the lock: a
    # concurrent reversal's "reversed" must be seen here, or both would reverse (issue 21, found on
    # PostgreSQL with 2601s sent together).
    .execution_options(populate_existing=True)
)


async def _locked(session: AsyncSession, setl_id: str) -> Settlement | None:
    """The settlement, locked for the rest of the transaction and read as committed after the lock."""
    return await session.scalar(_LOCK_SETTLEMENT, {"setl_id": setl_id})


async def _reversal_of(session: AsyncSession, original: Settlement) -> Settlement | None:
    return await session.scalar(select(Settlement).where(Settlement.reversal_of == original.setl_id))


async def reverse(
    session: AsyncSession,
    setl_id: str,
    fixmedins_code: str,
    msgid: str,
    psn_no: str | None = None,
    *,
    any_msgid: bool = False,
) -> SettlementOut:
    """2103/2208/2305: undo one settlement with a new settlement record of negated amounts. Only the
    institution that settled may reverse; a settlement is reversed at most once (decided under the
    settlement's row lock, and by the unique index on ``reversal_of``); repeating the reversal's msgid
    answers with the first reversal. ``any_msgid`` (2601): a settlement already reversed under another
    msgid answers with that reversal, since what the sender asks for (no effect of the original) holds."""
    earlier = await session.scalar(select(Settlement).where(Settlement.msgid == msgid))
    if earlier is not None:
        if earlier.reversal_of != setl_id:
            raise Conflict(f"报文ID {msgid} 已用于另一笔交易", code="MSGID_REUSED")
        return await load(session, earlier.setl_id, replayed=True)
    original = await _locked(session, setl_id)
    if original is None or original.status == "reversal":
        raise NotFound(f"结算记录不存在: {setl_id}", code="SETTLEMENT_NOT_FOUND")
    if original.fixmedins_code != fixmedins_code:
        raise DomainError("只能撤销本机构的结算", code="NOT_YOUR_SETTLEMENT", status_code=403)
    if psn_no is not None and psn_no != original.psn_no:
        raise DomainError("人员编号与原结算不符", code="PSN_MISMATCH", status_code=422)
    if original.status == "reversed":
        # Decided under the row lock: a concurrent reversal of the same settlement committed first.
        first = await _reversal_of(session, original)
        if first is not None and (first.msgid == msgid or any_msgid):
            return await load(session, first.setl_id, replayed=True)
        raise Conflict(f"该结算已于 {original.reversed_by} 撤销，不能重复撤销", code="ALREADY_REVERSED")
    session.add(MsgidClaim(msgid=msgid, kind="settle"))
    await session.flush()
    year = original.begntime.astimezone(CHINA_TZ).year
    totals = await eligibility.lock_accumulator(session, original.psn_no, year, original.insutype)
    now = now_china()
    reversal_id = _new_id("S", original.mdtrtarea_admvs, now)
    negated = {
        name: -getattr(original, name)
        for name in (
            "medfee_sumamt_fen",
            "fully_self_paid_fen",
            "over_price_cap_fen",
            "self_pay_first_fen",
            "policy_range_fen",
            "deductible_fen",
            "pooled_fund_paid_fen",
            "catastrophic_paid_fen",
            "assistance_paid_fen",
            "fund_paid_total_fen",
            "personal_burden_fen",
            "account_paid_fen",
            "cash_paid_fen",
        )
    }
    session.add(
        Settlement(
            setl_id=reversal_id,
            mdtrt_id=original.mdtrt_id,
            msgid=msgid,
            request_sha256=original.request_sha256,
            fixmedins_code=original.fixmedins_code,
            institution_level=original.institution_level,
            psn_no=original.psn_no,
            insutype=original.insutype,
            psn_type=original.psn_type,
            insuplc_admdvs=original.insuplc_admdvs,
            mdtrtarea_admvs=original.mdtrtarea_admvs,
            med_type=original.med_type,
            clr_type=original.clr_type,
            mdtrt_cert_type=original.mdtrt_cert_type,
            invono=original.invono,
            policy_id=original.policy_id,
            begntime=original.begntime,
            setl_time=now,
            pool_ratio=original.pool_ratio,
            calc_trace=f"撤销结算 {original.setl_id}",
            encounter_kind=original.encounter_kind,
            status="reversal",
            reversal_of=original.setl_id,
            ytd_delta={name: -int(value) for name, value in original.ytd_delta.items()},
            **negated,
        )
    )
    original.status = "reversed"
    original.reversed_by = reversal_id
    await session.flush()
    funds = list(
        await session.scalars(
            select(SettlementFund)
            .where(SettlementFund.setl_id == original.setl_id)
            .order_by(col(SettlementFund.id))
        )
    )
    for fund in funds:
        session.add(
            SettlementFund(
                setl_id=reversal_id,
                fund_pay_type=fund.fund_pay_type,
                policy_range_fen=-fund.policy_range_fen,
                payable_limit_fen=fund.payable_limit_fen,
                paid_fen=-fund.paid_fen,
                calc_trace=f"撤销 {original.setl_id}",
            )
        )
    _move(totals, original.ytd_delta, -1)
    await eligibility.save_accumulator(session, totals)
    # The encounter's lines are open for settling again (after fixing them, 2302/2301, then 2303/2304).
    await session.execute(
        update(FeeLineRecord)
        .where(
            col(FeeLineRecord.mdtrt_id) == original.mdtrt_id,  # the index; setl_id has none
            col(FeeLineRecord.setl_id) == original.setl_id,
        )
        .values(setl_id=None)
    )
    await session.execute(
        update(EncounterRecord)
        .where(col(EncounterRecord.mdtrt_id) == original.mdtrt_id, col(EncounterRecord.status) == "settled")
        .values(status="discharged")
    )
    await enqueue(
        session,
        infra,
        SettlementReversed(
            setl_id=reversal_id,
            original_setl_id=original.setl_id,
            mdtrt_id=original.mdtrt_id,
            msgid=msgid,
            psn_no=original.psn_no,
            fixmedins_code=original.fixmedins_code,
            insutype=original.insutype,
            insuplc_admdvs=original.insuplc_admdvs,
            clr_type=original.clr_type,
            setl_time=now,
            medfee_sumamt_fen=-original.medfee_sumamt_fen,
            fund_pay_sumamt_fen=-original.fund_paid_total_fen,
            psn_cash_pay_fen=-original.cash_paid_fen,
            fund_payments=[FundPayment(fund_pay_type=f.fund_pay_type, amount_fen=-f.paid_fen) for f in funds],
        ),
        PRODUCER,
    )
    await session.flush()
    metrics.record_reversal(
        session,
        setl_id=reversal_id,
        encounter_kind=original.encounter_kind,
        med_type=original.med_type,
        clr_type=original.clr_type,
        institution_level=original.institution_level,
        funds=[(f.fund_pay_type, f.paid_fen) for f in funds],
        cash_paid_fen=original.cash_paid_fen,
    )
    return await load(session, reversal_id)


_VOID_CLAIM = per_dialect(
    lambda insert_of: (
        insert_of(MsgidClaim.__table__)  # type: ignore[attr-defined]
        .values(msgid=bindparam("msgid"), kind="void", created_at=bindparam("now"))
        .on_conflict_do_nothing(index_elements=["msgid"])
        .returning(col(MsgidClaim.msgid))
    )
)


async def void_message(
    session: AsyncSession, omsgid: str, fixmedins_code: str, msgid: str, psn_no: str | None
) -> SettlementOut | None:
    """2601 冲正: the sender never got the answer to ``omsgid``. If it settled, reverse it; if not, void the
    msgid so that a late arrival cannot settle under it. Returns the reversal, or None when nothing had
    settled.

    The decision is taken on the msgid claim, which a settlement writes first in its own transaction:
    inserting the void claim waits for a settlement of ``omsgid`` in flight, and then either takes the
    msgid (nothing settled, and nothing ever will) or finds it claimed. Only then is the settlement read,
    by a statement that sees what committed meanwhile. Reading the settlement first and the claim second
    (as before) let a settlement committing between the two reads stand while its msgid was answered
    "voided" (issue 21)."""
    # A msgid begins with the sender's institution code (the interface's msgid form): nobody voids another's.
    if not omsgid.startswith(fixmedins_code):
        raise DomainError("只能冲正本机构发送的报文", code="NOT_YOUR_MESSAGE", status_code=403)
    voided = await run(session, _VOID_CLAIM[dialect_name(session)], {"msgid": omsgid, "now": utcnow()})
    if voided.first() is not None:
        return None
    original = await session.scalar(select(Settlement).where(Settlement.msgid == omsgid))
    if original is not None:
        return await reverse(session, original.setl_id, fixmedins_code, msgid, psn_no, any_msgid=True)
    claim = await session.scalar(select(MsgidClaim).where(MsgidClaim.msgid == omsgid))
    if claim is not None and claim.kind == "void":
        return None  # voided before (by this 2601 or another): nothing settled, nothing will
    # Claimed by a transaction that is not a settlement of this platform's: nothing to undo here.
    raise Conflict(f"报文ID {omsgid} 不是一笔结算交易，不能冲正", code="NOT_A_SETTLEMENT")


async def check_certificate(session: AsyncSession, cert_type: str, cert_no: str, person: Eligibility) -> None:
    """The certificate presented must be the person's: the ID number (02), or a social-security card
    (03) that is registered to them and neither reported lost nor replaced. An e-voucher token (01) is
    refused: nothing here can verify one yet, and a settlement on an unchecked token needs no more than
    someone's psn_no (盗刷; issue 23)."""
    if cert_type == "01":
        raise DomainError(
            "暂不支持医保电子凭证(01)结算：凭证无法核验，请使用身份证(02)或社会保障卡(03)",
            code="E_CERT_TYPE",
            status_code=422,
        )
    if cert_type == "02" and cert_no.strip().upper() != person.certno:
        raise DomainError("就诊凭证号与人员身份证号不符", code="CERT_MISMATCH", status_code=422)
    if cert_type == "03":
        card_no = cert_no.strip()
        card = await eligibility.find_card(session, card_no)
        # A card of someone else is refused like an unknown one: its status is not this cashier's business.
        if card is None or card.psn_no != person.psn_no:
            raise DomainError(
                f"社保卡号 {card_no} 未登记或不属于该人员", code="CERT_MISMATCH", status_code=422
            )
        if card.status != "active":
            raise DomainError("该社保卡已挂失或已换卡，不能结算", code="CARD_NOT_ACTIVE", status_code=422)


async def load(session: AsyncSession, setl_id: str, *, replayed: bool = False) -> SettlementOut:
    settlement = await session.scalar(select(Settlement).where(Settlement.setl_id == setl_id))
    if settlement is None:
        raise NotFound(f"结算记录不存在: {setl_id}", code="SETTLEMENT_NOT_FOUND")
    funds = await session.scalars(
        select(SettlementFund).where(SettlementFund.setl_id == setl_id).order_by(col(SettlementFund.id))
    )
    lines = await session.scalars(
        select(SettlementLine).where(SettlementLine.setl_id == setl_id).order_by(col(SettlementLine.id))
    )
    # The coverage that admitted the person: of the settlement's scheme, or (a legacy year after the
    # switch-over, settled under 390) of the legacy scheme.
    rows = {
        row.insutype: row
        for row in await session.scalars(
            select(Eligibility).where(
                Eligibility.psn_no == settlement.psn_no,
                Eligibility.year == settlement.begntime.astimezone(CHINA_TZ).year,
            )
        )
    }
    person = rows.get(settlement.insutype) or next(
        (rows[scheme] for scheme in schemes.SCHEMES if scheme in rows), None
    )
    if person is None:
        raise NotFound(f"结算人员参保信息缺失: {settlement.psn_no}", code="NOT_COVERED")
    return _settled(settlement, list(funds), list(lines), person, replayed=replayed)


def _settled(
    settlement: Settlement,
    funds: list[SettlementFund],
    lines: Sequence[SettlementLine] | Sequence[dict[str, Any]],
    person: Eligibility,
    *,
    replayed: bool = False,
) -> SettlementOut:
    """The answer for a stored settlement: its columns, its funds and lines (records, or the rows just
    inserted) in the order written, and the person as of the settlement day."""
    on = settlement.setl_time.astimezone(CHINA_TZ).date()
    # The stored columns carry the same names as the answer's fields; the rest is assembled here.
    assembled = {"person", "funds", "lines", "replayed"}
    columns = {
        name: getattr(settlement, name) for name in SettlementOut.model_fields if name not in assembled
    }
    return SettlementOut(
        **columns,
        person=_snapshot(person, settlement.psn_type, on),
        funds=[FundOut.model_validate(f) for f in funds],
        lines=[LineOut.model_validate(line) for line in lines],
        replayed=replayed,
    )
