"""Refusals at the gateway become ``infcode=-1`` with an ``err_msg`` a HIS operator can read: Chinese text
with a stable code in brackets, e.g. ``[E_INPUT] input.druginfo.psn_no: 必填``."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from shared import validation_text


class Refusal(Exception):
    """The transaction was refused and nothing was done."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def err_msg(self) -> str:
        return f"[{self.code}] {self.message}"


class OutcomeUnknown(Refusal):
    """A downstream call may or may not have taken effect. Never stored as a final answer."""


#: Refusals that say "nothing was done, send the same envelope again later": the same msgid may succeed
#: then, so none of them is stored in the message log as the msgid's answer (``EnvelopeProcessor``).
TRANSIENT_CODES = frozenset(
    {
        "E_UNAVAILABLE",  # the service behind the gateway could not be reached, or failed a read
        "E_TIMEOUT",  # a read-only call went unanswered (a state-changing one is "outcome unknown")
        "E_RATE_LIMITED",  # the institution is over its rate at this gateway process
        "E_BUSY",  # the gateway has as many calls in flight downstream as it may (``gateway.capacity``)
        "RETRY_LATER",  # settlement's 409: the transaction lost a lock or serialization race, rolled back
    }
)


def _loc(loc: tuple[Any, ...], prefix: str) -> str:
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "报文"


def describe(exc: ValidationError, prefix: str = "") -> str:
    parts = []
    for error in exc.errors()[:8]:
        parts.append(f"{_loc(tuple(error['loc']), prefix)}: {validation_text.message(error)}")
    return "; ".join(parts)
