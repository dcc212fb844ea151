"""1101 人员信息获取: the person's base information, insurance and identity categories (docs/interface.md).

The enrollment service answers in domain names (``GET /api/v1/persons/lookup``); the mapping to the wire
names (``psn_insu_stas``, ``paus_insu_date``, ``exp_content``...) lives here only. A person this platform
does not know, whose ``insuplc_admdvs`` a peer platform hosts (跨省异地就医), is answered as the peer knows
them (docs/interface.md, "Between platforms")."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from gateway.declaration import Call, Transaction
from gateway.protocol.code_tables import MdtrtCertType
from gateway.protocol.errors import Refusal
from shared.clock import now_china, parse_client_time
from shared.contracts.v1.enrollment import PersonCoverage
from shared.contracts.v1.interplatform import PeerPersonQuery, PersonAnswer
from shared.money import fen_to_yuan

# mdtrt_cert_type 就诊凭证类型 (docs/interface.md, "Code tables used").
E_VOUCHER, ID_CARD, SOCIAL_SECURITY_CARD = "01", "02", "03"

# psn_insu_stas 参保状态.
INSURED, SUSPENDED, TERMINATED = "1", "2", "4"


class Input1101(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    mdtrt_cert_type: MdtrtCertType
    mdtrt_cert_no: str = Field(min_length=1, max_length=50)
    card_sn: str | None = Field(default=None, max_length=32)
    begntime: str | None = None
    psn_cert_type: str | None = Field(default=None, max_length=6)
    certno: str | None = Field(default=None, max_length=50)
    psn_name: str | None = Field(default=None, max_length=50)


class Envelope1101(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Input1101


@dataclass(frozen=True)
class ByCertno:
    certno: str


@dataclass(frozen=True)
class ByCard:
    card_no: str
    card_sn: str


def lookup_key(data: Input1101) -> ByCertno | ByCard:
    """How to find the person: "为02时填写身份证号，为03时填写社会保障卡卡号" (§2.2); a card swipe also
    reads the chip's 卡识别码 (card_sn), which tells a replaced card from its successor."""
    if data.mdtrt_cert_type == ID_CARD:
        return ByCertno(data.mdtrt_cert_no)
    if data.mdtrt_cert_type == SOCIAL_SECURITY_CARD:
        if not data.card_sn:
            raise Refusal("E_INPUT", "input.data.card_sn: 社保卡就诊时卡识别码必填")
        return ByCard(data.mdtrt_cert_no, data.card_sn)
    # An e-voucher token (01): the pipeline has read it and put the person's ID number from its issuer in
    # certno (gateway/nhsa/voucher.py); never what the caller sent.
    if data.certno:
        return ByCertno(data.certno)
    raise Refusal("E_VOUCHER", "医保电子凭证无效：不是本平台签发的凭证或已被篡改")


def reference_date(data: Input1101) -> date:
    """The day the answer describes: ``begntime`` for a historical lookup, else today in China."""
    if data.begntime and data.begntime.strip():
        try:
            parsed = parse_client_time(data.begntime)
        except ValueError as exc:
            raise Refusal("E_INPUT", "input.data.begntime: 格式应为 yyyy-MM-dd HH:mm:ss") from exc
        if parsed is not None:  # the .NET unset value: no historical date asked
            return parsed.date()
    return now_china().date()


