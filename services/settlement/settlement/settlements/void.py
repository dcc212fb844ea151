"""2601 冲正: the sender never got the answer to a message. Whatever it settled is reversed; if it settled
nothing, its msgid is voided so that a late arrival cannot settle under it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from settlement.settlements.reverse import reverse
from settlement.settlements.schemas import SettlementOut
from settlement.settlements.stores import store_for
from shared.errors import Conflict, DomainError


async def void_message(
    session: AsyncSession, omsgid: str, fixmedins_code: str, msgid: str, psn_no: str | None
) -> SettlementOut | None:
    """2601 冲正: the sender never got the answer to ``omsgid``. If it settled, reverse it; if not, void the
    msgid so that a late arrival cannot settle under it. Returns the reversal, or None when nothing had
    settled.

    The decision is taken on the msgid claim, which a settlement writes first in its own transaction:
    inserting the void claim waits for a settlement of ``omsgid`` in flight, and then either takes the
    msgid (nothing settled, and nothing ever will) or finds it claimed. Only then is the settlement read,
    by a statement that sees what committed meanwhile. Reading the settlement first and the claim second
    (as before) let a settlement committing between the two reads stand while its msgid was answered
    "voided" (issue 21)."""
    # A msgid begins with the sender's institution code (the interface's msgid form): nobody voids another's.
    if not omsgid.startswith(fixmedins_code):
        raise DomainError("只能冲正本机构发送的报文", code="NOT_YOUR_MESSAGE", status_code=403)
    store = store_for(session)
    if await store.claim_void(session, omsgid):
        return None
    original = await store.settlement_by_msgid(session, omsgid)
    if original is not None:
        return await reverse(session, original.setl_id, fixmedins_code, msgid, psn_no, any_msgid=True)
    claim = await store.msgid_claim(session, omsgid)
    if claim is not None and claim.kind == "void":
        return None  # voided before (by this 2601 or another): nothing settled, nothing will
    # Claimed by a transaction that is not a settlement of this platform's: nothing to undo here.
    raise Conflict(f"报文ID {omsgid} 不是一笔结算交易，不能冲正", code="NOT_A_SETTLEMENT")
