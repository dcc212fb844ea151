"""3202 对明细账 through the gateway in front of the real settlement service (both backends): the
institution's detail file (9101) against the settlement service's records, one injected difference of each
kind found, 3201 agreeing when 3202 finds nothing, and a file that does not add up, an unknown file or
another institution's refused (docs/interface.md, "3202 对明细账").

A day at the hospital, by hand (demo policy, outpatient 20.00 deductible, 50 %): three persons each settle
60 x A at 0.50 + 3 x B at 20.00 = 90.00 (6.00 乙 first, 84.00 in range, 20.00 deductible, fund
(84.00 - 20.00) x 50 % = 32.00, cash 58.00); the third is reversed (-90.00, -32.00). Net: 180.00 fees,
64.00 fund, 116.00 cash, 3 settlements less 1 reversal = 2."""

from __future__ import annotations

import base64
import io
import zipfile
from datetime import timedelta
from decimal import Decimal
from typing import Any

from shared.clock import now_china
from tests.gateway.desk import OTHER_HOSPITAL, Desk, desk, line, refused
from tests.settlement.conftest import HOSPITAL

__all__ = ["desk"]

BASKET = [line("1", "A", "60", "0.5", "30.00"), line("2", "B", "3", "20", "60.00")]
AMOUNTS = {
    "medfee_sumamt": "90.00",
    "fulamt_ownpay_amt": "0.00",
    "overlmt_selfpay": "0.00",
    "preselfpay_amt": "6.00",
    "inscp_scp_amt": "84.00",
}


async def day(desk: Desk) -> dict[str, tuple[str, str, str]]:
    """S1, S2, S3 and R3 (the reversal of S3): (setl_id, mdtrt_id, psn_no) each."""
    out = {}
    for number in (1, 2, 3):
        patient = await desk.person(20 + number)
        mdtrt_id, settled = await patient.visit(f"MZ{number:04d}", BASKET, amounts=AMOUNTS)
        out[f"S{number}"] = (settled["setl_id"], mdtrt_id, patient.psn_no)
    setl_id, mdtrt_id, psn_no = out["S3"]
    reversed_ = await desk.ok("2208", {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no}})
    out["R3"] = (reversed_["setlinfo"]["setl_id"], mdtrt_id, psn_no)
    return out


def row(ids: tuple[str, str, str], medfee: str, fund: str, refund: str = "0") -> str:
    return "\t".join([*ids, medfee, fund, "0.00", refund])


async def upload(desk: Desk, rows: list[str], at: str = HOSPITAL) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        text = "setl_id\tmdtrt_id\tpsn_no\tmedfee_sumamt\tfund_pay_sumamt\tacct_pay\trefd_setl_flag\n"
        archive.writestr("mxdz.txt", text + "\n".join(rows) + "\n")
    node = {
        "fsUploadIn": {
            "in": base64.b64encode(buffer.getvalue()).decode(),
            "filename": "mxdz.zip",
            "fixmedins_code": at,
        }
    }
    uploaded = await desk.ok("9101", node, at=at)
    file_qury_no: str = uploaded["file_qury_no"]
    return file_qury_no


def period() -> dict[str, str]:
    today = now_china().date()
    return {
        "stmt_begndate": (today - timedelta(days=1)).isoformat(),
        "stmt_enddate": (today + timedelta(days=1)).isoformat(),
    }


def statement(file_qury_no: str, medfee: str, fund: str, cash: str, count: int) -> dict[str, Any]:
    return {
        "data": {
            "setl_optins": "341524",
            "file_qury_no": file_qury_no,
            **period(),
            "medfee_sumamt": medfee,
            "fund_pay_sumamt": fund,
            "cash_payamt": cash,
            "fixmedins_setl_cnt": count,
            "clr_type": "11",
            "refd_setl_flag": "",
        }
    }


async def test_a_file_that_agrees_and_3201_agrees_too(desk: Desk) -> None:
    ids = await day(desk)
    rows = [
        row(ids["S1"], "90.00", "32.00"),
        row(ids["S2"], "90.00", "32.00"),
        row(ids["S3"], "90.00", "32.00"),
    ]
    rows.append(row(ids["R3"], "-90.00", "-32.00", "1"))
    file_qury_no = await upload(desk, rows)
    answer = await desk.ok("3202", statement(file_qury_no, "180.00", "64.00", "116.00", 2))
    assert answer["result"] == [] and answer["stmtinfo"]["stmt_rslt"] == "0"
    # 3201 on the same totals: 平帐 as well.
    totals = {
        "insutype": "390",
        "clr_type": "11",
        "setl_optins": "341524",
        **period(),
        "medfee_sumamt": "180.00",
        "fund_pay_sumamt": "64.00",
        "acct_pay": "0.00",
        "fixmedins_setl_cnt": 2,
        "refd_setl_flag": "",
    }
    assert (await desk.ok("3201", {"data": totals}))["stmtinfo"]["stmt_rslt"] == "0"


