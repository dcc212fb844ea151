"""The legacy merger end to end, on the whole platform as real processes (issue 9): two small legacy exports
with overlapping persons -> dry run (report, nothing written) -> migration -> persons of both schemes settle
through the gateway under their legacy policy in a county still on the dual track (341524, switch-over next
1 January) and under 390 in a county already switched (341522, switched this 1 January) -> the ledger keeps
every sub-ledger apart until the merger entries of the switched county; trial balance zero and hash chain
intact at every step.

Policies (settlement's demo documents): 341524 URBMI 391 outpatient 30.00 deductible then 40 %; NCMS 380 no
deductible, 30 %; 341522 unified 390 20.00 deductible, 50 %. Every purchase is 50 tablets of captopril
(甲 class, fully in range) at 2.00 = 100.00 yuan."""

from __future__ import annotations

import csv
import itertools
import json
import subprocess
import sys
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from settlement.policy.document import jinzhai_legacy_demo, jinzhai_yutian_demo

from platformctl import examples
from platformctl.demo import demo_credentials
from shared.clock import now_china
from shared.idcard import make_id_number
from tests.conftest import eventually
from tests.e2e.conftest import GATEWAY_PATH, Stack
from tests.migration.exports import write_export
from tests.support.apps import ADMIN_TOKEN
from tests.support.his import SignedHis

DUAL, SWITCHED = "341524", "341522"
PHARMACY_DUAL, PHARMACY_SWITCHED = "P34152400001", "P34152200001"
CAPTOPRIL = "XC09AAK001A001010100002"
OPERATOR = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
YEAR = now_china().year

# Birth dates far from the demo's persons, so the ID numbers cannot collide with theirs.
URBMI_DUAL = make_id_number(DUAL, date(1951, 1, 11), 13)  # URBMI this year, dual-track county
NCMS_DUAL = make_id_number(DUAL, date(1952, 2, 12), 24)  # NCMS this year, dual-track county
BOTH = make_id_number(DUAL, date(1953, 3, 13), 35)  # URBMI last year, NCMS this year: one person
NAMES_DIFFER = make_id_number(DUAL, date(1954, 4, 14), 46)  # in both exports under two names
URBMI_SWITCHED = make_id_number(SWITCHED, date(1955, 5, 15), 57)
NCMS_SWITCHED = make_id_number(SWITCHED, date(1956, 6, 16), 68)

LAST, THIS = str(YEAR - 1), str(YEAR)
PAID_LAST_AUTUMN = f"{YEAR - 1}-10-10"
URBMI = {
    "persons.csv": [
        ["U1", URBMI_DUAL, "城居甲", "1", "1951-01-11", DUAL],
        ["U2", BOTH, "两边乙", "1", "1953-03-13", DUAL],
        ["U3", NAMES_DIFFER, "王五", "1", "1954-04-14", DUAL],
        ["U4", URBMI_SWITCHED, "城居丙", "1", "1955-05-15", SWITCHED],
    ],
    "enrollments.csv": [
        ["U1", THIS, DUAL, "180.00", "", ""],
        ["U2", LAST, DUAL, "180.00", "", ""],
        ["U3", THIS, DUAL, "180.00", "", ""],
        ["U4", THIS, SWITCHED, "180.00", "", ""],
    ],
    "payments.csv": [
        ["U1", THIS, "individual", "180.00", "RU1", PAID_LAST_AUTUMN],
        ["U2", LAST, "individual", "180.00", "RU2", f"{YEAR - 2}-10-10"],
        ["U3", THIS, "individual", "180.00", "RU3", PAID_LAST_AUTUMN],
        ["U4", THIS, "individual", "180.00", "RU4", PAID_LAST_AUTUMN],
    ],
    "identities.csv": [],
    "cards.csv": [],
}
NCMS = {
    "persons.csv": [
        ["N1", NCMS_DUAL, "新农甲", "1", "1952-02-12", DUAL],
        ["N2", BOTH, "两边乙", "1", "1953-03-13", DUAL],
        ["N3", NAMES_DIFFER, "王武", "1", "1954-04-14", DUAL],
        ["N4", NCMS_SWITCHED, "新农丙", "1", "1956-06-16", SWITCHED],
    ],
    "enrollments.csv": [
        ["N1", THIS, DUAL, "150.00", "", ""],
        ["N2", THIS, DUAL, "150.00", "", ""],
        ["N3", THIS, DUAL, "150.00", "", ""],
        ["N4", THIS, SWITCHED, "150.00", "", ""],
    ],
    "payments.csv": [
        ["N1", THIS, "individual", "150.00", "RN1", PAID_LAST_AUTUMN],
        ["N2", THIS, "individual", "150.00", "RN2", PAID_LAST_AUTUMN],
        ["N3", THIS, "individual", "150.00", "RN3", PAID_LAST_AUTUMN],
        ["N4", THIS, "individual", "150.00", "RN4", PAID_LAST_AUTUMN],
    ],
    "identities.csv": [],
    "cards.csv": [],
}
#: The switched county's pharmacy is on the NCMS list only; the migration admits it.
NCMS_INSTITUTIONS = [
    ["N-P9", PHARMACY_SWITCHED, "梅山药店", "2", "9", SWITCHED, "2015-01-01", ""],
]

