"""Posting journal entries and reading the books.

Every entry is balanced (checked here and held by the database, see ``fund_ledger.books.models``),
stays inside one scheme sub-ledger (insutype: 基金统一管理、分账运行, 不得调剂使用) and, except for a
city-level pooling transfer (统收统支, source_type ``pooling_transfer``), inside one pooling region, and is
appended to the hash chain (``fund_ledger.books.chain``), all by the transaction's journal
(``fund_ledger.books.journal``), which the consumer runs buffered: one write per poll batch. The
consumer handlers post one entry per event, idempotently: the consumer dedupes on event id, and a second
event for the same business source is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from fund_ledger.books.chart import (
    CONTRIBUTION_INCOME_BY_PAYER,
    DEBIT_NORMAL,
    EXPENDITURE_ACCOUNT_DEPOSIT,
    INCOME_ACCOUNT_DEPOSIT,
    INTER_PLATFORM_DUE_FROM,
    INTER_PLATFORM_DUE_TO,
    INTER_REGION_DUE_FROM,
    INTER_REGION_DUE_TO,
    PAYABLE,
    PAYABLE_TO_INSURED,
    POOLED_FUND,
    SCHEMES,
    SUBSIDY_INCOME_BY_LEVEL,
    SUBSIDY_RECEIVABLE,
    AccountSpec,
    benefit_expense_for,
)
from fund_ledger.books.journal import (
    POOLING_TRANSFER,
    Journal,
    Leg,
    PostedEntry,
    SubLedgerViolation,
    UnbalancedEntry,
)
from fund_ledger.books.models import Account, AccountBalance, JournalEntry, Posting
from shared.consumer import EventRejected
from shared.errors import NotFound
from shared.events import (
    EventEnvelope,
    FundPayment,
    ManualReimbursementApproved,
    ManualReimbursementPaid,
    PaymentReceived,
    SettlementCompleted,
    SettlementReversed,
    SubsidyAllocated,
)

__all__ = [
    "POOLING_TRANSFER",
    "Leg",
    "SubLedgerViolation",
    "UnbalancedEntry",
    "account_for",
    "post_entry",
]


async def account_for(
    session: AsyncSession,
    spec: AccountSpec,
    admdvs: str,
    insutype: str,
    fund_pay_type: str,
    counterparty: str = "",
) -> int:
    """The id of the account for this key, created on first use (concurrency-safe upsert)."""
    return await Journal.of(session).account(spec, admdvs, insutype, fund_pay_type, counterparty)


async def post_entry(
    session: AsyncSession,
    *,
    event_id: str | None,
    source_type: str,
    source_id: str,
    description: str,
    admdvs: str,
    insutype: str,
    legs: list[Leg],
    posted_at: datetime | None = None,
    trace_id: str | None = None,
) -> PostedEntry:
    """Post one journal entry through this transaction's journal (see ``fund_ledger.books.journal``).
    ``trace_id``: the request id the event carried (``EventEnvelope.trace_id``)."""
    return await Journal.of(session).post(
        trace_id=trace_id,
        event_id=event_id,
        source_type=source_type,
        source_id=source_id,
        description=description,
        admdvs=admdvs,
        insutype=insutype,
        legs=legs,
        posted_at=posted_at,
    )


async def _refuse_repeat(session: AsyncSession, source_type: str, source_id: str, what: str) -> None:
    existing = await Journal.of(session).already_posted(source_type, source_id)
    if existing is not None:
        where = f"entry {existing}" if existing else "an earlier event of the same batch"
        raise EventRejected(f"{what} already posted as {where} by another event")


def _check_scheme(insutype: str, what: str) -> None:
    if insutype not in SCHEMES:
        raise EventRejected(f"{what}: unknown scheme sub-ledger insutype {insutype}")


def _benefit_expense(
    payment: FundPayment, clr_type: str, what: str, med_type: str | None = None
) -> AccountSpec:
    expense = benefit_expense_for(payment.fund_pay_type, clr_type, med_type)
    if expense is None:
        raise EventRejected(
            f"{what}: no expenditure account for fund {payment.fund_pay_type} (clr_type {clr_type})"
        )
    return expense


async def _benefit_legs(
    session: AsyncSession,
    payments: list[FundPayment],
    clr_type: str,
    admdvs: str,
    insutype: str,
    payable: AccountSpec,
    counterparty: str,
    what: str,
    med_type: str | None = None,
) -> list[Leg]:
    """Dr benefit expenditure / Cr the payable to ``counterparty``: a leg pair per fund that paid."""
    legs: list[Leg] = []
    for payment in payments:
        if payment.amount_fen < 0:
            raise EventRejected(f"negative fund payment in {what}")
        if payment.amount_fen == 0:
            continue
        expense = _benefit_expense(payment, clr_type, what, med_type)
        debit = await account_for(session, expense, admdvs, insutype, payment.fund_pay_type)
        credit = await account_for(session, payable, admdvs, insutype, payment.fund_pay_type, counterparty)
        legs += [Leg(debit, debit_fen=payment.amount_fen), Leg(credit, credit_fen=payment.amount_fen)]
    return legs


async def _post_cross_platform(
    session: AsyncSession,
    envelope: EventEnvelope,
    source_id: str,
    event: SettlementCompleted | SettlementReversed,
    posted_at: datetime,
    sign: int,
) -> None:
    """跨省 care between platforms (docs/interface.md, "Between platforms"), one entry in one region's books,
    per fund (``sign`` -1: a reversal, amounts negated in the event, the mirror entry):

    - the treating platform (``insured_platform`` named): its region Dr 1303 due from the peer platform /
      Cr 2101 payable to its institution: the peer's fund pays, never this platform's;
    - the insured platform (``treating_platform`` named): the insured region Dr benefit expenditure /
      Cr 2106 due to the treating platform: its fund pays, no institution of its own is owed."""
    what = f"{'settlement' if sign > 0 else 'reversal'} {source_id}"
    legs: list[Leg] = []
    treating_side = event.insured_platform is not None
    peer = event.insured_platform if treating_side else event.treating_platform
    assert peer is not None
    admdvs = (event.mdtrtarea_admvs or event.insuplc_admdvs) if treating_side else event.insuplc_admdvs
    for payment in event.fund_payments:
        amount = payment.amount_fen * sign
        if amount < 0:
            raise EventRejected(f"{what}: a fund amount of the wrong sign")
        if amount == 0:
            continue
        if treating_side:
            debit = await account_for(
                session, INTER_PLATFORM_DUE_FROM, admdvs, event.insutype, payment.fund_pay_type, peer
            )
            credit = await account_for(
                session, PAYABLE, admdvs, event.insutype, payment.fund_pay_type, event.fixmedins_code
            )
        else:
            expense = _benefit_expense(payment, event.clr_type, what, event.med_type)
            debit = await account_for(session, expense, admdvs, event.insutype, payment.fund_pay_type)
            credit = await account_for(
                session, INTER_PLATFORM_DUE_TO, admdvs, event.insutype, payment.fund_pay_type, peer
            )
        if sign < 0:
            debit, credit = credit, debit
        legs += [Leg(debit, debit_fen=amount), Leg(credit, credit_fen=amount)]
    if not legs:
        return
    side = f"应收参保地平台 {peer}" if treating_side else f"应付就医地平台 {peer}"
    await post_entry(
        session,
        event_id=str(envelope.event_id),
        trace_id=envelope.trace_id,
        source_type="settlement" if sign > 0 else "settlement_reversal",
        source_id=source_id,
        description=f"跨省异地就医{'结算' if sign > 0 else '撤销'} {source_id} "
        f"({side}, 机构 {event.fixmedins_code})",
        admdvs=admdvs,
        insutype=event.insutype,
        legs=legs,
        posted_at=posted_at,
    )


#: The treating region's entry for out-of-area care (docs/architecture.md, "Out-of-area care"), and its
#: reversal's: under the settlement's id, in the treating region's books.
OUT_OF_AREA_CARE = "settlement_treated"
OUT_OF_AREA_REVERSAL = "settlement_reversal_treated"


async def _treated_legs(
    session: AsyncSession,
    payments: list[FundPayment],
    treating: str,
    insured: str,
    insutype: str,
    fixmedins_code: str,
    sign: int,
) -> list[Leg]:
    """The treating region's legs for out-of-area care, per fund: Dr 1302 due from the insured region /
    Cr 2101 payable to its institution (``sign`` 1), or the mirror for a reversal (-1)."""
    legs: list[Leg] = []
    for payment in payments:
        amount = payment.amount_fen * sign
        if amount == 0:
            continue
        due = await account_for(
            session, INTER_REGION_DUE_FROM, treating, insutype, payment.fund_pay_type, insured
        )
        payable = await account_for(
            session, PAYABLE, treating, insutype, payment.fund_pay_type, fixmedins_code
        )
        if sign > 0:
            legs += [Leg(due, debit_fen=amount), Leg(payable, credit_fen=amount)]
        else:
            legs += [Leg(payable, debit_fen=amount), Leg(due, credit_fen=amount)]
    return legs


async def post_settlement_completed(session: AsyncSession, envelope: EventEnvelope) -> None:
    """Consumer handler: the funds owe the institution what they paid for this settlement.

    Dr benefit expenditure / Cr payable to the institution, per fund, on the insured person's pooling region
    and scheme sub-ledger. The expenditure account is by fund: the pooled fund (390100) by clearing type
    (51xx) or, for chronic-disease outpatient care and deliveries, by med_type (5104, 5105), catastrophic
    insurance (390200) 5201, medical assistance (610100) 5301. Posted at setl_time.

    Out-of-area care (the institution's region is not the insured region; docs/architecture.md,
    "Out-of-area care"): the insured region books Dr expenditure / Cr 2105 due to the treating region, and
    the treating region, in an entry of its own (each region's books balance by themselves), Dr 1302 due
    from the insured region / Cr 2101 payable to its institution. The monthly inter-region clearing settles
    2105 against 1302."""
    event = SettlementCompleted.read(envelope.data)
    what = f"settlement {event.setl_id}"
    _check_scheme(event.insutype, what)
    await Journal.of(session).lock()
    await _refuse_repeat(session, "settlement", event.setl_id, what)
    if sum(p.amount_fen for p in event.fund_payments) != event.fund_pay_sumamt_fen:
        raise EventRejected(f"fund payments of {event.setl_id} do not add up to fund_pay_sumamt_fen")
    if event.insured_platform is not None or event.treating_platform is not None:
        await _post_cross_platform(session, envelope, event.setl_id, event, event.setl_time, 1)
        return
    treating = event.mdtrtarea_admvs
    out_of_area = treating != event.insuplc_admdvs
    legs = await _benefit_legs(
        session,
        event.fund_payments,
        event.clr_type,
        event.insuplc_admdvs,
        event.insutype,
        INTER_REGION_DUE_TO if out_of_area else PAYABLE,
        treating if out_of_area else event.fixmedins_code,
        what,
        event.med_type,
    )
    if not legs:
        return  # the funds paid nothing: nothing to book
    description = f"结算 {event.setl_id} 基金支付 (机构 {event.fixmedins_code}, 清算类别 {event.clr_type})"
    await post_entry(
        session,
        event_id=str(envelope.event_id),
        trace_id=envelope.trace_id,
        source_type="settlement",
        source_id=event.setl_id,
        description=f"{description}; 异地就医, 应付就医地 {treating}" if out_of_area else description,
        admdvs=event.insuplc_admdvs,
        insutype=event.insutype,
        legs=legs,
        posted_at=event.setl_time,
    )
    if out_of_area:
        await post_entry(
            session,
            event_id=None,  # the event is the insured region's entry's
            trace_id=envelope.trace_id,
            source_type=OUT_OF_AREA_CARE,
            source_id=event.setl_id,
            description=(
                f"异地就医结算 {event.setl_id}: 参保地 {event.insuplc_admdvs} 应付, "
                f"机构 {event.fixmedins_code}"
            ),
            admdvs=treating,
            insutype=event.insutype,
            legs=await _treated_legs(
                session,
                event.fund_payments,
                treating,
                event.insuplc_admdvs,
                event.insutype,
                event.fixmedins_code,
                1,
            ),
            posted_at=event.setl_time,
        )


async def _treating_region_of(session: AsyncSession, original_setl_id: str, told: str | None) -> str | None:
    """The treating region whose books hold the original's out-of-area entry; None when the original was
    booked in the insured region only (local care, or out-of-area care booked before inter-region clearing
    existed: its reversal mirrors what was booked)."""
    if await Journal.of(session).already_posted(OUT_OF_AREA_CARE, original_setl_id) == 0:
        return told  # booked earlier in this batch, from an event that named it
    return await session.scalar(
        select(JournalEntry.admdvs).where(
            JournalEntry.source_type == OUT_OF_AREA_CARE, JournalEntry.source_id == original_setl_id
        )
    )


MANUAL_REIMBURSEMENT = "manual_reimbursement"
MANUAL_REIMBURSEMENT_PAYMENT = "manual_reimbursement_payment"


async def post_manual_reimbursement_approved(session: AsyncSession, envelope: EventEnvelope) -> None:
    """Consumer handler: an approved manual reimbursement (零星报销) - the funds owe the insured person.

    Dr benefit expenditure (the same accounts as a counter settlement of that kind of care) / Cr payable to
    insured persons (2104, counterparty = psn_no), per fund, on the person's region and scheme sub-ledger.
    Posted at the approval time."""
    event = ManualReimbursementApproved.read(envelope.data)
    what = f"manual reimbursement {event.claim_no}"
    _check_scheme(event.insutype, what)
    await Journal.of(session).lock()
    await _refuse_repeat(session, MANUAL_REIMBURSEMENT, event.claim_no, what)
    if sum(p.amount_fen for p in event.fund_payments) != event.fund_pay_sumamt_fen:
        raise EventRejected(f"fund payments of {event.claim_no} do not add up to fund_pay_sumamt_fen")
    legs = await _benefit_legs(
        session,
        event.fund_payments,
        event.clr_type,
        event.insuplc_admdvs,
        event.insutype,
        PAYABLE_TO_INSURED,
        event.psn_no,
        what,
    )
    if not legs:
        return  # nothing to reimburse: nothing to book
    await post_entry(
        session,
        event_id=str(envelope.event_id),
        trace_id=envelope.trace_id,
        source_type=MANUAL_REIMBURSEMENT,
        source_id=event.claim_no,
        description=f"零星报销 {event.claim_no} 审核通过 (参保人 {event.psn_no}, 清算类别 {event.clr_type})",
        admdvs=event.insuplc_admdvs,
        insutype=event.insutype,
        legs=legs,
        posted_at=event.approved_at,
    )


async def _approval_booked(session: AsyncSession, claim_no: str) -> bool:
    # In this batch (the journal knows), or in an earlier one (the database does).
    if await Journal.of(session).already_posted(MANUAL_REIMBURSEMENT, claim_no) is not None:
        return True
    found = await session.scalar(
        select(JournalEntry.id).where(
            JournalEntry.source_type == MANUAL_REIMBURSEMENT, JournalEntry.source_id == claim_no
        )
    )
    return found is not None


async def post_manual_reimbursement_paid(session: AsyncSession, envelope: EventEnvelope) -> None:
    """Consumer handler: the reimbursement was transferred to the person.

    Dr payable to insured persons (2104, psn_no) / Cr expenditure account deposit (1003), per fund. The
    payable must hold the amount: a payment without its approval entry is refused (and retried from the
    dead-letter table once the approval is booked)."""
    event = ManualReimbursementPaid.read(envelope.data)
    what = f"manual reimbursement payment {event.claim_no}"
    _check_scheme(event.insutype, what)
    await Journal.of(session).lock()
    await _refuse_repeat(session, MANUAL_REIMBURSEMENT_PAYMENT, event.claim_no, what)
    if any(p.amount_fen for p in event.fund_payments) and not await _approval_booked(session, event.claim_no):
        raise EventRejected(f"{what}: the approval of {event.claim_no} is not booked")
    legs: list[Leg] = []
    for payment in event.fund_payments:
        if payment.amount_fen < 0:
            raise EventRejected(f"negative fund payment in {what}")
        if payment.amount_fen == 0:
            continue
        payable = await account_for(
            session,
            PAYABLE_TO_INSURED,
            event.insuplc_admdvs,
            event.insutype,
            payment.fund_pay_type,
            event.psn_no,
        )
        bank = await account_for(
            session, EXPENDITURE_ACCOUNT_DEPOSIT, event.insuplc_admdvs, event.insutype, payment.fund_pay_type
        )
        legs += [Leg(payable, debit_fen=payment.amount_fen), Leg(bank, credit_fen=payment.amount_fen)]
    if not legs:
        return
    await post_entry(
        session,
        event_id=str(envelope.event_id),
        trace_id=envelope.trace_id,
        source_type=MANUAL_REIMBURSEMENT_PAYMENT,
        source_id=event.claim_no,
        description=f"零星报销 {event.claim_no} 支付参保人 (转账凭证 {event.payment_ref})",
        admdvs=event.insuplc_admdvs,
        insutype=event.insutype,
        legs=legs,
        posted_at=event.paid_at,
    )


async def post_settlement_reversed(session: AsyncSession, envelope: EventEnvelope) -> None:
    """Consumer handler: a reversal takes back what the funds owed for the original settlement.

    The mirror of the original entry: Dr payable to the institution / Cr benefit expenditure, per fund.
    Posted at the reversal's setl_time."""
    event = SettlementReversed.read(envelope.data)
    what = f"reversal {event.setl_id}"
    _check_scheme(event.insutype, what)
    await Journal.of(session).lock()
    await _refuse_repeat(session, "settlement_reversal", event.setl_id, what)
    if sum(p.amount_fen for p in event.fund_payments) != event.fund_pay_sumamt_fen:
        raise EventRejected(f"fund payments of reversal {event.setl_id} do not add up to fund_pay_sumamt_fen")
    if event.insured_platform is not None or event.treating_platform is not None:
        await _post_cross_platform(session, envelope, event.setl_id, event, event.setl_time, -1)
        return
    treating = await _treating_region_of(session, event.original_setl_id, event.mdtrtarea_admvs)
    legs: list[Leg] = []
    for payment in event.fund_payments:
        if payment.amount_fen > 0:
            raise EventRejected(f"a reversal carries negated amounts; {event.setl_id} has a positive one")
        amount = -payment.amount_fen
        if amount == 0:
            continue
        expense = _benefit_expense(payment, event.clr_type, what, event.med_type)
        payable = await account_for(
            session,
            PAYABLE if treating is None else INTER_REGION_DUE_TO,
            event.insuplc_admdvs,
            event.insutype,
            payment.fund_pay_type,
            event.fixmedins_code if treating is None else treating,
        )
        benefit = await account_for(
            session, expense, event.insuplc_admdvs, event.insutype, payment.fund_pay_type
        )
        legs += [Leg(payable, debit_fen=amount), Leg(benefit, credit_fen=amount)]
    if not legs:
        return
    await post_entry(
        session,
        event_id=str(envelope.event_id),
        trace_id=envelope.trace_id,
        source_type="settlement_reversal",
        source_id=event.setl_id,
        description=f"撤销结算 {event.original_setl_id}（冲销 {event.setl_id}，机构 {event.fixmedins_code}）",
        admdvs=event.insuplc_admdvs,
        insutype=event.insutype,
        legs=legs,
        posted_at=event.setl_time,
    )
    if treating is not None:
        await post_entry(
            session,
            event_id=None,
            trace_id=envelope.trace_id,
            source_type=OUT_OF_AREA_REVERSAL,
            source_id=event.setl_id,
            description=f"撤销异地就医结算 {event.original_setl_id}（冲销 {event.setl_id}，参保地 "
            f"{event.insuplc_admdvs}，机构 {event.fixmedins_code}）",
            admdvs=treating,
            insutype=event.insutype,
            legs=await _treated_legs(
                session,
                event.fund_payments,
                treating,
                event.insuplc_admdvs,
                event.insutype,
                event.fixmedins_code,
                -1,
            ),
            posted_at=event.setl_time,
        )


async def post_payment_received(session: AsyncSession, envelope: EventEnvelope) -> None:
    """Consumer handler: a contribution payment lands in the income account (收入户).

    Dr 1001 income account deposit / Cr 400x contribution income by payer, on the enrollment's pooling
    region and scheme sub-ledger, basic pooled fund (390100). Posted at the event's occurred_at."""
    event = PaymentReceived.read(envelope.data)
    what = f"payment {event.payment_id}"
    _check_scheme(event.insutype, what)
    income = CONTRIBUTION_INCOME_BY_PAYER.get(event.payer)
    if income is None:
        raise EventRejected(f"{what}: no contribution income account for payer {event.payer}")
    await Journal.of(session).lock()
    await _refuse_repeat(session, "contribution", str(event.payment_id), what)
    deposit = await account_for(session, INCOME_ACCOUNT_DEPOSIT, event.admdvs, event.insutype, POOLED_FUND)
    credit = await account_for(session, income, event.admdvs, event.insutype, POOLED_FUND)
    await post_entry(
        session,
        event_id=str(envelope.event_id),
        trace_id=envelope.trace_id,
        source_type="contribution",
        source_id=str(event.payment_id),
        description=(
            f"{event.year} 年度缴费 收据 {event.receipt_no} ({income.name}, 参保人 {event.psn_no}, "
            f"参保登记 {event.enrollment_id})"
        ),
        admdvs=event.admdvs,
        insutype=event.insutype,
        legs=[Leg(deposit, debit_fen=event.amount_fen), Leg(credit, credit_fen=event.amount_fen)],
        posted_at=envelope.occurred_at,
    )


async def post_subsidy_allocated(session: AsyncSession, envelope: EventEnvelope) -> None:
    """Consumer handler: the government subsidy for one enrollee becomes receivable from each level.

    One entry, a leg pair per level with a positive share: Dr 1201 subsidy receivable (kept per level) /
    Cr 410x subsidy income of that level; pooled fund (390100). Nothing is booked for a zero total. Posted at
    the event's occurred_at."""
    event = SubsidyAllocated.read(envelope.data)
    what = f"subsidy of enrollment {event.enrollment_id}"
    _check_scheme(event.insutype, what)
    levels = [share.level for share in event.shares]
    if len(set(levels)) != len(levels):
        raise EventRejected(f"{what}: a level appears twice in the shares")
    if sum(share.amount_fen for share in event.shares) != event.total_fen:
        raise EventRejected(f"{what}: shares do not add up to total_fen")
    if event.total_fen == 0:
        return
    await Journal.of(session).lock()
    await _refuse_repeat(session, "subsidy", str(event.enrollment_id), what)
    amounts: dict[str, int] = {share.level: share.amount_fen for share in event.shares}
    legs: list[Leg] = []
    for level, income in SUBSIDY_INCOME_BY_LEVEL.items():  # the chart's order: central first
        amount = amounts.get(level, 0)
        if amount == 0:
            continue
        receivable = await account_for(
            session, SUBSIDY_RECEIVABLE, event.admdvs, event.insutype, POOLED_FUND, level
        )
        credit = await account_for(session, income, event.admdvs, event.insutype, POOLED_FUND)
        legs += [Leg(receivable, debit_fen=amount), Leg(credit, credit_fen=amount)]
    await post_entry(
        session,
        event_id=str(envelope.event_id),
        trace_id=envelope.trace_id,
        source_type="subsidy",
        source_id=str(event.enrollment_id),
        description=f"{event.year} 年度财政补助 (参保人 {event.psn_no}, 参保登记 {event.enrollment_id})",
        admdvs=event.admdvs,
        insutype=event.insutype,
        legs=legs,
        posted_at=envelope.occurred_at,
    )


async def list_entries(
    session: AsyncSession,
    *,
    source_id: str | None,
    after_id: int,
    limit: int,
    trace_id: str | None = None,
) -> list[tuple[JournalEntry, list[tuple[Posting, Account]]]]:
    query = (
        select(JournalEntry)
        .where(col(JournalEntry.id) > after_id)
        .order_by(col(JournalEntry.id))
        .limit(limit)
    )
    if source_id is not None:
        query = query.where(JournalEntry.source_id == source_id)
    if trace_id is not None:
        query = query.where(JournalEntry.trace_id == trace_id)
    entries = list(await session.scalars(query))
    if not entries:
        return []
    rows = await session.execute(
        select(Posting, Account)
        .join(Account, col(Account.id) == col(Posting.account_id))
        .where(col(Posting.entry_id).in_([e.id for e in entries]))
        .order_by(col(Posting.id))
    )
    by_entry: dict[int, list[tuple[Posting, Account]]] = {}
    for posting, account in rows:
        by_entry.setdefault(posting.entry_id, []).append((posting, account))
    return [(e, by_entry.get(e.id or 0, [])) for e in entries]


async def get_entry(
    session: AsyncSession, entry_id: int
) -> tuple[JournalEntry, list[tuple[Posting, Account]]]:
    found = await list_entries(session, source_id=None, after_id=entry_id - 1, limit=1)
    if not found or found[0][0].id != entry_id:
        raise NotFound(f"记账凭证不存在: {entry_id}", code="ENTRY_NOT_FOUND")
    return found[0]


async def count_entries(session: AsyncSession, before: datetime | None = None) -> int:
    query = select(func.count()).select_from(JournalEntry)
    if before is not None:
        query = query.where(col(JournalEntry.posted_at) < before)
    return int(await session.scalar(query) or 0)


async def balances(
    session: AsyncSession, admdvs: str | None, insutype: str | None, before: datetime | None = None
) -> list[tuple[Account, int, int]]:
    """(account, total debits, total credits) for every account: now from the running balances the journal
    keeps; with ``before``, summed from the postings of the entries posted (``posted_at``) before then."""
    if before is None:
        now = (
            select(
                Account,
                func.coalesce(AccountBalance.debit_fen, 0),
                func.coalesce(AccountBalance.credit_fen, 0),
            )
            .join(AccountBalance, col(AccountBalance.account_id) == col(Account.id), isouter=True)
            .order_by(
                col(Account.code), col(Account.admdvs), col(Account.insutype), col(Account.counterparty)
            )
        )
        if admdvs is not None:
            now = now.where(Account.admdvs == admdvs)
        if insutype is not None:
            now = now.where(Account.insutype == insutype)
        return [(a, int(d), int(c)) for a, d, c in await session.execute(now)]
    debit = func.coalesce(func.sum(Posting.debit_fen), 0)
    credit = func.coalesce(func.sum(Posting.credit_fen), 0)
    on = (col(Posting.account_id) == col(Account.id)) & col(Posting.entry_id).in_(
        select(JournalEntry.id).where(col(JournalEntry.posted_at) < before)
    )
    query = (
        select(Account, debit, credit)
        .join(Posting, on, isouter=True)
        .group_by(col(Account.id))
        .order_by(col(Account.code), col(Account.admdvs), col(Account.insutype), col(Account.counterparty))
    )
    if admdvs is not None:
        query = query.where(Account.admdvs == admdvs)
    if insutype is not None:
        query = query.where(Account.insutype == insutype)
    return [(a, int(d), int(c)) for a, d, c in await session.execute(query)]


@dataclass(frozen=True)
class BalanceDrift:
    account_id: int
    code: str
    kept: tuple[int, int, int]
    from_postings: tuple[int, int, int]


async def balance_drift(session: AsyncSession) -> list[BalanceDrift]:
    """Accounts whose running balance (debits, credits, postings) differs from the sum of their postings;
    empty when the kept balances are right."""
    sums = (
        select(
            col(Posting.account_id).label("account_id"),
            func.sum(Posting.debit_fen).label("debits"),
            func.sum(Posting.credit_fen).label("credits"),
            func.count().label("postings"),
        )
        .group_by(col(Posting.account_id))
        .subquery()
    )
    rows = await session.execute(
        sa_select(
            col(Account.id),
            col(Account.code),
            func.coalesce(AccountBalance.debit_fen, 0),
            func.coalesce(AccountBalance.credit_fen, 0),
            func.coalesce(AccountBalance.posting_count, 0),
            func.coalesce(sums.c.debits, 0),
            func.coalesce(sums.c.credits, 0),
            func.coalesce(sums.c.postings, 0),
        )
        .join(AccountBalance, col(AccountBalance.account_id) == col(Account.id), isouter=True)
        .join(sums, sums.c.account_id == col(Account.id), isouter=True)
        .order_by(col(Account.id))
    )
    drift = []
    for account_id, code, kd, kc, kn, pd, pc, pn in rows:
        kept = (int(kd), int(kc), int(kn))
        summed = (int(pd), int(pc), int(pn))
        if kept != summed:
            drift.append(BalanceDrift(int(account_id), str(code), kept, summed))
    return drift


def normal_balance(kind: str, debits: int, credits: int) -> int:
    return debits - credits if kind in DEBIT_NORMAL else credits - debits


async def imbalance(session: AsyncSession, before: datetime | None = None) -> int:
    """Total debits minus total credits over the whole journal (or its entries posted before ``before``);
    must be 0."""
    query = select(func.coalesce(func.sum(Posting.debit_fen - Posting.credit_fen), 0))
    if before is not None:
        query = query.join(JournalEntry, col(JournalEntry.id) == col(Posting.entry_id)).where(
            col(JournalEntry.posted_at) < before
        )
    return int(await session.scalar(query) or 0)


#: The fund's bank deposit accounts: income account, fiscal special account, expenditure account.
BANK_CODES = ("1001", "1002", "1003")


async def bank_balances(session: AsyncSession) -> dict[tuple[str, str, str], int]:
    """(admdvs, insutype, code) -> balance of the bank deposit accounts, all funds, from the kept
    balances."""
    rows = await session.execute(
        select(
            Account.admdvs,
            Account.insutype,
            Account.code,
            func.sum(
                func.coalesce(AccountBalance.debit_fen, 0) - func.coalesce(AccountBalance.credit_fen, 0)
            ),
        )
        .join(AccountBalance, col(AccountBalance.account_id) == col(Account.id), isouter=True)
        .where(col(Account.code).in_(BANK_CODES))
        .group_by(col(Account.admdvs), col(Account.insutype), col(Account.code))
    )
    return {(str(a), str(i), str(c)): int(b or 0) for a, i, c, b in rows}


async def inter_region_balances(session: AsyncSession) -> dict[tuple[str, str, str], int]:
    """(insured admdvs, treating admdvs, insutype) -> what the insured region still owes the treating region
    for out-of-area care (2105, all funds; negative: the treating region owes back), from the kept
    balances."""
    rows = await session.execute(
        select(
            Account.admdvs,
            Account.counterparty,
            Account.insutype,
            func.sum(
                func.coalesce(AccountBalance.credit_fen, 0) - func.coalesce(AccountBalance.debit_fen, 0)
            ),
        )
        .join(AccountBalance, col(AccountBalance.account_id) == col(Account.id), isouter=True)
        .where(Account.code == INTER_REGION_DUE_TO.code)
        .group_by(col(Account.admdvs), col(Account.counterparty), col(Account.insutype))
    )
    return {(str(a), str(b), str(i)): int(v or 0) for a, b, i, v in rows}


async def kept_imbalance(session: AsyncSession) -> int:
    """Debits minus credits over the kept account balances: the cheap check a scheduler can run often."""
    value = await session.scalar(
        select(func.coalesce(func.sum(AccountBalance.debit_fen - AccountBalance.credit_fen), 0))
    )
    return int(value or 0)
