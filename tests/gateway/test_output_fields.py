"""Complete answers (docs/interface.md, "Output fields"): every answer's nodes and keys, with their types,
against the field lists written from the interface (``gateway/nhsa/fields.py``), through the gateway's
envelope processor in front of the real settlement service (and, for 1101, the real enrollment service),
real databases, on both backends. A pharmacy purchase, a visit and a stay from the first code to their
reversal, 3201, 5203, 9001/9002. Every other code's answer is checked by the shared HIS sender
(``tests.support.answers.check_fields``) in whichever gateway test reaches it; the last tests here show the
check is on, and that the answer is typed before it leaves (``fields.typed``).

Settlement reference data as ``tests.settlement.conftest`` seeds it (县医院 level 2, 药房; item A 甲 capped
at 0.50, B 乙 10 % first, C 丙; outpatient 20.00 deductible 50 %, inpatient 300.00 deductible 60 %), plus
item M added here: 甲, restricted, and marked with every other catalogue mark."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from gateway.downstream import Downstream
from gateway.nhsa import fields
from gateway.protocol.envelope import parse_body
from gateway.security.schemes import TifSha256
from gateway.security.service import HisSecurity
from gateway.transactions import EnvelopeProcessor
from settlement.config import SettlementSettings
from settlement.main import create_app

from platformctl import examples
from shared.contracts.v1.events import CoverageActivated
from shared.db import Database
from tests.conftest import DatabaseFactory
from tests.enrollment.conftest import OfficeFactory, office_on  # noqa: F401 (fixture)
from tests.enrollment.test_contributions import COLLECTING, ELDER
from tests.settlement.conftest import (
    HOSPITAL,
    PHARMACY,
    REGION,
    SettlementApi,
    new_person,
    seed_reference_data,
)
from tests.support.apps import build, running
from tests.support.his import SignedHis, register_demo_institutions

WHEN = "2026-11-20 10:00:00"
FLAGS = ("bas_medn_flag", "hi_nego_drug_flag", "chld_medc_flag", "list_sp_item_flag", "lmt_used_flag")


@dataclass
class Desk:
    processor: EnvelopeProcessor
    api: SettlementApi
    psn_no: str
    certno: str
    his: SignedHis
    sequence: int = 0

    async def send(self, infno: str, body: dict[str, Any], institution: str = HOSPITAL) -> dict[str, Any]:
        self.sequence += 1
        wire = examples.envelope(
            infno,
            f"{institution}20261120100000{self.sequence:04d}",
            body,
            insuplc_admdvs=REGION,
            fixmedins_code=institution,
            fixmedins_name=institution,
        )
        answer: dict[str, Any] = parse_body((await self.his.send({**wire, "inf_time": WHEN})).encode())
        return answer

    async def ok(self, infno: str, body: dict[str, Any], institution: str = HOSPITAL) -> dict[str, Any]:
        """The answer's output, after checking it has every field the interface defines, typed."""
        answer = await self.send(infno, body, institution)
        assert answer["infcode"] == 0, answer["err_msg"]
        output: dict[str, Any] = answer["output"]
        assert fields.missing_or_mistyped(infno, output) == [], infno
        return output


@pytest.fixture
async def desk(databases: DatabaseFactory) -> AsyncIterator[Desk]:
    url = databases.migrated("settlement")
    app = build(create_app, SettlementSettings, database_url=url, run_background_workers=False)
    settlement_db = Database(url)
    gateway_db = Database(databases.migrated("gateway"))
    async with running(app) as client:
        api = SettlementApi(client, settlement_db)
        await seed_reference_data(api, codes=True)
        marked = {
            "med_list_codg": "M",
            "name": "标记药",
            "med_chrgitm_type": "09",
            "chrgitm_lv": "1",
            "restricted": True,
            "essential_drug": True,
            "negotiated_drug": True,
            "child_medicine": True,
            "special_item": True,
            "direct_reimbursement": True,
        }
        assert (await api.post("/api/v1/catalogue/items", marked)).status_code == 201
        psn_no, certno = new_person()
        await api.identify(psn_no, certno, naty="03")
        await api.apply(
            CoverageActivated(
                enrollment_id=1,
                psn_no=psn_no,
                insutype="390",
                psn_type="1501",
                insuplc_admdvs=REGION,
                year=2026,
                coverage_begin=date(2026, 1, 1),
                coverage_end=date(2026, 12, 31),
            )
        )
        downstream = Downstream("http://enrollment", "http://service", 5.0)
        await downstream.client.aclose()
        downstream.client = client  # closed with the app, not by the gateway
        await register_demo_institutions(gateway_db)
        security = HisSecurity(gateway_db, TifSha256())
        processor = EnvelopeProcessor(gateway_db, downstream, REGION, 1_048_576, security=security)
        yield Desk(processor, api, psn_no, certno, SignedHis(processor.process))
    await gateway_db.dispose()
    await settlement_db.dispose()


