"""The month's reconciliation between two platforms (``settlement.interplatform.clearing.compare``;
docs/interface.md, "Between platforms": the clearing), on statements written by hand: each reservation is
compared by its id, and only money that differs or an item not yet final stops the month."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from settlement.interplatform.clearing import (
    _insured_status,
    _item,
    _treated_status,
    compare,
    month_bounds,
    statement,
)
from settlement.interplatform.models import PeerSettlement, Reservation
from settlement.settlements.models import Settlement

from shared.clock import CHINA_TZ
from shared.contracts.v1.interplatform import ReservedFund, StatementItem
from shared.db import Database, transient
from tests.conftest import DatabaseFactory


def item(reservation_id: str, status: str, pooled_fen: int = 0, catastrophic_fen: int = 0) -> StatementItem:
    funds = [ReservedFund(fund_pay_type="390100", paid_fen=pooled_fen)]
    if catastrophic_fen:
        funds.append(ReservedFund(fund_pay_type="390200", paid_fen=catastrophic_fen))
    return StatementItem(
        reservation_id=reservation_id,
        treating_setl_id=f"S{reservation_id}",
        admdvs="341524",
        insutype="390",
        status=status,
        funds=funds if status == "confirmed" else [],
        fund_paid_total_fen=pooled_fen + catastrophic_fen if status == "confirmed" else 0,
    )


def test_two_settlements_and_a_reversal_agreeing_are_reconciled_and_booked_per_fund() -> None:
    here = [item("R1", "confirmed", 21_88), item("R2", "confirmed", 900_00, 150_00), item("R3", "released")]
    there = [item("R1", "confirmed", 21_88), item("R2", "confirmed", 900_00, 150_00), item("R3", "released")]
    report = compare(here, there, "A", "B")
    # 21.88 + 900.00 + 150.00 = 1,071.88 matched; the reversal released on both.
    assert (report.matched, report.matched_fen, report.released, report.reconciled) == (2, 1071_88, 1, True)
    assert (report.here_fen, report.there_fen) == (1071_88, 1071_88)
    # Booked per fund: 390100 21.88 + 900.00 = 921.88, 390200 150.00.
    assert [(x.fund_pay_type, x.amount_fen) for x in report.books] == [("390100", 921_88), ("390200", 150_00)]


def test_every_kind_of_difference_is_listed_and_stops_the_month() -> None:
    here = [
        item("R1", "confirmed", 21_88),  # matched
        item("R2", "confirmed", 10_00),  # the peer says 10.01: an amount difference
        item("R3", "confirmed", 5_00),  # the peer has no such reservation: only here
        item("R4", "pending"),  # the confirmation still owed
        item("R6", "released"),  # released here, confirmed there (the release not yet arrived)
    ]
    there = [
        item("R1", "confirmed", 21_88),
        item("R2", "confirmed", 10_01),
        item("R4", "confirmed", 7_00),
        item("R5", "confirmed", 3_00),  # only there
        item("R6", "confirmed", 4_00),
    ]
    report = compare(here, there, "A", "B")
    assert (report.matched, report.matched_fen, report.reconciled) == (1, 21_88, False)
    assert [(d.reservation_id, d.here_fen, d.there_fen) for d in report.amount_differences] == [
        ("R2", 10_00, 10_01),
        ("R6", 0, 4_00),
    ]
    assert [(d.reservation_id, d.here_fen, d.there_fen) for d in report.only_here] == [("R3", 5_00, 0)]
    assert [(d.reservation_id, d.here_fen, d.there_fen) for d in report.only_there] == [("R5", 0, 3_00)]
    # A side that does not have the item names it by the other side's settlement id.
    assert [d.treating_setl_id for d in report.only_here + report.only_there] == ["SR3", "SR5"]
    assert [(d.reservation_id, d.here_status, d.there_status) for d in report.pending] == [
        ("R4", "pending", "confirmed")
    ]
    # Only the matched item is in the books: 21.88.
    assert [(x.fund_pay_type, x.amount_fen) for x in report.books] == [("390100", 21_88)]
    # here: 21.88 + 10.00 + 5.00 = 36.88; there: 21.88 + 10.01 + 7.00 + 3.00 + 4.00 = 45.89.
    assert (report.here_fen, report.there_fen) == (36_88, 45_89)


def test_a_reservation_only_the_insured_side_has_with_nothing_payable_does_not_stop_the_month() -> None:
    # The reserve's answer was lost and the HIS never repeated it: the peer released it at its timeout,
    # the treating platform never wrote a settlement. Listed, payable 0 on both sides.
    report = compare(
        [item("R1", "confirmed", 21_88)], [item("R1", "confirmed", 21_88), item("R9", "released")], "A", "B"
    )
    assert [d.reservation_id for d in report.only_there] == ["R9"]
    assert (report.reconciled, report.matched_fen) == (True, 21_88)


def test_money_on_one_side_only_stops_the_month_whichever_side() -> None:
    """Everything else agreed: 5.00 confirmed here that the peer does not have, or 3.00 the peer has that
    this platform does not: not reconciled, and nothing of it booked."""
    agreed = item("R1", "confirmed", 21_88)
    for here, there in (
        ([agreed, item("R3", "confirmed", 5_00)], [agreed]),
        ([agreed], [agreed, item("R5", "confirmed", 3_00)]),
    ):
        report = compare(here, there, "A", "B")
        assert (report.reconciled, report.matched_fen) == (False, 21_88)
        assert [(x.fund_pay_type, x.amount_fen) for x in report.books] == [("390100", 21_88)]


# --- a month's items as at its end, and reversals of earlier months (``statement``'s rules) ---------------

NOV_START, DEC_START = month_bounds("2026-11")
DEC_END = month_bounds("2026-12")[1]
SECOND = timedelta(seconds=1)


def test_a_month_is_its_first_instant_to_the_next_months_first_in_beijing() -> None:
    assert (
        datetime(2026, 11, 1, tzinfo=CHINA_TZ),
        datetime(2026, 12, 1, tzinfo=CHINA_TZ),
    ) == (NOV_START, DEC_START)
    # December runs into the next year.
    assert datetime(2027, 1, 1, tzinfo=CHINA_TZ) == DEC_END


def peer_row(
    status: str, *, expires_at: datetime, confirmed: bool = True, reason: str | None = "reversal"
) -> Any:
    """A treating side's peer settlement, as ``_treated_status`` reads it."""
    return SimpleNamespace(
        status=status,
        expires_at=expires_at,
        confirmed_at=expires_at - 60 * SECOND if confirmed else None,
        release_reason=reason,
    )