_sequence = itertools.count(7001)


def migrate(stack: Stack, root: Path, *extra: str) -> tuple[int, list[dict[str, str]]]:
    report = root / f"report{len(extra)}.csv"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "platformctl",
            "migrate-legacy",
            "--urbmi",
            str(root / "urbmi"),
            "--ncms",
            str(root / "ncms"),
            "--report",
            str(report),
            "--database-url",
            stack.services["enrollment"].env["ENROLLMENT_DATABASE_URL"],
            "--settlement-database-url",
            stack.services["settlement"].env["SETTLEMENT_DATABASE_URL"],
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    with report.open(encoding="utf-8-sig") as handle:
        return result.returncode, list(csv.DictReader(handle))


async def psn_no_of(client: httpx.AsyncClient, stack: Stack, certno: str) -> str | None:
    response = await client.get(
        f"{stack.url('enrollment')}/api/v1/persons/lookup", params={"certno": certno}, headers=OPERATOR
    )
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    psn_no: str = response.json()["person"]["psn_no"]
    return psn_no


async def buy(
    client: httpx.AsyncClient, stack: Stack, psn_no: str, certno: str, region: str
) -> dict[str, Any]:
    """100.00 of captopril at the region's pharmacy, signed and signed in as that pharmacy's HIS."""
    pharmacy = PHARMACY_DUAL if region == DUAL else PHARMACY_SWITCHED
    when = now_china().strftime("%Y-%m-%d %H:%M:%S")
    envelope = examples.envelope(
        "2102",
        examples.msgid(next(_sequence), pharmacy),
        {
            "druginfo": {
                "psn_no": psn_no,
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": certno,
                "begntime": when,
                "medfee_sumamt": "100.00",
                "insutype": "390",
                "med_type": "41",
            },
            "drugdetail": [
                {
                    "feedetl_sn": "1",
                    "fee_ocur_time": when,
                    "med_list_codg": CAPTOPRIL,
                    "medins_list_codg": "YP0002",
                    "det_item_fee_sumamt": "100.00",
                    "cnt": "50",
                    "pric": "2",
                    "prd_days": "25",
                }
            ],
        },
        insuplc_admdvs=region,
        fixmedins_code=pharmacy,
        fixmedins_name=pharmacy,
    )
    envelope["mdtrtarea_admvs"] = region

    async def transport(raw: bytes, headers: Mapping[str, str]) -> str:
        response = await client.post(
            f"{stack.url('gateway')}{GATEWAY_PATH}",
            content=raw,
            headers={"content-type": "application/json", **headers},
        )
        assert response.status_code == 200, response.text
        return response.text

    answer: dict[str, Any] = json.loads(
        await SignedHis(transport).send(envelope, sign_as=pharmacy), parse_float=Decimal
    )
    return answer


async def sub_ledgers(client: httpx.AsyncClient, stack: Stack, admdvs: str, insutype: str) -> dict[str, int]:
    rows = (
        await client.get(
            f"{stack.url('ledger')}/api/v1/accounts/balances",
            params={"admdvs": admdvs, "insutype": insutype},
            headers=OPERATOR,
        )
    ).json()
    totals: dict[str, int] = {}
    for row in rows:
        if row["balance_fen"]:
            totals[row["code"]] = totals.get(row["code"], 0) + row["balance_fen"]
    return totals


