"""The encounter endpoints' bodies: the gateway's contract with settlement (``shared.contracts.v1``)."""

from shared.contracts.v1.settlement import (
    DiagnosisUpdate,
    Discharge,
    EncounterDiagnosis,
    EncounterOpen,
    EncounterOut,
    EncounterSettle,
    FeesCancel,
    FeesCancelled,
    FeesOut,
    FeesUpload,
    FeeUpload,
)

__all__ = [
    "DiagnosisUpdate",
    "Discharge",
    "EncounterDiagnosis",
    "EncounterOpen",
    "EncounterOut",
    "EncounterSettle",
    "FeeUpload",
    "FeesCancel",
    "FeesCancelled",
    "FeesOut",
    "FeesUpload",
]
