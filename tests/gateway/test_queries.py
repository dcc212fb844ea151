"""5201 就诊信息查询 through the gateway (message log on both backends, a fake settlement service behind it):
the stored encounter under the national names, the caller's own encounters only, bad input refused before
anything is sent."""

from __future__ import annotations

from typing import Any

from platformctl import examples
from tests.gateway.factories import HOSPITAL, PSN_NO, STAY_ID, VISIT_ID, Gateway, refusal, stay, visit

WHEN = "2026-11-20 10:00:00"
OTHER_HOSPITAL = "H34152400002"


def get(mdtrt_id: str, fixmedins_code: str = HOSPITAL) -> tuple[str, str]:
    return "GET", f"/api/v1/encounters/{mdtrt_id}?fixmedins_code={fixmedins_code}"


def message(sequence: int, data: dict[str, Any], fixmedins_code: str = HOSPITAL) -> dict[str, Any]:
    msgid = f"{fixmedins_code}20261120100000{sequence:04d}"
    body = examples.envelope(
        "5201", msgid, {"data": data}, insuplc_admdvs="341524", fixmedins_code=fixmedins_code
    )
    return {**body, "inf_time": WHEN}


async def test_5201_answers_the_stored_encounter(gateway: Gateway) -> None:
    gateway.fake.on(*get(VISIT_ID), (200, visit(insutype="390", dise_codg="M03900")))
    answer = await gateway.send(message(1, {"psn_no": PSN_NO, "mdtrt_id": VISIT_ID}))
    assert answer["infcode"] == 0, answer["err_msg"]
    # 09:00 +08:00 stored, on the wire as Beijing time; still open, so no endtime.
    assert answer["output"] == {
        "mdtrtinfo": [
            {
                "mdtrt_id": VISIT_ID,
                "psn_no": PSN_NO,
                "fixmedins_code": HOSPITAL,
                "ipt_otp_no": "MZ20261120001",
                "insutype": "390",
                "med_type": "11",
                "begntime": "2026-11-20 09:00:00",
                "endtime": None,
                "dise_codg": "M03900",
                "matn_type": None,
            }
        ]
    }


async def test_5201_of_a_discharged_stay_carries_its_endtime(gateway: Gateway) -> None:
    discharged = stay(insutype="390", endtime="2026-11-25T10:30:00+08:00", status="discharged")
    gateway.fake.on(*get(STAY_ID), (200, discharged))
    answer = await gateway.send(message(2, {"psn_no": PSN_NO, "mdtrt_id": STAY_ID}))
    assert answer["infcode"] == 0, answer["err_msg"]
    (info,) = answer["output"]["mdtrtinfo"]
    assert (info["mdtrt_id"], info["endtime"]) == (STAY_ID, "2026-11-25 10:30:00")


async def test_5201_refusals_are_infcode_minus_one(gateway: Gateway) -> None:
    gateway.fake.on(
        *get(VISIT_ID, OTHER_HOSPITAL), refusal(403, "NOT_YOUR_ENCOUNTER", "只能操作本机构的就诊记录")
    )
    foreign = await gateway.send(message(3, {"psn_no": PSN_NO, "mdtrt_id": VISIT_ID}, OTHER_HOSPITAL))
    assert (foreign["infcode"], foreign["err_msg"]) == (-1, "[NOT_YOUR_ENCOUNTER] 只能操作本机构的就诊记录")

    gateway.fake.on(*get(VISIT_ID), (200, visit()))
    other_person = await gateway.send(message(4, {"psn_no": "3415240000000009", "mdtrt_id": VISIT_ID}))
    assert other_person["infcode"] == -1
    assert other_person["err_msg"].startswith("[PSN_MISMATCH]")

    calls = len(gateway.fake.calls)
    no_visit = await gateway.send(message(5, {"psn_no": PSN_NO}))
    assert no_visit["infcode"] == -1 and "mdtrt_id" in no_visit["err_msg"]
    bad_id = await gateway.send(message(6, {"psn_no": PSN_NO, "mdtrt_id": "bad id!"}))
    assert bad_id["infcode"] == -1 and "mdtrt_id" in bad_id["err_msg"]
    assert len(gateway.fake.calls) == calls  # refused before the settlement service was asked
