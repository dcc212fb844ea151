"""Drug traceability codes (追溯码) as HIS software sends them: a ``drugtracinfo`` list of
``{drug_trac_codg}`` nodes, or one ``drug_trac_codg`` string holding one code or several separated by commas
(both forms are in deployed code). Read by the pharmacy settlement (2102) and the inventory codes
(3501-3506); docs/interface.md, "Inventory"."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.v1.inventory import TRACE_CODE

_SPLIT = re.compile(r"[,，;；\s]+")


class TraceInfo(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    drug_trac_codg: str = Field(pattern=TRACE_CODE)


def codes_of(single: Any, listed: list[TraceInfo] | None) -> list[str]:
    """Every code the node names, in order, without repeats; a malformed one is refused by the caller's
    model (``TRACE_CODE``)."""
    found: list[str] = []
    if isinstance(single, str) and single.strip():
        found.extend(part for part in _SPLIT.split(single.strip()) if part)
    found.extend(t.drug_trac_codg for t in listed or [])
    unique = list(dict.fromkeys(found))
    bad = [code for code in unique if not re.fullmatch(TRACE_CODE, code)]
    if bad:
        raise ValueError(f"追溯码格式不正确: {', '.join(bad)}")
    return unique
