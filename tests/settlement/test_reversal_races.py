"""Settle, reverse (2103) and 冲正 (2601) in any order, at once or one after another, on a real database:

- a settlement is reversed at most once, whoever asks and however many ask together;
- a msgid is either settled (and maybe reversed) or voided, never a standing settlement answered "voided";
- the person's yearly totals are what the surviving settlements added;
- a repeated msgid answers what it answered first.

On PostgreSQL the requests race for real (each on its own connection); the race tests repeat each race many
times with a few milliseconds of jitter so that every order of the statements comes up. Demo policy:
outpatient pooling 20.00 yearly deductible, 50 %, 300.00 yearly cap; item B is 乙 with 10 % paid first."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections import Counter
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from settlement.config import SettlementSettings
from settlement.db import infra
from settlement.eligibility.models import YearAccumulator
from settlement.main import create_app
from settlement.settlements.models import MsgidClaim, Settlement
from sqlmodel import select

from shared.db import Database
from tests.conftest import DatabaseFactory
from tests.settlement.conftest import PHARMACY, SettlementApi, new_person, purchase, seed_reference_data
from tests.support.apps import build, running

URL = "/api/v1/pharmacy-settlements"
TRIES = 15
_ids = itertools.count()
TOTALS = (
    "outpatient_deductible_fen",
    "outpatient_paid_fen",
    "pooled_paid_fen",
    "catastrophic_burden_fen",
    "catastrophic_paid_fen",
    "assistance_base_fen",
    "assistance_paid_fen",
    "admissions",
)


def _msgid() -> str:
    return f"{PHARMACY}{next(_ids):018d}"


async def _jitter() -> None:
    await asyncio.sleep(random.random() * 0.004)


async def _void(api: SettlementApi, omsgid: str, msgid: str | None = None) -> httpx.Response:
    await _jitter()
    body = {"msgid": msgid or _msgid(), "omsgid": omsgid, "oinfno": "2102", "fixmedins_code": PHARMACY}
    return await api.post("/api/v1/voids", body)


async def _reverse(api: SettlementApi, setl_id: str, msgid: str | None = None) -> httpx.Response:
    await _jitter()
    body = {"msgid": msgid or _msgid(), "fixmedins_code": PHARMACY}
    return await api.post(f"/api/v1/settlements/{setl_id}/reversal", body)


async def _settle(api: SettlementApi, body: dict[str, Any]) -> httpx.Response:
    await _jitter()
    return await api.post(URL, body)


@dataclass
class Books:
    """What the settlement database holds for one person."""

    settlements: list[Settlement]
    accumulator: YearAccumulator | None
    claims: dict[str, str]
    events: Counter[tuple[str, str]] = field(default_factory=Counter)

    def standing(self) -> list[Settlement]:
        return [s for s in self.settlements if s.status == "settled"]

    def reversals_of(self, setl_id: str) -> list[Settlement]:
        return [s for s in self.settlements if s.reversal_of == setl_id]


async def _books(db: Database, psn_no: str) -> Books:
    async with db.session() as session:
        rows = list(await session.scalars(select(Settlement).where(Settlement.psn_no == psn_no)))
        accumulator = await session.scalar(select(YearAccumulator).where(YearAccumulator.psn_no == psn_no))
        msgids = [s.msgid for s in rows]
        claims = {
            c.msgid: c.kind
            for c in await session.scalars(select(MsgidClaim).where(MsgidClaim.msgid.in_(msgids)))  # type: ignore[attr-defined]
        }
        outbox = (
            await session.execute(infra.outbox.select().where(infra.outbox.c.topic == "settlement.events"))
        ).all()
    setl_ids = {s.setl_id for s in rows}
    events: Counter[tuple[str, str]] = Counter()
    for row in outbox:
        payload = json.loads(row.payload)
        if payload["data"].get("setl_id") in setl_ids:
            events[(payload["type"], payload["data"]["setl_id"])] += 1
    return Books(rows, accumulator, claims, events)


def _check_books(books: Books) -> None:
    """The invariants every sequence and every race must leave behind."""
    for s in books.settlements:
        if s.status == "reversal":
            continue
        reversals = books.reversals_of(s.setl_id)
        assert len(reversals) <= 1, f"{s.setl_id} reversed {len(reversals)} times"
        assert (s.status == "reversed") == (len(reversals) == 1), s.setl_id
        if reversals:
            assert s.reversed_by == reversals[0].setl_id
            assert reversals[0].fund_paid_total_fen == -s.fund_paid_total_fen
    for s in books.settlements:
        # Each record is announced exactly once on the bus (the outbox row written with it).
        kind = "settlement.reversed" if s.status == "reversal" else "settlement.completed"
        assert books.events[(kind, s.setl_id)] == 1, (kind, s.setl_id, books.events)
        # Its msgid is claimed for settling: never voided while a settlement stands under it.
        assert books.claims.get(s.msgid) == "settle", (s.msgid, books.claims.get(s.msgid))
    standing = books.standing()
    acc = books.accumulator
    if acc is None:
        assert not standing
        return
    for name in TOTALS:
        assert getattr(acc, name) == sum(int(s.ytd_delta.get(name, 0)) for s in standing), name
    assert acc.settlement_count == len(standing)
    assert acc.outpatient_paid_fen <= 30000  # the yearly cap of outpatient pooling


async def _person(api: SettlementApi) -> tuple[str, str]:
    psn_no, certno = new_person()
    await api.cover(psn_no, certno)
    return psn_no, certno


async def test_many_2601_of_one_settlement_make_one_reversal(settlement_api: SettlementApi) -> None:
    """Ten 2601s of one settlement (under ten msgids, and three repeats of one of them) sent together,
    again and again: one reversal, every answer names it, the totals are back to zero."""
    for _ in range(TRIES):
        psn_no, certno = await _person(settlement_api)
        body = purchase(psn_no, certno, [("B", "3", "20", 6000)])
        settled = await settlement_api.post(URL, body)
        assert settled.status_code == 200, settled.text
        repeated = _msgid()
        answers = await asyncio.gather(
            *[_void(settlement_api, body["msgid"]) for _ in range(10)],
            *[_void(settlement_api, body["msgid"], repeated) for _ in range(3)],
        )
        assert [a.status_code for a in answers] == [200] * 13, [a.text for a in answers]
        assert {a.json()["outcome"] for a in answers} == {"reversed"}
        reversal_ids = {a.json()["reversal"]["setl_id"] for a in answers}
        books = await _books(settlement_api.db, psn_no)
        _check_books(books)
        [reversal] = books.reversals_of(settled.json()["setl_id"])
        assert reversal_ids == {reversal.setl_id}
        # 60.00 of B: 6.00 first, 54.00 in range, 20.00 deductible, (54.00 - 20.00) x 50 % = 17.00 taken back.
        assert reversal.fund_paid_total_fen == -1700
        assert books.accumulator is not None and books.accumulator.outpatient_paid_fen == 0


async def test_2103_and_2601_of_one_settlement_together_make_one_reversal(
    settlement_api: SettlementApi,
) -> None:
    for _ in range(TRIES):
        psn_no, certno = await _person(settlement_api)
        body = purchase(psn_no, certno, [("B", "1", "10", 1000)])
        settled = (await settlement_api.post(URL, body)).json()
        answers = await asyncio.gather(
            _reverse(settlement_api, settled["setl_id"]),
            _reverse(settlement_api, settled["setl_id"]),
            _void(settlement_api, body["msgid"]),
            _void(settlement_api, body["msgid"]),
        )
        books = await _books(settlement_api.db, psn_no)
        _check_books(books)
        [reversal] = books.reversals_of(settled["setl_id"])
        # The 2601s always answer the reversal; of the 2103s, one may have made it and the others are refused.
        for answer in answers[2:]:
            assert answer.status_code == 200 and answer.json()["reversal"]["setl_id"] == reversal.setl_id
        made = [a for a in answers[:2] if a.status_code == 200]
        refused = [a for a in answers[:2] if a.status_code != 200]
        assert all(a.json()["setl_id"] == reversal.setl_id for a in made)
        assert all((a.status_code, a.json()["error"]["code"]) == (409, "ALREADY_REVERSED") for a in refused)
        assert books.accumulator is not None and books.accumulator.outpatient_paid_fen == 0


async def test_a_settlement_and_its_2601_together_never_leave_it_standing_voided(
    settlement_api: SettlementApi,
) -> None:
    """A 2102 and its 2601 sent at the same moment: either the 2601 came first (voided: the 2102 is refused
    MSGID_VOIDED and nothing is written) or the 2102 did (reversed). Never "voided" beside a settlement."""
    seen: Counter[str] = Counter()
    for _ in range(TRIES * 2):
        psn_no, certno = await _person(settlement_api)
        body = purchase(psn_no, certno, [("B", "3", "20", 6000)])
        settle, void = await asyncio.gather(
            _settle(settlement_api, body), _void(settlement_api, body["msgid"])
        )
        assert void.status_code == 200, void.text
        outcome = void.json()["outcome"]
        seen[outcome] += 1
        books = await _books(settlement_api.db, psn_no)
        _check_books(books)
        if outcome == "voided":
            assert (settle.status_code, settle.json()["error"]["code"]) == (409, "MSGID_VOIDED")
            assert books.settlements == []
        else:
            assert settle.status_code == 200, settle.text
            [original] = [s for s in books.settlements if s.msgid == body["msgid"]]
            assert original.status == "reversed"
        # Either way the purchase costs the fund nothing, and a late repeat of the 2102 cannot change that.
        again = await settlement_api.post(URL, body)
        if outcome == "voided":
            assert again.json()["error"]["code"] == "MSGID_VOIDED"
        else:
            assert again.json()["setl_id"] == settle.json()["setl_id"]
        assert books.accumulator is None or books.accumulator.outpatient_paid_fen == 0
    assert sum(seen.values()) == TRIES * 2


# --- any sequence, any interleaving: a state machine ----------------------------------------------------


@dataclass
class Sent:
    """A request sent, and the answer it got first (status, setl_id or error code)."""

    path: str
    body: dict[str, Any]
    first: tuple[int, str]


def _summary(response: httpx.Response) -> tuple[int, str]:
    data = response.json()
    if response.status_code != 200:
        return response.status_code, str(data["error"]["code"])
    if "outcome" in data:
        return 200, f"{data['outcome']}:{(data['reversal'] or {}).get('setl_id', '')}"
    return 200, str(data["setl_id"])


class Context:
    """One app on one database for all the machine's examples (a new person per example)."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.db = Database(url)
        app = build(create_app, SettlementSettings, database_url=url, run_background_workers=False)
        self._running: AbstractAsyncContextManager[httpx.AsyncClient] = running(app)
        client = self.loop.run_until_complete(self._running.__aenter__())
        self.api = SettlementApi(client, self.db, app)
        self.loop.run_until_complete(seed_reference_data(self.api))

    def close(self) -> None:
        self.loop.run_until_complete(self._running.__aexit__(None, None, None))
        self.loop.run_until_complete(self.db.dispose())
        self.loop.close()


