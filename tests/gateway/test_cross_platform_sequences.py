"""One person's year on their insured platform B while platform A settles them too (跨省, docs/interface.md,
"Between platforms"), on both backends: B's own purchases (B's settlement service, what B's gateway calls for
a 2102 of B's pharmacy) interleaved with A's purchases of the same person through A's gateway (A reserves on
B, confirms after its commit), A's 2103, A's 2601 of an answered, lost or never-sent msgid, B's reversals and
2601s, confirmations lost or cut and sent again, and B's holds running out (A then reverses by itself).
Platforms and link: ``tests.support.two_platforms``.

Every purchase is n units of item A (甲 at 0.50 a unit, capped at its price: all of it in the policy range),
at a pharmacy in 341524, outside the person's insured region 110105 and unfiled: B's policy (10.00 yearly
deductible, 60 % less 10 points = 50 %, 300.00 a year) pays on either path:
    deductible = min(range, 10.00 − deductible already met in the year)
    fund       = min((range − deductible) × 50 %, 300.00 − fund already paid in the year)
on the year B holds: its own standing settlements and every reservation of A's it holds (reserved or
confirmed, not released). Ranges are multiples of 0.50, so (range − deductible) × 50 % is whole fen.

Invariants after every step, computed here from those rules (``Year``), never read from the engine:
- B's yearly totals (deductible met, fund paid, settlements) are the sums over what it holds, by the model and
  by B's own records (its settlements' and reservations' deltas);
- what the held settlements' fund paid is what settling their costs in one go pays,
  min((R − min(R, 10.00)) × 50 %, 300.00) on their range total R, whenever they were settled on a year that
  held exactly the earlier of them (the order-consistent case; see ``Year.in_order``). Reversing a settlement
  that a later one's deductible or cap room depended on leaves the later one as settled: outpatient pooling
  settles each purchase on the year as it stands and re-settles nothing, so no forward-only rule could keep
  the one-go sum then; the next settlements are still checked against the rules above;
- a settlement is reversed at most once on either side; a msgid is either settled or voided, never both;
  A's record of each of its peer settlements agrees with B's reservation (confirmed ⇔ confirmed, released ⇔
  released, the settlement reversed exactly when released), and B confirmed nothing A does not know of;
- each of B's ledger events is written once: a confirmation's settlement.completed, a confirmed
  reservation's release settlement.reversed.

The races (``test_*_race_*``): B's purchase sent at the same moment as A's purchase, or as A's reversal of
an earlier one; on PostgreSQL each request has its own connection, repeated with a few milliseconds of
jitter."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from settlement.db import infra
from settlement.eligibility.models import YearAccumulator
from settlement.interplatform import reservations
from settlement.interplatform.models import PeerSettlement, Reservation
from settlement.interplatform.treating import Treating
from settlement.settlements.models import MsgidClaim, Settlement
from sqlmodel import col, select

from shared.clock import now_china
from shared.db import Database
from tests.conftest import DatabaseFactory
from tests.gateway.office import WHEN, Office, opened
from tests.settlement.conftest import PHARMACY, REGION, purchase
from tests.support.two_platforms import B_CAP, B_DEDUCTIBLE, B_RATIO, B_REGION, PlatformB, peer_platform

#: Item A: 0.50 a unit, all in range.
UNIT_FEN = 50
#: B's outpatient ratio less the 10 points of unfiled out-of-area care (B's pharmacy and A's are in 341524).
RATIO = B_RATIO - Decimal("0.1")
TRIES = 20
_people = itertools.count(100)
_b_msgids = itertools.count(1)


def b_msgid() -> str:
    """A msgid of B's pharmacy (the institution's code, then digits)."""
    return f"{PHARMACY}{next(_b_msgids):018d}"


def _half_up(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def one_go(range_fen: int) -> int:
    """B's fund on a range total settled at once: (R − min(R, 10.00)) × 50 %, at most 300.00."""
    return min(_half_up((range_fen - min(range_fen, B_DEDUCTIBLE)) * RATIO), B_CAP)


@dataclass
class Held:
    """A settlement holding B's year: B's own (``key`` its setl_id) or A's reservation (``key`` A's msgid)."""

    side: str
    key: str
    range_fen: int
    deductible_fen: int
    fund_fen: int


def settle_on(range_fen: int, held: list[Held]) -> tuple[int, int]:
    """(deductible, fund) of a purchase of ``range_fen`` on the year holding ``held`` (the module's rules)."""
    met = sum(h.deductible_fen for h in held)
    paid = sum(h.fund_fen for h in held)
    deductible = min(range_fen, max(0, B_DEDUCTIBLE - met))
    fund = min(_half_up((range_fen - deductible) * RATIO), max(0, B_CAP - paid))
    return deductible, fund


