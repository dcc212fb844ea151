"""A day of a level-2 hospital, end to end through the gateway in front of the real settlement service and
the real fund ledger (in-process, real databases, both backends; the ledger posts settlement events through
its consumer's handler, the broker not being under test here): two admissions, their fee lines, discharges
and settlements, their settlement lists, 3201 agreeing, a 3202 with one injected difference found, a
clearing application refused until the difference is resolved, then accepted, cleared and booked.

By hand (demo policy, level 2: deductible 300.00, 60 %): each stay is 100 x B at 50.00 (乙, 10 % first) +
1 x C at 200.00 (丙) = 5,200.00: 500.00 first, 4,500.00 in range, 200.00 self-paid; the pooled fund pays
(4,500.00 - 300.00) x 60 % = 2,520.00, the patient 2,680.00. Two stays: 10,400.00 fees, 5,040.00 fund,
5,360.00 cash. Clearing: owed 5,040.00, quality deposit 5 % = 252.00, nothing in the special account yet,
so 0.00 paid and 4,788.00 carried forward."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from shared.clock import now_china
from tests.gateway.desk import Patient
from tests.gateway.test_clearing_applications import Books, application, books, period, reconcile
from tests.gateway.test_settlement_lists import settled_stay, the_list
from tests.settlement.conftest import HOSPITAL, REGION

__all__ = ["books"]


def file_row(ids: tuple[str, str, str], fund: str) -> str:
    return "\t".join([*ids, "5200.00", fund, "0.00", "0"])


async def test_a_day_of_a_level_2_hospital(books: Books) -> None:
    desk = books.desk
    stays: list[tuple[str, str, str]] = []
    for number in (1, 2):
        patient: Patient = await desk.person(40 + number)
        mdtrt_id, setl_id = await settled_stay(patient, f"ZY{number:04d}")
        stays.append((setl_id, mdtrt_id, patient.psn_no))
        # The settlement list of each stay, answered back with the settlement's own fund split.
        list_id = (await desk.ok("4101A", the_list(patient, mdtrt_id, setl_id)))["setl_list_id"]
        answer = await desk.ok("4103", {"data": {"psn_no": patient.psn_no, "setl_id": setl_id}})
        assert answer["setlinfo"]["setl_list_sn"] == list_id
        assert [(p["fund_pay_type"], Decimal(str(p["fund_payamt"]))) for p in answer["payinfo"]] == [
            ("390100", Decimal("2520.00"))
        ]
    # No list is missing, however late it is asked.
    later = (now_china() + timedelta(days=60)).isoformat()
    overdue = await desk.api.client.get("/api/v1/settlement-list-deadlines/overdue", params={"as_of": later})
    assert overdue.json()["overdue"] == []

    begin, end = period()
    totals = {
        "insutype": "390",
        "clr_type": "21",
        "setl_optins": REGION,
        "stmt_begndate": begin,
        "stmt_enddate": end,
        "medfee_sumamt": "10400.00",
        "fund_pay_sumamt": "5040.00",
        "acct_pay": "0.00",
        "fixmedins_setl_cnt": 2,
        "refd_setl_flag": "",
    }
    assert (await desk.ok("3201", {"data": totals}))["stmtinfo"]["stmt_rslt"] == "0"

    # The HIS's detail file has the second stay's fund at 2,500.00: 3202 finds it (cash 2,680.00 + 2,700.00).
    rows = [file_row(stays[0], "2520.00"), file_row(stays[1], "2500.00")]
    found = await reconcile(desk, rows, "10400.00", "5020.00", "5380.00", 2, "21")
    assert [(r["setl_id"], r["stmt_rslt"]) for r in found["result"]] == [(stays[1][0], "3")]
    assert found["result"][0]["memo"] == (
        "基金支付总额：医保中心 2520.00 元，机构 2500.00 元；医保中心基金：390100 2520.00 元"
    )
    clearing = application()
    clearing["data"].update(clr_type="21", medfee_sumamt="10400.00", fund_appy_sum="5040.00")
    refused = await desk.send("3203", clearing)
    assert refused["infcode"] == -1 and refused["err_msg"].startswith("[CLEARING_NOT_RECONCILED]")

    # Resolved: the corrected file agrees; the application is accepted; the fund clears it.
    rows[1] = file_row(stays[1], "2520.00")
    assert (await reconcile(desk, rows, "10400.00", "5040.00", "5360.00", 2, "21"))["result"] == []
    appy_id = (await desk.ok("3203", clearing))["result"]["clr_appy_evt_id"]
    await books.post_settlements()
    cleared = await books.ledger.post(f"/api/v1/clearing-applications/{appy_id}/clearing")
    assert cleared.status_code == 200, cleared.text
    batch = (await books.ledger.get(f"/api/v1/clearing-batches/{cleared.json()['batch_id']}")).json()
    assert (batch["fixmedins_code"], batch["period_owed_fen"], batch["deposit_fen"], batch["paid_fen"]) == (
        HOSPITAL,
        504000,
        25200,
        0,
    )
    assert batch["carried_forward_fen"] == 478800
    assert batch["clearing_entry_id"] is not None  # the deposit and the payable booked in the journal
