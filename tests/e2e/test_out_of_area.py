"""Out-of-area care within one platform through the whole platform as real processes (docs/architecture.md,
"Out-of-area care"): a person insured in the demo region A (341524) stays at a level-2 hospital of region B
(341502); HIS -> gateway (2401, 2301, 2402, 2304, 2305) -> settlement -> outbox -> Kafka -> fund ledger, which
books each region's side in its own books; then the month's inter-region clearing over the ledger's REST API.

Demo policy of A (docs/domain.md): level-2 stays 300.00 deductible at the year's first admission, × 0.5 from
the second, 60 %; out of area without a filing 10 points less. Captopril is 甲 without a price cap: every line
is in the policy range."""

from __future__ import annotations

import functools
import itertools
from decimal import Decimal
from typing import Any

import httpx
import pytest

from platformctl import examples
from platformctl.demo import CATALOGUE, REGION, demo_credentials
from shared.clock import now_china
from tests.conftest import eventually
from tests.e2e.conftest import Stack
from tests.e2e.test_card_swipe import OPERATOR
from tests.e2e.test_money_layers import _insured

pytestmark = pytest.mark.e2e

AWAY_REGION = "341502"
AWAY_HOSPITAL = "H34150200001"
CAPTOPRIL = str(CATALOGUE[1]["med_list_codg"])
_sequence = itertools.count(7000)


def _away(infno: str, body: dict[str, Any]) -> dict[str, Any]:
    envelope = examples.envelope(
        infno,
        examples.msgid(next(_sequence), AWAY_HOSPITAL),
        body,
        insuplc_admdvs=REGION,
        fixmedins_code=AWAY_HOSPITAL,
        fixmedins_name="金安区医院",
    )
    return {**envelope, "mdtrtarea_admvs": AWAY_REGION}


