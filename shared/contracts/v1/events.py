"""Event envelope and the pydantic schemas of every event on the platform's topics.

An event is published once per business fact. Consumers dedupe on ``event_id`` and refuse an unknown
major ``version`` loudly (to the dead-letter table), never by guessing.

Producers are strict (``extra="forbid"``: an event is written exactly as its model says); consumers are
tolerant: ``EventEnvelope.from_bytes`` and ``EventData.read`` ignore fields they do not know, so a
producer may add a field (a minor, compatible change) without breaking a consumer that predates it. The
JSON Schemas outsiders validate against are generated from these models into ``docs/events/``
(``python -m platformctl event-schemas``).
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from shared.db import utcnow

ENROLLMENT_TOPIC = "enrollment.events"
#: Who a covered person is (ID number, name, sex, birth date, ethnicity): a restricted topic only the
#: settlement service may read (it answers the counter with them, 1101 and setlinfo); README.md, "Who may
#: read which topic", and docs/architecture.md, "Personal data on the bus".
IDENTITY_TOPIC = "enrollment.identity"
SETTLEMENT_TOPIC = "settlement.events"
#: Changes to the national lists and the institutions' mappings, for whoever caches them (no consumer here).
CATALOGUE_TOPIC = "catalogue.events"
ALL_TOPICS = (ENROLLMENT_TOPIC, IDENTITY_TOPIC, SETTLEMENT_TOPIC, CATALOGUE_TOPIC)


class EventEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: uuid.UUID
    type: str = Field(min_length=1, max_length=100)
    version: int = Field(ge=1)
    occurred_at: datetime
    producer: str = Field(min_length=1, max_length=50)
    key: str = Field(min_length=1, max_length=100)
    data: dict[str, Any]
    #: The request id of the request that produced the event (the gateway's ``X-Request-ID``, passed to the
    #: service): it joins the event to the gateway's and the service's trail lines and to the ledger's
    #: entry. Absent for an event no request produced (a batch job). Also sent as the Kafka header
    #: ``trace_id``.
    trace_id: str | None = Field(default=None, max_length=64)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> EventEnvelope:
        """A consumer's read: fields this version does not know are ignored (producers stay strict)."""
        return cls.model_validate_json(raw, extra="ignore")


