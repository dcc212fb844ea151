"""Event envelope and the pydantic schemas of every event on the platform's topics.

An event is published once per business fact. Consumers dedupe on ``event_id`` and refuse an unknown
major ``version`` loudly (to the dead-letter table), never by guessing.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.db import utcnow

ENROLLMENT_TOPIC = "enrollment.events"
SETTLEMENT_TOPIC = "settlement.events"
ALL_TOPICS = (ENROLLMENT_TOPIC, SETTLEMENT_TOPIC)


class EventEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: uuid.UUID
    type: str = Field(min_length=1, max_length=100)
    version: int = Field(ge=1)
    occurred_at: datetime
    producer: str = Field(min_length=1, max_length=50)
    key: str = Field(min_length=1, max_length=100)
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> EventEnvelope:
        return cls.model_validate_json(raw)


class EventData(BaseModel):
    """Base of every event payload; subclasses name their type, version and topic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[str]
    event_version: ClassVar[int] = 1
    topic: ClassVar[str]

    def partition_key(self) -> str:
        raise NotImplementedError

    def envelope(self, producer: str, *, event_id: uuid.UUID | None = None) -> EventEnvelope:
        return EventEnvelope(
            event_id=event_id or uuid.uuid4(),
            type=self.event_type,
            version=self.event_version,
            occurred_at=utcnow(),
            producer=producer,
            key=self.partition_key(),
            data=json.loads(self.model_dump_json()),
        )


# --- enrollment.events -------------------------------------------------------------------------------


class IdentityCategory(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    psn_idet_type: str
    begin_date: date
    end_date: date | None = None


class CoverageActivated(EventData):
    """A person's enrollment for an insurance year became active: they are covered from begin to end."""

    event_type: ClassVar[str] = "enrollment.coverage_activated"
    topic: ClassVar[str] = ENROLLMENT_TOPIC

    enrollment_id: int
    psn_no: str
    certno: str
    psn_name: str
    gend: str
    brdy: date
    insutype: str
    psn_type: str
    insuplc_admdvs: str
    year: int
    coverage_begin: date
    coverage_end: date
    identities: list[IdentityCategory] = Field(default_factory=list)

    def partition_key(self) -> str:
        return self.psn_no


# --- settlement.events -------------------------------------------------------------------------------

ClrType = Literal["11", "21", "41", "99"]


class FundPayment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fund_pay_type: str
    amount_fen: int


class SettlementCompleted(EventData):
    """A binding settlement: the funds owe the institution ``fund_pay_sumamt_fen``."""

    event_type: ClassVar[str] = "settlement.completed"
    topic: ClassVar[str] = SETTLEMENT_TOPIC

    setl_id: str
    mdtrt_id: str
    msgid: str
    psn_no: str
    fixmedins_code: str
    institution_level: str
    insutype: str
    insuplc_admdvs: str
    mdtrtarea_admvs: str
    med_type: str
    clr_type: ClrType
    setl_time: datetime
    medfee_sumamt_fen: int
    fund_pay_sumamt_fen: int
    psn_cash_pay_fen: int
    fund_payments: list[FundPayment]

    def partition_key(self) -> str:
        return self.psn_no


EVENT_TYPES: dict[str, type[EventData]] = {
    cls.event_type: cls for cls in (CoverageActivated, SettlementCompleted)
}
