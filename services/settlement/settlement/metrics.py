"""Business metrics of the settlement service, counted when the fact is committed.

Label values come from short code lists (med_type category, clr_type, hospital level, fund type, error
code); anything outside the expected shape is reported as ``other`` so that no request can grow the label
set. ``fixmedins_code`` is the one label with as many values as there are designated institutions: it is
bounded by the institutions table (a settlement needs a registered institution) and sits alone on its own
counter, for the "busiest institutions" panel.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from shared.observability import after_commit, setl_id_var

_LABELS = ["encounter_kind", "med_type", "clr_type", "institution_level"]

SETTLEMENTS = Counter("settlement_settlements_total", "Binding settlements committed", _LABELS)
REVERSALS = Counter(
    "settlement_reversals_total", "Settlement reversals committed (2103/2208/2305/2601)", _LABELS
)
INSTITUTION_SETTLEMENTS = Counter(
    "settlement_institution_settlements_total",
    "Binding settlements committed, by designated institution",
    ["fixmedins_code"],
)
FUND_PAID = Counter(
    "settlement_fund_paid_fen_total",
    "Fund amounts paid by settlements, in fen",
    ["fund_pay_type", "clr_type"],
)
FUND_REVERSED = Counter(
    "settlement_fund_reversed_fen_total",
    "Fund amounts taken back by reversals, in fen (positive)",
    ["fund_pay_type", "clr_type"],
)
MEDICAL_FEES = Counter(
    "settlement_medical_fees_fen_total", "Medical fees (medfee_sumamt) settled, in fen", ["clr_type"]
)
PATIENT_CASH = Counter(
    "settlement_patient_cash_fen_total", "Cash paid by patients at settlement, in fen", ["clr_type"]
)
PATIENT_CASH_REVERSED = Counter(
    "settlement_patient_cash_reversed_fen_total",
    "Patient cash given back by reversals, in fen (positive)",
    ["clr_type"],
)
REFUSALS = Counter(
    "settlement_refusals_total",
    "Binding settlements, reversals and voids refused, by operation and error code",
    ["operation", "code"],
)
#: Group commit of 2102 (``settlement.settlements.group``): groups committed, and groups rolled back whose
#: settlements were then run alone; the settlements in them.
GROUP_COMMITS = Counter(
    "settlement_group_commits_total", "Groups of pharmacy settlements settled in one transaction", ["outcome"]
)
GROUP_COMMIT_SETTLEMENTS = Counter(
    "settlement_group_commit_settlements_total", "Settle requests collected into groups", ["outcome"]
)

#: Out-of-area care (异地就医; docs/architecture.md, "Out-of-area care"): the regions are bounded by the
#: institutions' regions and the policies' regions (a settlement needs both).
OUT_OF_AREA = Counter(
    "settlement_out_of_area_total",
    "Out-of-area settlements (异地就医) and their reversals committed, by insured and treating region",
    ["insuplc_admdvs", "mdtrtarea_admvs", "pay_loc", "operation"],
)
OUT_OF_AREA_FUND = Counter(
    "settlement_out_of_area_fund_fen_total",
    "Fund amounts of out-of-area settlements and their reversals, in fen (reversals positive)",
    ["insuplc_admdvs", "mdtrtarea_admvs", "operation"],
)

_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,39}$")
_INSTITUTION = re.compile(r"^[A-Z]\d{11}$")


def _med_type(value: str) -> str:
    """The category (11 outpatient, 14 chronic disease, 21 inpatient, 41 pharmacy, 51/52 maternity...):
    the first two digits; the longer regional sub-codes (1401xx) stay in the database."""
    return value[:2] if len(value) >= 2 and value[:2].isdigit() else "other"


def _code(value: str, allowed: str) -> str:
    return value if re.fullmatch(allowed, value) else "other"


def _labels(encounter_kind: str, med_type: str, clr_type: str, institution_level: str) -> list[str]:
    return [
        _code(encounter_kind, r"pharmacy|outpatient|chronic|inpatient|maternity"),
        _med_type(med_type),
        _code(clr_type, r"\d{2}"),
        _code(institution_level, r"[0-9]{1,2}"),
    ]


def record_settlement(
    session: AsyncSession,
    *,
    setl_id: str,
    encounter_kind: str,
    med_type: str,
    clr_type: str,
    institution_level: str,
    fixmedins_code: str,
    funds: Iterable[tuple[str, int]],
    medfee_sumamt_fen: int,
    cash_paid_fen: int,
) -> None:
    """A settlement was written in ``session``: count it when the transaction commits."""
    setl_id_var.set(setl_id)
    labels = _labels(encounter_kind, med_type, clr_type, institution_level)
    clr = labels[2]
    paid = [(_code(fund, r"\d{6}"), amount) for fund, amount in funds]

    def count() -> None:
        SETTLEMENTS.labels(*labels).inc()
        INSTITUTION_SETTLEMENTS.labels(_code(fixmedins_code, _INSTITUTION.pattern)).inc()
        for fund, amount in paid:
            FUND_PAID.labels(fund, clr).inc(max(0, amount))
        MEDICAL_FEES.labels(clr).inc(max(0, medfee_sumamt_fen))
        PATIENT_CASH.labels(clr).inc(max(0, cash_paid_fen))

    after_commit(session, count)


def record_reversal(
    session: AsyncSession,
    *,
    setl_id: str,
    encounter_kind: str,
    med_type: str,
    clr_type: str,
    institution_level: str,
    funds: Iterable[tuple[str, int]],
    cash_paid_fen: int,
) -> None:
    """A reversal of a settlement was written in ``session`` (amounts as on the original, positive)."""
    setl_id_var.set(setl_id)
    labels = _labels(encounter_kind, med_type, clr_type, institution_level)
    clr = labels[2]
    taken_back = [(_code(fund, r"\d{6}"), amount) for fund, amount in funds]

    def count() -> None:
        REVERSALS.labels(*labels).inc()
        for fund, amount in taken_back:
            FUND_REVERSED.labels(fund, clr).inc(max(0, amount))
        PATIENT_CASH_REVERSED.labels(clr).inc(max(0, cash_paid_fen))

    after_commit(session, count)


def record_out_of_area(
    session: AsyncSession,
    *,
    insuplc_admdvs: str,
    mdtrtarea_admvs: str,
    fund_fen: int,
    operation: str,
    pay_loc: str | None = None,
) -> None:
    """A settlement (``operation`` settle) or reversal (reverse) of care outside the insured region was
    written in ``session`` (``fund_fen`` positive either way); nothing for care in the insured region.
    ``pay_loc`` 4: a peer platform's insured (跨省); else 3, another region of this platform."""
    if insuplc_admdvs == mdtrtarea_admvs:
        return
    insured, treating = _code(insuplc_admdvs, r"\d{6}"), _code(mdtrtarea_admvs, r"\d{6}")
    op = _code(operation, r"settle|reverse")
    where = "4" if pay_loc == "4" else "3"

    def count() -> None:
        # 3 省内异地 within the platform, 4 跨省异地 (docs/interface.md, "Out-of-area care").
        OUT_OF_AREA.labels(insured, treating, where, op).inc()
        OUT_OF_AREA_FUND.labels(insured, treating, op).inc(max(0, fund_fen))

    after_commit(session, count)


def record_group_commit(size: int, *, failed: bool) -> None:
    """A group of ``size`` settle requests was committed, or rolled back and its settlements run alone."""
    outcome = "retried_alone" if failed else "committed"
    GROUP_COMMITS.labels(outcome).inc()
    GROUP_COMMIT_SETTLEMENTS.labels(outcome).inc(size)


def record_refusal(operation: str, code: str) -> None:
    """A binding operation was refused (nothing was written)."""
    REFUSALS.labels(_code(operation, r"settle|reverse|void"), code if _CODE.match(code) else "other").inc()
