"""Inventory 3501-3507 through the gateway in front of the real settlement service (both backends): a
pharmacy's batch bought, sold, returned, counted and changed, stock never below zero, traceability codes
moving with it; 3507 takes back what was uploaded; a 2102 line naming a code must name one the pharmacy holds
(docs/interface.md, "Inventory")."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.gateway.desk import WHEN, Desk, Patient, desk, refused
from tests.settlement.conftest import PHARMACY

__all__ = ["desk"]

BATCH = "B20261120001"
CODES = ["81234567890000000001", "81234567890000000002", "81234567890000000003"]


def goods(cnt_field: str, cnt: str, codes: list[str] | None = None, **more: Any) -> dict[str, Any]:
    node: dict[str, Any] = {
        "med_list_codg": "A",
        "fixmedins_hilist_id": "YP0001",
        "fixmedins_hilist_name": "甲类药",
        "fixmedins_bchno": BATCH,
        "manu_lotnum": "L2026",
        "manu_date": "2026-01-01",
        "expy_end": "2028-01-01",
        "rx_flag": "1",
        cnt_field: cnt,
        **more,
    }
    if codes is not None:
        node["drugtracinfo"] = [{"drug_trac_codg": c} for c in codes]
    return node


async def at_pharmacy(desk: Desk, infno: str, body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = (await desk.ok(infno, body, at=PHARMACY))["result"]
    return result


def stock(result: dict[str, Any]) -> tuple[Decimal, Decimal]:
    return Decimal(str(result["inv_cnt"])), Decimal(str(result.get("chg_cnt", 0)))


async def held(desk: Desk) -> tuple[Decimal, list[str]]:
    response = await desk.api.client.get(
        f"/api/v1/inventory/batches/{BATCH}", params={"fixmedins_code": PHARMACY}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return Decimal(str(body["on_hand"])), body["trace_codes"]


async def test_a_batch_bought_sold_returned_counted_and_changed(desk: Desk) -> None:
    bought = await at_pharmacy(
        desk, "3503", {"purcinfo": goods("purc_retn_cnt", "100", CODES, spler_name="供应商")}
    )
    assert stock(bought) == (100, 100)
    # 3505 sells 10 with the first code (one string, as some HIS send it).
    sale = goods("sel_retn_cnt", "10", drug_trac_codg=CODES[0], sel_retn_time=WHEN)
    assert stock(await at_pharmacy(desk, "3505", {"selinfo": sale})) == (90, -10)
    assert await held(desk) == (Decimal(90), CODES[1:])
    # The same code cannot be sold twice; more than is on hand cannot be sold; nothing changed by either.
    refused(await desk.send("3505", {"selinfo": sale}, at=PHARMACY), "INV_TRACE_CODE")
    refused(
        await desk.send("3505", {"selinfo": goods("sel_retn_cnt", "90.0001")}, at=PHARMACY), "INV_STOCK_SHORT"
    )
    assert await held(desk) == (Decimal(90), CODES[1:])
    # Returned (3506): back in stock, its code too.
    assert stock(await at_pharmacy(desk, "3506", {"selinfo": sale})) == (100, 10)
    assert await held(desk) == (Decimal(100), CODES)
    # 20 back to the supplier with the third code (3504): 80.
    back = goods("purc_retn_cnt", "20", [CODES[2]])
    assert stock(await at_pharmacy(desk, "3504", {"purcinfo": back})) == (80, -20)
    # Counted (3501): 75 on the shelf, 5 fewer than booked.
    assert stock(
        await at_pharmacy(desk, "3501", {"invinfo": goods("inv_cnt", "75", invdate="2026-11-30")})
    ) == (
        75,
        -5,
    )
    # 104 盘损 5 out, 101 调拨入库 10 in: 75 - 5 + 10 = 80.
    lost = goods("cnt", "5", inv_chg_type="104", pric="0.5")
    assert stock(await at_pharmacy(desk, "3502", {"invinfo": lost})) == (70, -5)
    moved_in = goods("cnt", "10", inv_chg_type="101", pric="0.5")
    assert stock(await at_pharmacy(desk, "3502", {"invinfo": moved_in})) == (80, 10)
    assert await held(desk) == (Decimal(80), CODES[:2])

    # 3507 takes back the sales of the batch (the sale of 10 and its return): 80 stays 80, the first code
    # is in stock as it was; then the changes: 80 - 10 + 5 = 75.
    deleted = await at_pharmacy(desk, "3507", {"data": {"fixmedins_bchno": BATCH, "inv_data_type": "4"}})
    assert (deleted["deleted_cnt"], Decimal(str(deleted["inv_cnt"]))) == (2, 80)
    assert await held(desk) == (Decimal(80), CODES[:2])
    deleted = await at_pharmacy(desk, "3507", {"data": {"fixmedins_bchno": BATCH, "inv_data_type": "2"}})
    assert (deleted["deleted_cnt"], Decimal(str(deleted["inv_cnt"]))) == (2, 75)


async def test_a_repeated_msgid_moves_stock_once(desk: Desk) -> None:
    msgid = desk.msgid(PHARMACY)
    body = {"purcinfo": goods("purc_retn_cnt", "12", CODES[:1])}
    first = await desk.send("3503", body, at=PHARMACY, msgid=msgid)
    assert first["infcode"] == 0, first["err_msg"]
    assert await desk.send("3503", body, at=PHARMACY, msgid=msgid) == first
    assert await held(desk) == (Decimal(12), CODES[:1])


async def buy(patient: Patient, line: dict[str, Any]) -> dict[str, Any]:
    body = {
        "druginfo": {
            **patient.who,
            "begntime": WHEN,
            "medfee_sumamt": line["det_item_fee_sumamt"],
            "insutype": "390",
            "med_type": "41",
        },
        "drugdetail": [line],
    }
    return await patient.desk.send("2102", body, at=PHARMACY)


def drug_line(code: str, **more: Any) -> dict[str, Any]:
    return {
        "feedetl_sn": "1",
        "fee_ocur_time": WHEN,
        "med_list_codg": code,
        "medins_list_codg": f"YP{code}",
        "det_item_fee_sumamt": "5.00",
        "cnt": "10",
        "pric": "0.5",
        **more,
    }


async def test_a_traced_line_must_name_a_code_the_pharmacy_holds(desk: Desk) -> None:
    await at_pharmacy(desk, "3503", {"purcinfo": goods("purc_retn_cnt", "100", CODES)})
    patient = await desk.person()
    # A code the pharmacy never received, and one of drug A on a line of drug B: refused, nothing settled.
    unknown = await buy(patient, drug_line("A", drugtracinfo=[{"drug_trac_codg": "89999999999999999999"}]))
    refused(unknown, "TRACE_CODE_NOT_HELD")
    assert "A/89999999999999999999" in unknown["err_msg"]
    other_drug = await buy(
        patient, drug_line("B", det_item_fee_sumamt="200.00", pric="20", drug_trac_codg=CODES[1])
    )
    refused(other_drug, "TRACE_CODE_NOT_HELD")
    refused(await buy(patient, drug_line("A", drug_trac_codg="bad!")), "E_INPUT")
    # Held: settles. 10 x 0.50 = 5.00.
    settled = await buy(patient, drug_line("A", drug_trac_codg=CODES[1]))
    assert settled["infcode"] == 0, settled["err_msg"]
    assert Decimal(str(settled["output"]["setlinfo"]["medfee_sumamt"])) == Decimal("5.00")
    # A line without a code is not checked (the purchases before traceability).
    plain = await buy(patient, drug_line("A"))
    assert plain["infcode"] == 0, plain["err_msg"]


async def test_inventory_bad_input_is_refused(desk: Desk) -> None:
    refused(await desk.send("3503", {"purcinfo": goods("purc_retn_cnt", "-1")}, at=PHARMACY), "E_INPUT")
    refused(
        await desk.send("3503", {"purcinfo": goods("purc_retn_cnt", "1", ["ab"])}, at=PHARMACY), "E_INPUT"
    )
    refused(
        await desk.send("3505", {"selinfo": goods("sel_retn_cnt", "1")}, at=PHARMACY), "INV_BATCH_NOT_FOUND"
    )
    refused(
        await desk.send("3502", {"invinfo": goods("cnt", "1", inv_chg_type="199")}, at=PHARMACY), "E_INPUT"
    )
    refused(
        await desk.send("3507", {"data": {"fixmedins_bchno": BATCH, "inv_data_type": "5"}}, at=PHARMACY),
        "E_INPUT",
    )
    await at_pharmacy(desk, "3503", {"purcinfo": goods("purc_retn_cnt", "1", [CODES[0]])})
    other_drug = goods("purc_retn_cnt", "1", med_list_codg="B")
    refused(await desk.send("3503", {"purcinfo": other_drug}, at=PHARMACY), "INV_BATCH_DRUG")
    # A code already in stock cannot come in again.
    again = goods("purc_retn_cnt", "1", [CODES[0]])
    refused(await desk.send("3503", {"purcinfo": again}, at=PHARMACY), "INV_TRACE_CODE")
    assert await held(desk) == (Decimal(1), [CODES[0]])
