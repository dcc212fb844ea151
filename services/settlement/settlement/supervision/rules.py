"""Fraud-signal rules (Tianjin art. 48-49: another person's card, lent cards, resold drugs, fake admissions;
an institution far from its peers). Each rule has parameters an operator can change
(``PUT /api/v1/supervision/rules/{code}``) and is evaluated at settlement time, in the daily batch, or both.
A rule only raises a finding for review: it never refuses a settlement (a refusal is a sanction, decided by a
person). A finding carries a ``dedupe_key`` so that the same facts raise one hit, whoever finds them first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ARRAY, String, any_, bindparam, cast, func, literal_column, null, or_, union_all
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement.encounters.models import Encounter
from settlement.settlements.models import Settlement, SettlementLine
from shared.clock import CHINA_TZ
from shared.db import run
from shared.money import fen_to_yuan

#: Settlement statuses that stand (a reversal record, and what it undid, do not count as care received).
STANDING = ("settled",)
#: Counter kinds of care where the card is swiped at the moment of care.
COUNTER_KINDS = ("pharmacy", "outpatient", "chronic")


@dataclass(frozen=True)
class Finding:
    rule_code: str
    subject_type: str
    subject: str
    dedupe_key: str
    summary: str
    evidence: dict[str, Any]
    setl_id: str | None = None


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CardTwoInstitutionsParams(_Params):
    #: Two counter settlements of one card at two institutions closer than this raise a hit.
    window_minutes: int = Field(default=120, ge=1, le=24 * 60)


class DailyCountParams(_Params):
    #: More settlements than this for one person on one day of care raise a hit.
    max_per_day: int = Field(default=3, ge=1, le=100)


class DaysSupplyParams(_Params):
    #: A new purchase of the same drug this many days or more before the earlier supply runs out raises a hit.
    tolerance_days: int = Field(default=3, ge=0, le=60)
    lookback_days: int = Field(default=180, ge=1, le=366)


class OverlappingAdmissionsParams(_Params):
    #: Overlaps shorter than this (a transfer on the same day) are tolerated.
    min_overlap_hours: int = Field(default=12, ge=0, le=24 * 30)


class PeerCostParams(_Params):
    window_days: int = Field(default=30, ge=1, le=366)
    #: Average cost per settlement above the peers' average times this factor raises a hit.
    factor: Decimal = Field(default=Decimal("1.5"), gt=1, max_digits=6, decimal_places=3)
    min_settlements: int = Field(default=5, ge=1)
    min_peers: int = Field(default=2, ge=1)


class PeerRefusalParams(_Params):
    window_days: int = Field(default=30, ge=1, le=366)
    #: Refusal rate above the peers' rate times this factor, and at least ``min_points`` above it.
    factor: Decimal = Field(default=Decimal("2"), gt=1, max_digits=6, decimal_places=3)
    min_points: Decimal = Field(default=Decimal("0.10"), ge=0, le=1, max_digits=5, decimal_places=4)
    min_settlements: int = Field(default=5, ge=1)
    min_peers: int = Field(default=2, ge=1)


SettlementCheck = Callable[[AsyncSession, Any, Settlement], Awaitable[list[Finding]]]
DayCheck = Callable[[AsyncSession, Any, date], Awaitable[list[Finding]]]


@dataclass(frozen=True)
class Rule:
    code: str
    title: str
    params: type[_Params]
    #: Evaluated for one settlement (at settlement time, and for each of the day's settlements in the batch)
    #: with its own reads; the rules in ``PROBES`` are evaluated for one settlement together, in one read.
    per_settlement: SettlementCheck | None = None
    #: Evaluated over a day and the window before it (batch only).
    per_day: DayCheck | None = None
    tags: tuple[str, ...] = field(default=())

    @property
    def at_settlement(self) -> bool:
        return self.per_settlement is not None or self.code in PROBES


def _plain(value: Decimal) -> str:
    """A stored decimal as people write it ("10", "7.5"), the same from both backends (PostgreSQL gives the
    column's scale back, "10.00"; SQLite the value as written)."""
    return format(value.normalize(), "f")


def _day(at: datetime) -> date:
    return at.astimezone(CHINA_TZ).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), CHINA_TZ)
    return start, start + timedelta(days=1)