async def test_each_kind_of_difference_is_found_and_filed(desk: Desk) -> None:
    ids = await day(desk)
    # S1 missing, S2's fund 30.00 instead of 32.00, SX unknown to the platform (10.00, no fund). The file's
    # own totals: fees 90 + 90 - 90 + 10 = 100.00, fund 30 + 32 - 32 + 0 = 30.00, cash 60 + 58 - 58 + 10 =
    # 70.00, count 3 - 1 = 2.
    unknown = ("S34152499999999999999999999999", "M34152499999999999999999999999", ids["S1"][2])
    rows = [
        row(ids["S2"], "90.00", "30.00"),
        row(ids["S3"], "90.00", "32.00"),
        row(ids["R3"], "-90.00", "-32.00", "1"),
        row(unknown, "10.00", "0.00"),
    ]
    file_qury_no = await upload(desk, rows)
    answer = await desk.ok("3202", statement(file_qury_no, "100.00", "30.00", "70.00", 2))
    assert answer["stmtinfo"]["stmt_rslt"] == "1"
    found = [(r["setl_id"], r["stmt_rslt"], Decimal(str(r["fund_pay_sumamt"]))) for r in answer["result"]]
    assert found == [
        (ids["S1"][0], "1", Decimal("32.00")),  # only the platform has it
        (ids["S2"][0], "3", Decimal("32.00")),  # the platform's figure; the memo names both
        (unknown[0], "2", Decimal("0.00")),  # only the institution has it
    ]
    memo = {r["setl_id"]: r["memo"] for r in answer["result"]}
    assert (
        memo[ids["S2"][0]] == "基金支付总额：医保中心 32.00 元，机构 30.00 元；医保中心基金：390100 32.00 元"
    )
    assert memo[ids["S1"][0]] == "机构无此结算；医保中心基金：390100 32.00 元"
    # The same rows in the result file (9102).
    result = answer["fileinfo"]["file_qury_no"]
    download = {"fsDownloadIn": {"file_qury_no": result, "filename": "x", "fixmedins_code": HOSPITAL}}
    zipped = base64.b64decode((await desk.ok("9102", download))["file_byte"])
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        (name,) = archive.namelist()
        lines = archive.read(name).decode().splitlines()
    assert [x.split("\t")[:4] for x in lines[1:]] == [
        [*ids["S1"], "1"],
        [*ids["S2"], "3"],
        [*unknown, "2"],
    ]


async def test_bad_files_are_refused(desk: Desk) -> None:
    ids = await day(desk)
    rows = [row(ids["S1"], "90.00", "32.00")]
    file_qury_no = await upload(desk, rows)
    off = await desk.send("3202", statement(file_qury_no, "90.00", "31.00", "58.00", 1))
    refused(off, "E_FILE_TOTALS")
    assert "基金支付总额：明细合计 32.00 元，传入 31.00 元" in off["err_msg"]
    refused(await desk.send("3202", statement(file_qury_no, "90.00", "32.00", "58.00", 2)), "E_FILE_TOTALS")
    refused(await desk.send("3202", statement("F" + "0" * 29, "0", "0", "0", 0)), "FILE_NOT_FOUND")
    theirs = await upload(desk, [row(ids["S1"], "90.00", "32.00")], at=OTHER_HOSPITAL)
    refused(await desk.send("3202", statement(theirs, "90.00", "32.00", "58.00", 1)), "NOT_YOUR_FILE")
    garbage = await upload(desk, ["this is not a row"])
    refused(await desk.send("3202", statement(garbage, "0", "0", "0", 0)), "E_FILE_ROWS")
    twice = await upload(desk, rows * 2)
    refused(await desk.send("3202", statement(twice, "180.00", "64.00", "116.00", 2)), "E_FILE_ROWS")
    backwards = statement(file_qury_no, "90.00", "32.00", "58.00", 1)
    backwards["data"]["stmt_enddate"] = "2000-01-01"
    refused(await desk.send("3202", backwards), "E_INPUT")
