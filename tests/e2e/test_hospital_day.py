"""A day of a level-2 hospital through the whole platform (issue 25): the HIS over HTTP to the gateway, the
four services as real processes under uvicorn, the embedded broker carrying settlement's events to the fund
ledger, both backends (the harness of tests/e2e/conftest.py). The same day as
tests/gateway/test_hospital_day.py (which runs the services in-process): admission, fees, an interim and a
final settlement, the settlement list, 3201 and 3202 with an injected difference, the clearing application
refused until reconciled, then accepted and cleared; the ledger's books checked once the events have
arrived.

By hand (demo policy at 金寨县人民医院, level 2: first admission of the year, deductible 300.00, 60 %; every
line is captopril, 甲, no price cap, so all of it is in the policy range; no identity, so no assistance,
and the year's burden stays far below the catastrophic threshold of 10,000.00):
1. interim (mid_setl_flag 1) on 1,000.00: (1,000.00 - 300.00) x 60 % = 420.00 pooled, cash 580.00;
2. final on 500.00 more: the stay's 1,500.00 gives (1,500.00 - 300.00) x 60 % = 720.00, less 420.00 =
   300.00 pooled, cash 200.00.
Day: 1,500.00 fees, 720.00 from the fund, 780.00 cash, 2 settlements. Clearing: owed 720.00, quality
deposit 5 % = 36.00, so 684.00 paid or carried forward (as the special account allows)."""

from __future__ import annotations

import base64
import io
import zipfile
from typing import Any

import httpx
import pytest

from platformctl.demo import REGION
from tests.e2e.conftest import Stack
from tests.e2e.test_card_swipe import OPERATOR
from tests.e2e.test_money_layers import HOSPITAL, Stay, _booked, _hospital, _insured, _ok, _paid
from tests.gateway.test_clearing_applications import period

pytestmark = pytest.mark.e2e


def _file_row(setl_id: str, mdtrt_id: str, psn_no: str, medfee: str, fund: str) -> str:
    return "\t".join([setl_id, mdtrt_id, psn_no, medfee, fund, "0.00", "0"])