def reservation(
    status: str, *, expires_at: datetime, reversed_at: datetime | None, confirmed: bool = True
) -> Any:
    """An insured side's reservation, as ``_insured_status`` reads it."""
    return SimpleNamespace(
        status=status,
        expires_at=expires_at,
        confirmed_at=expires_at - 60 * SECOND if confirmed else None,
        reversed_at=reversed_at,
    )


def test_the_treating_side_states_an_item_as_at_the_months_end() -> None:
    """November's item (its hold ending on 15 November), reversed at the first instant of December or
    later: confirmed in November; reversed one second before: released; never confirmed: released."""
    held_to = datetime(2026, 11, 15, 12, tzinfo=CHINA_TZ)
    for status in ("released", "releasing"):
        row = peer_row(status, expires_at=held_to)
        assert _treated_status(row, DEC_START, NOV_START, DEC_START) == "confirmed"
        assert _treated_status(row, DEC_START - SECOND, NOV_START, DEC_START) == "released"
        unconfirmed = peer_row(status, expires_at=held_to, confirmed=False)
        assert _treated_status(unconfirmed, DEC_START, NOV_START, DEC_START) == "released"
        timed_out = peer_row(status, expires_at=held_to, reason="timeout")
        assert _treated_status(timed_out, DEC_START, NOV_START, DEC_START) == "released"
    assert _treated_status(peer_row("released", expires_at=held_to), None, NOV_START, DEC_START) == "released"
    assert (
        _treated_status(peer_row("confirmed", expires_at=held_to), None, NOV_START, DEC_START) == "confirmed"
    )
    assert _treated_status(peer_row("reserved", expires_at=held_to), None, NOV_START, DEC_START) == "pending"
    # An item whose hold ends at the month's first instant is the month's own, not an earlier one.
    on_the_dot = peer_row("confirmed", expires_at=DEC_START)
    assert _treated_status(on_the_dot, None, DEC_START, DEC_END) == "confirmed"


