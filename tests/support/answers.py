"""Every answer a gateway test receives, checked against the output fields the interface defines
(``gateway/nhsa/fields.py``, docs/interface.md "Output fields"): the shared HIS sender
(:class:`tests.support.his.SignedHis`) calls :func:`check_fields` on each answer, so any test that reaches
a code checks that answer's nodes, keys and value types, not only the tests written for the fields."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from gateway import registry
from gateway.nhsa import fields

#: The codes the gateway's families declare (not those a test adds to the registry for itself).
_DECLARED = frozenset(t.infno for family in registry.FAMILIES for t in family.TRANSACTIONS)


def check_text(infno: Any, text: str) -> None:
    """:func:`check_fields` on an answer as it came over the wire (amounts read as decimals, as
    ``parse_body`` reads them); text that is not a JSON object is left to the test."""
    try:
        answer = json.loads(text, parse_float=Decimal)
    except (ValueError, RecursionError):
        return
    check_fields(infno, answer)


def check_fields(infno: Any, answer: Any) -> None:
    """Fails when a successful answer (``infcode`` 0) to ``infno`` lacks a defined field, has one the
    interface does not define, or types one otherwise; refusals and answers that are not envelopes are
    left to the test that sent them."""
    if not isinstance(answer, dict) or answer.get("infcode") != 0 or not isinstance(infno, str):
        return
    output = answer.get("output")
    if infno not in fields.OUTPUT:
        # A code a test declares for itself (test_registry's echo) has no list; every declared one has.
        assert infno not in _DECLARED, f"{infno}: no field list for it in gateway/nhsa/fields.py"
        return
    assert isinstance(output, dict), f"{infno}: output {output!r} is not an object"
    problems = fields.missing_or_mistyped(infno, output)
    assert problems == [], f"{infno}: {problems}"
