"""Traced drugs (须采集追溯码) through the gateway in front of the real settlement service (both backends): a
drug the catalogue marks ``trace_required`` is dispensed with its traceability codes, on a pharmacy purchase
(2102), a visit's or a stay's fee line (2204, 2301) and an inventory sale (3505); without one the line is
refused with its place and number, and nothing is stored (docs/domain.md, "Inventory").

Drug T: 甲类 西药 (09), no price cap. 10 x 0.50 = 5.00 a line."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.gateway.desk import WHEN, Desk, desk, line, refused
from tests.gateway.test_inventory import at_pharmacy, buy, drug_line, goods
from tests.settlement.conftest import PHARMACY

__all__ = ["desk"]

TRACED = "T"
BATCH = "BT20261120001"
CODES = ["83234567890000000001", "83234567890000000002"]


async def catalogue_traced_drug(desk: Desk) -> None:
    body = {
        "med_list_codg": TRACED,
        "name": "头孢克洛胶囊(追溯)",
        "med_chrgitm_type": "09",
        "chrgitm_lv": "1",
        "trace_required": True,
    }
    response = await desk.api.post("/api/v1/catalogue/items", body)
    assert response.status_code == 201, response.text
    assert response.json()["trace_required"] is True


def traced_goods(cnt_field: str, cnt: str, codes: list[str] | None = None, **more: Any) -> dict[str, Any]:
    return goods(cnt_field, cnt, codes, med_list_codg=TRACED, fixmedins_bchno=BATCH, **more)


async def on_hand(desk: Desk) -> tuple[Decimal, list[str]]:
    response = await desk.api.client.get(
        f"/api/v1/inventory/batches/{BATCH}", params={"fixmedins_code": PHARMACY}
    )
    assert response.status_code == 200, response.text
    return Decimal(str(response.json()["on_hand"])), response.json()["trace_codes"]


async def test_a_pharmacy_sells_a_traced_drug_with_its_codes(desk: Desk) -> None:
    await catalogue_traced_drug(desk)
    await at_pharmacy(desk, "3503", {"purcinfo": traced_goods("purc_retn_cnt", "20", CODES)})
    # 3505 without a code: refused, the stock as it was (20, both codes).
    no_code = await desk.send("3505", {"selinfo": traced_goods("sel_retn_cnt", "10")}, at=PHARMACY)
    refused(no_code, "TRACE_CODE_REQUIRED")
    assert no_code["err_msg"].endswith(f"批次 {BATCH} 药品 {TRACED}"), no_code["err_msg"]
    assert await on_hand(desk) == (Decimal(20), CODES)

    # 2102 without a code: refused with the line's place and number; nothing settled.
    patient = await desk.person()
    line_without = drug_line(TRACED)
    unnamed = await buy(patient, line_without)
    refused(unnamed, "TRACE_CODE_REQUIRED")
    assert unnamed["err_msg"].endswith(f"第 1 行（费用明细 1）药品 {TRACED}"), unnamed["err_msg"]
    assert (await desk.ok("5201", {"data": {"psn_no": patient.psn_no, "begntime": WHEN}}, at=PHARMACY)) == {
        "mdtrtinfo": []
    }
    # With a code the pharmacy holds: settled, 10 x 0.50 = 5.00.
    settled = await buy(patient, {**line_without, "drug_trac_codg": CODES[0]})
    assert settled["infcode"] == 0, settled["err_msg"]
    assert Decimal(str(settled["output"]["setlinfo"]["medfee_sumamt"])) == Decimal("5.00")
    # 3505 with the other code: 20 - 10 = 10 on hand, the sold code no longer held.
    sold = await at_pharmacy(desk, "3505", {"selinfo": traced_goods("sel_retn_cnt", "10", CODES[1:])})
    assert Decimal(str(sold["inv_cnt"])) == Decimal(10)
    assert await on_hand(desk) == (Decimal(10), [CODES[0]])


async def test_an_outpatient_line_of_a_traced_drug_names_its_code(desk: Desk) -> None:
    await catalogue_traced_drug(desk)
    patient = await desk.person()
    registered = await desk.ok(
        "2201", {"data": {**patient.who, "insutype": "390", "begntime": WHEN, "ipt_otp_no": "MZT0001"}}
    )
    mdtrt_id = registered["data"]["mdtrt_id"]
    ours = {"mdtrt_id": mdtrt_id, "psn_no": patient.psn_no, "chrg_bchno": "B1"}
    # 2 x A at 0.50 = 1.00 (not traced) and 10 x T at 0.50 = 5.00 (traced, no code): the second is refused.
    lines = [
        {**line("1", "A", "2", "0.5", "1.00"), **ours},
        {**line("2", TRACED, "10", "0.5", "5.00"), **ours},
    ]
    answer = await desk.send("2204", {"feedetail": lines})
    refused(answer, "TRACE_CODE_REQUIRED")
    assert answer["err_msg"].endswith(f"第 2 行（费用明细 2）药品 {TRACED}"), answer["err_msg"]
    # Nothing was stored: the same lines, the traced one with its code, are taken (no FEE_LINE_EXISTS).
    lines[1]["drugtracinfo"] = [{"drug_trac_codg": CODES[0]}]
    uploaded = await desk.ok("2204", {"feedetail": lines})
    assert [row["feedetl_sn"] for row in uploaded["result"]] == ["1", "2"]
    settle = {
        **patient.who,
        "med_type": "11",
        "psn_setlway": "01",
        "mdtrt_id": mdtrt_id,
        "chrg_bchno": "B1",
        "insutype": "390",
        "acct_used_flag": "0",
        "medfee_sumamt": "6.00",
    }
    settled = (await desk.ok("2207", {"data": settle}))["setlinfo"]
    assert Decimal(str(settled["medfee_sumamt"])) == Decimal("6.00")  # 1.00 + 5.00


async def test_a_stay_line_of_a_traced_drug_names_its_code(desk: Desk) -> None:
    await catalogue_traced_drug(desk)
    patient = await desk.person()
    admitted = await desk.ok(
        "2401",
        {
            "mdtrtinfo": {
                **patient.who,
                "insutype": "390",
                "begntime": WHEN,
                "med_type": "21",
                "ipt_no": "ZYT0001",
            }
        },
    )
    mdtrt_id = admitted["result"]["mdtrt_id"]
    ours = {"mdtrt_id": mdtrt_id, "psn_no": patient.psn_no}
    # 2 x A at 0.50 = 1.00 (not traced) and 10 x T at 0.50 = 5.00 (traced, no code): the second is refused.
    lines = [
        {**line("1", "A", "2", "0.5", "1.00"), **ours},
        {**line("2", TRACED, "10", "0.5", "5.00"), **ours},
    ]
    answer = await desk.send("2301", {"feedetail": lines})
    refused(answer, "TRACE_CODE_REQUIRED")
    assert answer["err_msg"].endswith(f"第 2 行（费用明细 2）药品 {TRACED}"), answer["err_msg"]
    # Nothing was stored: the same lines, the traced one with its package's code, are taken.
    lines[1]["drug_trac_codg"] = CODES[0]
    uploaded = await desk.ok("2301", {"feedetail": lines})
    assert [row["feedetl_sn"] for row in uploaded["result"]] == ["1", "2"]
