"""Business metrics of the enrollment service, counted when the fact is committed.

Labels: pooling region (``admdvs``, bounded by the regions configured), scheme (``insutype``), and short
code lists (kind of start, payer, termination reason, subsidy level). No person ids.
"""

from __future__ import annotations

import re

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from shared.observability import after_commit

ENROLLMENTS = Counter(
    "enrollment_enrollments_total",
    "Enrollments registered for an insurance year (regular, late payment, newborn)",
    ["admdvs", "insutype", "kind"],
)
ACTIVATIONS = Counter(
    "enrollment_activations_total",
    "Enrollments that became active (contribution paid in full)",
    ["admdvs", "insutype"],
)
TERMINATIONS = Counter(
    "enrollment_terminations_total", "Enrollments terminated, by reason", ["admdvs", "insutype", "reason"]
)
PAYMENTS = Counter(
    "enrollment_payments_total", "Contribution payments recorded, by payer", ["admdvs", "payer"]
)
PAYMENT_AMOUNT = Counter(
    "enrollment_payments_fen_total", "Contributions received, in fen, by payer", ["admdvs", "payer"]
)
SUBSIDIES = Counter(
    "enrollment_subsidy_allocated_fen_total",
    "Government subsidy allocated at activation, in fen, by level",
    ["admdvs", "level"],
)

_WORD = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def _region(admdvs: str) -> str:
    return admdvs if admdvs.isdigit() and len(admdvs) == 6 else "other"


def _word(value: str) -> str:
    return value if _WORD.match(value) else "other"


def _scheme(insutype: str) -> str:
    return insutype if insutype in ("390", "391", "380") else "other"


def record_enrollment(session: AsyncSession, admdvs: str, insutype: str, kind: str) -> None:
    labels = (_region(admdvs), _scheme(insutype), _word(kind))
    after_commit(session, lambda: ENROLLMENTS.labels(*labels).inc())


def record_activation(
    session: AsyncSession, admdvs: str, insutype: str, subsidy_shares: dict[str, int]
) -> None:
    region, scheme = _region(admdvs), _scheme(insutype)
    shares = [(_word(level), amount) for level, amount in subsidy_shares.items()]

    def count() -> None:
        ACTIVATIONS.labels(region, scheme).inc()
        for level, amount in shares:
            SUBSIDIES.labels(region, level).inc(max(0, amount))

    after_commit(session, count)


def record_payment(session: AsyncSession, admdvs: str, payer: str, amount_fen: int) -> None:
    labels = (_region(admdvs), _word(payer))

    def count() -> None:
        PAYMENTS.labels(*labels).inc()
        PAYMENT_AMOUNT.labels(*labels).inc(max(0, amount_fen))

    after_commit(session, count)


def record_termination(session: AsyncSession, admdvs: str, insutype: str, reason: str) -> None:
    labels = (_region(admdvs), _scheme(insutype), _word(reason))
    after_commit(session, lambda: TERMINATIONS.labels(*labels).inc())
