"""Every settling code checks the credential presented, through the one check settlement's calculation makes
(``settlements.calculation.check_certificate``): an e-voucher token (mdtrt_cert_type 01) is refused
``[E_CERT_TYPE]`` (nothing here can verify one yet; a settlement on an unchecked token needs no more than a
psn_no, issue 23), an ID number (02) must be the person's, a card (03) registered to them. Through the gateway
in front of the real settlement service, on both backends, for 2101/2102, 2206/2207 and 2303/2304: refused,
nothing settled; the same request with the right ID number settles."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from settlement.settlements.models import Settlement
from sqlmodel import func, select

from tests.gateway.office import WHEN, Office, refused
from tests.settlement.conftest import PHARMACY

BAD = [
    ({"mdtrt_cert_type": "01", "mdtrt_cert_no": "any-token"}, "E_CERT_TYPE"),
    ({"mdtrt_cert_type": "02", "mdtrt_cert_no": "110101199003071234"}, "CERT_MISMATCH"),
    ({"mdtrt_cert_type": "03", "mdtrt_cert_no": "K00000001"}, "CERT_MISMATCH"),
]


async def settled(office: Office, psn_no: str) -> int:
    async with office.db.session() as session:
        query = select(func.count()).select_from(Settlement).where(Settlement.psn_no == psn_no)
        return int(await session.scalar(query) or 0)


def who(office: Office, psn_no: str) -> dict[str, str]:
    return {"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": office.certnos[psn_no]}


def line(sn: str, **extra: str) -> dict[str, str]:
    return {
        "feedetl_sn": sn, "fee_ocur_time": WHEN, "med_list_codg": "A", "medins_list_codg": "HA",
        "det_item_fee_sumamt": "30.00", "cnt": "60", "pric": "0.5", "hosp_appr_flag": "", **extra,
    }  # fmt: skip


@pytest.mark.parametrize(("credential", "code"), BAD, ids=["01", "02-other", "03-unknown"])
async def test_a_pharmacy_purchase(office: Office, credential: dict[str, str], code: str) -> None:
    psn_no = await office.person()
    info = {**who(office, psn_no), "begntime": WHEN, "medfee_sumamt": "30.00", "insutype": "390",
            "med_type": "41", "acct_used_flag": "0", "invono": ""}  # fmt: skip
    detail = [{**line("1"), "rxno": "", "rx_circ_flag": "0", "prd_days": "10"}]
    for infno in ("2101", "2102"):
        body = {"druginfo": {**info, **credential}, "drugdetail": detail}
        refused(await office.send(infno, body, fixmedins_code=PHARMACY), code)
    assert await settled(office, psn_no) == 0
    # 30.00 of A (甲): 20.00 deductible, (30.00 − 20.00) × 50 % = 5.00.
    good = await office.send("2102", {"druginfo": info, "drugdetail": detail}, fixmedins_code=PHARMACY)
    assert good["infcode"] == 0 and Decimal(str(good["output"]["setlinfo"]["hifp_pay"])) == Decimal("5.00"), (
        good
    )


@pytest.mark.parametrize(("credential", "code"), BAD, ids=["01", "02-other", "03-unknown"])
async def test_an_outpatient_visit(office: Office, credential: dict[str, str], code: str) -> None:
    psn_no = await office.person()
    registration = {"data": {**who(office, psn_no), "insutype": "390", "begntime": WHEN, "ipt_otp_no": "MZ1"}}
    registered = await office.send("2201", registration)
    assert registered["infcode"] == 0, registered["err_msg"]
    mdtrt_id = registered["output"]["data"]["mdtrt_id"]
    ours = {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "chrg_bchno": "B1"}
    assert (await office.send("2204", {"feedetail": [{**line("1"), **ours}]}))["infcode"] == 0
    settle = {**who(office, psn_no), "med_type": "11", "medfee_sumamt": "30.00", "mdtrt_id": mdtrt_id,
              "chrg_bchno": "B1", "insutype": "390"}  # fmt: skip
    for infno in ("2206", "2207"):
        refused(await office.send(infno, {"data": {**settle, **credential}}), code)
    assert await settled(office, psn_no) == 0
    # The same visit with the person's ID number: 30.00 of A, 20.00 deductible, 10.00 × 50 % = 5.00.
    good = await office.send("2207", {"data": settle})
    assert good["infcode"] == 0 and Decimal(str(good["output"]["setlinfo"]["hifp_pay"])) == Decimal("5.00"), (
        good
    )


@pytest.mark.parametrize(("credential", "code"), BAD, ids=["01", "02-other", "03-unknown"])
async def test_an_inpatient_stay(office: Office, credential: dict[str, str], code: str) -> None:
    psn_no = await office.person()
    info = {**who(office, psn_no), "insutype": "390", "begntime": WHEN, "med_type": "21", "ipt_no": "ZY1"}
    admitted = await office.send("2401", {"mdtrtinfo": info})
    assert admitted["infcode"] == 0, admitted["err_msg"]
    mdtrt_id = admitted["output"]["result"]["mdtrt_id"]
    ours: dict[str, Any] = {"mdtrt_id": mdtrt_id, "psn_no": psn_no}
    assert (await office.send("2301", {"feedetail": [{**line("1"), **ours}]}))["infcode"] == 0
    discharge = {**ours, "insutype": "390", "endtime": WHEN, "dscg_way": "1"}
    assert (await office.send("2402", {"dscginfo": discharge}))["infcode"] == 0
    settle = {
        **who(office, psn_no),
        **ours,
        "medfee_sumamt": "30.00",
        "insutype": "390",
        "mid_setl_flag": "0",
    }
    for infno in ("2303", "2304"):
        refused(await office.send(infno, {"data": {**settle, **credential}}), code)
    assert await settled(office, psn_no) == 0
    # 30.00 in range, under the level-2 deductible of 300.00: nothing from the fund, 30.00 cash.
    good = await office.send("2304", {"data": settle})
    assert good["infcode"] == 0, good["err_msg"]
    assert Decimal(str(good["output"]["setlinfo"]["psn_cash_pay"])) == Decimal("30.00")