class Enrolled(Protocol):
    """A year's cover as 1101 reads it: this platform's enrollment (``EnrollmentOut``) or a peer
    platform's (``PeerEnrollment``)."""

    @property
    def year(self) -> int: ...
    @property
    def insutype(self) -> str: ...
    @property
    def psn_type(self) -> str: ...
    @property
    def insuplc_admdvs(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def coverage_begin(self) -> date: ...
    @property
    def coverage_end(self) -> date: ...
    @property
    def terminated_on(self) -> date | None: ...
    @property
    def continuous_years(self) -> int: ...
    @property
    def psn_insu_date(self) -> date | None: ...


class Categorised(Protocol):
    """An identity category over its dates (``IdentityOut`` or ``PeerIdentity``)."""

    @property
    def psn_idet_type(self) -> str: ...
    @property
    def begin_date(self) -> date: ...
    @property
    def end_date(self) -> date | None: ...


class Who(Protocol):
    """The person's identity as baseinfo shows it (``PersonOut`` or ``PersonAnswer``)."""

    @property
    def psn_no(self) -> str: ...
    @property
    def psn_cert_type(self) -> str: ...
    @property
    def certno(self) -> str: ...
    @property
    def psn_name(self) -> str: ...
    @property
    def gend(self) -> str: ...
    @property
    def naty(self) -> str: ...
    @property
    def brdy(self) -> date: ...


@dataclass(frozen=True)
class InsuranceState:
    """One enrollment as 1101 shows it on the reference date."""

    enrollment: Enrolled
    psn_insu_stas: str
    paus_insu_date: date | None


def insurance_states(enrollments: Sequence[Enrolled], on: date) -> list[InsuranceState]:
    """The rows of insuinfo on ``on``.

    A pending enrollment (registered, contributions not fully paid) is not insurance yet and never shown.
    The reference year's enrollments are shown as they stand; without one, the latest earlier enrollment
    shows how the cover ended: lapsed (not renewed: 暂停参保 from the day after its end) or terminated."""
    insured = [e for e in enrollments if e.status != "pending"]
    this_year = [e for e in insured if e.year == on.year]
    if this_year:
        return [_state_in_year(e, on) for e in this_year]
    earlier = [e for e in insured if e.year < on.year]
    if not earlier:
        raise Refusal("E_NOT_INSURED", f"该人员在 {on.year} 年度无参保信息")
    latest = max(earlier, key=lambda e: (e.year, e.coverage_end))
    if latest.status == "terminated":
        return [InsuranceState(latest, TERMINATED, latest.terminated_on)]
    return [InsuranceState(latest, SUSPENDED, latest.coverage_end + timedelta(days=1))]


def _state_in_year(enrollment: Enrolled, on: date) -> InsuranceState:
    if enrollment.status == "terminated":
        return InsuranceState(enrollment, TERMINATED, enrollment.terminated_on)
    end = enrollment.coverage_end
    if on > end:
        return InsuranceState(enrollment, SUSPENDED, end + timedelta(days=1))
    # Before coverage_begin (a late enrollment's waiting period) the person is insured all the same; that
    # care before the cover starts is not paid is the settlement's refusal to make, with its reason.
    return InsuranceState(enrollment, INSURED, None)


def _shown(states: list[InsuranceState]) -> InsuranceState:
    """The row whose extensions baseinfo.exp_content carries: the one in force, else the latest."""
    return max(states, key=lambda s: (s.psn_insu_stas == INSURED, s.enrollment.coverage_begin))


def exp_content(state: InsuranceState) -> str:
    """Provincial extensions travel in exp_content as a JSON text (§2.2, S1 ``ExpContent``)."""
    return json.dumps(
        {"continuous_years": state.enrollment.continuous_years}, ensure_ascii=False, separators=(",", ":")
    )


def require_active_card(coverage: PersonCoverage) -> None:
    """After a lookup by card: the enrollment service refuses a lost or replaced card itself (422
    CARD_NOT_ACTIVE); the gateway never answers for one regardless. (A lookup by ID number is not
    concerned with the card: a person whose card is lost can still be looked up by ID number.)"""
    card = coverage.card
    if card is not None and card.status != "active":
        raise Refusal("CARD_NOT_ACTIVE", "该社保卡已挂失或已换卡，不能使用")


def _start_of(day: date) -> str:
    return f"{day.isoformat()} 00:00:00"


def _end_of(day: date) -> str:
    """An identity's last day (inclusive, as settlement reads it) as the last second of that day."""
    return f"{day.isoformat()} 23:59:59"


def _insuinfo(s: InsuranceState) -> dict[str, Any]:
    row: dict[str, Any] = {
        "balc": fen_to_yuan(0),  # residents have no personal account
        "insutype": s.enrollment.insutype,
        "psn_type": s.enrollment.psn_type,
        "psn_insu_stas": s.psn_insu_stas,
        # The start of the continuous cover, so a HIS sees how long the person has been insured.
        "psn_insu_date": (s.enrollment.psn_insu_date or s.enrollment.coverage_begin).isoformat(),
    }
    if s.paus_insu_date is not None:
        row["paus_insu_date"] = s.paus_insu_date.isoformat()
    row.update({"cvlserv_flag": "0", "insuplc_admdvs": s.enrollment.insuplc_admdvs, "emp_name": ""})
    return row


def _idetinfo(identity: Categorised) -> dict[str, Any]:
    row: dict[str, Any] = {
        "psn_idet_type": identity.psn_idet_type,
        "psn_type_lv": "",
        "memo": "",
        "begntime": _start_of(identity.begin_date),
    }
    if identity.end_date is not None:
        row["endtime"] = _end_of(identity.end_date)
    return row


def build_output(coverage: PersonCoverage, on: date) -> dict[str, Any]:
    """baseinfo / insuinfo / idetinfo with every field the interface defines (``fields.py``): a date or
    time with no value (not paused, an open-ended identity) is left out rather than sent as null, which a
    typed client's non-nullable date (``DateTime paus_insu_date`` in public C# HIS models) cannot read;
    texts with no value are ""."""
    return _output(coverage.person, coverage.age, coverage.enrollments, coverage.identities, on)


def build_peer_output(person: PersonAnswer, on: date) -> dict[str, Any]:
    """The same answer for a peer platform's insured, as the peer knows them; the age on today's date, as
    this platform's enrollment service gives it."""
    today = now_china().date()
    age = today.year - person.brdy.year - ((today.month, today.day) < (person.brdy.month, person.brdy.day))
    return _output(person, age, person.enrollments, person.identities, on)


def _output(
    person: Who, age: int, enrollments: Sequence[Enrolled], identities: Sequence[Categorised], on: date
) -> dict[str, Any]:
    states = insurance_states(enrollments, on)
    return {
        "baseinfo": {
            "psn_no": person.psn_no,
            "psn_cert_type": person.psn_cert_type,
            "certno": person.certno,
            "psn_name": person.psn_name,
            "gend": person.gend,
            "naty": person.naty,
            "brdy": person.brdy.isoformat(),
            "age": age,
            "exp_content": exp_content(_shown(states)),
        },
        "insuinfo": [_insuinfo(s) for s in states],
        "idetinfo": [_idetinfo(i) for i in identities if i.end_date is None or i.end_date.year >= on.year],
    }


#: Enrollment's answers for a person or card it does not know: the person may be a peer platform's.
UNKNOWN_HERE = frozenset({"PERSON_NOT_FOUND", "CARD_NOT_FOUND"})


async def _handle_1101(call: Call, envelope: Envelope1101) -> dict[str, Any]:
    data = envelope.data
    on = reference_date(data)
    key = lookup_key(data)
    try:
        if isinstance(key, ByCard):
            coverage = await call.downstream.person_coverage_by_card(key.card_no, key.card_sn)
            require_active_card(coverage)
        else:
            coverage = await call.downstream.person_coverage(key.certno)
    except Refusal as unknown:
        # Not insured here: a person of a peer platform (跨省) is answered as the peer knows them; a
        # region no peer hosts keeps this platform's refusal.
        region = call.envelope.insuplc_admdvs
        if unknown.code not in UNKNOWN_HERE or not region:
            raise
        query = PeerPersonQuery(
            msgid=call.envelope.msgid,
            insuplc_admdvs=region,
            certno=key.certno if isinstance(key, ByCertno) else None,
            card_no=key.card_no if isinstance(key, ByCard) else None,
            card_sn=key.card_sn if isinstance(key, ByCard) else None,
        )
        peer = await call.downstream.peer_person(query)
        if peer is None:
            raise
        return build_peer_output(peer, on)
    return build_output(coverage, on)


TRANSACTIONS = (Transaction("1101", "person", "人员信息获取", Envelope1101, _handle_1101),)
