"""Every transaction code the gateway answers, each declared once in its family module (``gateway.nhsa``:
``person``, ``pharmacy``, ``outpatient``, ``inpatient``, ``void``, ``reconciliation``, ``queries``,
``filings``, ``prechecks``, ``settlement_lists``, ``inventory``, ``sign``, ``files``, ``catalogue``). The
pipeline (``gateway.transactions``), the 2601 rules and the metrics labels read it from here; adding a code
is its declaration in its family, its service endpoint and its tests."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.nhsa import (
    catalogue,
    files,
    filings,
    inpatient,
    inventory,
    outpatient,
    person,
    pharmacy,
    prechecks,
    queries,
    reconciliation,
    settlement_lists,
    sign,
    void,
)
from gateway.nhsa.transaction import Transaction

FAMILIES = (
    person,
    pharmacy,
    outpatient,
    inpatient,
    void,
    reconciliation,
    queries,
    filings,
    prechecks,
    settlement_lists,
    inventory,
    sign,
    files,
    catalogue,
)


def _collect(declared: Iterable[Transaction]) -> dict[str, Transaction]:
    registry: dict[str, Transaction] = {}
    for transaction in declared:
        if transaction.infno in registry:
            raise ValueError(f"transaction {transaction.infno} declared twice")
        registry[transaction.infno] = transaction
    return registry


TRANSACTIONS: dict[str, Transaction] = _collect(t for family in FAMILIES for t in family.TRANSACTIONS)
#: What 2601 may 冲正 (in the order the refusal lists them).
VOIDABLE_INFNOS: tuple[str, ...] = tuple(sorted(i for i, t in TRANSACTIONS.items() if t.voidable))


def find(infno: str) -> Transaction | None:
    return TRANSACTIONS.get(infno)
