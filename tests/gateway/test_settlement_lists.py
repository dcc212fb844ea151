"""Settlement lists 4101/4101A/4102/4103 through the gateway in front of the real settlement service (both
backends): one list per inpatient settlement, checked against it (fund split, fee classes, one main
diagnosis, codes on the 1307/1308 lists in force at discharge), withdrawn and uploaded again, answered
back; the overdue report and its gauge (docs/interface.md, "Settlement lists").

The stay, by hand (demo policy, level-2 hospital): 100 x B at 50.00 (乙, 10 % first) + 1 x C at 200.00 (丙)
= 5,200.00: 500.00 first, 4,500.00 in range, 200.00 self-paid; deductible 300.00; the pooled fund (390100)
pays (4,500.00 - 300.00) x 60 % = 2,520.00. By fee class: 11 中成药 5,000.00 (B), 09 西药 200.00 (C)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from prometheus_client import REGISTRY

from tests.gateway.desk import OTHER_HOSPITAL, WHEN, Desk, Patient, desk, line, refused
from tests.settlement.conftest import seed_diagnoses

__all__ = ["desk"]

DISCHARGED = "2026-11-25 10:00:00"


async def settled_stay(patient: Patient, ipt_no: str = "ZY0001") -> tuple[str, str]:
    """Admitted 2026-11-20, discharged 2026-11-25, settled: (mdtrt_id, setl_id)."""
    desk = patient.desk
    mdtrtinfo = {**patient.who, "insutype": "390", "begntime": WHEN, "med_type": "21", "ipt_no": ipt_no}
    admitted = await desk.ok("2401", {"mdtrtinfo": mdtrtinfo, "diseinfo": []})
    mdtrt_id: str = admitted["result"]["mdtrt_id"]
    ours = {"mdtrt_id": mdtrt_id, "psn_no": patient.psn_no}
    lines = [
        {**line("1", "B", "100", "50", "5000.00"), **ours},
        {**line("2", "C", "1", "200", "200.00"), **ours},
    ]
    await desk.ok("2301", {"feedetail": lines})
    await desk.ok("2402", {"dscginfo": {**ours, "insutype": "390", "endtime": DISCHARGED, "dscg_way": "1"}})
    settle = {
        **patient.who,
        "medfee_sumamt": "5200.00",
        "psn_setlway": "01",
        "mdtrt_id": mdtrt_id,
        "insutype": "390",
        "acct_used_flag": "0",
        "mid_setl_flag": "0",
    }
    settled = (await desk.ok("2304", {"data": settle}))["setlinfo"]
    assert Decimal(str(settled["hifp_pay"])) == Decimal("2520.00")
    return mdtrt_id, str(settled["setl_id"])


def the_list(patient: Patient, mdtrt_id: str, setl_id: str, **changes: Any) -> dict[str, Any]:
    """A 4101A body as a HIS sends it (fields the platform does not read kept as sent)."""
    body: dict[str, Any] = {
        "setlinfo": {
            "psn_no": patient.psn_no,
            "mdtrt_id": mdtrt_id,
            "setl_id": setl_id,
            "medcasno": "BA0001",
            "adm_time": WHEN,
            "dscg_time": DISCHARGED,
            "dscg_way": "1",
            "hi_paymtd": "1",
            "chfpdr_code": "D001",
            "medins_fill_dept": "病案室",
            "medins_fill_psn": "李四",
        },
        "diseinfo": [
            {
                "diag_type": "1",
                "diag_code": "J18.900",
                "diag_name": "肺炎",
                "maindiag_flag": "1",
                "adm_cond_type": "1",
            },
            {
                "diag_type": "1",
                "diag_code": "I10.x00",
                "diag_name": "高血压",
                "maindiag_flag": "0",
                "adm_cond_type": "1",
            },
        ],
        "oprninfo": [
            {
                "oprn_oprt_type": "1",
                "oprn_oprt_code": "88.0101",
                "oprn_oprt_name": "腹部CT检查",
                "oprn_oprt_date": "2026-11-21 09:00:00",
            }
        ],
        "icuinfo": [],
        "bldinfo": [],
        "opspdiseinfo": [],
    }
    body.update(changes)
    return body


def with_amounts(body: dict[str, Any], fund: str = "2520.00", c09: str = "200.00") -> dict[str, Any]:
    """The 4101 form: the institution states the fund split and the fee classes."""
    return {
        **body,
        "payinfo": [{"fund_pay_type": "390100", "fund_payamt": fund}],
        "iteminfo": [
            {
                "med_chrgitm": "09",
                "amt": c09,
                "claa_sumfee": "0",
                "clab_amt": "0",
                "fulamt_ownpay_amt": c09,
                "oth_amt": "0",
            },
            {
                "med_chrgitm": "11",
                "amt": "5000.00",
                "claa_sumfee": "0",
                "clab_amt": "5000.00",
                "fulamt_ownpay_amt": "0",
                "oth_amt": "0",
            },
        ],
    }


async def test_4101a_uploads_the_list_and_4103_answers_it(desk: Desk) -> None:
    patient = await desk.person()
    mdtrt_id, setl_id = await settled_stay(patient)
    uploaded = await desk.ok("4101A", the_list(patient, mdtrt_id, setl_id))
    list_id = uploaded["setl_list_id"]
    assert len(list_id) == 9 and list_id.isdigit() and uploaded["data"] == {"setl_list_id": list_id}

    answer = await desk.ok("4103", {"data": {"psn_no": patient.psn_no, "setl_id": setl_id}})
    info = answer["setlinfo"]
    assert (info["setl_list_sn"], info["setl_id"], info["mdtrt_id"], info["stas_type"]) == (
        list_id,
        setl_id,
        mdtrt_id,
        "1",
    )
    assert (info["adm_time"], info["dscg_time"], info["dscg_way"]) == (WHEN, DISCHARGED, "1")
    assert (info["medcasno"], info["hi_paymtd"], info["medins_fill_psn"]) == ("BA0001", "1", "李四")  # kept
    assert (Decimal(str(info["medfee_sumamt"])), info["diag_code_cnt"], info["oprn_oprt_code_cnt"]) == (
        Decimal("5200.00"),
        2,
        1,
    )
    # The settlement's own amounts: the fund split and the fees by class.
    assert [(p["fund_pay_type"], Decimal(str(p["fund_payamt"]))) for p in answer["payinfo"]] == [
        ("390100", Decimal("2520.00"))
    ]
    assert [(i["med_chrgitm_type"], Decimal(str(i["item_sumamt"]))) for i in answer["iteminfo"]] == [
        ("09", Decimal("200.00")),
        ("11", Decimal("5000.00")),
    ]
    assert [(d["diag_code"], d["maindiag_flag"]) for d in answer["diseinfo"]] == [
        ("J18.900", "1"),
        ("I10.x00", "0"),
    ]
    assert [(o["oprn_oprt_code"], o["main_oprn_flag"]) for o in answer["oprninfo"]] == [("88.0101", "1")]

    # One list per settlement; withdrawn (4102, 0), it may be uploaded again, under the same list number.
    refused(await desk.send("4101A", the_list(patient, mdtrt_id, setl_id)), "SETL_LIST_EXISTS")
    withdraw = {"data": {"stastinfo": [{"psn_no": patient.psn_no, "setl_id": setl_id, "stas_type": "0"}]}}
    assert (await desk.ok("4102", withdraw))["result"] == [
        {"setl_id": setl_id, "setl_list_id": list_id, "stas_type": "0"}
    ]
    again = await desk.ok("4101A", the_list(patient, mdtrt_id, setl_id))
    assert again["setl_list_id"] == list_id


async def test_4101_amounts_must_be_the_settlements(desk: Desk) -> None:
    patient = await desk.person()
    mdtrt_id, setl_id = await settled_stay(patient)
    body = the_list(patient, mdtrt_id, setl_id)
    wrong_fund = await desk.send("4101", with_amounts(body, fund="2500.00"))
    refused(wrong_fund, "SETL_LIST_AMOUNTS")
    assert "基金 390100 清单 2500.00 与结算 2520.00 不符" in wrong_fund["err_msg"]
    wrong_items = await desk.send("4101", with_amounts(body, c09="210.00"))
    refused(wrong_items, "SETL_LIST_AMOUNTS")
    assert "收费项目合计 5210.00 与结算医疗费总额 5200.00 不符" in wrong_items["err_msg"]
    refused(await desk.send("4101", body), "E_INPUT")  # 4101 needs payinfo and iteminfo
    # Right, and repeated under its msgid: the first answer (one list).
    msgid = desk.msgid()
    first = await desk.send("4101", with_amounts(body), msgid=msgid)
    assert first["infcode"] == 0, first["err_msg"]
    assert await desk.send("4101", with_amounts(body), msgid=msgid) == first


async def test_4101_refusals(desk: Desk) -> None:
    patient = await desk.person()
    mdtrt_id, setl_id = await settled_stay(patient)
    body = the_list(patient, mdtrt_id, setl_id)
    two_mains = the_list(
        patient,
        mdtrt_id,
        setl_id,
        diseinfo=[{**d, "maindiag_flag": "1"} for d in body["diseinfo"]],
    )
    refused(await desk.send("4101A", two_mains), "SETL_LIST_DIAGNOSIS")
    not_a_code = the_list(patient, mdtrt_id, setl_id, diseinfo=[{**body["diseinfo"][0], "diag_code": "肺炎"}])
    refused(await desk.send("4101A", not_a_code), "E_INPUT")
    backwards = the_list(
        patient, mdtrt_id, setl_id, setlinfo={**body["setlinfo"], "dscg_time": "2026-11-19 10:00:00"}
    )
    refused(await desk.send("4101A", backwards), "E_INPUT")
    no_filler = the_list(patient, mdtrt_id, setl_id, setlinfo={**body["setlinfo"], "medins_fill_psn": ""})
    refused(await desk.send("4101A", no_filler), "E_INPUT")
    refused(await desk.send("4101A", body, at=OTHER_HOSPITAL), "NOT_YOUR_SETTLEMENT")
    stranger = await desk.person(14)
    refused(await desk.send("4101A", the_list(stranger, mdtrt_id, setl_id)), "PSN_MISMATCH")
    refused(
        await desk.send("4103", {"data": {"psn_no": patient.psn_no, "setl_id": setl_id}}),
        "SETL_LIST_NOT_FOUND",
    )
    # A visit's settlement needs no list; a reversed stay's can have none.
    visit_id, visit = await patient.visit(
        "MZ0001",
        [line("1", "A", "2", "0.5", "1.00")],
        amounts={"medfee_sumamt": "1.00", "inscp_scp_amt": "1.00"},
    )
    visit_list = the_list(patient, visit_id, visit["setl_id"])
    refused(await desk.send("4101A", visit_list), "SETL_LIST_NOT_INPATIENT")
    await desk.ok("2305", {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": patient.psn_no}})
    refused(await desk.send("4101A", body), "SETL_LIST_REVERSED")


async def test_4101_codes_must_be_in_force_on_the_discharge_date(desk: Desk) -> None:
    """Discharged 2026-11-25: a code the lists carry only from 2026-11-26 on is not in force; one carried
    from 2026-11-25 is. Each wrong row is named by its place in diseinfo / oprninfo (from 1)."""
    patient = await desk.person()
    mdtrt_id, setl_id = await settled_stay(patient)
    await seed_diagnoses(desk.api, "code,name,effective_from\nJ15.900,细菌性肺炎,2026-11-26\n")
    await seed_diagnoses(desk.api, "code,name,effective_from\nJ96.000,急性呼吸衰竭,2026-11-25\n")
    procedures = "code,name,effective_from\n33.2300,其他支气管镜检查,2026-11-26\n"
    imported = await desk.api.client.post("/api/v1/catalogue/codes/oprn/import", content=procedures.encode())
    assert imported.status_code == 200, imported.text
    body = the_list(patient, mdtrt_id, setl_id)
    main, secondary = body["diseinfo"]
    operation = body["oprninfo"][0]

    def diagnosis(row: dict[str, Any], code: str) -> dict[str, Any]:
        return {**row, "diag_code": code}

    late = the_list(
        patient,
        mdtrt_id,
        setl_id,
        diseinfo=[main, diagnosis(secondary, "J15.900"), diagnosis(secondary, "J18.901")],
        oprninfo=[operation, {**operation, "oprn_oprt_type": "2", "oprn_oprt_code": "33.2300"}],
    )
    for infno, sent in (("4101A", late), ("4101", with_amounts(late))):
        answer = await desk.send(infno, sent)
        refused(answer, "SETL_LIST_CODE")
        assert "出院日 2026-11-25" in answer["err_msg"]
        assert answer["err_msg"].endswith(
            "diseinfo 第 2 行诊断编码 J15.900；diseinfo 第 3 行诊断编码 J18.901；"
            "oprninfo 第 2 行手术操作编码 33.2300"
        ), answer["err_msg"]
    # Nothing stored: no list to answer.
    query = {"data": {"psn_no": patient.psn_no, "setl_id": setl_id}}
    refused(await desk.send("4103", query), "SETL_LIST_NOT_FOUND")
    # A main diagnosis not in force is refused as well (row 1).
    wrong_main = the_list(patient, mdtrt_id, setl_id, diseinfo=[diagnosis(main, "J15.900"), secondary])
    answer = await desk.send("4101A", wrong_main)
    refused(answer, "SETL_LIST_CODE")
    assert answer["err_msg"].endswith("diseinfo 第 1 行诊断编码 J15.900"), answer["err_msg"]

    # In force from the day of discharge: accepted, and answered back with every row.
    on_the_day = the_list(patient, mdtrt_id, setl_id, diseinfo=[main, diagnosis(secondary, "J96.000")])
    await desk.ok("4101A", on_the_day)
    answer = await desk.ok("4103", query)
    assert [d["diag_code"] for d in answer["diseinfo"]] == ["J18.900", "J96.000"]


def gauge() -> float | None:
    return REGISTRY.get_sample_value("settlement_lists_overdue")


async def test_lists_not_uploaded_in_time_are_reported(desk: Desk) -> None:
    patient = await desk.person()
    mdtrt_id, setl_id = await settled_stay(patient)

    async def overdue(as_of: str, days: int = 30) -> list[tuple[str, int]]:
        response = await desk.api.client.get(
            "/api/v1/settlement-list-deadlines/overdue", params={"as_of": as_of, "days": days}
        )
        assert response.status_code == 200, response.text
        return [(row["setl_id"], row["days_since_discharge"]) for row in response.json()["overdue"]]

    # Discharged 2026-11-25 10:00 (+08:00): 30 days later is 2026-12-25 10:00.
    assert await overdue("2026-12-25T09:59:00+08:00") == []
    assert gauge() == 0
    assert await overdue("2026-12-26T10:00:00+08:00") == [(setl_id, 31)]
    assert gauge() == 1
    assert await overdue("2026-12-26T10:00:00+08:00", days=40) == []
    await desk.ok("4101A", the_list(patient, mdtrt_id, setl_id))
    assert await overdue("2026-12-26T10:00:00+08:00") == []
    assert gauge() == 0
    withdraw = {"data": {"stastinfo": [{"psn_no": patient.psn_no, "setl_id": setl_id, "stas_type": "0"}]}}
    await desk.ok("4102", withdraw)
    assert await overdue(datetime(2026, 12, 26, 2, 0, tzinfo=UTC).isoformat()) == [(setl_id, 31)]
    bad = await desk.api.client.get("/api/v1/settlement-list-deadlines/overdue", params={"days": -1})
    assert bad.status_code == 422
