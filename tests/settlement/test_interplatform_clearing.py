"""The month's reconciliation between two platforms (``settlement.interplatform.clearing.compare``;
docs/interface.md, "Between platforms": the clearing), on statements written by hand: each reservation is
compared by its id, and only money that differs or an item not yet final stops the month."""

from __future__ import annotations

from settlement.interplatform.clearing import compare

from shared.contracts.v1.interplatform import ReservedFund, StatementItem


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
    assert [(d.reservation_id, d.here_fen) for d in report.only_here] == [("R3", 5_00)]
    assert [(d.reservation_id, d.there_fen) for d in report.only_there] == [("R5", 3_00)]
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