@dataclass
class Year:
    """The person's year at B as the rules make it: what B holds, in the order it was settled."""

    held: list[Held] = field(default_factory=list)

    def settle(self, side: str, key: str, range_fen: int) -> Held:
        deductible, fund = settle_on(range_fen, self.held)
        entry = Held(side, key, range_fen, deductible, fund)
        self.held.append(entry)
        return entry

    def drop(self, key: str) -> None:
        self.held = [h for h in self.held if h.key != key]

    def in_order(self) -> bool:
        """Whether each held settlement got what it gets settled afresh, in the same order, on a year holding
        only the held ones before it (then their fund is the one-go amount on their range total)."""
        for number, entry in enumerate(self.held):
            if settle_on(entry.range_fen, self.held[:number]) != (entry.deductible_fen, entry.fund_fen):
                return False
        return True


# --- the two platforms' books -------------------------------------------------------------------------------


@dataclass
class BooksB:
    accumulator: YearAccumulator | None
    settlements: list[Settlement]
    reservations: list[Reservation]
    claims: dict[str, str]
    events: Counter[tuple[str, str]]


@dataclass
class BooksA:
    settlements: list[Settlement]
    peers: list[PeerSettlement]
    claims: dict[str, str]


async def _claims(session: Any, msgids: list[str]) -> dict[str, str]:
    rows = await session.scalars(select(MsgidClaim).where(col(MsgidClaim.msgid).in_(msgids)))
    return {c.msgid: c.kind for c in rows}


async def books_b(db: Database, psn_no: str) -> BooksB:
    async with db.session() as session:
        accumulator = await session.scalar(select(YearAccumulator).where(YearAccumulator.psn_no == psn_no))
        settlements = list(await session.scalars(select(Settlement).where(Settlement.psn_no == psn_no)))
        held = list(await session.scalars(select(Reservation).where(Reservation.psn_no == psn_no)))
        claims = await _claims(session, [s.msgid for s in settlements])
        outbox = (await session.execute(infra.outbox.select())).all()
    ids = {r.reservation_id for r in held}
    events: Counter[tuple[str, str]] = Counter()
    for row in outbox:
        payload = json.loads(row.payload)
        data = payload["data"]
        reservation = data.get("original_setl_id") or data.get("setl_id")
        if reservation in ids:
            events[(payload["type"], reservation)] += 1
    return BooksB(accumulator, settlements, held, claims, events)


async def books_a(db: Database, psn_no: str) -> BooksA:
    async with db.session() as session:
        settlements = list(await session.scalars(select(Settlement).where(Settlement.psn_no == psn_no)))
        ids = [s.setl_id for s in settlements]
        peers = list(
            await session.scalars(select(PeerSettlement).where(col(PeerSettlement.setl_id).in_(ids)))
        )
        claims = await _claims(session, [s.msgid for s in settlements])
    return BooksA(settlements, peers, claims)


def _reversed_once(settlements: list[Settlement], claims: dict[str, str]) -> None:
    """Each settlement reversed at most once, its status saying so; each settled under a msgid claimed for
    settling (never one a 2601 voided)."""
    for s in settlements:
        if s.status == "reversal":
            continue
        undone = [r for r in settlements if r.reversal_of == s.setl_id]
        assert len(undone) <= 1, f"{s.setl_id} reversed {len(undone)} times"
        assert (s.status == "reversed") == (len(undone) == 1), (s.setl_id, s.status)
        if undone:
            assert undone[0].fund_paid_total_fen == -s.fund_paid_total_fen
        assert claims.get(s.msgid) == "settle", (s.msgid, claims.get(s.msgid))


HOLDING = ("reserved", "confirmed")
TOTALS = ("outpatient_deductible_fen", "outpatient_paid_fen")


def check_books(a: BooksA, b: BooksB) -> None:
    """The invariants of the module docstring that need no model: B's totals are its held records' sums,
    one reversal at most, no settled msgid voided, A's peer records agree with B's reservations, B's events
    once."""
    standing = [s for s in b.settlements if s.status == "settled"]
    holding = [r for r in b.reservations if r.status in HOLDING]
    acc = b.accumulator
    for name in TOTALS:
        recorded = sum(int(s.ytd_delta.get(name, 0)) for s in standing) + sum(
            int(r.ytd_delta.get(name, 0)) for r in holding
        )
        assert (getattr(acc, name) if acc else 0) == recorded, name
    assert (acc.settlement_count if acc else 0) == len(standing) + len(holding)
    _reversed_once(b.settlements, b.claims)
    _reversed_once(a.settlements, a.claims)
    by_setl_id = {s.setl_id: s for s in a.settlements}
    by_reservation = {r.reservation_id: r for r in b.reservations}
    mine = {p.reservation_id: p for p in a.peers}
    for peer in a.peers:
        there = by_reservation[peer.reservation_id]
        here = by_setl_id[peer.setl_id]
        if peer.status == "confirmed":
            assert (there.status, there.treating_setl_id) == ("confirmed", peer.setl_id)
            assert here.status == "settled"
        elif peer.status == "released":
            assert there.status == "released" and here.status == "reversed"
            assert peer.reversal_setl_id == here.reversed_by
        elif peer.status == "reserved":  # the confirmation still owed: B may hold, have confirmed or released
            assert here.status == "settled"
        else:
            assert peer.status == "releasing" and here.status == "reversed", peer.status
    for there in b.reservations:
        if there.status == "confirmed" or there.confirmed_at is not None:
            assert there.reservation_id in mine, f"B confirmed {there.reservation_id}, unknown to A"
        # The ledger's events: one settlement.completed for a confirmation, one settlement.reversed for the
        # release of a confirmed reservation, none for a hold that was never confirmed.
        confirmed = there.confirmed_at is not None
        assert b.events[("settlement.completed", there.reservation_id)] == int(confirmed)
        released = confirmed and there.status == "released"
        assert b.events[("settlement.reversed", there.reservation_id)] == int(released)


