"""The filings' bodies between the gateway (2501-2507, 5301/5302, 2001) or an operator and this service: the
contract both sides import (``shared.contracts.v1.filings``)."""

from shared.contracts.v1.filings import (
    ChronicFilingCreate,
    DesignatedFilingCreate,
    Entitlement,
    EntitlementRow,
    FilingKind,
    FilingList,
    FilingOut,
    FilingRevoke,
    Flag,
    InjuryFilingCreate,
    ReferralFilingCreate,
)

__all__ = [
    "ChronicFilingCreate",
    "DesignatedFilingCreate",
    "Entitlement",
    "EntitlementRow",
    "FilingKind",
    "FilingList",
    "FilingOut",
    "FilingRevoke",
    "Flag",
    "InjuryFilingCreate",
    "ReferralFilingCreate",
]
