from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, DateTime, Text
from sqlmodel import Field

from settlement.db import Base
from shared.db import BigIntPK, ExactDecimal, utcnow


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
    begntime: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    setl_time: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    medfee_sumamt_fen: int
    fully_self_paid_fen: int
    over_price_cap_fen: int
    self_pay_first_fen: int
    policy_range_fen: int
    deductible_fen: int
    pool_ratio: Decimal = Field(sa_type=ExactDecimal(5, 4))
    pooled_fund_paid_fen: int
    fund_paid_total_fen: int
    personal_burden_fen: int
    account_paid_fen: int = 0
    cash_paid_fen: int
    calc_trace: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


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
