"""A msgid settles once: a repeat of the same request answers with the first settlement, a msgid used for
anything else (another request, a reversal, a 2601 void) is refused."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from settlement.eligibility.service import CoverageKey
from settlement.settlements.answers import load
from settlement.settlements.schemas import SettlementOut
from settlement.settlements.stores import store_for
from shared.errors import Conflict


async def replay_if_settled(session: AsyncSession, msgid: str, digest: str) -> SettlementOut | None:
    """The first answer when this msgid already settled the same request; a refusal when it was used for
    something else; None when it is new here."""
    earlier = await store_for(session).settlement_by_msgid(session, msgid)
    if earlier is None:
        return None
    if earlier.request_sha256 != digest:
        raise Conflict(f"报文ID {msgid} 已用于另一笔不同内容的交易", code="MSGID_REUSED")
    return await load(session, earlier.setl_id, replayed=True)


async def claim_msgid(
    session: AsyncSession, msgid: str, digest: str, cover: CoverageKey | None = None
) -> SettlementOut | None:
    """Claim the msgid for a settlement: None when it is new; the first answer when it was settled with the
    same request; a refusal when it was used otherwise or voided by 2601. ``cover``: the coverage the
    settlement reads next, read by the claim's statement where the backend can (``store.claim_msgid``).

    One statement for a new msgid, which reads the reference data's version too (``reference.seen_version``).
    A claim in flight in another transaction makes the insert wait for it
    (the primary key), so a retry racing its first attempt answers with what the first one committed."""
    store = store_for(session)
    if await store.claim_msgid(session, msgid, cover):
        return None
    replay = await replay_if_settled(session, msgid, digest)
    if replay is not None:
        return replay
    claim = await store.msgid_claim(session, msgid)
    if claim is not None and claim.kind == "void":
        raise Conflict(f"报文ID {msgid} 已被冲正(2601)作废，不能再结算", code="MSGID_VOIDED")
    # Claimed, committed, and no settlement under it: the claim of a transaction that is not a settlement.
    raise Conflict(f"报文ID {msgid} 已用于另一笔交易", code="MSGID_REUSED")
