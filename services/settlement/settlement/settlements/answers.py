"""The answer for a settlement: its stored columns, fund shares and lines, and the person as of the
settlement day; built from the records just written, or read back (a replay, a query)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement.eligibility import service as eligibility
from settlement.eligibility.models import Eligibility
from settlement.interplatform.models import PeerSettlement
from settlement.schemes import service as schemes
from settlement.settlements.models import Settlement, SettlementFund, SettlementLine
from settlement.settlements.schemas import FundOut, LineOut, PersonSnapshot, SettlementOut
from shared.clock import CHINA_TZ
from shared.errors import NotFound


async def load(session: AsyncSession, setl_id: str, *, replayed: bool = False) -> SettlementOut:
    settlement = await session.scalar(select(Settlement).where(Settlement.setl_id == setl_id))
    if settlement is None:
        raise NotFound(f"结算记录不存在: {setl_id}", code="SETTLEMENT_NOT_FOUND")
    funds = await session.scalars(
        select(SettlementFund).where(SettlementFund.setl_id == setl_id).order_by(col(SettlementFund.id))
    )
    lines = await session.scalars(
        select(SettlementLine).where(SettlementLine.setl_id == setl_id).order_by(col(SettlementLine.id))
    )
    peer = await session.scalar(
        select(PeerSettlement).where(PeerSettlement.setl_id == (settlement.reversal_of or setl_id))
    )
    if peer is not None:  # a peer platform's insured (跨省): no coverage row of theirs is here
        return answer(settlement, list(funds), list(lines), None, replayed=replayed, peer=peer)
    # The coverage that admitted the person: of the settlement's scheme, or (a legacy year after the
    # switch-over, settled under 390) of the legacy scheme.
    rows = {
        row.insutype: row
        for row in await session.scalars(
            select(Eligibility).where(
                Eligibility.psn_no == settlement.psn_no,
                Eligibility.year == settlement.begntime.astimezone(CHINA_TZ).year,
            )
        )
    }
    person = rows.get(settlement.insutype) or next(
        (rows[scheme] for scheme in schemes.SCHEMES if scheme in rows), None
    )
    if person is None:
        raise NotFound(f"结算人员参保信息缺失: {settlement.psn_no}", code="NOT_COVERED")
    return answer(settlement, list(funds), list(lines), person, replayed=replayed)


def answer(
    settlement: Settlement,
    funds: list[SettlementFund],
    lines: Sequence[SettlementLine] | Sequence[dict[str, Any]],
    person: Eligibility | None,
    *,
    replayed: bool = False,
    peer: PeerSettlement | None = None,
) -> SettlementOut:
    """The answer for a stored settlement: its columns, its funds and lines (records, or the rows just
    inserted) in the order written, and the person as of the settlement day: from their coverage row, or
    for a peer platform's insured (``peer``, pay_loc 4) as the peer answered."""
    on = settlement.setl_time.astimezone(CHINA_TZ).date()
    if peer is not None:
        snapshot = _peer_snapshot(peer, settlement.psn_no, settlement.psn_type, on)
        where = PAY_LOC_CROSS_PLATFORM
    else:
        assert person is not None
        snapshot = _snapshot(person, settlement.psn_type, on)
        where = pay_loc(settlement.insuplc_admdvs, settlement.mdtrtarea_admvs)
    # The stored columns carry the same names as the answer's fields; the rest is assembled here.
    assembled = {"person", "funds", "lines", "replayed", "pay_loc"}
    columns = {
        name: getattr(settlement, name) for name in SettlementOut.model_fields if name not in assembled
    }
    return SettlementOut(
        **columns,
        person=snapshot,
        funds=[FundOut.model_validate(f) for f in funds],
        lines=[LineOut.model_validate(line) for line in lines],
        pay_loc=where,
        replayed=replayed,
    )


#: 支付地点类别 (national code table): 2 医疗机构 (the person's own region), 3 省内异地 (another region of
#: this platform: 就医地目录、参保地政策、就医地管理, docs/domain.md, "Out-of-area care"), 4 跨省异地 (a
#: person insured on a peer platform: docs/interface.md, "Between platforms").
PAY_LOC_LOCAL = "2"
PAY_LOC_IN_PROVINCE = "3"
PAY_LOC_CROSS_PLATFORM = "4"


def pay_loc(insuplc_admdvs: str, mdtrtarea_admvs: str) -> str:
    return PAY_LOC_LOCAL if insuplc_admdvs == mdtrtarea_admvs else PAY_LOC_IN_PROVINCE


def _snapshot(person: Eligibility, psn_type: str, on: date) -> PersonSnapshot:
    who = eligibility.require_identity(person)
    age = on.year - who.brdy.year - ((on.month, on.day) < (who.brdy.month, who.brdy.day))
    return PersonSnapshot(
        psn_no=person.psn_no,
        psn_name=who.psn_name,
        certno=who.certno,
        gend=who.gend,
        brdy=who.brdy,
        age=age,
        psn_type=psn_type,
        naty=person.naty or "",
    )


def _peer_snapshot(row: PeerSettlement, psn_no: str, psn_type: str, on: date) -> PersonSnapshot:
    age = on.year - row.brdy.year - ((on.month, on.day) < (row.brdy.month, row.brdy.day))
    return PersonSnapshot(
        psn_no=psn_no, psn_name=row.psn_name, certno=row.certno, gend=row.gend, brdy=row.brdy, age=age,
        psn_type=psn_type, naty=row.naty,
    )  # fmt: skip