def _one_of(column: Any, values: tuple[str, ...]) -> Any:
    """``column IN (values)`` without an expanding parameter (rendered again at every execution)."""
    return or_(*(column == value for value in values))


def _card_two_institutions_binds(params: CardTwoInstitutionsParams, anchor: Settlement) -> dict[str, Any]:
    window = timedelta(minutes=params.window_minutes)
    return {"probe_card_from": anchor.begntime - window, "probe_card_to": anchor.begntime + window}


def card_two_institutions(
    params: CardTwoInstitutionsParams, anchor: Settlement, others: list[Any]
) -> list[Finding]:
    """The same card settling at two institutions within a short window: one card in two places (a lent or
    copied card, art. 35 and 48). ``others``: the card's counter settlements elsewhere in the window."""
    findings = []
    for other in others:
        pair: tuple[Any, Any] = (anchor, other)
        first, second = sorted(pair, key=lambda s: (s.begntime, s.setl_id))
        gap = int(abs((second.begntime - first.begntime).total_seconds()) // 60)
        findings.append(
            Finding(
                "card_two_institutions",
                "person",
                anchor.psn_no,
                f"card_two_institutions:{first.setl_id}:{second.setl_id}",
                f"同一参保人 {gap} 分钟内在 {first.fixmedins_code} 与 {second.fixmedins_code} "
                "两家机构刷卡结算",
                {
                    "window_minutes": params.window_minutes,
                    "gap_minutes": gap,
                    "settlements": [_brief(first), _brief(second)],
                },
                anchor.setl_id,
            )
        )
    return findings


def _daily_count_binds(_params: DailyCountParams, anchor: Settlement) -> dict[str, Any]:
    start, end = day_bounds(_day(anchor.begntime))
    return {"probe_day_from": start, "probe_day_to": end}


def daily_count(params: DailyCountParams, anchor: Settlement, rows: list[Any]) -> list[Finding]:
    """More settlements for one person on one day than the threshold (doctor-shopping, drug reselling).
    ``rows``: the person's standing settlements of the anchor's day, the anchor's own included."""
    if len(rows) <= params.max_per_day:
        return []
    day = _day(anchor.begntime)
    return [
        Finding(
            "daily_count",
            "person",
            anchor.psn_no,
            f"daily_count:{anchor.psn_no}:{day.isoformat()}",
            f"同一参保人 {day} 结算 {len(rows)} 次，超过每日 {params.max_per_day} 次",
            {
                "day": day.isoformat(),
                "max_per_day": params.max_per_day,
                "settlements": [_brief(s) for s in rows],
            },
            anchor.setl_id,
        )
    ]


def _days_supply_binds(params: DaysSupplyParams, anchor: Settlement) -> dict[str, Any]:
    since = anchor.begntime - timedelta(days=params.lookback_days)
    return {"probe_supply_from": since, "probe_supply_to": anchor.begntime}


def days_supply(params: DaysSupplyParams, anchor: Settlement, rows: list[Any]) -> list[Finding]:
    """A drug bought again while the earlier purchase's prescribed days' supply (prd_days) still lasts:
    buying beyond what the prescription needs (reselling drugs bought on the card, art. 48). ``rows``: the
    person's earlier lines of the same drugs with a days' supply, in the lookback window."""
    findings = []
    anchor_day = _day(anchor.begntime)
    for earlier in rows:  # the earlier settlement's columns and its line's (``_probe_columns``)
        assert earlier.prd_days is not None
        supplied_until = _day(earlier.begntime) + timedelta(days=int(earlier.prd_days))
        days_left = (supplied_until - anchor_day).days
        if days_left < max(params.tolerance_days, 1):
            continue
        findings.append(
            Finding(
                "days_supply",
                "person",
                anchor.psn_no,
                f"days_supply:{earlier.setl_id}:{anchor.setl_id}:{earlier.med_list_codg}",
                f"药品 {earlier.med_list_codg} 于 {_day(earlier.begntime)} 已购 {_plain(earlier.prd_days)} "
                f"天用量，尚余 {days_left} 天时再次购药",
                {
                    "med_list_codg": earlier.med_list_codg,
                    "earlier": {
                        **_brief(earlier),
                        "prd_days": str(earlier.prd_days),
                        "cnt": str(earlier.cnt),
                    },
                    "again": _brief(anchor),
                    "supplied_until": supplied_until.isoformat(),
                    "days_left": days_left,
                    "tolerance_days": params.tolerance_days,
                },
                anchor.setl_id,
            )
        )
    return findings


async def overlapping_admissions(
    session: AsyncSession, params: OverlappingAdmissionsParams, anchor: Settlement
) -> list[Finding]:
    """Two stays of one person in hospital at the same time (fake or "hanging-bed" admissions, art. 49)."""
    if anchor.encounter_kind == "pharmacy":  # a purchase at a pharmacy has no stay
        return []
    # The person's stays in one read: the settlement's own (if it settles a stay) and the others.
    stays = list(
        await session.scalars(
            select(Encounter).where(Encounter.psn_no == anchor.psn_no, Encounter.setting == "inpatient")
        )
    )
    stay = next((x for x in stays if x.mdtrt_id == anchor.mdtrt_id), None)
    if stay is None:
        return []
    others = [x for x in stays if x.status != "cancelled" and x.mdtrt_id != stay.mdtrt_id]
    findings = []
    far = datetime.max.replace(tzinfo=CHINA_TZ)
    for other in others:
        overlap = min(stay.endtime or far, other.endtime or far) - max(stay.begntime, other.begntime)
        if overlap <= timedelta(hours=params.min_overlap_hours) or overlap <= timedelta(0):
            continue
        first, second = sorted((stay, other), key=lambda e: (e.begntime, e.mdtrt_id))
        hours = int(overlap.total_seconds() // 3600) if overlap < timedelta(days=3650) else None
        findings.append(
            Finding(
                "overlapping_admissions",
                "person",
                stay.psn_no,
                f"overlapping_admissions:{first.mdtrt_id}:{second.mdtrt_id}",
                f"同一参保人在 {first.fixmedins_code} 与 {second.fixmedins_code} 的住院时间重叠",
                {
                    "overlap_hours": hours,
                    "stays": [
                        {
                            "mdtrt_id": e.mdtrt_id,
                            "fixmedins_code": e.fixmedins_code,
                            "begntime": e.begntime.isoformat(),
                            "endtime": e.endtime.isoformat() if e.endtime else None,
                        }
                        for e in (first, second)
                    ],
                },
                anchor.setl_id,
            )
        )
    return findings


@dataclass(frozen=True)
class _InstitutionTotals:
    fixmedins_code: str
    level: str
    count: int
    medfee_fen: int
    refused_fen: int


async def _institution_totals(session: AsyncSession, day: date, window_days: int) -> list[_InstitutionTotals]:
    start = day_bounds(day - timedelta(days=window_days - 1))[0]
    end = day_bounds(day)[1]
    rows = await session.execute(
        sa_select(
            col(Settlement.fixmedins_code),
            col(Settlement.institution_level),
            func.count(),
            func.sum(col(Settlement.medfee_sumamt_fen)),
            func.sum(col(Settlement.fully_self_paid_fen) + col(Settlement.over_price_cap_fen)),
        )
        .where(
            col(Settlement.status).in_(STANDING),
            col(Settlement.begntime) >= start,
            col(Settlement.begntime) < end,
        )
        .group_by(Settlement.fixmedins_code, Settlement.institution_level)
    )
    return [
        _InstitutionTotals(c, lv, int(n), int(fee or 0), int(ref or 0)) for c, lv, n, fee, ref in rows.all()
    ]


def _peers(
    totals: list[_InstitutionTotals], me: _InstitutionTotals, min_settlements: int
) -> list[_InstitutionTotals]:
    return [
        t
        for t in totals
        if t.level == me.level and t.fixmedins_code != me.fixmedins_code and t.count >= min_settlements
    ]


async def peer_average_cost(session: AsyncSession, params: PeerCostParams, day: date) -> list[Finding]:
    """An institution's average cost per settlement far above the institutions of the same level (inflated
    bills, split or induced care). The peers' average is their pooled total over their pooled count."""
    totals = await _institution_totals(session, day, params.window_days)
    findings = []
    for me in totals:
        if me.count < params.min_settlements:
            continue
        peers = _peers(totals, me, params.min_settlements)
        if len(peers) < params.min_peers:
            continue
        peer_count = sum(p.count for p in peers)
        peer_fee = sum(p.medfee_fen for p in peers)
        # me.medfee / me.count > factor * peer_fee / peer_count, in integers (no rounding at the edge).
        if me.medfee_fen * peer_count * 1000 <= int(params.factor * 1000) * peer_fee * me.count:
            continue
        mine = Decimal(me.medfee_fen) / me.count
        theirs = Decimal(peer_fee) / peer_count
        findings.append(
            Finding(
                "peer_average_cost",
                "institution",
                me.fixmedins_code,
                f"peer_average_cost:{me.fixmedins_code}:{day.isoformat()}",
                f"机构 {me.fixmedins_code} 次均费用 {fen_to_yuan(round(mine))} 元，"
                f"为同级机构 {fen_to_yuan(round(theirs))} 元的 {(mine / theirs):.2f} 倍",
                {
                    "day": day.isoformat(),
                    "window_days": params.window_days,
                    "level": me.level,
                    "factor": str(params.factor),
                    "institution": _totals_evidence(me),
                    "peers": [_totals_evidence(p) for p in sorted(peers, key=lambda p: p.fixmedins_code)],
                },
            )
        )
    return findings


async def peer_refusal_rate(session: AsyncSession, params: PeerRefusalParams, day: date) -> list[Finding]:
    """An institution whose refusal rate (拒付率: the share of billed cost the funds refused as outside the
    policy range - not listed, 丙类, unapproved restricted items, above the price cap) is far above its
    peers': costs pushed onto patients or items billed that the list does not cover."""
    totals = await _institution_totals(session, day, params.window_days)
    findings = []
    for me in totals:
        if me.count < params.min_settlements or me.medfee_fen == 0:
            continue
        peers = _peers(totals, me, params.min_settlements)
        if len(peers) < params.min_peers:
            continue
        peer_fee = sum(p.medfee_fen for p in peers)
        peer_refused = sum(p.refused_fen for p in peers)
        if peer_fee == 0:
            continue
        mine = Decimal(me.refused_fen) / me.medfee_fen
        theirs = Decimal(peer_refused) / peer_fee
        if mine <= theirs * params.factor or mine - theirs < params.min_points:
            continue
        findings.append(
            Finding(
                "peer_refusal_rate",
                "institution",
                me.fixmedins_code,
                f"peer_refusal_rate:{me.fixmedins_code}:{day.isoformat()}",
                f"机构 {me.fixmedins_code} 拒付率 {mine:.2%}，同级机构为 {theirs:.2%}",
                {
                    "day": day.isoformat(),
                    "window_days": params.window_days,
                    "level": me.level,
                    "rate": str(mine.quantize(Decimal("0.0001"))),
                    "peer_rate": str(theirs.quantize(Decimal("0.0001"))),
                    "institution": _totals_evidence(me),
                    "peers": [_totals_evidence(p) for p in sorted(peers, key=lambda p: p.fixmedins_code)],
                },
            )
        )
    return findings


def _probe_columns(line: bool) -> tuple[Any, ...]:
    """The columns a finding's evidence shows of a settlement (``_brief``), the rules' ordering key, and a
    drug line's: what every per-settlement probe selects, in this order (a probe that reads no line selects
    typed NULLs for the line's), so that the probes of one settlement go as one UNION ALL."""
    if line:
        drug: tuple[Any, ...] = (
            col(SettlementLine.med_list_codg),
            col(SettlementLine.prd_days),
            col(SettlementLine.cnt),
        )
    else:
        drug = tuple(
            cast(null(), SettlementLine.__table__.c[name].type)  # type: ignore[attr-defined]
            for name in ("med_list_codg", "prd_days", "cnt")
        )
    labels = ("med_list_codg", "prd_days", "cnt")
    return (
        col(Settlement.setl_id).label("setl_id"),
        col(Settlement.fixmedins_code).label("fixmedins_code"),
        col(Settlement.begntime).label("begntime"),
        col(Settlement.medfee_sumamt_fen).label("medfee_sumamt_fen"),
        col(Settlement.fund_paid_total_fen).label("fund_paid_total_fen"),
        col(Settlement.id).label("row_id"),
        *(c.label(name) for c, name in zip(drug, labels, strict=True)),
    )


# The per-settlement rules' reads. Bind parameters, all ``probe_*`` (``OneRoundTrip.then``): the anchor's
# ``probe_psn_no``, ``probe_setl_id``, ``probe_fixmedins_code`` and ``probe_drugs``, and each rule's own
# (``probe_card_from``...).
_CARD_ELSEWHERE = sa_select(*_probe_columns(line=False)).where(
    col(Settlement.psn_no) == bindparam("probe_psn_no"),
    _one_of(col(Settlement.status), (*STANDING, "reversed")),
    _one_of(col(Settlement.encounter_kind), COUNTER_KINDS),
    col(Settlement.fixmedins_code) != bindparam("probe_fixmedins_code"),
    col(Settlement.begntime) >= bindparam("probe_card_from"),
    col(Settlement.begntime) <= bindparam("probe_card_to"),
)
_PERSON_DAY = sa_select(*_probe_columns(line=False)).where(
    col(Settlement.psn_no) == bindparam("probe_psn_no"),
    _one_of(col(Settlement.status), STANDING),
    col(Settlement.begntime) >= bindparam("probe_day_from"),
    col(Settlement.begntime) < bindparam("probe_day_to"),
)
_DRUGS_OF_THE_SETTLEMENT = sa_select(col(SettlementLine.med_list_codg)).where(
    col(SettlementLine.setl_id) == bindparam("probe_setl_id")
)


def _same_drugs_before(drugs: Any) -> Any:
    return (
        sa_select(*_probe_columns(line=True))
        .join(SettlementLine, col(SettlementLine.setl_id) == col(Settlement.setl_id))
        .where(
            col(Settlement.psn_no) == bindparam("probe_psn_no"),
            _one_of(col(Settlement.status), STANDING),
            col(Settlement.setl_id) != bindparam("probe_setl_id"),
            col(Settlement.begntime) <= bindparam("probe_supply_to"),
            col(Settlement.begntime) >= bindparam("probe_supply_from"),
            drugs,
            col(SettlementLine.prd_days).is_not(None),
        )
    )


#: The anchor's drugs read from its lines (it is written), or bound (PostgreSQL: it is being written).
_SAME_DRUGS_BEFORE = _same_drugs_before(col(SettlementLine.med_list_codg).in_(_DRUGS_OF_THE_SETTLEMENT))
_SAME_DRUGS_BEFORE_IN_FLIGHT = _same_drugs_before(
    col(SettlementLine.med_list_codg) == any_(bindparam("probe_drugs", type_=ARRAY(String)))
)


@dataclass(frozen=True)
class Probe:
    """A per-settlement rule as a read and a judgement: ``query`` selects ``_probe_columns`` of the
    settlements (and lines) the rule looks at, with the anchor's bind parameters and those ``binds`` gives;
    ``judge`` turns the rows, ordered by time, into findings. The rules of one settlement are read in one
    statement (``Probes``): a round trip to the database costs more than any of these queries."""

    query: Any
    binds: Callable[[Any, Settlement], dict[str, Any]]
    judge: Callable[[Any, Settlement, list[Any]], list[Finding]]
    #: The kinds of care the rule looks at (None: every kind).
    kinds: tuple[str, ...] | None = None
    #: The query for a settlement not yet visible to it (its lines' drugs bound as ``drugs``), when
    #: ``query`` would read the settlement's own rows.
    in_flight: Any = None
    #: ``query`` returns the anchor itself among its rows (so the settlement counts itself in flight).
    counts_anchor: bool = False


PROBES: dict[str, Probe] = {
    "card_two_institutions": Probe(
        _CARD_ELSEWHERE, _card_two_institutions_binds, card_two_institutions, COUNTER_KINDS
    ),
    "daily_count": Probe(_PERSON_DAY, _daily_count_binds, daily_count, counts_anchor=True),
    "days_supply": Probe(
        _SAME_DRUGS_BEFORE, _days_supply_binds, days_supply, in_flight=_SAME_DRUGS_BEFORE_IN_FLIGHT
    ),
}


@cache
def _probes_statement(codes: tuple[str, ...], in_flight: bool) -> Any:
    """The probes of ``codes`` as one statement, each row tagged with its rule; built once per set of
    rules (an operator may switch rules off)."""
    tagged = []
    for code in codes:
        probe = PROBES[code]
        query = probe.in_flight if in_flight and probe.in_flight is not None else probe.query
        tagged.append(query.add_columns(literal_column(f"'{code}'", String).label("rule_code")))
    return union_all(*tagged).order_by(literal_column("begntime"), literal_column("row_id"))


def _looks_at(probe: Probe, anchor: Settlement) -> bool:
    return probe.kinds is None or anchor.encounter_kind in probe.kinds


class Probes:
    """The enabled per-settlement rules (``(code, params)``, in ``RULES`` order) that look at one
    settlement's kind of care, read in ONE statement and judged. Read either once the settlement is
    written (``read``: the daily batch, SQLite), or by the very statement that writes it (``in_flight``:
    PostgreSQL at settlement time, one round trip fewer). That statement does not see the settlement it
    writes: the settlement's drugs are bound instead of read from its lines, and a rule that counts the
    settlement itself gets it added to its rows in time order."""

    def __init__(self, anchor: Settlement, enabled: list[tuple[str, Any]], drugs: list[str]) -> None:
        self.anchor = anchor
        self.chosen = [(code, params) for code, params in enabled if _looks_at(PROBES[code], anchor)]
        self.binds: dict[str, Any] = {
            "probe_psn_no": anchor.psn_no,
            "probe_setl_id": anchor.setl_id,
            "probe_fixmedins_code": anchor.fixmedins_code,
            "probe_drugs": drugs,
        }
        for code, params in self.chosen:
            self.binds.update(PROBES[code].binds(params, anchor))

    def in_flight(self) -> Any | None:
        """The statement to send with the settlement's writes (None: no rule to read)."""
        return _probes_statement(self._codes(), True) if self.chosen else None

    async def read(self, session: AsyncSession) -> list[tuple[str, list[Finding]]]:
        """Each rule's findings, read now that the settlement is written. With ``shared.db.run`` (no
        autoflush): the settlement and its lines are written by Core statements before this."""
        if not self.chosen:
            return []
        rows = list(await run(session, _probes_statement(self._codes(), False), self.binds))
        return self.judge(rows, in_flight=False)

    def judge(self, rows: list[Any], *, in_flight: bool) -> list[tuple[str, list[Finding]]]:
        """Each rule's findings from the rows its probe read (``in_flight``: read by the writing
        statement, which did not see the settlement)."""
        by_rule: dict[str, list[Any]] = {code: [] for code, _ in self.chosen}
        for row in rows:
            by_rule[row.rule_code].append(row)
        findings = []
        for code, params in self.chosen:
            seen = by_rule[code]
            if in_flight and PROBES[code].counts_anchor:
                at = sum(1 for row in seen if row.begntime <= self.anchor.begntime)
                seen = [*seen[:at], self.anchor, *seen[at:]]
            findings.append((code, PROBES[code].judge(params, self.anchor, seen)))
        return findings

    def _codes(self) -> tuple[str, ...]:
        return tuple(code for code, _ in self.chosen)


def _brief(s: Any) -> dict[str, Any]:
    """A settlement (a row of ``_probe_columns`` or the whole record) as evidence."""
    return {
        "setl_id": s.setl_id,
        "fixmedins_code": s.fixmedins_code,
        "begntime": s.begntime.isoformat(),
        "medfee_sumamt_fen": s.medfee_sumamt_fen,
        "fund_paid_total_fen": s.fund_paid_total_fen,
    }


def _totals_evidence(t: _InstitutionTotals) -> dict[str, Any]:
    return {
        "fixmedins_code": t.fixmedins_code,
        "settlements": t.count,
        "medfee_sumamt_fen": t.medfee_fen,
        "refused_fen": t.refused_fen,
    }


RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        Rule("card_two_institutions", "同一卡短时间内在两家机构结算", CardTwoInstitutionsParams),
        Rule("daily_count", "同一人每日结算次数超限", DailyCountParams),
        Rule("days_supply", "药品超处方天数重复购药", DaysSupplyParams),
        Rule("overlapping_admissions", "住院时间重叠", OverlappingAdmissionsParams, overlapping_admissions),
        Rule("peer_average_cost", "次均费用显著高于同级机构", PeerCostParams, per_day=peer_average_cost),
        Rule("peer_refusal_rate", "拒付率显著高于同级机构", PeerRefusalParams, per_day=peer_refusal_rate),
    )
}
