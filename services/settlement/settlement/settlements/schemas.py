"""The settlement endpoints' bodies: the gateway's contract with settlement (``shared.contracts.v1``)."""

from shared.contracts.v1.settlement import (
    FeeLineIn,
    FundOut,
    LineOut,
    PersonSnapshot,
    PharmacySettlementRequest,
    Price,
    Quantity,
    Ratio,
    ReversalRequest,
    SettlementOut,
    UtcTime,
    VoidOut,
    VoidRequest,
)

__all__ = [
    "FeeLineIn",
    "FundOut",
    "LineOut",
    "PersonSnapshot",
    "PharmacySettlementRequest",
    "Price",
    "Quantity",
    "Ratio",
    "ReversalRequest",
    "SettlementOut",
    "UtcTime",
    "VoidOut",
    "VoidRequest",
]
