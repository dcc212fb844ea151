from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Column, Text, text
from sqlmodel import Field

from settlement.db import Base
from shared.db import AwareDateTime, BigIntPK, ExactDecimal, timestamp_field


class Settlement(Base, table=True):
    """A binding settlement (结算). Amounts are integer fen; field names follow the domain, the gateway maps
    them to setlinfo."""

    __tablename__ = "settlements"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    setl_id: str = Field(max_length=30, unique=True, index=True)
    mdtrt_id: str = Field(max_length=30, index=True)
    #: The sender's message id (medins_setl_id): one settlement per msgid, whatever the retries.
    msgid: str = Field(max_length=30, unique=True)
    request_sha256: str = Field(max_length=64)
    fixmedins_code: str = Field(max_length=30, index=True)
    institution_level: str = Field(max_length=3)
    psn_no: str = Field(max_length=30, index=True)
    insutype: str = Field(max_length=6)
    psn_type: str = Field(max_length=6)
    insuplc_admdvs: str = Field(max_length=6)
    mdtrtarea_admvs: str = Field(max_length=6)
    med_type: str = Field(max_length=6)
    clr_type: str = Field(max_length=6)
    mdtrt_cert_type: str = Field(max_length=3)
    invono: str | None = Field(default=None, max_length=50)
    policy_id: int
    begntime: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))
    setl_time: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))
    medfee_sumamt_fen: int
    fully_self_paid_fen: int
    over_price_cap_fen: int
    self_pay_first_fen: int
    policy_range_fen: int
    deductible_fen: int
    pool_ratio: Decimal = Field(sa_type=ExactDecimal(5, 4))
    pooled_fund_paid_fen: int
    catastrophic_paid_fen: int = 0
    assistance_paid_fen: int = 0
    fund_paid_total_fen: int
    personal_burden_fen: int
    account_paid_fen: int = 0
    cash_paid_fen: int
    calc_trace: str = Field(sa_column=Column(Text, nullable=False))
    #: pharmacy, outpatient, chronic, inpatient, maternity.
    encounter_kind: str = Field(default="pharmacy", max_length=12)
    #: settled; reversed (a later reversal undid it); reversal (this record undoes ``reversal_of``).
    status: str = Field(default="settled", max_length=10)
    #: Unique: a settlement is reversed at most once, whatever races (the reversal also locks the original).
    reversal_of: str | None = Field(default=None, max_length=30, unique=True, index=True)
    reversed_by: str | None = Field(default=None, max_length=30)
    #: What this settlement added to the person's year-to-date totals; a reversal subtracts exactly this.
    ytd_delta: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: Per benefit layer, the entitlement on the cumulative costs and what earlier surviving settlements
    #: had got (``Adjudication.layers``); a stay's first part fixes ``stay_deductible_fen`` for the rest.
    layers: dict[str, int] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default=text("'{}'"))
    )
    created_at: datetime = timestamp_field()


class MsgidClaim(Base, table=True):
    """One row per sender message id that reached settlement: a settlement, or a 2601 that voided the id
    before anything settled under it. The primary key makes the two exclude each other."""

    __tablename__ = "msgid_claims"

    msgid: str = Field(primary_key=True, max_length=30)
    #: settle or void.
    kind: str = Field(max_length=10)
    created_at: datetime = timestamp_field()


class SettlementFund(Base, table=True):
    """One fund's share of a settlement (setldetail)."""

    __tablename__ = "settlement_funds"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    setl_id: str = Field(max_length=30, index=True, foreign_key="settlements.setl_id")
    fund_pay_type: str = Field(max_length=6)
    policy_range_fen: int
    payable_limit_fen: int
    paid_fen: int
    calc_trace: str = Field(sa_column=Column(Text, nullable=False))


class SettlementLine(Base, table=True):
    """A fee line with its classification (detlcutinfo)."""

    __tablename__ = "settlement_lines"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    setl_id: str = Field(max_length=30, index=True, foreign_key="settlements.setl_id")
    feedetl_sn: str = Field(max_length=30)
    med_list_codg: str = Field(max_length=50)
    medins_list_codg: str = Field(max_length=50)
    cnt: Decimal = Field(sa_type=ExactDecimal(16, 4))
    pric: Decimal = Field(sa_type=ExactDecimal(16, 6))
    amount_fen: int
    price_cap: Decimal | None = Field(default=None, sa_type=ExactDecimal(16, 6), nullable=True)
    selfpay_prop: Decimal = Field(sa_type=ExactDecimal(5, 4))
    chrgitm_lv: str = Field(max_length=3)
    med_chrgitm_type: str = Field(max_length=6)
    fully_self_paid_fen: int
    over_price_cap_fen: int
    self_pay_first_fen: int
    policy_range_fen: int
    memo: str = Field(default="", max_length=200)
    #: The catalogue's marks on the line's entry that day (engine ``ListFlags``; all False when unlisted).
    essential_drug: bool = False
    negotiated_drug: bool = False
    child_medicine: bool = False
    special_item: bool = False
    restricted: bool = False
    direct_reimbursement: bool = False
    #: Prescribed days' supply of a drug purchase (prd_days), when the counter sent it (supervision).
    prd_days: Decimal | None = Field(default=None, sa_type=ExactDecimal(8, 2), nullable=True)
