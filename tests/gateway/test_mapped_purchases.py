"""Pharmacy purchases (2101 / 2102) whose lines carry only the pharmacy's own code (``med_list_codg`` empty
or absent, as a POS that has mapped its catalogue with 3301 sends them), through the gateway in front of
the real settlement service (both backends): a mapped line settles exactly as the national code does, by
the mapping in force on the day of purchase; an unmapped code is refused naming its line; a mapping
revoked (3302) stops applying from its date; 2103 reverses a mapped purchase; 5204 shows both codes.

Seeded reference data (tests/gateway/desk.py): item A is 甲类 with a unit price cap of 0.50; the demo
policy's outpatient pooling, which pharmacy purchases use: 20.00 yearly deductible, then 50 %."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared.clock import now_china
from tests.gateway.desk import WHEN, Desk, Patient, desk, refused
from tests.settlement.conftest import PHARMACY

__all__ = ["desk"]

OWN_CODE = "YP-AMX-025"


def mapping(**changes: Any) -> dict[str, Any]:
    """3301 as a pharmacy sends it: its own code for 阿莫西林 mapped to national item A from 1 Jan."""
    return {
        "data": {
            "fixmedins_hilist_id": OWN_CODE,
            "fixmedins_hilist_name": "阿莫西林胶囊0.25g",
            "list_type": "101",
            "med_list_codg": "A",
            "begndate": "2026-01-01",
            "aprvno": "国药准字H00000000",
            **changes,
        }
    }


def drug(sn: str, national: str | None, own: str) -> dict[str, Any]:
    """A drugdetail row of 100 × 0.60 = 60.00; ``national`` None: the field left out, as some POS do."""
    row = {
        "feedetl_sn": sn,
        "fee_ocur_time": WHEN,
        "medins_list_codg": own,
        "det_item_fee_sumamt": "60.00",
        "cnt": "100",
        "pric": "0.6",
        "hosp_appr_flag": "",
    }
    if national is not None:
        row["med_list_codg"] = national
    return row


def purchase(patient: Patient, *rows: dict[str, Any], begntime: str = WHEN) -> dict[str, Any]:
    total = sum(Decimal(r["det_item_fee_sumamt"]) for r in rows)
    return {
        "druginfo": {
            **patient.who,
            "begntime": begntime,
            "medfee_sumamt": f"{total:.2f}",
            "insutype": "390",
            "med_type": "41",
        },
        "drugdetail": list(rows),
    }


def amounts(setlinfo: dict[str, Any]) -> tuple[Decimal, ...]:
    names = ("medfee_sumamt", "overlmt_selfpay", "inscp_scp_amt", "hifp_pay", "psn_cash_pay")
    return tuple(Decimal(str(setlinfo[name])) for name in names)


#: 100 × 0.60 = 60.00 against A's cap 0.50: 100 × 0.10 = 10.00 over the cap, 50.00 in the policy range;
#: (50.00 − 20.00 deductible) × 50 % = 15.00 from the pooled fund; 60.00 − 15.00 = 45.00 cash.
PAID = (Decimal("60.00"), Decimal("10.00"), Decimal("50.00"), Decimal("15.00"), Decimal("45.00"))


async def test_a_mapped_line_settles_as_the_national_code(desk: Desk) -> None:
    assert (await desk.send("3301", mapping(), at=PHARMACY))["infcode"] == 0
    by_code, mapped_patient, absent = [await desk.person(n) for n in (21, 22, 23)]
    national = await desk.ok("2102", purchase(by_code, drug("1", "A", "YP-OTHER")), at=PHARMACY)
    previewed = await desk.ok("2101", purchase(mapped_patient, drug("1", "", OWN_CODE)), at=PHARMACY)
    mapped = await desk.ok("2102", purchase(mapped_patient, drug("1", "", OWN_CODE)), at=PHARMACY)
    left_out = await desk.ok("2102", purchase(absent, drug("1", None, OWN_CODE)), at=PHARMACY)
    for answer in (national, previewed, mapped, left_out):
        assert amounts(answer["setlinfo"]) == PAID
    (line,) = mapped["detlcutinfo"]
    assert (Decimal(str(line["overlmt_amt"])), Decimal(str(line["inscp_scp_amt"]))) == (
        Decimal("10.00"),
        Decimal("50.00"),
    )

    # 5204 shows the national code the line settled as and the pharmacy's own code it was sent with.
    setlinfo = mapped["setlinfo"]
    query = {
        "psn_no": mapped_patient.psn_no,
        "mdtrt_id": setlinfo["mdtrt_id"],
        "setl_id": setlinfo["setl_id"],
    }
    (row,) = (await desk.ok("5204", {"data": query}, at=PHARMACY))["feedetail"]
    assert (row["med_list_codg"], row["medins_list_codg"], row["feedetl_sn"]) == ("A", OWN_CODE, "1")
    stored = (await desk.ok("5203", {"data": query}, at=PHARMACY))["setlinfo"]
    assert amounts(stored) == PAID

    # 2103 reverses the mapped purchase: every amount negated.
    reversal = await desk.ok("2103", {"data": query}, at=PHARMACY)
    assert amounts(reversal["setlinfo"]) == tuple(-x for x in PAID)


async def test_an_unmapped_line_is_refused_naming_it(desk: Desk) -> None:
    assert (await desk.send("3301", mapping(), at=PHARMACY))["infcode"] == 0
    patient = await desk.person()
    body = purchase(patient, drug("1", "", OWN_CODE), drug("2", "", "YP-UNKNOWN"))
    for infno in ("2101", "2102"):
        answer = await desk.send(infno, body, at=PHARMACY)
        refused(answer, "UNMAPPED_ITEM")
        assert answer["err_msg"].startswith(
            "[UNMAPPED_ITEM] 第 2 行（费用明细 2）院内编码 YP-UNKNOWN 在 2026-11-20 没有在用的目录对照"
        ), answer["err_msg"]
    # Nothing was settled: the person has no settlement at the pharmacy.
    listed = await desk.ok("5201", {"data": {"psn_no": patient.psn_no, "begntime": WHEN}}, at=PHARMACY)
    assert listed == {"mdtrtinfo": []}


async def test_a_revoked_mapping_stops_applying_on_its_date(desk: Desk) -> None:
    assert (await desk.send("3301", mapping(), at=PHARMACY))["infcode"] == 0
    revocation = {
        "fixmedins_code": PHARMACY,
        "fixmedins_hilist_id": OWN_CODE,
        "list_type": "101",
        "med_list_codg": "A",
    }
    revoked = await desk.ok("3302", {"data": revocation}, at=PHARMACY)
    today = now_china()
    assert revoked["data"]["revoked_on"] == today.date().isoformat()
    patient = await desk.person()
    # A purchase before today still uses the mapping: settled as A (PAID, computed above).
    before = await desk.ok("2102", purchase(patient, drug("1", "", OWN_CODE)), at=PHARMACY)
    assert amounts(before["setlinfo"]) == PAID
    # Today it no longer applies.
    now = f"{today:%Y-%m-%d %H:%M:%S}"
    answer = await desk.send("2102", purchase(patient, drug("1", "", OWN_CODE), begntime=now), at=PHARMACY)
    refused(answer, "UNMAPPED_ITEM")
    assert f"院内编码 {OWN_CODE} 在 {today.date().isoformat()}" in answer["err_msg"]
