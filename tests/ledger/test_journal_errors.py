"""The journal's refusals answer with the HTTP status the error catalogue (shared/error_codes.py) gives
their code: a client's unbalanced or cross-sub-ledger entry is a 422, never another status."""

from __future__ import annotations

import pytest
from fund_ledger.books import journal

from shared.error_codes import ErrorCode


@pytest.mark.parametrize("error", [journal.UnbalancedEntry, journal.SubLedgerViolation])
def test_journal_refusals_carry_the_catalogue_status(error: type[journal.DomainError]) -> None:
    catalogued = ErrorCode[error.code]
    # Both are catalogued with the single status 422 (shared/error_codes.py, LEDGER section).
    assert catalogued.statuses == (422,)
    assert error.status_code == 422
