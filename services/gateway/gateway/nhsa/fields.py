"""The output fields the interface defines, per transaction code and node, with their types
(docs/interface.md, "Output fields"). Written from the interface as public HIS models declare it (C# and
Java models of 1101, 2102, 2204, 2207, 2304 with their 字段/类型/长度 comments), not from what the
handlers happen to build: ``missing_or_mistyped`` compares an answer against it, so a field a typed client
expects and the gateway does not give, or gives with another type, is a failing test rather than a HIS
that breaks at go-live.

Kinds: ``text`` (a string, "" when empty), ``date`` (``yyyy-MM-dd``), ``time`` (``yyyy-MM-dd HH:mm:ss``),
``amount`` (yuan, at most two decimals), ``ratio`` (at most four decimals), ``number`` (any other number:
``age``, ``cnt``, ``pric``). A kind ending in ``?`` is a date, time or number that is left out when it has
no value (never sent as null: a C# ``DateTime`` or ``decimal`` cannot read null)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

Node = dict[str, str]

BASEINFO: Node = {
    "psn_no": "text",
    "psn_cert_type": "text",
    "certno": "text",
    "psn_name": "text",
    "gend": "text",
    "naty": "text",
    "brdy": "date",
    "age": "number",
    "exp_content": "text",
}
INSUINFO: Node = {
    "balc": "amount",
    "insutype": "text",
    "psn_type": "text",
    "psn_insu_stas": "text",
    "psn_insu_date": "date",
    "paus_insu_date": "date?",
    "cvlserv_flag": "text",
    "insuplc_admdvs": "text",
    "emp_name": "text",
}
IDETINFO: Node = {
    "psn_idet_type": "text",
    "psn_type_lv": "text",
    "memo": "text",
    "begntime": "time",
    "endtime": "time?",
}

SETLINFO: Node = {
    "mdtrt_id": "text",
    "setl_id": "text",
    "psn_no": "text",
    "psn_name": "text",
    "psn_cert_type": "text",
    "certno": "text",
    "gend": "text",
    "naty": "text",
    "brdy": "date",
    "age": "number",
    "insutype": "text",
    "psn_type": "text",
    "cvlserv_flag": "text",
    "setl_time": "time",
    "mdtrt_cert_type": "text",
    "med_type": "text",
    "medfee_sumamt": "amount",
    "fulamt_ownpay_amt": "amount",
    "overlmt_selfpay": "amount",
    "preselfpay_amt": "amount",
    "inscp_scp_amt": "amount",
    "act_pay_dedc": "amount",
    "hifp_pay": "amount",
    "pool_prop_selfpay": "ratio",
    "cvlserv_pay": "amount",
    "hifes_pay": "amount",
    "hifmi_pay": "amount",
    "hifob_pay": "amount",
    "maf_pay": "amount",
    "oth_pay": "amount",
    "fund_pay_sumamt": "amount",
    "psn_part_amt": "amount",
    "acct_pay": "amount",
    "psn_cash_pay": "amount",
    "hosp_part_amt": "amount",
    "balc": "amount",
    "acct_mulaid_pay": "amount",
    "medins_setl_id": "text",
    # Named by the national dictionary (参保地 / 就医地医保区划, 支付地点类别 pay_loc): the platform's
    # out-of-area answer (docs/interface.md, "Out-of-area care").
    "insuplc_admdvs": "text",
    "mdtrtarea_admvs": "text",
    "pay_loc": "text",
    "clr_optins": "text",
    "clr_way": "text",
    "clr_type": "text",
}
#: 2303-2305 add 伤残人员医疗保障基金支出.
INPATIENT_SETLINFO: Node = {**SETLINFO, "hifdm_pay": "amount"}
#: The pharmacy reversal (2103) and 5203 models name the personal share and the cash differently.
REVERSAL_SETLINFO: Node = {**SETLINFO, "psn_pay": "amount", "cash_payamt": "amount"}
#: 5203 also names the institution and whether the record is a refund (reversal) record.
QUERY_SETLINFO: Node = {**REVERSAL_SETLINFO, "fixmedins_code": "text", "refd_setl_flag": "text"}
SETLDETAIL: Node = {
    "fund_pay_type": "text",
    "inscp_scp_amt": "amount",
    "crt_payb_lmt_amt": "amount",
    "fund_payamt": "amount",
    "fund_pay_type_name": "text",
    "setl_proc_info": "text",
}
#: 2204/2301 ``result`` and 2101/2102 ``detlcutinfo``: one row per fee line.
LINE_RESULT: Node = {
    "feedetl_sn": "text",
    "det_item_fee_sumamt": "amount",
    "cnt": "number",
    "pric": "number",
    "pric_uplmt_amt": "number?",
    "selfpay_prop": "ratio",
    "fulamt_ownpay_amt": "amount",
    "overlmt_amt": "amount",
    "preselfpay_amt": "amount",
    "inscp_scp_amt": "amount",
    "chrgitm_lv": "text",
    "med_chrgitm_type": "text",
    "bas_medn_flag": "text",
    "hi_nego_drug_flag": "text",
    "chld_medc_flag": "text",
    "list_sp_item_flag": "text",
    "lmt_used_flag": "text",
    "drt_reim_flag": "text",
    "memo": "text",
}

#: infno -> node -> fields. A node named in a tuple is a list of rows of those fields.
OUTPUT: dict[str, dict[str, Node | tuple[Node]]] = {
    "1101": {"baseinfo": BASEINFO, "insuinfo": (INSUINFO,), "idetinfo": (IDETINFO,)},
    "2101": {"setlinfo": SETLINFO, "setldetail": (SETLDETAIL,), "detlcutinfo": (LINE_RESULT,)},
    "2102": {"setlinfo": SETLINFO, "setldetail": (SETLDETAIL,), "detlcutinfo": (LINE_RESULT,)},
    "2103": {"setlinfo": REVERSAL_SETLINFO, "setldetail": (SETLDETAIL,)},
    "2201": {"data": {"mdtrt_id": "text", "psn_no": "text", "ipt_otp_no": "text"}},
    "2204": {"result": (LINE_RESULT,)},
    "2206": {"setlinfo": SETLINFO, "setldetail": (SETLDETAIL,)},
    "2207": {"setlinfo": SETLINFO, "setldetail": (SETLDETAIL,)},
    "2208": {"setlinfo": SETLINFO, "setldetail": (SETLDETAIL,)},
    "2301": {"result": (LINE_RESULT,)},
    "2303": {"setlinfo": INPATIENT_SETLINFO, "setldetail": (SETLDETAIL,)},
    "2304": {"setlinfo": INPATIENT_SETLINFO, "setldetail": (SETLDETAIL,)},
    "2305": {"setlinfo": INPATIENT_SETLINFO, "setldetail": (SETLDETAIL,)},
    "2401": {"result": {"mdtrt_id": "text"}},
    "3201": {"stmtinfo": {"setl_optins": "text", "stmt_rslt": "text", "stmt_rslt_dscr": "text"}},
    "5203": {"setlinfo": QUERY_SETLINFO, "setldetail": (SETLDETAIL,)},
    "9001": {"signinoutb": {"sign_time": "time", "sign_no": "text"}},
    "9002": {"signoutoutb": {"sign_time": "time"}},
}

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_PLACES = {"amount": 2, "ratio": 4}


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    return Decimal(str(value))


def _mistyped(kind: str, value: Any) -> bool:
    if kind == "text":
        return not isinstance(value, str)
    if kind == "date":
        return not (isinstance(value, str) and _DATE.match(value))
    if kind == "time":
        return not (isinstance(value, str) and _TIME.match(value))
    number = _number(value)
    if number is None:
        return True
    places = _PLACES.get(kind)
    return places is not None and number != number.quantize(Decimal(1).scaleb(-places))


def _row(where: str, node: Node, row: Any) -> list[str]:
    if not isinstance(row, dict):
        return [f"{where}: not an object"]
    problems = [f"{where}.{name}: not defined" for name in row if name not in node]
    for name, kind in node.items():
        optional = kind.endswith("?")
        kind = kind.rstrip("?")
        if name not in row:
            if not optional:
                problems.append(f"{where}.{name}: missing")
        elif _mistyped(kind, row[name]):
            problems.append(f"{where}.{name}: {row[name]!r} is not {kind}")
    return problems


def missing_or_mistyped(infno: str, output: dict[str, Any]) -> list[str]:
    """What in ``output`` differs from the fields defined for ``infno`` (empty when it agrees)."""
    nodes = OUTPUT[infno]
    problems = [f"{name}: not defined" for name in output if name not in nodes]
    for name, node in nodes.items():
        if name not in output:
            problems.append(f"{name}: missing")
        elif isinstance(node, tuple):
            rows = output[name]
            if not isinstance(rows, list):
                problems.append(f"{name}: not a list")
                continue
            for i, row in enumerate(rows):
                problems += _row(f"{name}[{i}]", node[0], row)
        else:
            problems += _row(name, node, output[name])
    return problems