def line(sn: str, code: str, cnt: str, pric: str, amount: str, **extra: Any) -> dict[str, Any]:
    return {
        "feedetl_sn": sn,
        "fee_ocur_time": WHEN,
        "med_list_codg": code,
        "medins_list_codg": f"H{code}",
        "det_item_fee_sumamt": amount,
        "cnt": cnt,
        "pric": pric,
        **extra,
    }


def yuan(row: dict[str, Any], *names: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(str(row[name])) for name in names)


async def test_every_answer_has_every_defined_field_typed(desk: Desk) -> None:
    who = {"psn_no": desk.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": desk.certno}
    answered: set[str] = set()

    async def ok(infno: str, body: dict[str, Any], institution: str = HOSPITAL) -> dict[str, Any]:
        answered.add(infno)
        return await desk.ok(infno, body, institution)

    signed_in = await ok("9001", {"signIn": {"opter_no": "001", "mac": "", "ip": "127.0.0.1"}})

    # A pharmacy purchase: 60 A at 0.50 (甲, capped at 0.50) and 3 B at 20.00 (乙, no cap) = 90.00.
    purchase = {
        "druginfo": {
            **who,
            "begntime": WHEN,
            "medfee_sumamt": "90.00",
            "insutype": "390",
            "acct_used_flag": "0",
            "med_type": "41",
        },
        "drugdetail": [
            line("1", "A", "60", "0.5", "30.00", rx_circ_flag="0"),
            line("2", "B", "3", "20", "60.00", rx_circ_flag="0"),
        ],
    }
    preview = await ok("2101", purchase, PHARMACY)
    settled = await ok("2102", purchase, PHARMACY)
    for output in (preview, settled):
        capped, uncapped = output["detlcutinfo"]
        assert (Decimal(str(capped["pric_uplmt_amt"])), "pric_uplmt_amt" in uncapped) == (
            Decimal("0.5"),
            False,
        )
        assert [capped[f] for f in (*FLAGS, "drt_reim_flag")] == ["0"] * 6
    info = settled["setlinfo"]
    # 90.00: 6.00 乙 first, 84.00 in range, 20.00 deductible, (84.00 - 20.00) x 50 % = 32.00 fund.
    assert yuan(info, "medfee_sumamt", "hifp_pay", "psn_cash_pay") == (
        Decimal("90.00"),
        Decimal("32.00"),
        Decimal("58.00"),
    )
    assert (info["naty"], info["brdy"], info["psn_cert_type"]) == ("03", "1985-03-12", "01")
    setl_id, mdtrt_id = info["setl_id"], info["mdtrt_id"]
    await ok("5203", {"data": {"setl_id": setl_id, "psn_no": desk.psn_no}}, PHARMACY)
    reversed_ = await ok(
        "2103", {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": desk.psn_no}}, PHARMACY
    )
    assert yuan(reversed_["setlinfo"], "psn_pay", "cash_payamt") == (Decimal("-58.00"), Decimal("-58.00"))
    totals = {
        "insutype": "390",
        "clr_type": "41",
        "setl_optins": REGION,
        "stmt_begndate": "2026-11-20",
        "stmt_enddate": "2026-11-20",
        "medfee_sumamt": "0.00",
        "fund_pay_sumamt": "0.00",
        "acct_pay": "0.00",
        "fixmedins_setl_cnt": 0,
        "refd_setl_flag": "0",
    }
    # Net figures: the purchase and its reversal on the same day cancel out, the count 1 - 1 = 0.
    assert (await ok("3201", {"data": totals}, PHARMACY))["stmtinfo"]["stmt_rslt"] == "0"

    # An outpatient visit: 60 A at 0.50 = 30.00 and 2 M at 5.00 = 10.00 (甲, restricted, approved).
    registered = await ok("2201", {"data": {**who, "insutype": "390", "begntime": WHEN, "ipt_otp_no": "MZ1"}})
    visit = registered["data"]["mdtrt_id"]
    info_ = {"mdtrt_id": visit, "psn_no": desk.psn_no, "med_type": "11", "begntime": WHEN}
    diagnosis = {"diag_type": "1", "diag_srt_no": 1, "diag_code": "J06.900", "diag_name": "上呼吸道感染"}
    assert (await desk.send("2203", {"mdtrtinfo": info_, "diseinfo": [diagnosis]}))["infcode"] == 0
    ours = {"mdtrt_id": visit, "psn_no": desk.psn_no, "chrg_bchno": "B1"}
    lines = [
        {**line("1", "A", "60", "0.5", "30.00", hosp_appr_flag="0"), **ours},
        {**line("2", "M", "2", "5", "10.00", hosp_appr_flag="1"), **ours},
    ]
    plain, marked = (await ok("2204", {"feedetail": lines}))["result"]
    assert [marked[f] for f in (*FLAGS, "drt_reim_flag")] == ["1"] * 6
    assert [plain[f] for f in FLAGS] == ["0"] * 5
    assert yuan(marked, "inscp_scp_amt", "fulamt_ownpay_amt") == (Decimal("10.00"), Decimal("0.00"))
    settle = {
        **who,
        "med_type": "11",
        "medfee_sumamt": "40.00",
        "psn_setlway": "01",
        "mdtrt_id": visit,
        "chrg_bchno": "B1",
        "insutype": "390",
        "acct_used_flag": "0",
    }
    await ok("2206", {"data": settle})
    visit_settled = (await ok("2207", {"data": settle}))["setlinfo"]
    # 40.00 in range (the purchase's deductible was given back by its reversal): 20.00 deductible,
    # (40.00 - 20.00) x 50 % = 10.00 fund, 30.00 cash.
    assert yuan(visit_settled, "act_pay_dedc", "hifp_pay", "psn_cash_pay") == (
        Decimal("20.00"),
        Decimal("10.00"),
        Decimal("30.00"),
    )
    await ok(
        "2208", {"data": {"setl_id": visit_settled["setl_id"], "mdtrt_id": visit, "psn_no": desk.psn_no}}
    )

    # A stay: 100 B at 50.00 = 5,000.00 and 1 C at 200.00.
    admitted = await ok(
        "2401",
        {
            "mdtrtinfo": {**who, "insutype": "390", "begntime": WHEN, "med_type": "21", "ipt_no": "ZY1"},
            "diseinfo": [{"diag_type": "1", "diag_srt_no": 1, "diag_code": "J18.900", "diag_name": "肺炎"}],
        },
    )
    stay = {"mdtrt_id": admitted["result"]["mdtrt_id"], "psn_no": desk.psn_no}
    stay_lines = [
        {**line("1", "B", "100", "50", "5000.00"), **stay},
        {**line("2", "C", "1", "200", "200.00"), **stay},
    ]
    await ok("2301", {"feedetail": stay_lines})
    discharge = {**stay, "insutype": "390", "endtime": WHEN, "dscg_way": "1"}
    assert (await desk.send("2402", {"dscginfo": discharge}))["infcode"] == 0
    settle_stay = {
        **who,
        **stay,
        "medfee_sumamt": "5200.00",
        "psn_setlway": "01",
        "insutype": "390",
        "acct_used_flag": "0",
        "mid_setl_flag": "0",
    }
    await ok("2303", {"data": settle_stay})
    stay_settled = (await ok("2304", {"data": settle_stay}))["setlinfo"]
    # 5,200.00 = 500.00 乙 first + 4,500.00 in range + 200.00 丙;
    # 300.00 deductible; (4,500.00 - 300.00) x 60 % = 2,520.00.
    assert yuan(stay_settled, "hifp_pay", "hifdm_pay") == (Decimal("2520.00"), Decimal("0.00"))
    await ok("2305", {"data": {"setl_id": stay_settled["setl_id"], **stay}})

    sign_no = signed_in["signinoutb"]["sign_no"]
    await ok("9002", {"signOut": {"sign_no": sign_no, "opter_no": "001"}})
    # 1101: below, with the enrollment service. Every other code is checked wherever a gateway test
    # reaches it (tests.support.answers.check_fields, on every answer SignedHis receives).
    assert answered == {
        *("2101", "2102", "2103", "2201", "2204", "2206", "2207", "2208", "2301"),
        *("2303", "2304", "2305", "2401", "3201", "5203", "9001", "9002"),
    }


async def test_1101_from_the_enrollment_service_has_every_defined_field_typed(
    databases: DatabaseFactory,
    office_on: OfficeFactory,  # noqa: F811 (fixture)
) -> None:
    gateway_db = Database(databases.migrated("gateway"))
    async with office_on(COLLECTING) as office:
        person = {"certno": ELDER, "psn_name": "李秀英", "naty": "03"}
        psn_no = (await office.ok("POST", "/api/v1/persons", person, 201))["psn_no"]
        identity = {"psn_idet_type": "2102", "begin_date": "2026-01-01"}
        await office.ok("POST", f"/api/v1/persons/{psn_no}/identities", identity, 201)
        enrollment = {"psn_no": psn_no, "year": 2027}  # 低保 (2102): medical assistance pays
        await office.ok("POST", "/api/v1/enrollments", enrollment, 201)

        downstream = Downstream("http://enrollment", "http://service", 5.0)
        await downstream.client.aclose()
        downstream.client = office.client
        await register_demo_institutions(gateway_db)
        processor = EnvelopeProcessor(
            gateway_db, downstream, REGION, 1_048_576, security=HisSecurity(gateway_db, TifSha256())
        )
        his = SignedHis(processor.process)
        data = {"mdtrt_cert_type": "02", "mdtrt_cert_no": ELDER, "begntime": "2027-03-01 00:00:00"}
        wire = examples.envelope(
            "1101", f"{HOSPITAL}202611201000000001", {"data": data}, fixmedins_code=HOSPITAL
        )
        answer = parse_body((await his.send(wire)).encode())
    await gateway_db.dispose()
    assert answer["infcode"] == 0, answer["err_msg"]
    output = answer["output"]
    assert fields.missing_or_mistyped("1101", output) == []
    [insured] = output["insuinfo"]
    [identity_row] = output["idetinfo"]
    assert (output["baseinfo"]["naty"], output["baseinfo"]["brdy"]) == ("03", "1950-02-02")
    # Insured in 2027 (not paused): no paus_insu_date; the open-ended identity: no endtime.
    assert (insured["psn_insu_stas"], "paus_insu_date" in insured) == ("1", False)
    assert (identity_row["begntime"], "endtime" in identity_row) == ("2026-01-01 00:00:00", False)


def test_the_check_names_what_is_missing_undefined_or_mistyped() -> None:
    output = {
        "signinoutb": {"sign_time": "2026-11-20T10:00:00", "extra": 1},
        "other": {},
    }
    assert fields.missing_or_mistyped("9001", output) == [
        "other: not defined",
        "signinoutb.extra: not defined",
        "signinoutb.sign_time: '2026-11-20T10:00:00' is not time",
        "signinoutb.sign_no: missing",
    ]
    row = {name: "" for name in fields.LINE_RESULT} | {"det_item_fee_sumamt": Decimal("1.005")}
    assert "result[0].det_item_fee_sumamt: Decimal('1.005') is not amount" in fields.missing_or_mistyped(
        "2204", {"result": [row]}
    )


async def test_every_answer_a_gateway_test_receives_is_checked() -> None:
    """SignedHis holds every successful answer to the field list: a null text field fails the test that
    received it, whatever that test is about."""
    answer: dict[str, Any] = {
        "infcode": 0,
        "output": {"signinoutb": {"sign_time": "2026-11-20 10:00:00", "sign_no": None}},
    }

    async def transport(raw: bytes, headers: Any) -> str:
        return json.dumps(answer)

    his = SignedHis(transport)
    with pytest.raises(AssertionError, match=r"signinoutb\.sign_no: None is not text"):
        await his.send({"infno": "9001", "input": {}})
    answer["output"]["signinoutb"]["sign_no"] = "S1"
    assert json.loads(await his.send({"infno": "9001", "input": {}})) == answer


def test_an_answer_is_typed_before_it_leaves() -> None:
    """A text with no value becomes "", an optional date or number with none is left out; a required
    date that is null stays null, for the check to find (nothing is made up)."""
    row = {
        "psn_no": "1",
        "insutype": "390",
        "fixmedins_code": "H1",
        "fixmedins_name": None,
        "fix_srt_no": "1",
        "trt_dcla_detl_sn": "B1",
        "begndate": None,
        "enddate": None,
        "memo": None,
    }
    typed = fields.typed("5302", {"psnfixmedin": [row]})
    expected = {**row, "fixmedins_name": "", "memo": ""}
    del expected["enddate"]
    assert typed == {"psnfixmedin": [expected]}
    assert fields.missing_or_mistyped("5302", typed) == ["psnfixmedin[0].begndate: None is not date"]
