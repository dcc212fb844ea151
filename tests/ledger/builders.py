"""Event builders for the ledger tests."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.events import (
    FundPayment,
    Payer,
    PaymentReceived,
    SettlementCompleted,
    SettlementReversed,
    SubsidyAllocated,
    SubsidyShare,
)


def completed(
    setl_id: str,
    fund_fen: int,
    *,
    institution: str = "P34152400001",
    clr_type: str = "41",
    medfee: int = 9000,
    insutype: str = "390",
    admdvs: str = "341524",
    fund_payments: list[FundPayment] | None = None,
    setl_time: datetime | None = None,
    med_type: str = "41",
) -> SettlementCompleted:
    payments = fund_payments or [FundPayment(fund_pay_type="390100", amount_fen=fund_fen)]
    total = sum(p.amount_fen for p in payments)
    return SettlementCompleted(
        setl_id=setl_id,
        mdtrt_id=f"M{setl_id}",
        msgid=f"m{setl_id}",
        psn_no="p1",
        fixmedins_code=institution,
        institution_level="9",
        insutype=insutype,
        insuplc_admdvs=admdvs,
        mdtrtarea_admvs=admdvs,
        med_type=med_type,
        clr_type=clr_type,
        setl_time=setl_time or datetime(2026, 11, 20, 2, 0, tzinfo=UTC),
        medfee_sumamt_fen=medfee,
        fund_pay_sumamt_fen=total,
        psn_cash_pay_fen=medfee - total,
        fund_payments=payments,
    )


def reversed_event(
    original: str,
    setl_id: str,
    fund_fen: int,
    institution: str = "P34152400001",
    *,
    clr_type: str = "41",
    insutype: str = "390",
    admdvs: str = "341524",
    fund_payments: list[FundPayment] | None = None,
    med_type: str | None = None,
) -> SettlementReversed:
    """A reversal of ``original``: ``fund_fen`` (or ``fund_payments``) as the original's positive amounts."""
    payments = [
        FundPayment(fund_pay_type=p.fund_pay_type, amount_fen=-p.amount_fen)
        for p in (fund_payments or [FundPayment(fund_pay_type="390100", amount_fen=fund_fen)])
    ]
    total = sum(p.amount_fen for p in payments)
    return SettlementReversed(
        setl_id=setl_id,
        original_setl_id=original,
        mdtrt_id=f"M{original}",
        msgid=f"r{setl_id}",
        psn_no="p1",
        fixmedins_code=institution,
        insutype=insutype,
        insuplc_admdvs=admdvs,
        clr_type=clr_type,
        med_type=med_type,
        setl_time=datetime(2026, 11, 21, 2, 0, tzinfo=UTC),
        medfee_sumamt_fen=-9000,
        fund_pay_sumamt_fen=total,
        psn_cash_pay_fen=-9000 - total,
        fund_payments=payments,
    )


def payment(
    payment_id: int,
    amount_fen: int,
    *,
    payer: Payer = "individual",
    insutype: str = "390",
    admdvs: str = "341524",
    enrollment_id: int = 1,
) -> PaymentReceived:
    return PaymentReceived(
        psn_no="p1",
        enrollment_id=enrollment_id,
        payment_id=payment_id,
        year=2027,
        insutype=insutype,
        admdvs=admdvs,
        payer=payer,
        amount_fen=amount_fen,
        receipt_no=f"R{payment_id:06d}",
        paid_on=datetime(2026, 10, 8, tzinfo=UTC).date(),
    )


def subsidy(
    enrollment_id: int,
    central: int,
    provincial: int,
    city: int,
    county: int,
    *,
    insutype: str = "390",
    admdvs: str = "341524",
) -> SubsidyAllocated:
    shares = {"central": central, "provincial": provincial, "city": city, "county": county}
    return SubsidyAllocated(
        psn_no="p1",
        enrollment_id=enrollment_id,
        year=2027,
        insutype=insutype,
        admdvs=admdvs,
        total_fen=sum(shares.values()),
        shares=[SubsidyShare(level=level, amount_fen=amount) for level, amount in shares.items()],
    )