def held_fund(b: BooksB) -> tuple[int, int]:
    """(range, fund) over what B holds, from B's records."""
    standing = [s for s in b.settlements if s.status == "settled"]
    holding = [r for r in b.reservations if r.status in HOLDING]
    range_fen = sum(s.policy_range_fen for s in standing) + sum(r.result["policy_range_fen"] for r in holding)
    fund = sum(s.fund_paid_total_fen for s in standing) + sum(
        r.result["fund_paid_total_fen"] for r in holding
    )
    return range_fen, fund


# --- the counters of both platforms -------------------------------------------------------------------------


def a_purchase(psn_no: str, certno: str, units: int) -> dict[str, Any]:
    """A's pharmacy's 2102 as deployed HIS code sends it (druginfo + drugdetail): ``units`` of item A."""
    amount = f"{Decimal(units * UNIT_FEN) / 100:.2f}"
    info = {
        "psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "begntime": WHEN,
        "medfee_sumamt": amount, "invono": "", "insutype": "390", "acct_used_flag": "0", "med_type": "41",
        "dise_codg": "",
    }  # fmt: skip
    line = {
        "feedetl_sn": "1", "rxno": "", "rx_circ_flag": "0", "fee_ocur_time": WHEN, "med_list_codg": "A",
        "medins_list_codg": "YA", "det_item_fee_sumamt": amount, "cnt": str(units), "pric": "0.50",
    }  # fmt: skip
    return {"druginfo": info, "drugdetail": [line]}


def fen(value: Any) -> int:
    return int(Decimal(str(value)) * 100)


def code_of(answer: dict[str, Any]) -> str:
    assert answer["infcode"] == -1, answer
    message: str = answer["err_msg"]
    assert message.startswith("[") and "sql" not in message.lower(), message
    return message[1 : message.index("]")]