class EventData(BaseModel):
    """Base of every event payload; subclasses name their type, version and topic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[str]
    event_version: ClassVar[int] = 1
    topic: ClassVar[str]

    def partition_key(self) -> str:
        raise NotImplementedError

    @classmethod
    def read(cls, data: dict[str, Any]) -> Self:
        """A consumer's read of an event's ``data``: fields (also of nested objects) this version does not
        know are ignored; a missing or malformed known field is still refused."""
        return cls.model_validate(data, extra="ignore")

    def envelope(
        self, producer: str, *, event_id: uuid.UUID | None = None, trace_id: str | None = None
    ) -> EventEnvelope:
        return EventEnvelope(
            event_id=event_id or uuid.uuid4(),
            trace_id=trace_id,
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
    """A person's enrollment for an insurance year became active: they are covered from begin to end.

    Version 2: ``psn_no`` and the cover only. Version 1 also carried the ID number, name, sex, birth date
    and ethnicity; those now travel on the restricted topic ``enrollment.identity``
    (``PersonIdentity``), which only settlement reads (docs/architecture.md, "Personal data on the bus").
    Settlement still accepts version 1 during a rollout (``CoverageActivatedV1``)."""

    event_type: ClassVar[str] = "enrollment.coverage_activated"
    event_version: ClassVar[int] = 2
    topic: ClassVar[str] = ENROLLMENT_TOPIC

    enrollment_id: int
    psn_no: str
    insutype: str
    psn_type: str
    insuplc_admdvs: str
    year: int
    coverage_begin: date
    coverage_end: date
    identities: list[IdentityCategory] = Field(default_factory=list)
    #: Consecutive insurance years up to this one, legacy schemes (391, 380) included (参保年限合并计算).
    continuous_years: int = Field(default=1, ge=1)
    #: First day of the current run of continuous cover (1101 psn_insu_date).
    psn_insu_date: date | None = None

    def partition_key(self) -> str:
        return self.psn_no


class PersonIdentity(EventData):
    """Who a person is, as the counter must be answered (1101 baseinfo, setlinfo): published on the
    restricted topic ``enrollment.identity`` beside each ``coverage_activated``, in the same transaction.
    Only settlement may read the topic; the ledger and outsiders never see it."""

    event_type: ClassVar[str] = "enrollment.person_identity"
    topic: ClassVar[str] = IDENTITY_TOPIC

    psn_no: str
    certno: str
    psn_name: str
    gend: str
    brdy: date
    #: 民族 code (01 汉族...), shown in setlinfo.naty; None from producers that do not know it.
    naty: str | None = None

    def partition_key(self) -> str:
        return self.psn_no


class CoverageActivatedV1(CoverageActivated):
    """``coverage_activated`` as version 1 wrote it (cover and identity in one event): read, never
    produced, by a consumer during the rollout of version 2. No published schema (v1's is retired)."""

    event_version: ClassVar[int] = 1

    certno: str
    psn_name: str
    gend: str
    brdy: date
    naty: str | None = None

    def identity(self) -> PersonIdentity:
        return PersonIdentity(
            psn_no=self.psn_no,
            certno=self.certno,
            psn_name=self.psn_name,
            gend=self.gend,
            brdy=self.brdy,
            naty=self.naty,
        )


class _PersonEvent(EventData):
    psn_no: str

    def partition_key(self) -> str:
        return self.psn_no


class PersonRegistered(_PersonEvent):
    """A person was registered (issued a ``psn_no``) in a region. Version 2: no ID number, name or birth
    date (version 1 carried them): no consumer needs them, and the bus carries no personal data it does
    not need (docs/architecture.md, "Kafka"); who the person is stays in the enrollment service."""

    event_type: ClassVar[str] = "enrollment.person_registered"
    event_version: ClassVar[int] = 2
    topic: ClassVar[str] = ENROLLMENT_TOPIC

    gend: str
    admdvs: str
    household_no: str | None = None


Payer = Literal["individual", "medical_assistance", "village_collective", "employer"]
SubsidyLevel = Literal["central", "provincial", "city", "county"]


class PaymentReceived(_PersonEvent):
    """A contribution payment (缴费) towards one enrollment, by one payer."""

    event_type: ClassVar[str] = "enrollment.payment_received"
    topic: ClassVar[str] = ENROLLMENT_TOPIC

    enrollment_id: int
    payment_id: int
    year: int
    insutype: str
    admdvs: str
    payer: Payer
    amount_fen: int = Field(gt=0)
    receipt_no: str
    paid_on: date


class SubsidyShare(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    level: SubsidyLevel
    amount_fen: int = Field(ge=0)


class SubsidyAllocated(_PersonEvent):
    """Government subsidy (财政补助) for one active enrollee, split by level."""

    event_type: ClassVar[str] = "enrollment.subsidy_allocated"
    topic: ClassVar[str] = ENROLLMENT_TOPIC

    enrollment_id: int
    year: int
    insutype: str
    admdvs: str
    total_fen: int = Field(ge=0)
    shares: list[SubsidyShare]


TerminationReason = Literal["death", "moved_away", "employee_insurance"]


class EnrollmentTerminated(_PersonEvent):
    """Cover ends: the person is not covered from ``effective_date`` on."""

    event_type: ClassVar[str] = "enrollment.terminated"
    topic: ClassVar[str] = ENROLLMENT_TOPIC

    enrollment_id: int
    year: int
    insutype: str
    reason: TerminationReason
    effective_date: date


class IdentityCategoriesChanged(_PersonEvent):
    """The person's subsidised identity categories, complete as they now stand."""

    event_type: ClassVar[str] = "enrollment.identities_changed"
    topic: ClassVar[str] = ENROLLMENT_TOPIC

    identities: list[IdentityCategory]


CardStatus = Literal["active", "lost", "replaced"]


class CardStatusChanged(_PersonEvent):
    """A social-security card was issued, reported lost or replaced."""

    event_type: ClassVar[str] = "enrollment.card_status_changed"
    topic: ClassVar[str] = ENROLLMENT_TOPIC

    card_no: str
    card_sn: str
    status: CardStatus
    changed_on: date


class VoucherRevoked(_PersonEvent):
    """An e-voucher token (医保电子凭证) was revoked: it must not open an encounter or settle from now on.
    The token itself is not on the bus (a bearer credential), only its digest
    (``shared.voucher.digest``: SHA-256 of the token, hex); ``expires_at`` says when the record can be
    forgotten (an expired token is refused anyway)."""

    event_type: ClassVar[str] = "enrollment.voucher_revoked"
    topic: ClassVar[str] = ENROLLMENT_TOPIC

    voucher_digest: str = Field(min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$")
    revoked_at: datetime
    expires_at: datetime


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
    #: 跨省 (pay_loc 4): the peer platform whose fund pays (it reserved the amounts), this platform only
    #: treating; None for a person insured on this platform (docs/interface.md, "Between platforms").
    insured_platform: str | None = None
    #: 跨省, the insured side: a treating platform's reservation confirmed (``setl_id`` the reservation's
    #: id, ``mdtrt_id`` the treating platform's setl_id, ``fixmedins_code`` its institution): this
    #: platform's fund owes that platform, not an institution of its own.
    treating_platform: str | None = None

    def partition_key(self) -> str:
        return self.psn_no


class SettlementReversed(EventData):
    """A reversal (2103/2208/2305/2601): its own record, amounts negated; the funds no longer owe them."""

    event_type: ClassVar[str] = "settlement.reversed"
    topic: ClassVar[str] = SETTLEMENT_TOPIC

    setl_id: str
    original_setl_id: str
    mdtrt_id: str
    msgid: str
    psn_no: str
    fixmedins_code: str
    insutype: str
    insuplc_admdvs: str
    #: The original's treating region (the institution's), so that the ledger takes back out-of-area care
    #: from the books it was booked to (docs/architecture.md, "Out-of-area care"); None in events written
    #: before it was sent (booked as care in the insured region, as they were then).
    mdtrtarea_admvs: str | None = None
    clr_type: ClrType
    #: The original's med_type, so that the ledger takes back from the account it booked to (chronic and
    #: maternity care have their own); None in events written before it was sent.
    med_type: str | None = None
    setl_time: datetime
    medfee_sumamt_fen: int
    fund_pay_sumamt_fen: int
    psn_cash_pay_fen: int
    #: Negated amounts per fund, as they now stand against the original.
    fund_payments: list[FundPayment]
    #: The original's peer platform (跨省, pay_loc 4), None for this platform's insured.
    insured_platform: str | None = None
    #: 跨省, the insured side: the treating platform whose confirmed reservation is released.
    treating_platform: str | None = None

    def partition_key(self) -> str:
        return self.psn_no


class ManualReimbursementApproved(EventData):
    """A manual reimbursement (零星报销) approved by a second person: the funds owe the insured person
    ``fund_pay_sumamt_fen`` (no institution is involved; the person paid the whole bill)."""

    event_type: ClassVar[str] = "settlement.manual_reimbursement_approved"
    topic: ClassVar[str] = SETTLEMENT_TOPIC

    claim_no: str
    psn_no: str
    insutype: str
    insuplc_admdvs: str
    clr_type: ClrType
    #: full_self_advance, out_of_area or emergency.
    reason: str
    approved_at: datetime
    medfee_sumamt_fen: int
    fund_pay_sumamt_fen: int
    fund_payments: list[FundPayment]

    def partition_key(self) -> str:
        return self.psn_no


class ManualReimbursementPaid(EventData):
    """The approved amount of a manual reimbursement was paid to the person's bank account."""

    event_type: ClassVar[str] = "settlement.manual_reimbursement_paid"
    topic: ClassVar[str] = SETTLEMENT_TOPIC

    claim_no: str
    psn_no: str
    insutype: str
    insuplc_admdvs: str
    paid_at: datetime
    payment_ref: str
    fund_payments: list[FundPayment]

    def partition_key(self) -> str:
        return self.psn_no


# --- catalogue.events --------------------------------------------------------------------------------


class CatalogueChanged(EventData):
    """A new catalogue version: the entries of ``list_kind`` it added or ended (``codes``: at most the first
    1000 of them; ``count``: all). A cache of the lists reloads what changed after the version it holds
    (the 13xx downloads, docs/interface.md)."""

    event_type: ClassVar[str] = "catalogue.changed"
    topic: ClassVar[str] = CATALOGUE_TOPIC

    ver: int
    #: items (the medical insurance list), a national code list (dise diagnoses, oprn procedures, tumr,
    #: tcmdise, tcmsymp) or opsp (a benefit policy added: its chronic disease list, 1309).
    list_kind: str
    codes: list[str]
    count: int
    changed_at: datetime

    def partition_key(self) -> str:
        return "catalogue"  # one key: versions stay in order


class CatalogueMappingChanged(EventData):
    """An institution's mapping of its own code uploaded (3301) or revoked (3302), at catalogue version
    ``ver`` (the version 1317 lists it at)."""

    event_type: ClassVar[str] = "catalogue.mapping_changed"
    topic: ClassVar[str] = CATALOGUE_TOPIC

    action: Literal["uploaded", "revoked"]
    fixmedins_code: str
    medins_list_codg: str
    med_list_codg: str
    begndate: date
    enddate: date | None = None
    revoked_on: date | None = None
    msgid: str | None = None
    ver: int | None = None

    def partition_key(self) -> str:
        return self.fixmedins_code


EVENT_TYPES: dict[str, type[EventData]] = {
    cls.event_type: cls
    for cls in (
        PersonRegistered,
        CoverageActivated,
        PersonIdentity,
        PaymentReceived,
        SubsidyAllocated,
        EnrollmentTerminated,
        IdentityCategoriesChanged,
        CardStatusChanged,
        VoucherRevoked,
        SettlementCompleted,
        SettlementReversed,
        ManualReimbursementApproved,
        ManualReimbursementPaid,
        CatalogueChanged,
        CatalogueMappingChanged,
    )
}