def test_the_treating_side_states_an_earlier_months_item_reversed_in_this_one() -> None:
    """Read in December (the statement selects it by its reversal's time): reversed once the peer answered
    the release, pending while it is owed."""
    held_to = DEC_START - SECOND
    reversed_at = DEC_START + 3600 * SECOND
    assert (
        _treated_status(peer_row("released", expires_at=held_to), reversed_at, DEC_START, DEC_END)
        == "reversed"
    )
    assert (
        _treated_status(peer_row("releasing", expires_at=held_to), reversed_at, DEC_START, DEC_END)
        == "pending"
    )


def test_the_insured_side_states_an_item_as_at_the_months_end() -> None:
    held_to = datetime(2026, 11, 15, 12, tzinfo=CHINA_TZ)
    assert (
        _insured_status(
            reservation("released", expires_at=held_to, reversed_at=DEC_START), NOV_START, DEC_START
        )
        == "confirmed"
    )
    before_end = reservation("released", expires_at=held_to, reversed_at=DEC_START - SECOND)
    assert _insured_status(before_end, NOV_START, DEC_START) == "released"
    never_confirmed = reservation("released", expires_at=held_to, reversed_at=DEC_START, confirmed=False)
    assert _insured_status(never_confirmed, NOV_START, DEC_START) == "released"
    timed_out = reservation("released", expires_at=held_to, reversed_at=None)
    assert _insured_status(timed_out, NOV_START, DEC_START) == "released"
    assert (
        _insured_status(reservation("confirmed", expires_at=held_to, reversed_at=None), NOV_START, DEC_START)
        == "confirmed"
    )
    assert (
        _insured_status(reservation("reserved", expires_at=held_to, reversed_at=None), NOV_START, DEC_START)
        == "pending"
    )
    on_the_dot = reservation("released", expires_at=DEC_START, reversed_at=DEC_START + SECOND)
    assert _insured_status(on_the_dot, DEC_START, DEC_END) == "released"
    earlier = reservation("released", expires_at=DEC_START - SECOND, reversed_at=DEC_START + SECOND)
    assert _insured_status(earlier, DEC_START, DEC_END) == "reversed"


def test_a_reversed_item_gives_back_each_fund_it_paid() -> None:
    """Paid 21.88 from the pooled fund and 0.00 from the catastrophic one: reversed, −21.88 (the fund that
    paid nothing is left out, as for a confirmed item); released or pending: nothing."""
    paid = [
        ReservedFund(fund_pay_type="390100", paid_fen=21_88),
        ReservedFund(fund_pay_type="390200", paid_fen=0),
    ]
    reversed_item = _item("R1", "S1", "341524", "390", "reversed", paid)
    assert [(f.fund_pay_type, f.paid_fen) for f in reversed_item.funds] == [("390100", -21_88)]
    assert reversed_item.fund_paid_total_fen == -21_88
    confirmed = _item("R1", "S1", "341524", "390", "confirmed", paid)
    assert ([(f.fund_pay_type, f.paid_fen) for f in confirmed.funds], confirmed.fund_paid_total_fen) == (
        [("390100", 21_88)], 21_88,
    )  # fmt: skip
    for status in ("released", "pending"):
        nothing = _item("R1", "S1", "341524", "390", status, paid)
        assert (nothing.funds, nothing.fund_paid_total_fen) == ([], 0)


def test_a_month_of_reversals_only_is_booked_below_zero() -> None:
    """Two items of earlier months reversed in this one, −21.88 and −10.00, agreed by both: matched, −31.88,
    booked per fund below zero."""
    here = [
        _item(
            "R1", "S1", "341524", "390", "reversed", [ReservedFund(fund_pay_type="390100", paid_fen=21_88)]
        ),
        _item(
            "R2", "S2", "341524", "390", "reversed", [ReservedFund(fund_pay_type="390100", paid_fen=10_00)]
        ),
    ]
    report = compare(here, [i.model_copy() for i in here], "A", "B")
    assert (report.matched, report.matched_fen, report.released, report.reconciled) == (2, -31_88, 0, True)
    assert [(x.fund_pay_type, x.amount_fen) for x in report.books] == [("390100", -31_88)]


# --- which rows a month's statement reads, at the month's boundaries (both backends) ----------------------


