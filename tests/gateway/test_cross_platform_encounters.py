"""跨省异地就医 of a visit and a stay (docs/interface.md, "Between platforms"): a person insured on platform
B (region 110105) registers at platform A's level-2 hospital, the fees are uploaded, and 2207 / 2304
settles them through B (pay_loc 4), through A's gateway on both backends; B is a second settlement service
with its own database (``tests.support.two_platforms``).

就医地目录、参保地政策: A's catalogue classifies the lines, B's policy pays. B's policy (the demo's inpatient
part, its own outpatient part): outpatient 10.00 yearly deductible, 60 %; inpatient at level 2 a 300.00
deductible at the year's first admission and half of it from the second, 60 %; unfiled out-of-area care 10
points less in both.

The visit (2207), A's catalogue (the same bill as the purchase of ``test_cross_platform``):
    A: 60 × 0.50 = 30.00 甲 in range; D: 10 × 3.00 = 30.00 乙 capped at 2.50: 5.00 over the cap, 1.25
    paid first, 23.75 in range. Range 53.75 − 10.00 deductible = 43.75 × 50 % = 21.875 → 21.88; cash 38.12.

The stay (2304):
    B: 100 × 50.00 = 5,000.00 乙 with 10 % paid first: 500.00 first, 4,500.00 in range
    A:  20 ×  0.50 =    10.00 甲 in range
    bill 5,010.00, range 4,510.00.
  first admission of the year at B: (4,510.00 − 300.00) × 50 % = 2,105.00 pooled; cash 2,905.00.
  second admission: (4,510.00 − 150.00) × 50 % = 2,180.00 pooled; cash 2,830.00."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from settlement.interplatform.models import PeerSettlement
from sqlmodel import col, select

from tests.gateway.office import WHEN, Office, refused
from tests.gateway.test_cross_platform import platform_b, purchase
from tests.settlement.conftest import HOSPITAL, PHARMACY
from tests.support.two_platforms import B_REGION, PlatformB

__all__ = ["platform_b"]  # the fixture, imported for pytest

STAY_BILL = (("1", "B", "100", "50", "5000.00"), ("2", "A", "20", "0.5", "10.00"))
VISIT_BILL = (("1", "A", "60", "0.5", "30.00"), ("2", "D", "10", "3.00", "30.00"))


class Desk:
    """A's level-2 hospital speaking for a person insured on B."""

    def __init__(self, office: Office, psn_no: str, certno: str, platform_b: PlatformB | None = None) -> None:
        self.office, self.psn_no, self.platform_b = office, psn_no, platform_b
        self.who = {"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": certno}

    async def send(self, infno: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.office.send(infno, body, fixmedins_code=HOSPITAL, insuplc_admdvs=B_REGION)

    async def ok(self, infno: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = await self.send(infno, body)
        assert answer["infcode"] == 0, (infno, answer["err_msg"])
        output: dict[str, Any] = answer["output"]
        return output

    def lines(self, mdtrt_id: str, bill: tuple[tuple[str, ...], ...], **extra: str) -> list[dict[str, Any]]:
        return [
            {"feedetl_sn": sn, "mdtrt_id": mdtrt_id, "psn_no": self.psn_no, "fee_ocur_time": WHEN,
             "med_list_codg": code, "medins_list_codg": f"H{code}", "det_item_fee_sumamt": amount, "cnt": cnt,
             "pric": pric, "hosp_appr_flag": "", **extra}
            for sn, code, cnt, pric, amount in bill
        ]  # fmt: skip

    async def admit(self, ipt_no: str, med_type: str = "21") -> str:
        info = {**self.who, "insutype": "390", "begntime": WHEN, "med_type": med_type, "ipt_no": ipt_no}
        return str((await self.ok("2401", {"mdtrtinfo": info}))["result"]["mdtrt_id"])

    async def stay(self, ipt_no: str) -> tuple[str, dict[str, Any]]:
        """2401, 2301, 2402 and 2304 of one stay: its mdtrt_id and the 2304 answer."""
        mdtrt_id = await self.admit(ipt_no)
        await self.ok("2301", {"feedetail": self.lines(mdtrt_id, STAY_BILL)})
        discharge = {"mdtrt_id": mdtrt_id, "psn_no": self.psn_no, "insutype": "390", "endtime": WHEN,
                     "dscg_way": "1"}  # fmt: skip
        await self.ok("2402", {"dscginfo": discharge})
        # The HIS pre-settles first (2303): the peer previews, nothing is held there or written here.
        held_before = await self.reservations()
        previewed = await self.send("2303", {"data": self.settlement(mdtrt_id, "5010.00")})
        assert await self.reservations() == held_before
        settled = await self.send("2304", {"data": self.settlement(mdtrt_id, "5010.00")})
        assert amounts(previewed) == amounts(settled)
        return mdtrt_id, settled

    async def reservations(self) -> list[tuple[str, str]]:
        assert self.platform_b is not None
        return [(r.reservation_id, r.status) for r in await self.platform_b.reservations(self.psn_no)]

    def settlement(self, mdtrt_id: str, total: str, mid: str = "0") -> dict[str, Any]:
        return {**self.who, "mdtrt_id": mdtrt_id, "medfee_sumamt": total, "insutype": "390",
                "mid_setl_flag": mid}  # fmt: skip


def amounts(answer: dict[str, Any]) -> tuple[Decimal, ...]:
    """(bill, policy range, deductible, pooled fund, cash) of a settlement's setlinfo."""
    assert answer["infcode"] == 0, answer["err_msg"]
    info = answer["output"]["setlinfo"]
    names = ("medfee_sumamt", "inscp_scp_amt", "act_pay_dedc", "hifp_pay", "psn_cash_pay")
    return tuple(Decimal(str(info[name])) for name in names)


async def peer_rows(office: Office) -> list[PeerSettlement]:
    async with office.db.session() as session:
        return list(await session.scalars(select(PeerSettlement).order_by(col(PeerSettlement.id))))


async def test_a_stay_of_a_peer_insured_settles_under_their_platform_policy_and_reverses(
    office: Office, platform_b: PlatformB
) -> None:
    psn_no, certno = await platform_b.person()
    desk = Desk(office, psn_no, certno, platform_b)
    mdtrt_id, settled = await desk.stay("ZY-B1")
    # The docstring's first admission: range 4,510.00, B's 300.00 deductible, 50 %: 2,105.00; cash 2,905.00.
    assert amounts(settled) == (
        Decimal("5010.00"), Decimal("4510.00"), Decimal("300.00"), Decimal("2105.00"), Decimal("2905.00"),
    )  # fmt: skip
    info = settled["output"]["setlinfo"]
    assert (info["pay_loc"], info["insuplc_admdvs"], info["psn_name"]) == ("4", B_REGION, "北京人员")
    (held,) = await platform_b.reservations(psn_no)
    assert (held.status, held.treating_setl_id) == ("confirmed", info["setl_id"])
    totals = (await platform_b.totals(psn_no))["totals"]
    assert (totals["admissions"], totals["pooled_paid_fen"]) == (1, 2_105_00)
    # The stay is settled: its lines are marked, another 2304 finds nothing to settle.
    refused(await desk.send("2304", {"data": desk.settlement(mdtrt_id, "5010.00")}), "ENCOUNTER_STATE")

    # 2305: A reverses, B releases the hold; the stay can be settled again, still the year's first.
    undone = await desk.send("2305", {"data": {"setl_id": info["setl_id"], "mdtrt_id": mdtrt_id,
                                               "psn_no": psn_no}})  # fmt: skip
    assert amounts(undone) == (
        Decimal("-5010.00"), Decimal("-4510.00"), Decimal("-300.00"), Decimal("-2105.00"),
        Decimal("-2905.00"),
    )  # fmt: skip
    (held,) = await platform_b.reservations(psn_no)
    assert (held.status, held.release_reason) == ("released", "reversal")
    totals = (await platform_b.totals(psn_no))["totals"]
    assert (totals["admissions"], totals["pooled_paid_fen"]) == (0, 0)
    again = await desk.send("2304", {"data": desk.settlement(mdtrt_id, "5010.00")})
    assert amounts(again)[2:] == (Decimal("300.00"), Decimal("2105.00"), Decimal("2905.00"))

    # A second stay in the year is B's second admission: half the deductible, (4,510.00 − 150.00) × 50 %.
    _, second = await desk.stay("ZY-B2")
    assert amounts(second)[2:] == (Decimal("150.00"), Decimal("2180.00"), Decimal("2830.00"))
    totals = (await platform_b.totals(psn_no))["totals"]
    assert (totals["admissions"], totals["pooled_paid_fen"]) == (2, 2_105_00 + 2_180_00)
    assert [r.status for r in await peer_rows(office)] == ["released", "confirmed", "confirmed"]


async def test_a_visit_of_a_peer_insured_settles_batch_by_batch(
    office: Office, platform_b: PlatformB
) -> None:
    psn_no, certno = await platform_b.person()
    desk = Desk(office, psn_no, certno, platform_b)
    registered = await desk.ok("2201", {"data": {**desk.who, "insutype": "390", "begntime": WHEN,
                                                 "ipt_otp_no": "MZ-B1"}})  # fmt: skip
    mdtrt_id = registered["data"]["mdtrt_id"]
    await desk.ok("2204", {"feedetail": desk.lines(mdtrt_id, VISIT_BILL, chrg_bchno="B1")})
    settle = {**desk.who, "med_type": "11", "mdtrt_id": mdtrt_id, "chrg_bchno": "B1", "insutype": "390",
              "medfee_sumamt": "60.00", "acct_used_flag": "0", "psn_setlway": "01"}  # fmt: skip
    previewed = await desk.send("2206", {"data": settle})
    assert await platform_b.reservations(psn_no) == [] and await peer_rows(office) == []
    settled = await desk.send("2207", {"data": settle})
    assert amounts(previewed) == amounts(settled)
    # The docstring's visit: range 53.75, B's 10.00 deductible, 43.75 × 50 % = 21.88; cash 38.12.
    assert amounts(settled) == (
        Decimal("60.00"), Decimal("53.75"), Decimal("10.00"), Decimal("21.88"), Decimal("38.12"),
    )  # fmt: skip
    assert settled["output"]["setlinfo"]["pay_loc"] == "4"
    totals = (await platform_b.totals(psn_no))["totals"]
    assert (totals["outpatient_deductible_fen"], totals["outpatient_paid_fen"]) == (10_00, 21_88)

    # A second batch of the same visit: the deductible is met, 30.00 of A × 50 % = 15.00.
    more = desk.lines(mdtrt_id, (("3", "A", "60", "0.5", "30.00"),), chrg_bchno="B2")
    await desk.ok("2204", {"feedetail": more})
    second = await desk.send("2207", {"data": {**settle, "chrg_bchno": "B2", "medfee_sumamt": "30.00"}})
    assert amounts(second) == (
        Decimal("30.00"), Decimal("30.00"), Decimal("0.00"), Decimal("15.00"), Decimal("15.00"),
    )  # fmt: skip
    totals = (await platform_b.totals(psn_no))["totals"]
    assert totals["outpatient_paid_fen"] == 21_88 + 15_00
    assert [(r.status, r.peer) for r in await peer_rows(office)] == [("confirmed", "B"), ("confirmed", "B")]


async def test_what_the_peer_cannot_settle_is_refused_at_registration_and_nothing_is_written(
    office: Office, platform_b: PlatformB, monkeypatch: pytest.MonkeyPatch
) -> None:
    psn_no, certno = await platform_b.person()
    desk = Desk(office, psn_no, certno, platform_b)
    # A delivery (52) needs B's own maternity rules: refused at admission, before anything is written.
    info = {**desk.who, "insutype": "390", "begntime": WHEN, "med_type": "52", "ipt_no": "ZY-B9"}
    refused(await desk.send("2401", {"mdtrtinfo": info}), "NOT_ELIGIBLE")
    # Someone B does not cover, and B's person with another person's ID number.
    stranger = {**info, "med_type": "21", "psn_no": f"{B_REGION}{99:016d}"}
    refused(await desk.send("2401", {"mdtrtinfo": stranger}), "NOT_COVERED")
    other = {**info, "med_type": "21", "mdtrt_cert_no": "110105198503120999"}
    refused(await desk.send("2401", {"mdtrtinfo": other}), "CERT_MISMATCH")
    assert await platform_b.reservations(psn_no) == []

    # A stay settled in parts (中途结算) would count B's admission once per part: refused, nothing written.
    mdtrt_id = await desk.admit("ZY-B10")
    await desk.ok("2301", {"feedetail": desk.lines(mdtrt_id, STAY_BILL)})
    refused(
        await desk.send("2304", {"data": desk.settlement(mdtrt_id, "5010.00", mid="1")}), "NOT_DISCHARGED"
    )
    assert await platform_b.reservations(psn_no) == [] and await peer_rows(office) == []


async def test_a_pre_settlement_of_a_purchase_previews_the_peer_policy_and_holds_nothing(
    office: Office, platform_b: PlatformB
) -> None:
    psn_no, certno = await platform_b.person()
    body = purchase(psn_no, certno)
    previewed = await office.send("2101", body, fixmedins_code=PHARMACY, insuplc_admdvs=B_REGION)
    # test_cross_platform's purchase: range 53.75 − 10.00 = 43.75 × 50 % = 21.88 from B's fund, cash 38.12.
    assert amounts(previewed) == (
        Decimal("60.00"), Decimal("53.75"), Decimal("10.00"), Decimal("21.88"), Decimal("38.12"),
    )  # fmt: skip
    assert previewed["output"]["setlinfo"]["pay_loc"] == "4"
    assert await platform_b.reservations(psn_no) == [] and await peer_rows(office) == []
    totals = await platform_b.totals(psn_no)
    assert totals["settlement_count"] == 0 and totals["totals"]["outpatient_deductible_fen"] == 0
    # Previewed again, the same; then settled, the same amounts.
    again = await office.send("2101", body, fixmedins_code=PHARMACY, insuplc_admdvs=B_REGION)
    settled = await office.send("2102", body, fixmedins_code=PHARMACY, insuplc_admdvs=B_REGION)
    assert amounts(again) == amounts(settled) == amounts(previewed)
