from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from settlement.db import Base
from shared.db import BigIntPK, timestamp_field


class PrecheckFeedback(Base, table=True):
    """An institution's answer to a pre-check warning (3103): it went on with the order (and why) or went
    back to change it. Kept for the fund's reviewers next to the hits the same rules raise at settlement."""

    __tablename__ = "precheck_feedback"
    __table_args__ = (
        UniqueConstraint("fixmedins_code", "msgid", "warn_rslt_id", name="uq_precheck_feedback"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    fixmedins_code: str = Field(max_length=30, index=True)
    msgid: str = Field(max_length=30)
    #: The warning's ``jr_id`` from 3101/3102.
    warn_rslt_id: str = Field(max_length=50, index=True)
    #: 1 事前, 2 事中.
    warn_type: str = Field(max_length=1)
    #: 1 继续执行医嘱, 2 返回修改医嘱.
    dspo_way: str = Field(max_length=1)
    dspo_way_rea: str = Field(default="", max_length=500)
    created_at: datetime = timestamp_field()