def _settlement(setl_id: str, at: datetime) -> Settlement:
    return transient(
        Settlement,
        setl_id=setl_id, mdtrt_id=f"M{setl_id}", msgid=f"m{setl_id}", request_sha256="0" * 64,
        fixmedins_code="P34152400001", institution_level="1", psn_no="P1", insutype="390", psn_type="1",
        insuplc_admdvs="110105", mdtrtarea_admvs="341524", med_type="41", clr_type="41", mdtrt_cert_type="02",
        policy_id=1, begntime=at, setl_time=at, medfee_sumamt_fen=100_00, fully_self_paid_fen=0,
        over_price_cap_fen=0, self_pay_first_fen=0, policy_range_fen=100_00, deductible_fen=0,
        pool_ratio=Decimal("0.5"), pooled_fund_paid_fen=50_00, fund_paid_total_fen=50_00,
        personal_burden_fen=50_00, cash_paid_fen=50_00, calc_trace="",
    )  # fmt: skip


async def test_a_months_statement_reads_its_items_and_its_reversals_to_the_instant(
    databases: DatabaseFactory,
) -> None:
    """December with peer B, each side: an item whose hold ends at December's first instant is December's,
    one ending at January's first is not; an earlier month's confirmed item is read when reversed from
    December's first instant up to (not at) January's, and not when it was never confirmed, or reversed in
    November; another peer's rows are never read."""
    db = Database(databases.migrated("settlement"))
    nov = DEC_START - 10 * 86400 * SECOND
    treated = {  # name: (expires_at, status, confirmed, reversal's setl_time)
        "T1": (DEC_START, "confirmed", True, None),
        "T2": (DEC_END, "confirmed", True, None),
        "T3": (DEC_START - SECOND, "released", True, DEC_START),
        "T4": (nov, "released", True, DEC_END),
        "T5": (nov, "released", False, DEC_START + SECOND),
        "T6": (nov, "released", True, DEC_START - SECOND),
        "T7": (nov, "releasing", True, DEC_END - SECOND),
    }
    insured = {  # name: (expires_at, status, confirmed, reversed_at)
        "R1": (DEC_START, "confirmed", True, None),
        "R2": (DEC_END, "confirmed", True, None),
        "R3": (DEC_START - SECOND, "released", True, DEC_START),
        "R4": (nov, "released", True, DEC_END),
        "R5": (nov, "released", False, DEC_START + SECOND),
        "R6": (nov, "released", True, DEC_START - SECOND),
    }
    try:
        async with db.transaction() as session:
            for name, (expires_at, status, confirmed, reversed_at) in treated.items():
                session.add(_settlement(f"S{name}", expires_at - 600 * SECOND))
                reversal = None
                if reversed_at is not None:
                    reversal = f"X{name}"
                    session.add(_settlement(reversal, reversed_at))
                for peer in ("B", "C"):
                    session.add(
                        PeerSettlement(
                            setl_id=f"S{name}" if peer == "B" else f"S{name}{peer}", peer=peer,
                            msgid=f"m{name}{peer}", reservation_id=f"{name}{peer}", status=status,
                            expires_at=expires_at, reversal_setl_id=reversal,
                            confirmed_at=expires_at - 60 * SECOND if confirmed else None,
                            release_reason="reversal" if reversal else None,
                            psn_name="张三", certno="110105199001011234", gend="1", brdy=date(1990, 1, 1),
                        )
                    )  # fmt: skip
                session.add(_settlement(f"S{name}C", expires_at - 600 * SECOND))  # peer C's own
            for name, (expires_at, status, confirmed, reversed_at) in insured.items():
                for platform in ("B", "C"):
                    session.add(
                        Reservation(
                            reservation_id=f"{name}{platform}", platform=platform, msgid=f"m{name}{platform}",
                            request_sha256="0" * 64, psn_no="P1", insutype="390", year=2026, status=status,
                            expires_at=expires_at, ytd_delta={},
                            result={"insuplc_admdvs": "341524",
                                    "funds": [{"fund_pay_type": "390100", "paid_fen": 30_00}]},
                            treating_setl_id=f"A{name}",
                            confirmed_at=expires_at - 60 * SECOND if confirmed else None,
                            released_at=reversed_at, reversed_at=reversed_at,
                        )
                    )  # fmt: skip
        async with db.session() as session:
            stated = await statement(session, "A", "B", "2026-12")
    finally:
        await db.dispose()
    assert [(i.reservation_id, i.status) for i in stated.treated] == [
        ("T1B", "confirmed"), ("T3B", "reversed"), ("T7B", "pending"),
    ]  # fmt: skip
    assert [(i.reservation_id, i.status, i.fund_paid_total_fen) for i in stated.insured] == [
        ("R1B", "confirmed", 30_00), ("R3B", "reversed", -30_00),
    ]  # fmt: skip