@dataclass
class Counters:
    """A's gateway (A's pharmacy) and B's settlement service (B's pharmacy) for one person insured on B."""

    office: Office
    b: PlatformB
    psn_no: str
    certno: str

    @property
    def treating(self) -> Treating:
        assert self.office.api.app is not None
        route: Treating = self.office.api.app.state.peer_route
        return route

    async def a_buy(self, units: int, msgid: str) -> dict[str, Any]:
        return await self.office.send(
            "2102", a_purchase(self.psn_no, self.certno, units), msgid,
            fixmedins_code=PHARMACY, insuplc_admdvs=B_REGION,
        )  # fmt: skip

    async def a_reverse(self, setl_id: str, mdtrt_id: str) -> dict[str, Any]:
        body = {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": self.psn_no}}
        return await self.office.send("2103", body, fixmedins_code=PHARMACY, insuplc_admdvs=B_REGION)

    async def a_void(self, omsgid: str) -> dict[str, Any]:
        body = {"data": {"psn_no": self.psn_no, "omsgid": omsgid, "oinfno": "2102"}}
        return await self.office.send("2601", body, fixmedins_code=PHARMACY, insuplc_admdvs=B_REGION)

    async def b_buy(self, units: int, msgid: str | None = None) -> httpx.Response:
        body = purchase(
            self.psn_no, self.certno, [("A", str(units), "0.5", units * UNIT_FEN)],
            msgid=msgid or b_msgid(),
        )  # fmt: skip
        body["insuplc_admdvs"] = B_REGION
        assert body["mdtrtarea_admvs"] == REGION  # B's pharmacy is in 341524: out of the insured region
        return await self.b.api.post("/api/v1/pharmacy-settlements", body)

    async def b_reverse(self, setl_id: str) -> httpx.Response:
        body = {"msgid": b_msgid(), "fixmedins_code": PHARMACY}
        return await self.b.api.post(f"/api/v1/settlements/{setl_id}/reversal", body)

    async def b_void(self, omsgid: str) -> httpx.Response:
        body = {"msgid": b_msgid(), "omsgid": omsgid, "oinfno": "2102", "fixmedins_code": PHARMACY,
                "psn_no": self.psn_no}  # fmt: skip
        return await self.b.api.post("/api/v1/voids", body)

    async def books(self) -> tuple[BooksA, BooksB]:
        return await books_a(self.office.db, self.psn_no), await books_b(self.b.api.db, self.psn_no)


async def _counters(office: Office, b: PlatformB) -> Counters:
    psn_no, certno = await b.person(next(_people))
    return Counters(office, b, psn_no, certno)


@contextmanager
def _two_platforms(databases: DatabaseFactory) -> Iterator[tuple[asyncio.Runner, Office, PlatformB]]:
    """A (gateway + settlement) and B on migrated databases of the backend, driven from synchronous
    hypothesis code on one event loop."""
    with asyncio.Runner() as runner:
        stack = AsyncExitStack()

        async def start() -> tuple[Office, PlatformB]:
            office = await stack.enter_async_context(opened(databases))
            assert office.api.app is not None
            return office, await stack.enter_async_context(peer_platform(databases, office.api.app))

        office, b = runner.run(start())
        try:
            yield runner, office, b
        finally:
            runner.run(stack.aclose())


# --- any sequence: a state machine --------------------------------------------------------------------------


@dataclass
class AMessage:
    """A 2102 of A's pharmacy for the person, and what it did so far.

    ``state``: unsent (lost on the way: never reached A), unknown (B reserved, its answer was lost: A
    wrote nothing, the HIS got E_OUTCOME_UNKNOWN), settled, reversed (2103 or the hold's expiry), refused
    (the repeat of an unknown one whose hold B released meanwhile), voided (2601 before anything settled:
    B gives back a hold it made for it, or, none made, keeps the msgid from a later reserve)."""

    msgid: str
    units: int
    state: str
    setl_id: str = ""
    mdtrt_id: str = ""
    #: B's fund as A's settlement answered it.
    fund_fen: int = 0
    #: 2601 named it: any later repeat of the msgid is refused E_VOIDED.
    killed: bool = False
    #: B's reservation as the model expects it (None before any), and A's peer record.
    there: str | None = None
    here: str | None = None

    @property
    def range_fen(self) -> int:
        return self.units * UNIT_FEN


class InterleavedYear(RuleBasedStateMachine):
    runner: asyncio.Runner
    office: Office
    b: PlatformB

    def __init__(self) -> None:
        super().__init__()
        self.counters = self.runner.run(_counters(self.office, self.b))
        self.year = Year()
        self.a: list[AMessage] = []
        #: B's own settlements: setl_id -> standing; B's purchases: msgid -> setl_id (None: never arrived).
        self.b_settled: dict[str, bool] = {}
        self.b_msgids: dict[str, str | None] = {}

    def _run(self, coroutine: Any) -> Any:
        return self.runner.run(coroutine)

    # -- B --

    @rule(units=st.integers(1, 400), arrives=st.booleans())
    def b_buy(self, units: int, arrives: bool) -> None:
        """A purchase at B's pharmacy, or (not ``arrives``) one lost on its way, for B's 2601 to name."""
        msgid = b_msgid()
        self.b_msgids[msgid] = None
        if not arrives:
            return
        answer = self._run(self.counters.b_buy(units, msgid))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        expected = self.year.settle("B", body["setl_id"], units * UNIT_FEN)
        assert (body["policy_range_fen"], body["deductible_fen"], body["fund_paid_total_fen"]) == (
            expected.range_fen, expected.deductible_fen, expected.fund_fen,
        )  # fmt: skip
        self.b_settled[body["setl_id"]] = True
        self.b_msgids[msgid] = body["setl_id"]

    @precondition(lambda self: self.b_msgids)
    @rule(index=st.integers(0, 30))
    def b_void(self, index: int) -> None:
        """B's pharmacy's 2601 of one of its purchases: reversed if it settled, else voided."""
        msgid = list(self.b_msgids)[index % len(self.b_msgids)]
        answer = self._run(self.counters.b_void(msgid))
        assert answer.status_code == 200, answer.text
        setl_id = self.b_msgids[msgid]
        assert answer.json()["outcome"] == ("voided" if setl_id is None else "reversed")
        if setl_id is not None and self.b_settled[setl_id]:
            [entry] = [h for h in self.year.held if h.key == setl_id]
            assert answer.json()["reversal"]["fund_paid_total_fen"] == -entry.fund_fen
            self.year.drop(setl_id)
            self.b_settled[setl_id] = False

    @precondition(lambda self: self.b_settled)
    @rule(index=st.integers(0, 30))
    def b_reverse(self, index: int) -> None:
        setl_id = list(self.b_settled)[index % len(self.b_settled)]
        answer = self._run(self.counters.b_reverse(setl_id))
        if self.b_settled[setl_id]:
            assert answer.status_code == 200, answer.text
            [entry] = [h for h in self.year.held if h.key == setl_id]
            assert answer.json()["fund_paid_total_fen"] == -entry.fund_fen
            self.year.drop(setl_id)
            self.b_settled[setl_id] = False
        else:
            assert (answer.status_code, answer.json()["error"]["code"]) == (409, "ALREADY_REVERSED")

    # -- A --

    @rule(
        units=st.integers(1, 400),
        fate=st.sampled_from(["answered", "confirmation lost", "confirmation cut", "reserve lost", "unsent"]),
    )
    def a_buy(self, units: int, fate: str) -> None:
        message = AMessage(self.office.msgid(PHARMACY), units, "unsent")
        self.a.append(message)
        if fate == "unsent":
            return
        link = self.b.link
        link.lose = {"confirmation lost": "/confirmation", "reserve lost": "/reservations"}.get(fate)
        link.cut = "/confirmation" if fate == "confirmation cut" else None
        try:
            answer = self._run(self.counters.a_buy(units, message.msgid))
        finally:
            link.lose = link.cut = None
        expected = self.year.settle("A", message.msgid, message.range_fen)
        if fate == "reserve lost":
            assert code_of(answer) == "E_OUTCOME_UNKNOWN"
            message.state, message.there = "unknown", "reserved"
            return
        self._settled(message, answer, expected)
        message.there = "reserved" if fate == "confirmation cut" else "confirmed"
        message.here = "confirmed" if fate == "answered" else "reserved"

    def _settled(self, message: AMessage, answer: dict[str, Any], expected: Held) -> None:
        assert answer["infcode"] == 0, answer["err_msg"]
        info = answer["output"]["setlinfo"]
        assert (info["pay_loc"], info["insuplc_admdvs"]) == ("4", B_REGION)
        assert (fen(info["medfee_sumamt"]), fen(info["act_pay_dedc"]), fen(info["hifp_pay"])) == (
            expected.range_fen, expected.deductible_fen, expected.fund_fen,
        )  # fmt: skip
        assert fen(info["psn_cash_pay"]) == expected.range_fen - expected.fund_fen
        message.state, message.setl_id, message.mdtrt_id = "settled", info["setl_id"], info["mdtrt_id"]
        message.fund_fen = expected.fund_fen

    @precondition(lambda self: self.a)
    @rule(index=st.integers(0, 30))
    def a_repeat(self, index: int) -> None:
        """The HIS sends a 2102 again under its msgid: a late arrival of one never sent, the retry of one
        whose answer it never got, or a repeat of one answered."""
        message = self.a[index % len(self.a)]
        answer = self._run(self.counters.a_buy(message.units, message.msgid))
        event(f"repeat of {'a voided' if message.killed else 'an ' + message.state} 2102")
        if message.killed:
            assert code_of(answer) == "E_VOIDED"
        elif message.state == "unsent":  # first arrival: settled on the year as it stands now
            self._settled(message, answer, self.year.settle("A", message.msgid, message.range_fen))
            message.there = message.here = "confirmed"
        elif message.state in ("unknown", "refused") and message.there == "reserved":
            # B answers its first reservation (held since, with the amounts of then); A settles on it.
            [held] = [h for h in self.year.held if h.key == message.msgid]
            self._settled(message, answer, held)
            message.there = message.here = "confirmed"
        elif message.state in ("unknown", "refused"):  # B released the hold meanwhile
            assert code_of(answer) == "RESERVATION_EXPIRED"
            message.state = "refused"
        else:  # answered before: the gateway answers the same again
            assert answer["infcode"] == 0, answer["err_msg"]
            assert answer["output"]["setlinfo"]["setl_id"] == message.setl_id

    @precondition(lambda self: any(m.setl_id for m in self.a))
    @rule(index=st.integers(0, 30))
    def a_reverse(self, index: int) -> None:
        done = [m for m in self.a if m.setl_id]
        message = done[index % len(done)]
        answer = self._run(self.counters.a_reverse(message.setl_id, message.mdtrt_id))
        event(f"2103 of an {message.state} 2102")
        if message.state == "settled":
            assert answer["infcode"] == 0, answer["err_msg"]
            assert fen(answer["output"]["setlinfo"]["hifp_pay"]) == -message.fund_fen
            self._reversed(message)
        else:
            assert code_of(answer) == "ALREADY_REVERSED"

    def _reversed(self, message: AMessage) -> None:
        """A reversed the settlement and B released its reservation (answered after the commit)."""
        message.state, message.there, message.here = "reversed", "released", "released"
        self.year.drop(message.msgid)

    @precondition(lambda self: self.a)
    @rule(index=st.integers(0, 30))
    def a_void(self, index: int) -> None:
        """2601 of one of A's msgids, whatever became of it."""
        message = self.a[index % len(self.a)]
        answer = self._run(self.counters.a_void(message.msgid))
        event(f"2601 of an {message.state} 2102")
        assert answer["infcode"] == 0, answer["err_msg"]
        outcome = answer["output"]["data"]["outcome"]
        if message.state == "settled":
            assert outcome == "reversed"
            self._reversed(message)
        elif message.state == "reversed":
            assert outcome == "reversed"  # the earlier reversal stands for it
        else:
            # Nothing settled at A under it. A's 2601 tells B: B gives back a hold it made for a lost answer
            # (``unknown``), and, none made, keeps the msgid from any reserve arriving later.
            assert outcome == "voided"
            if message.there == "reserved":
                self.year.drop(message.msgid)
                message.there = "released"
            elif message.there is None:
                message.there = "voided"
            message.state = "voided"
        message.killed = True

    # -- both platforms at the same moment --

    @rule(
        units_b=st.integers(1, 400),
        units_a=st.integers(1, 400),
        index=st.integers(0, 30),
        undo=st.booleans(),
        late_b_ms=st.integers(0, 120),
    )
    def at_once(self, units_b: int, units_a: int, index: int, undo: bool, late_b_ms: int) -> None:
        """B's purchase sent together with A's purchase, or with A's 2103 of a standing settlement of A's
        (``undo``): each is answered as on the year with or without the other, as B took them; the model
        follows the order B's answers show."""
        standing = [m for m in self.a if m.state == "settled"]
        target = standing[index % len(standing)] if undo and standing else None
        message = None
        if target is not None:
            at_a: Any = self.counters.a_reverse(target.setl_id, target.mdtrt_id)
        else:
            message = AMessage(self.office.msgid(PHARMACY), units_a, "unsent")
            self.a.append(message)
            at_a = self.counters.a_buy(units_a, message.msgid)

        async def together() -> tuple[dict[str, Any], httpx.Response]:
            both = await asyncio.gather(
                _after(0, at_a), _after(late_b_ms / 1000, self.counters.b_buy(units_b))
            )
            return both[0], both[1]

        answer_a, answer_b = self._run(together())
        assert answer_b.status_code == 200, answer_b.text
        body = answer_b.json()
        seen_b = (body["deductible_fen"], body["fund_paid_total_fen"])
        key = message.msgid if message is not None else ""
        orders = []
        for a_first in (True, False):
            year, held_a = Year(list(self.year.held)), None
            if target is not None:
                if a_first:  # B released A's hold before it took its own purchase
                    year.drop(target.msgid)
                held_b = year.settle("B", body["setl_id"], units_b * UNIT_FEN)
                year.drop(target.msgid)
            elif a_first:
                held_a = year.settle("A", key, units_a * UNIT_FEN)
                held_b = year.settle("B", body["setl_id"], units_b * UNIT_FEN)
            else:
                held_b = year.settle("B", body["setl_id"], units_b * UNIT_FEN)
                held_a = year.settle("A", key, units_a * UNIT_FEN)
            if (held_b.deductible_fen, held_b.fund_fen) != seen_b:
                continue
            if held_a is not None and fen(answer_a["output"]["setlinfo"]["hifp_pay"]) != held_a.fund_fen:
                continue
            orders.append((year, held_a))
        assert orders, (seen_b, answer_a, self.year.held)
        self.year, held_a = orders[0]
        self.b_settled[body["setl_id"]] = True
        if target is not None:
            assert answer_a["infcode"] == 0, answer_a["err_msg"]
            assert fen(answer_a["output"]["setlinfo"]["hifp_pay"]) == -target.fund_fen
            target.state, target.there, target.here = "reversed", "released", "released"
        else:
            assert message is not None and held_a is not None
            self._settled(message, answer_a, held_a)
            message.there = message.here = "confirmed"

    # -- owed calls, and holds running out --

    @precondition(lambda self: any(m.here == "reserved" for m in self.a))
    @rule()
    def send_owed(self) -> None:
        """A's background loop: the confirmations still owed are sent again."""
        self._run(self.counters.treating.send_owed(self.office.db))
        for message in self.a:
            if message.here != "reserved":
                continue
            if message.there in HOLDING:
                message.there = message.here = "confirmed"
            else:  # B released the hold before the confirmation: A reverses by itself
                message.state, message.here = "reversed", "released"

    @precondition(lambda self: any(m.there == "reserved" for m in self.a))
    @rule()
    def holds_run_out(self) -> None:
        """B releases every reservation still unconfirmed when its time has run out."""

        async def release() -> None:
            async with self.b.api.db.transaction() as session:
                await reservations.release_expired(session, now_china() + timedelta(days=1))

        self._run(release())
        for message in self.a:
            if message.there == "reserved":
                message.there = "released"
                self.year.drop(message.msgid)

    # -- invariants --

    @invariant()
    def books_agree(self) -> None:
        a, b = self._run(self.counters.books())
        check_books(a, b)
        acc = b.accumulator
        held = self.year.held
        assert (acc.outpatient_deductible_fen if acc else 0) == sum(h.deductible_fen for h in held)
        assert (acc.outpatient_paid_fen if acc else 0) == sum(h.fund_fen for h in held)
        assert (acc.settlement_count if acc else 0) == len(held)
        range_fen, fund = held_fund(b)
        assert range_fen == sum(h.range_fen for h in held)
        if self.year.in_order():
            assert fund == one_go(range_fen), (fund, range_fen, held)
        else:
            event("held settlements not in order")
        # Every message as the model has it, on both sides.
        by_msgid = {r.msgid: r for r in b.reservations}
        peers = {p.msgid: p for p in a.peers}
        settled = {s.msgid: s for s in a.settlements if s.status != "reversal"}
        for message in self.a:
            there = by_msgid.get(message.msgid)
            assert (there.status if there else None) == message.there, message
            here = peers.get(message.msgid)
            assert (here.status if here else None) == message.here, message
            mine = settled.get(message.msgid)
            expected = {"settled": "settled", "reversed": "reversed"}.get(message.state)
            assert (mine.status if mine else None) == expected, message


def test_any_interleaving_of_both_platforms_settlements_of_one_person(databases: DatabaseFactory) -> None:
    with _two_platforms(databases) as (runner, office, b):
        InterleavedYear.runner, InterleavedYear.office, InterleavedYear.b = runner, office, b
        run_state_machine_as_test(
            InterleavedYear,
            settings=settings(
                max_examples=25,
                stateful_step_count=20,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            ),
        )


# --- races --------------------------------------------------------------------------------------------------


async def _after(delay_s: float, coroutine: Any) -> Any:
    await asyncio.sleep(delay_s)
    return await coroutine


def _delays(rng: random.Random) -> tuple[float, float]:
    """A's request a few milliseconds late, B's up to 120 ms late: A's 2102 or 2103 takes some tens of
    milliseconds through A's gateway and settlement to B (eligibility, then the reservation or release), so
    B's purchase arrives before it, while B holds the person's year for A, or after."""
    return rng.random() * 0.004, rng.random() * 0.12


def _order_values(first: int, second: int) -> tuple[int, int]:
    """(first's fund, second's fund) when ``first`` settles before ``second``, on an empty year."""
    a = Year()
    return a.settle("", "1", first).fund_fen, a.settle("", "2", second).fund_fen


def test_a_purchase_at_each_platform_at_once_counts_both_once(databases: DatabaseFactory) -> None:
    """B's purchase and A's purchase of the same person, sent together: whichever B locks first, each pays
    the rules' amount on the year holding the other or not (A first or B first), B's totals hold both once,
    and the two funds add up to the one-go amount on the two costs."""
    rng = random.Random(20261120)
    with _two_platforms(databases) as (runner, office, b):

        async def once(units_a: int, units_b: int) -> None:
            counters = await _counters(office, b)
            msgid = office.msgid(PHARMACY)
            late_a, late_b = _delays(rng)
            at_a, at_b = await asyncio.gather(
                _after(late_a, counters.a_buy(units_a, msgid)), _after(late_b, counters.b_buy(units_b))
            )
            assert at_a["infcode"] == 0, at_a["err_msg"]
            assert at_b.status_code == 200, at_b.text
            fund_a, fund_b = fen(at_a["output"]["setlinfo"]["hifp_pay"]), at_b.json()["fund_paid_total_fen"]
            a_first = _order_values(units_a * UNIT_FEN, units_b * UNIT_FEN)
            b_first = _order_values(units_b * UNIT_FEN, units_a * UNIT_FEN)[::-1]
            assert (fund_a, fund_b) in (a_first, b_first), (fund_a, fund_b, a_first, b_first)
            assert fund_a + fund_b == one_go((units_a + units_b) * UNIT_FEN)
            books = await counters.books()
            check_books(*books)
            acc = books[1].accumulator
            assert acc is not None and (acc.outpatient_paid_fen, acc.settlement_count) == (fund_a + fund_b, 2)
            deductibles = fen(at_a["output"]["setlinfo"]["act_pay_dedc"]) + at_b.json()["deductible_fen"]
            assert (
                acc.outpatient_deductible_fen
                == deductibles
                == min(B_DEDUCTIBLE, (units_a + units_b) * UNIT_FEN)
            )

        for _ in range(TRIES):
            # Costs around the deductible (2 to 30 units: 1.00 to 15.00) and up to the cap (to 700 units).
            runner.run(once(rng.choice([rng.randint(2, 30), rng.randint(2, 700)]), rng.randint(2, 700)))


def test_a_reversal_at_a_and_a_purchase_at_b_at_once_leave_only_the_purchase(
    databases: DatabaseFactory,
) -> None:
    """A's 2103 of its purchase, or every other try its 2601 (B releases the reservation), sent together
    with B's own purchase: B's purchase pays the rules' amount on a year holding A's purchase or not (which
    of the two B locks first), and afterwards B's totals are B's purchase alone (the release gives back
    exactly what A's reservation held)."""
    rng = random.Random(20261121)
    with _two_platforms(databases) as (runner, office, b):

        async def once(units_a: int, units_b: int, by_void: bool) -> None:
            counters = await _counters(office, b)
            msgid = office.msgid(PHARMACY)
            settled = await counters.a_buy(units_a, msgid)
            assert settled["infcode"] == 0, settled["err_msg"]
            info = settled["output"]["setlinfo"]
            late_a, late_b = _delays(rng)
            undoing = (
                counters.a_void(msgid) if by_void else counters.a_reverse(info["setl_id"], info["mdtrt_id"])
            )
            undo, at_b = await asyncio.gather(
                _after(late_a, undoing), _after(late_b, counters.b_buy(units_b))
            )
            assert undo["infcode"] == 0, undo["err_msg"]
            assert fen(undo["output"]["setlinfo"]["hifp_pay"]) == -fen(info["hifp_pay"])
            if by_void:
                assert undo["output"]["data"]["outcome"] == "reversed"
            assert at_b.status_code == 200, at_b.text
            range_a, range_b = units_a * UNIT_FEN, units_b * UNIT_FEN
            after_a = Year()
            after_a.settle("A", "a", range_a)
            with_a = after_a.settle("B", "b", range_b)
            alone = Year().settle("B", "b", range_b)
            body = at_b.json()
            got = (body["deductible_fen"], body["fund_paid_total_fen"])
            assert got in ((with_a.deductible_fen, with_a.fund_fen), (alone.deductible_fen, alone.fund_fen))
            books = await counters.books()
            check_books(*books)
            acc = books[1].accumulator
            assert acc is not None
            assert (acc.outpatient_deductible_fen, acc.outpatient_paid_fen, acc.settlement_count) == (*got, 1)
            [reservation] = books[1].reservations
            assert (reservation.status, reservation.release_reason) == ("released", "reversal")

        for number in range(TRIES):
            units_a = rng.choice([rng.randint(2, 30), rng.randint(2, 700)])
            runner.run(once(units_a, rng.randint(2, 700), by_void=number % 2 == 1))


def test_a_purchase_at_a_and_a_reversal_at_b_at_once_leave_only_the_purchase(
    databases: DatabaseFactory,
) -> None:
    """B's reversal of its own purchase sent together with A's purchase: A's purchase pays the rules' amount
    on a year holding B's purchase or not (which of the two B locks first), and afterwards B's totals are
    A's reservation alone."""
    rng = random.Random(20261123)
    with _two_platforms(databases) as (runner, office, b):

        async def once(units_b: int, units_a: int) -> None:
            counters = await _counters(office, b)
            bought = await counters.b_buy(units_b)
            assert bought.status_code == 200, bought.text
            late_a, late_b = _delays(rng)
            at_a, undo = await asyncio.gather(
                _after(late_a, counters.a_buy(units_a, office.msgid(PHARMACY))),
                _after(late_b, counters.b_reverse(bought.json()["setl_id"])),
            )
            assert undo.status_code == 200, undo.text
            assert at_a["infcode"] == 0, at_a["err_msg"]
            info = at_a["output"]["setlinfo"]
            got = (fen(info["act_pay_dedc"]), fen(info["hifp_pay"]))
            after_b = Year()
            after_b.settle("B", "b", units_b * UNIT_FEN)
            with_b = after_b.settle("A", "a", units_a * UNIT_FEN)
            alone = Year().settle("A", "a", units_a * UNIT_FEN)
            assert got in ((with_b.deductible_fen, with_b.fund_fen), (alone.deductible_fen, alone.fund_fen))
            books = await counters.books()
            check_books(*books)
            acc = books[1].accumulator
            assert acc is not None
            assert (acc.outpatient_deductible_fen, acc.outpatient_paid_fen, acc.settlement_count) == (*got, 1)
            [reservation] = books[1].reservations
            assert (reservation.status, reservation.treating_setl_id) == ("confirmed", info["setl_id"])

        for _ in range(TRIES):
            runner.run(once(rng.choice([rng.randint(2, 30), rng.randint(2, 700)]), rng.randint(2, 700)))


def test_a_reversal_at_a_and_the_reversal_of_an_expired_hold_at_once_make_one(
    databases: DatabaseFactory,
) -> None:
    """A's purchase whose confirmation never reached B; B's hold runs out (B gives the year back). Then the
    HIS's 2103 of it and A's background loop (which finds the confirmation refused RESERVATION_EXPIRED and
    reverses the settlement by itself) at the same moment: one reversal, whichever comes first; the 2103 is
    answered (its reversal: −fund, or ALREADY_REVERSED) and never left unknown; B released the hold once
    and holds nothing."""
    rng = random.Random(20261122)
    with _two_platforms(databases) as (runner, office, b):

        async def once(units: int) -> None:
            counters = await _counters(office, b)
            b.link.cut = "/confirmation"
            try:
                settled = await counters.a_buy(units, office.msgid(PHARMACY))
            finally:
                b.link.cut = None
            assert settled["infcode"] == 0, settled["err_msg"]
            info = settled["output"]["setlinfo"]
            async with b.api.db.transaction() as session:
                await reservations.release_expired(session, now_china() + timedelta(days=1))
            late_his, late_loop = rng.random() * 0.03, rng.random() * 0.03
            undo, _ = await asyncio.gather(
                _after(late_his, counters.a_reverse(info["setl_id"], info["mdtrt_id"])),
                _after(late_loop, counters.treating.send_owed(office.db, info["setl_id"])),
            )
            if undo["infcode"] == 0:
                assert fen(undo["output"]["setlinfo"]["hifp_pay"]) == -fen(info["hifp_pay"])
            else:
                assert code_of(undo) == "ALREADY_REVERSED"
            await counters.treating.send_owed(office.db)  # whatever is still owed
            books = await counters.books()
            check_books(*books)
            a, there = books
            assert [s.status for s in a.settlements if s.reversal_of is None] == ["reversed"]
            assert [p.status for p in a.peers] == ["released"]
            assert [(r.status, r.release_reason) for r in there.reservations] == [("released", "timeout")]
            assert there.accumulator is not None and there.accumulator.settlement_count == 0

        for _ in range(TRIES):
            runner.run(once(rng.randint(2, 700)))