async def _ok(stack: Stack, client: httpx.AsyncClient, infno: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = await stack.call(client, _away(infno, body), sign_as=AWAY_HOSPITAL)
    assert answer["infcode"] == 0, (infno, answer["err_msg"])
    output: dict[str, Any] = answer["output"]
    return output


async def _stay(
    stack: Stack, client: httpx.AsyncClient, psn_no: str, certno: str, amount: str
) -> tuple[str, Any]:
    """Admitted at B's hospital, one captopril line of ``amount``, discharged, settled: (mdtrt_id,
    setlinfo)."""
    now = now_china().strftime("%Y-%m-%d %H:%M:%S")
    who = {"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": certno}
    info = {**who, "insutype": "390", "begntime": now, "med_type": "21", "ipt_no": f"ZY{next(_sequence)}"}
    mdtrt_id = (await _ok(stack, client, "2401", {"mdtrtinfo": info}))["result"]["mdtrt_id"]
    line = {
        "feedetl_sn": "1", "mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_list_codg": CAPTOPRIL,
        "medins_list_codg": "HIS-1", "det_item_fee_sumamt": amount, "cnt": "1", "pric": amount,
        "fee_ocur_time": now,
    }  # fmt: skip
    await _ok(stack, client, "2301", {"feedetail": [line]})
    discharge = {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "insutype": "390", "endtime": now}
    await _ok(stack, client, "2402", {"dscginfo": discharge})
    settle = {**who, "mdtrt_id": mdtrt_id, "medfee_sumamt": amount, "insutype": "390", "mid_setl_flag": "0"}
    return mdtrt_id, (await _ok(stack, client, "2304", {"data": settle}))["setlinfo"]


async def _balances(client: httpx.AsyncClient, stack: Stack, admdvs: str) -> dict[tuple[str, str], int]:
    rows = (
        await client.get(f"{stack.url('ledger')}/api/v1/accounts/balances", params={"admdvs": admdvs})
    ).json()
    return {(a["code"], a["counterparty"]): a["balance_fen"] for a in rows if a["balance_fen"] != 0}


async def _both_books(client: httpx.AsyncClient, stack: Stack, setl_id: str) -> bool:
    """The ledger has booked ``setl_id`` in both regions' books."""
    url = f"{stack.url('ledger')}/api/v1/journal"
    entries = (await client.get(url, params={"source_id": setl_id})).json()
    return {e["admdvs"] for e in entries} == {REGION, AWAY_REGION}


async def test_a_stay_in_another_region_is_booked_in_both_books_and_cleared(stack: Stack) -> None:
    async with httpx.AsyncClient(headers=OPERATOR, timeout=30) as client:
        paasid, secret = demo_credentials(AWAY_HOSPITAL)
        registered = await client.put(
            f"{stack.url('gateway')}/api/v1/institutions/{AWAY_HOSPITAL}",
            json={"fixmedins_name": "金安区医院", "paasid": paasid, "secret": secret},
        )
        assert registered.status_code in (200, 201), registered.text
        hospital = {
            "fixmedins_code": AWAY_HOSPITAL, "fixmedins_name": "金安区医院", "fixmedins_type": "1",
            "hosp_lv": "2", "admdvs": AWAY_REGION, "agreement_begin": f"{now_china().year - 1}-01-01",
        }  # fmt: skip
        created = await client.post(f"{stack.url('settlement')}/api/v1/institutions", json=hospital)
        assert created.status_code == 201, created.text
        psn_no, certno = await _insured(client, stack)

        # First stay, 2,000.00: (2,000.00 − 300.00) × (60 % − 10 %) = 850.00 from A's pooled fund.
        _, first = await _stay(stack, client, psn_no, certno, "2000.00")
        assert (first["hifp_pay"], first["pay_loc"], first["insuplc_admdvs"], first["mdtrtarea_admvs"]) == (
            Decimal("850.00"),
            "3",
            REGION,
            AWAY_REGION,
        )
        # Second stay, 1,000.00 (second admission: deductible 300.00 × 0.5 = 150.00):
        # (1,000.00 − 150.00) × 50 % = 425.00; reversed (2305).
        second_id, second = await _stay(stack, client, psn_no, certno, "1000.00")
        assert second["hifp_pay"] == Decimal("425.00")
        undone = await _ok(
            stack,
            client,
            "2305",
            {"data": {"mdtrt_id": second_id, "setl_id": second["setl_id"], "psn_no": psn_no}},
        )
        assert (undone["setlinfo"]["hifp_pay"], undone["setlinfo"]["pay_loc"]) == (Decimal("-425.00"), "3")

        # Through Kafka to the ledger, each of the three in both regions' books: 850.00 + 425.00 − 425.00 =
        # 850.00 A owes B.
        for setl_id in (first["setl_id"], second["setl_id"], undone["setlinfo"]["setl_id"]):
            await eventually(functools.partial(_both_books, client, stack, setl_id), timeout_s=60)
        a, b = await _balances(client, stack, REGION), await _balances(client, stack, AWAY_REGION)
        assert (a[("2105", AWAY_REGION)], b[("1302", REGION)], b[("2101", AWAY_HOSPITAL)]) == (850_00,) * 3

        # A's contributions swept to its special account, then the month cleared.
        sweep = {"admdvs": REGION, "insutype": "390", "as_of": now_china().date().isoformat()}
        swept = await client.post(f"{stack.url('ledger')}/api/v1/sweeps", json=sweep)
        assert swept.status_code in (200, 201), swept.text
        available = (await _balances(client, stack, REGION)).get(("1002", ""), 0)
        month = f"{now_china():%Y-%m}"
        cleared = await client.post(
            f"{stack.url('ledger')}/api/v1/inter-region-clearings", json={"month": month}
        )
        assert cleared.status_code == 201, cleared.text
        [pair] = cleared.json()["pairs"]
        assert (pair["period_owed_fen"], pair["treating_period_fen"], pair["owed_fen"]) == (
            850_00,
            850_00,
            850_00,
        )
        assert (pair["settlements"], pair["reversals"], pair["status"]) == (2, 1, "cleared")
        paid = min(850_00, available)
        assert (pair["available_fen"], pair["paid_fen"], pair["carried_forward_fen"]) == (
            available,
            paid,
            850_00 - paid,
        )
        assert (pair["insured_balance_fen"], pair["treating_balance_fen"]) == (850_00 - paid, 850_00 - paid)
        assert (await client.get(f"{stack.url('ledger')}/api/v1/chain/verify")).json()["ok"] is True
        # The counters the dashboard row reads.
        settled = stack.metric(
            "settlement", "settlement_out_of_area_total", insuplc_admdvs=REGION, mdtrtarea_admvs=AWAY_REGION
        )
        assert settled == 3  # two settlements and one reversal