class SettleReverseVoid(RuleBasedStateMachine):
    context: Context

    def __init__(self) -> None:
        super().__init__()
        self.api = self.context.api
        self.psn_no, self.certno = self.context.loop.run_until_complete(_person(self.api))
        self.sent: list[Sent] = []
        self.settled: list[str] = []  # setl_ids answered 200 to a purchase
        self.purchases: list[dict[str, Any]] = []  # every purchase body, sent or not

    def _run(self, *requests: tuple[str, dict[str, Any]]) -> None:
        async def send(path: str, body: dict[str, Any]) -> httpx.Response:
            await _jitter()
            return await self.api.post(path, body)

        async def all_at_once() -> list[httpx.Response]:
            return list(await asyncio.gather(*(send(path, body) for path, body in requests)))

        for (path, body), response in zip(
            requests, self.context.loop.run_until_complete(all_at_once()), strict=True
        ):
            assert response.status_code < 500, response.text
            summary = _summary(response)
            earlier = next(
                (s for s in self.sent if s.body["msgid"] == body["msgid"] and s.path == path), None
            )
            if earlier is not None and earlier.body == body and earlier.first[0] == 200:
                # A repeat of a msgid that succeeded answers the same (a 2601 may since have voided a
                # purchase, which then answers MSGID_VOIDED: not the case for what succeeded before).
                assert summary == earlier.first, (path, earlier.first, summary)
            if earlier is None:
                self.sent.append(Sent(path, body, summary))
            if path == URL and summary[0] == 200:
                self.settled.append(summary[1])

    def _purchase(self, units: int) -> dict[str, Any]:
        body = purchase(self.psn_no, self.certno, [("B", str(units), "20", units * 2000)], msgid=_msgid())
        self.purchases.append(body)
        return body

    def _void_of(self, index: int) -> tuple[str, dict[str, Any]]:
        omsgid = self.purchases[index % len(self.purchases)]["msgid"] if self.purchases else _msgid()
        return "/api/v1/voids", {
            "msgid": _msgid(),
            "omsgid": omsgid,
            "oinfno": "2102",
            "fixmedins_code": PHARMACY,
        }

    def _reversal_of(self, index: int) -> tuple[str, dict[str, Any]] | None:
        if not self.settled:
            return None
        setl_id = self.settled[index % len(self.settled)]
        return f"/api/v1/settlements/{setl_id}/reversal", {"msgid": _msgid(), "fixmedins_code": PHARMACY}

    @rule(units=st.integers(1, 12))
    def buy(self, units: int) -> None:
        self._run((URL, self._purchase(units)))

    @rule(units=st.integers(1, 12))
    def never_arrives(self, units: int) -> None:
        """A purchase whose message is lost on the way: only a 2601 (or a late repeat) will name it."""
        self._purchase(units)

    @rule(index=st.integers(0, 30))
    def void(self, index: int) -> None:
        self._run(self._void_of(index))

    @rule(index=st.integers(0, 30))
    def reverse(self, index: int) -> None:
        reversal = self._reversal_of(index)
        if reversal is not None:
            self._run(reversal)

    @rule(index=st.integers(0, 30))
    def resend(self, index: int) -> None:
        """The same message again (a retry after a lost answer, or a late arrival of a lost purchase)."""
        if self.sent:
            earlier = self.sent[index % len(self.sent)]
            self._run((earlier.path, earlier.body))
        elif self.purchases:
            self._run((URL, self.purchases[index % len(self.purchases)]))

    @rule(
        units=st.integers(1, 12),
        index=st.integers(0, 30),
        voids=st.integers(0, 3),
        reversals=st.integers(0, 2),
        late=st.booleans(),
    )
    def race(self, units: int, index: int, voids: int, reversals: int, late: bool) -> None:
        """A purchase, 2601s of it (or of an earlier one), 2103s of an earlier settlement and a late repeat
        of an earlier purchase, all at once."""
        body = self._purchase(units)
        requests: list[tuple[str, dict[str, Any]]] = [(URL, body)]
        requests += [self._void_of(len(self.purchases) - 1 - (index % 2)) for _ in range(voids)]
        for _ in range(reversals):
            reversal = self._reversal_of(index)
            if reversal is not None:
                requests.append(reversal)
        if late and self.purchases:
            requests.append((URL, self.purchases[index % len(self.purchases)]))
        self._run(*requests)

    @invariant()
    def books_agree(self) -> None:
        books = self.context.loop.run_until_complete(_books(self.context.db, self.psn_no))
        _check_books(books)
        voided_purchases = {
            s.body["omsgid"]
            for s in self.sent
            if s.path == "/api/v1/voids" and s.first[1].startswith("voided")
        }
        for s in books.settlements:
            assert s.msgid not in voided_purchases, f"{s.msgid} answered voided but settled"
        reversed_by_void = {
            s.body["omsgid"]: s.first[1].split(":", 1)[1]
            for s in self.sent
            if s.path == "/api/v1/voids" and s.first[1].startswith("reversed")
        }
        by_msgid = {s.msgid: s for s in books.settlements}
        for omsgid, reversal_id in reversed_by_void.items():
            assert by_msgid[omsgid].status == "reversed" and by_msgid[omsgid].reversed_by == reversal_id


def test_any_interleaving_of_settle_reverse_and_void(databases: DatabaseFactory) -> None:
    context = Context(databases.migrated("settlement"))
    SettleReverseVoid.context = context
    try:
        run_state_machine_as_test(
            SettleReverseVoid,
            settings=settings(
                max_examples=25,
                stateful_step_count=12,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        context.close()
