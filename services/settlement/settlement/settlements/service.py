"""The settlements domain's operations, as routes and the other domains (encounters, manual claims) call
them. Each use case lives in its own module: ``settle`` (and pre-settle), ``reverse``, ``void`` (2601),
``replay`` (a msgid settles once); they decide, and write through ``store.SettlementStore``."""

from __future__ import annotations

from settlement.settlements.answers import load
from settlement.settlements.calculation import check_certificate, use_voucher
from settlement.settlements.claims import (
    MAX_CLOCK_SKEW,
    Claim,
    ClaimLine,
    PeerAdmission,
    digest_of,
    new_id,
    pharmacy_claim,
)
from settlement.settlements.replay import claim_msgid, replay_if_settled
from settlement.settlements.reverse import reverse
from settlement.settlements.settle import PeerRoute, presettle, settle
from settlement.settlements.store import StayLines
from settlement.settlements.void import void_message

__all__ = [
    "MAX_CLOCK_SKEW",
    "Claim",
    "ClaimLine",
    "PeerAdmission",
    "PeerRoute",
    "StayLines",
    "check_certificate",
    "claim_msgid",
    "digest_of",
    "load",
    "new_id",
    "pharmacy_claim",
    "presettle",
    "replay_if_settled",
    "reverse",
    "settle",
    "use_voucher",
    "void_message",
]
