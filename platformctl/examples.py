"""Ready-to-send example envelopes for 1101 and 2102, as a HIS or pharmacy system would build them."""

from __future__ import annotations

import json
from typing import Any

from platformctl.demo import CATALOGUE, PHARMACY, REGION
from shared.clock import now_china


def envelope(
    infno: str,
    msgid: str,
    body: dict[str, Any],
    *,
    insuplc_admdvs: str = "",
    fixmedins_code: str = PHARMACY["fixmedins_code"],
    fixmedins_name: str = PHARMACY["fixmedins_name"],
) -> dict[str, Any]:
    return {
        "infno": infno,
        "msgid": msgid,
        "mdtrtarea_admvs": REGION,
        "insuplc_admdvs": insuplc_admdvs,
        "recer_sys_code": "YBXT",
        "dev_no": "",
        "dev_safe_info": "",
        "cainfo": "",
        "signtype": "",
        "infver": "V1.0",
        "opter_type": "1",
        "opter": "001",
        "opter_name": "收款员",
        "inf_time": now_china().strftime("%Y-%m-%d %H:%M:%S"),
        "fixmedins_code": fixmedins_code,
        "fixmedins_name": fixmedins_name,
        "sign_no": "",
        "input": body,
    }


def msgid(sequence: int, fixmedins_code: str = PHARMACY["fixmedins_code"]) -> str:
    return f"{fixmedins_code}{now_china():%Y%m%d%H%M%S}{sequence % 10000:04d}"


def example_1101(certno: str, sequence: int = 1) -> dict[str, Any]:
    return envelope(
        "1101",
        msgid(sequence),
        {
            "data": {
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": certno,
                "card_sn": "",
                "begntime": "",
                "psn_cert_type": "01",
                "certno": certno,
                "psn_name": "",
            }
        },
    )


def example_2102(psn_no: str, certno: str, sequence: int = 2) -> dict[str, Any]:
    amoxicillin, danshen = CATALOGUE[0], CATALOGUE[2]
    when = now_china().strftime("%Y-%m-%d %H:%M:%S")
    return envelope(
        "2102",
        msgid(sequence),
        {
            "druginfo": {
                "psn_no": psn_no,
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": certno,
                "begntime": when,
                "medfee_sumamt": "90.00",
                "invono": "",
                "insutype": "390",
                "acct_used_flag": "0",
                "med_type": "41",
            },
            "drugdetail": [
                {
                    "feedetl_sn": "1",
                    "rxno": "",
                    "rx_circ_flag": "0",
                    "fee_ocur_time": when,
                    "med_list_codg": amoxicillin["med_list_codg"],
                    "medins_list_codg": "YP0001",
                    "det_item_fee_sumamt": "30.00",
                    "cnt": "60",
                    "pric": "0.5",
                    "prd_days": "10",
                },
                {
                    "feedetl_sn": "2",
                    "rxno": "",
                    "rx_circ_flag": "0",
                    "fee_ocur_time": when,
                    "med_list_codg": danshen["med_list_codg"],
                    "medins_list_codg": "YP0002",
                    "det_item_fee_sumamt": "60.00",
                    "cnt": "3",
                    "pric": "20",
                    "prd_days": "30",
                },
            ],
        },
        insuplc_admdvs=REGION,
    )


def curl(gateway_url: str, body: dict[str, Any]) -> str:
    payload = json.dumps(body, ensure_ascii=False).replace("'", "'\\''")
    return (
        f"curl -s -X POST {gateway_url}/fsi/api/rsfComIfsService/callService "
        f"-H 'Content-Type: application/json' -d '{payload}'"
    )


def his_call(gateway_url: str, body: dict[str, Any]) -> str:
    """The ``platformctl his-call`` command that sends ``body``'s transaction signed and signed in."""
    payload = json.dumps(body["input"], ensure_ascii=False).replace("'", "'\\''")
    twice = " --twice" if body["infno"] == "2102" else ""
    return (
        f".venv/bin/python -m platformctl his-call {body['infno']} '{payload}' "
        f"--gateway-url {gateway_url} --institution {body['fixmedins_code']}{twice}"
    )


def operator_curl(url: str, role: str) -> str:
    return f'curl -s -H "Authorization: Bearer $(.venv/bin/python -m platformctl token --role {role})" {url}'