async def books_are_sound(client: httpx.AsyncClient, stack: Stack) -> None:
    trial = (await client.get(f"{stack.url('ledger')}/api/v1/trial-balance", headers=OPERATOR)).json()
    assert trial["imbalance_fen"] == 0
    chain = (await client.get(f"{stack.url('ledger')}/api/v1/chain/verify", headers=OPERATOR)).json()
    assert chain["ok"] is True, chain


async def test_two_legacy_schemes_merge_without_losing_a_day_or_a_fen(stack: Stack, tmp_path: Path) -> None:
    write_export(tmp_path / "urbmi", URBMI)
    write_export(tmp_path / "ncms", NCMS, NCMS_INSTITUTIONS)
    settlement = stack.url("settlement")
    async with httpx.AsyncClient(timeout=30, headers=OPERATOR) as client:
        # Policies: the dual-track county keeps both legacy policies this year; the switched county has
        # the unified one. Switch-overs: next 1 January for 341524, this 1 January for 341522.
        for admdvs, insutype, document in (
            (DUAL, "391", jinzhai_legacy_demo("391")),
            (DUAL, "380", jinzhai_legacy_demo("380")),
            (SWITCHED, "390", jinzhai_yutian_demo()),
        ):
            policy = {
                "admdvs": admdvs,
                "insutype": insutype,
                "name": f"{admdvs}-{insutype}",
                "effective_from": f"{YEAR}-01-01",
                "document": document.model_dump(mode="json"),
            }
            response = await client.post(f"{settlement}/api/v1/policies", json=policy)
            assert response.status_code == 201, response.text
        for admdvs, unified_from in ((DUAL, f"{YEAR + 1}-01-01"), (SWITCHED, f"{YEAR}-01-01")):
            body = {
                "admdvs": admdvs,
                "unified_from": unified_from,
                "approved_by": "市医保局",
                "document_ref": "并轨通知",
            }
            assert (
                await client.post(f"{settlement}/api/v1/scheme-switchovers", json=body)
            ).status_code == 201
        # The switched county's pharmacy gets its gateway credentials (the migration admits it in settlement).
        paasid, secret = demo_credentials(PHARMACY_SWITCHED)
        registered = await client.put(
            f"{stack.url('gateway')}/api/v1/institutions/{PHARMACY_SWITCHED}",
            json={"fixmedins_name": "梅山药店", "paasid": paasid, "secret": secret},
        )
        assert registered.status_code in (200, 201), registered.text

        # 1. Dry run: the full report, nothing written.
        code, report = migrate(stack, tmp_path, "--dry-run")
        rules = {(row["subject"], row["rule"], row["outcome"]) for row in report}
        assert code == 1  # a person is left for a clerk
        assert (BOTH, "IN_BOTH_EXPORTS", "resolved") in rules
        assert (NAMES_DIFFER, "NAME_DIFFERS", "unresolved") in rules
        for certno in (URBMI_DUAL, NCMS_DUAL, BOTH, URBMI_SWITCHED, NCMS_SWITCHED):
            assert await psn_no_of(client, stack, certno) is None

        # 2. The migration: the same report, and now the persons exist (the one a clerk must decide does not).
        code, real_report = migrate(stack, tmp_path)
        assert code == 1
        assert {(r["subject"], r["rule"], r["outcome"]) for r in real_report} == rules
        assert await psn_no_of(client, stack, NAMES_DIFFER) is None
        psn = {}
        for certno in (URBMI_DUAL, NCMS_DUAL, BOTH, URBMI_SWITCHED, NCMS_SWITCHED):
            found = await psn_no_of(client, stack, certno)
            assert found is not None, certno
            psn[certno] = found

        async def covered() -> bool:
            for psn_no in psn.values():
                rows = await client.get(f"{settlement}/api/v1/eligibility/{psn_no}")
                if rows.status_code != 200 or not rows.json():
                    return False
            return True

        await eventually(covered, timeout_s=60)
        await books_are_sound(client, stack)

        # 3. Settlement. Dual-track county: URBMI (100.00 - 30.00) x 40 % = 28.00 on 391; NCMS 100.00 x 30 % =
        # 30.00 on 380 (the person in both exports paid NCMS this year). Switched county: both under 390,
        # (100.00 - 20.00) x 50 % = 40.00.
        expected = {
            URBMI_DUAL: ("391", "28.00"),
            NCMS_DUAL: ("380", "30.00"),
            BOTH: ("380", "30.00"),
            URBMI_SWITCHED: ("390", "40.00"),
            NCMS_SWITCHED: ("390", "40.00"),
        }
        setl_ids = []
        for certno, (insutype, fund) in expected.items():
            region = SWITCHED if certno in (URBMI_SWITCHED, NCMS_SWITCHED) else DUAL
            answer = await buy(client, stack, psn[certno], certno, region)
            assert answer["infcode"] == 0, answer["err_msg"]
            setlinfo = answer["output"]["setlinfo"]
            assert (setlinfo["insutype"], f"{setlinfo['fund_pay_sumamt']:.2f}") == (insutype, fund), certno
            setl_ids.append(setlinfo["setl_id"])

        async def booked() -> bool:
            journal = (
                await client.get(f"{stack.url('ledger')}/api/v1/journal", params={"limit": 1000})
            ).json()
            return set(setl_ids) <= {entry["source_id"] for entry in journal}

        await eventually(booked, timeout_s=60)
        # Each settlement on its own sub-ledger: nothing crossed between schemes.
        assert (await sub_ledgers(client, stack, DUAL, "391")).get("5103") == 2800
        assert (await sub_ledgers(client, stack, DUAL, "380")).get("5103") == 6000
        assert (await sub_ledgers(client, stack, SWITCHED, "390")).get("5103") == 8000
        assert await sub_ledgers(client, stack, SWITCHED, "391") == {}
        await books_are_sound(client, stack)

        # 4. The legacy funds' audited opening balances, each on its own sub-ledger.
        ledger = stack.url("ledger")
        openings = [
            (DUAL, "391", 500000, 0, 50000),
            (DUAL, "380", 200000, 300000, 0),  # in deficit: 1,000.00 receivable from the finance bureau
            (SWITCHED, "391", 100000, 0, 0),
            (SWITCHED, "380", 80000, 0, 0),
        ]
        for admdvs, insutype, special, payable, reserve in openings:
            opening: dict[str, Any] = {
                "admdvs": admdvs,
                "insutype": insutype,
                "as_of": f"{YEAR - 1}-12-31",
                "special_account_fen": special,
                "benefits_payable_fen": payable,
                "risk_reserve_fen": reserve,
                "audited_by": "审计局",
                "audit_ref": f"审{admdvs}{insutype}",
            }
            response = await client.post(f"{ledger}/api/v1/opening-balances", json=opening)
            assert response.status_code == 201, response.text
        assert await sub_ledgers(client, stack, DUAL, "380") == {
            "1002": 200000,
            "1202": 100000,
            "2101": 6000,
            "2103": 300000,
            "5103": 6000,
        }
        await books_are_sound(client, stack)

        # 5. The switched county's legacy funds merge into 390 by explicit entries; the dual-track county's
        # stay apart.
        for insutype in ("391", "380"):
            body = {
                "merger_id": f"M-{SWITCHED}-{insutype}",
                "admdvs": SWITCHED,
                "from_insutype": insutype,
                "approved_by": "市医保局",
                "audit_ref": "并轨审计",
            }
            response = await client.post(f"{ledger}/api/v1/scheme-mergers", json=body)
            assert response.status_code == 201, response.text
        assert await sub_ledgers(client, stack, SWITCHED, "391") == {}
        assert await sub_ledgers(client, stack, SWITCHED, "380") == {}
        # 390 holds both legacy funds (1,000.00 + 800.00) beside its own 80.00 of claims.
        assert await sub_ledgers(client, stack, SWITCHED, "390") == {
            "1002": 180000,
            "2101": 8000,
            "3001": 180000,
            "5103": 8000,
        }
        assert (await sub_ledgers(client, stack, DUAL, "391"))["1002"] == 500000
        await books_are_sound(client, stack)