async def _reconcile(
    stack: Stack, client: httpx.AsyncClient, rows: list[str], fund: str, cash: str
) -> dict[str, Any]:
    """9101 (the detail file, zipped) then 3202 over the day."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mxdz.txt", "\n".join(rows) + "\n")
    node = {
        "in": base64.b64encode(buffer.getvalue()).decode(),
        "filename": "mxdz.zip",
        "fixmedins_code": HOSPITAL["fixmedins_code"],
    }
    file_qury_no = (await _ok(stack, client, _hospital("9101", {"fsUploadIn": node})))["file_qury_no"]
    begin, end = period()
    data = {
        "setl_optins": REGION,
        "file_qury_no": file_qury_no,
        "stmt_begndate": begin,
        "stmt_enddate": end,
        "medfee_sumamt": "1500.00",
        "fund_pay_sumamt": fund,
        "cash_payamt": cash,
        "fixmedins_setl_cnt": 2,
        "clr_type": "21",
    }
    return await _ok(stack, client, _hospital("3202", {"data": data}))


async def test_a_day_of_a_level_2_hospital_through_the_platform(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=30, headers=OPERATOR) as client:
        psn_no, certno = await _insured(client, stack)
        stay = await Stay(stack, client, psn_no, certno).admit()
        await stay.fees("1000.00")
        interim = await stay.settle("1000.00", interim=True)
        await stay.fees("500.00")
        await stay.discharge()
        final = await stay.settle("500.00", interim=False)
        assert [_paid(x) for x in (interim, final)] == [
            {"390100": "420.00", "390200": "0.00", "610100": "0.00", "cash": "580.00"},
            {"390100": "300.00", "390200": "0.00", "610100": "0.00", "cash": "200.00"},
        ]
        setl_ids = (str(interim["setl_id"]), str(final["setl_id"]))

        # The settlement list of the stay's final settlement, its times as the platform has the stay.
        visit = await _ok(
            stack, client, _hospital("5201", {"data": {"psn_no": psn_no, "begntime": "2000-01-01 00:00:00"}})
        )
        (info,) = visit["mdtrtinfo"]
        the_list = {
            "setlinfo": {
                "psn_no": psn_no,
                "mdtrt_id": stay.mdtrt_id,
                "setl_id": setl_ids[1],
                "adm_time": info["begntime"],
                "dscg_time": info["endtime"],
                "dscg_way": "1",
                "medins_fill_dept": "病案室",
                "medins_fill_psn": "李四",
            },
            "diseinfo": [
                {"diag_type": "1", "diag_code": "J18.900", "diag_name": "肺炎", "maindiag_flag": "1"},
            ],
            "oprninfo": [],
        }
        listed = await _ok(stack, client, _hospital("4101A", the_list))
        answer = await _ok(
            stack, client, _hospital("4103", {"data": {"psn_no": psn_no, "setl_id": setl_ids[1]}})
        )
        assert answer["setlinfo"]["setl_list_sn"] == listed["setl_list_id"]
        assert [(p["fund_pay_type"], str(p["fund_payamt"])) for p in answer["payinfo"]] == [
            ("390100", "300.00")
        ]

        # 3201 agrees on the day: 1,500.00 fees, 720.00 fund, 2 settlements.
        begin, end = period()
        totals = {
            "insutype": "390",
            "clr_type": "21",
            "setl_optins": REGION,
            "stmt_begndate": begin,
            "stmt_enddate": end,
            "medfee_sumamt": "1500.00",
            "fund_pay_sumamt": "720.00",
            "acct_pay": "0.00",
            "fixmedins_setl_cnt": 2,
            "refd_setl_flag": "",
        }
        assert (await _ok(stack, client, _hospital("3201", {"data": totals})))["stmtinfo"]["stmt_rslt"] == "0"

        # The HIS's file has the interim settlement's fund at 410.00: 3202 finds it (cash 590.00 + 200.00).
        ids = (stay.mdtrt_id, psn_no)
        rows = [
            _file_row(setl_ids[0], *ids, "1000.00", "410.00"),
            _file_row(setl_ids[1], *ids, "500.00", "300.00"),
        ]
        found = await _reconcile(stack, client, rows, "710.00", "790.00")
        assert [(r["setl_id"], r["stmt_rslt"]) for r in found["result"]] == [(setl_ids[0], "3")]
        application = {
            "data": {
                "clr_type": "21",
                "clr_way": "01",
                "setlym": begin[:4] + begin[5:7],
                "psntime": 1,
                "medfee_sumamt": "1500.00",
                "med_sumfee": "1500.00",
                "fund_appy_sum": "720.00",
                "cash_payamt": "780.00",
                "acct_pay": "0.00",
                "begndate": begin,
                "enddate": end,
            }
        }
        refused = await stack.call(client, _hospital("3203", application))
        assert refused["infcode"] == -1 and refused["err_msg"].startswith("[CLEARING_NOT_RECONCILED]")

        # Resolved: the corrected file agrees, the application is accepted.
        rows[0] = _file_row(setl_ids[0], *ids, "1000.00", "420.00")
        assert (await _reconcile(stack, client, rows, "720.00", "780.00"))["result"] == []
        appy_id = (await _ok(stack, client, _hospital("3203", application)))["result"]["clr_appy_evt_id"]

        # The ledger's books, once both settlements' events have arrived over the broker: 720.00 on the
        # inpatient pooled expenditure account (5102).
        books = await _booked(client, stack, set(setl_ids))
        assert books["5102"] == 72000  # 420.00 + 300.00
        cleared = await client.post(f"{stack.url('ledger')}/api/v1/clearing-applications/{appy_id}/clearing")
        assert cleared.status_code == 200, cleared.text
        batch = (
            await client.get(f"{stack.url('ledger')}/api/v1/clearing-batches/{cleared.json()['batch_id']}")
        ).json()
        assert (batch["fixmedins_code"], batch["period_owed_fen"], batch["deposit_fen"]) == (
            HOSPITAL["fixmedins_code"],
            72000,
            3600,  # 5 % of 720.00
        )
        assert batch["paid_fen"] + batch["carried_forward_fen"] == 68400  # 720.00 - 36.00
        assert batch["clearing_entry_id"] is not None
