"""E-vouchers (医保电子凭证, mdtrt_cert_type 01; docs/interface.md, "E-voucher"), through the gateway in
front of the real enrollment service (which issues and revokes them) and settlement service (which records
that a token settled), on both backends: the person comes from the token, never from the caller; an
expired, revoked, altered or another person's token is refused, and a token settles once (a repeat of the
same msgid after a lost answer gets the first answer).

Settlement reference data as ``tests.settlement.conftest`` seeds it: item A 甲 capped at 0.50; outpatient
pooling 20.00 yearly deductible, 50 %."""

from __future__ import annotations

import itertools
import secrets
from datetime import timedelta
from decimal import Decimal
from typing import Any

from gateway.protocol.envelope import parse_body

from platformctl import examples
from shared import voucher
from shared.clock import now_china
from shared.db import utcnow
from tests.enrollment.conftest import office_on  # noqa: F401 (fixture)
from tests.gateway.test_his_client_fixtures import (
    CERTNO,
    Platform,
    platform_fixture,  # noqa: F401 (fixture)
)
from tests.settlement.conftest import HOSPITAL, PHARMACY, REGION

OTHER_PERSON = "3415249999999999999999"
_sequence = itertools.count(1)


async def issue(platform: Platform, ttl_s: int = 600) -> str:
    assert platform.enrollment is not None
    psn_no = platform.values["psn_no"]
    response = await platform.enrollment.post(f"/api/v1/persons/{psn_no}/vouchers", json={"ttl_s": ttl_s})
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


async def send(platform: Platform, infno: str, body: dict[str, Any], code: str = PHARMACY, **env: Any) -> Any:
    msgid = env.pop("msgid", None) or f"{code}{now_china():%Y%m%d%H%M%S}{next(_sequence):04d}"
    envelope = examples.envelope(
        infno, msgid, body, insuplc_admdvs=REGION, fixmedins_code=code, fixmedins_name=code
    )
    return parse_body((await platform.his.send({**envelope, **env}, sign_as=code)).encode())


def purchase(token: str, **druginfo: Any) -> dict[str, Any]:
    """30.00 of A (甲): 20.00 deductible, (30.00 - 20.00) x 50 % = 5.00 from the fund, 25.00 cash."""
    now = f"{now_china():%Y-%m-%d %H:%M:%S}"
    info = {"mdtrt_cert_type": "01", "mdtrt_cert_no": token, "begntime": now, "medfee_sumamt": "30.00",
            "insutype": "390", "acct_used_flag": "0", "med_type": "41", **druginfo}  # fmt: skip
    line = {"feedetl_sn": "1", "rx_circ_flag": "0", "fee_ocur_time": now, "med_list_codg": "A",
            "medins_list_codg": "HA", "det_item_fee_sumamt": "30.00", "cnt": "60", "pric": "0.5"}  # fmt: skip
    return {"druginfo": info, "drugdetail": [line]}


async def test_1101_names_the_person_of_the_token(platform: Platform) -> None:
    token = await issue(platform)
    data = {"mdtrt_cert_type": "01", "mdtrt_cert_no": token, "card_sn": "", "begntime": ""}
    answer = await send(platform, "1101", {"data": data}, HOSPITAL)
    assert answer["infcode"] == 0, answer["err_msg"]
    assert (answer["output"]["baseinfo"]["psn_no"], answer["output"]["baseinfo"]["certno"]) == (
        platform.values["psn_no"],
        CERTNO,
    )
    # The ID number of someone else beside the token: the token's person counts, the request is refused.
    other = {**data, "psn_cert_type": "01", "certno": "11010119900307123X"}
    refused = await send(platform, "1101", {"data": other}, HOSPITAL)
    assert refused["err_msg"].startswith("[E_VOUCHER_PERSON]")


async def test_a_token_settles_once_for_its_person(platform: Platform) -> None:
    token = await issue(platform)
    # No psn_no sent: it comes from the token.
    body = purchase(token, psn_no="")
    # A msgid of this run's own (a worker's PostgreSQL gateway database outlives one test).
    msgid = f"{PHARMACY}{now_china():%Y%m%d%H%M%S}{secrets.randbelow(10**4):04d}"
    first = await send(platform, "2102", body, msgid=msgid)
    assert first["infcode"] == 0, first["err_msg"]
    info = first["output"]["setlinfo"]
    assert info["psn_no"] == platform.values["psn_no"]
    assert (Decimal(str(info["hifp_pay"])), Decimal(str(info["psn_cash_pay"]))) == (
        Decimal("5.00"),
        Decimal("25.00"),
    )
    # The same request again under its msgid after a lost answer (a retry resends the very body: building
    # it anew could cross a second and change begntime): the first answer, not a refusal.
    again = await send(platform, "2102", body, msgid=msgid)
    assert again["infcode"] == 0, again["err_msg"]
    assert again["output"]["setlinfo"]["setl_id"] == info["setl_id"]
    # The same token on another purchase: refused, nothing settled.
    replayed = await send(platform, "2102", purchase(token, psn_no=platform.values["psn_no"]))
    assert replayed["err_msg"].startswith("[E_VOUCHER_USED]"), replayed["err_msg"]
    preview = await send(platform, "2101", purchase(token))
    assert preview["err_msg"].startswith("[E_VOUCHER_USED]")


async def test_expired_revoked_altered_and_another_persons_tokens_are_refused(platform: Platform) -> None:
    psn_no = platform.values["psn_no"]
    expired = voucher.issue(psn_no, utcnow() - timedelta(minutes=1)).token
    revoked = await issue(platform)
    assert platform.enrollment is not None
    response = await platform.enrollment.post(f"/api/v1/vouchers/{revoked}/revocation")
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    valid = await issue(platform)
    altered = valid[:-3] + ("AAA" if valid[-3:] != "AAA" else "BBB")
    cases = [
        (purchase(expired), "E_VOUCHER_EXPIRED"),
        (purchase(revoked), "E_VOUCHER_REVOKED"),
        (purchase(altered), "E_VOUCHER"),
        (purchase(valid, psn_no=OTHER_PERSON), "E_VOUCHER_PERSON"),
        # A token this platform signed for a person it never issued one to (no issuer's record).
        (purchase(voucher.issue(psn_no, utcnow() + timedelta(hours=1)).token), "E_VOUCHER"),
    ]
    for body, code in cases:
        answer = await send(platform, "2102", body)
        assert answer["err_msg"].startswith(f"[{code}]"), (code, answer["err_msg"])
    # None of them settled; the valid token still does.
    settled = await send(platform, "2102", purchase(valid))
    assert settled["infcode"] == 0, settled["err_msg"]


async def test_a_visit_opened_with_a_token_needs_a_fresh_one_to_settle(platform: Platform) -> None:
    psn_no, token = platform.values["psn_no"], await issue(platform)
    now = f"{now_china():%Y-%m-%d %H:%M:%S}"
    who = {"mdtrt_cert_type": "01", "mdtrt_cert_no": token}
    opened = await send(platform, "2201", {"data": {**who, "insutype": "390", "begntime": now}}, HOSPITAL)
    assert opened["infcode"] == 0, opened["err_msg"]
    mdtrt_id = opened["output"]["data"]["mdtrt_id"]
    assert opened["output"]["data"]["psn_no"] == psn_no
    lines = [{"feedetl_sn": "1", "mdtrt_id": mdtrt_id, "psn_no": psn_no, "chrg_bchno": "B1",
              "fee_ocur_time": now, "med_list_codg": "A", "medins_list_codg": "HA",
              "det_item_fee_sumamt": "30.00", "cnt": "60", "pric": "0.5", "hosp_appr_flag": "0"}]  # fmt: skip
    assert (await send(platform, "2204", {"feedetail": lines}, HOSPITAL))["infcode"] == 0
    settle = {"med_type": "11", "medfee_sumamt": "30.00", "psn_setlway": "01", "mdtrt_id": mdtrt_id,
              "chrg_bchno": "B1", "insutype": "390", "acct_used_flag": "0"}  # fmt: skip
    used = await send(platform, "2207", {"data": {**settle, **who}}, HOSPITAL)
    assert used["err_msg"].startswith("[E_VOUCHER_USED]")
    fresh = {"mdtrt_cert_type": "01", "mdtrt_cert_no": await issue(platform)}
    settled = await send(platform, "2207", {"data": {**settle, **fresh}}, HOSPITAL)
    assert settled["infcode"] == 0, settled["err_msg"]
    # 30.00 of A: (30.00 - 20.00 deductible) x 50 % = 5.00.
    assert Decimal(str(settled["output"]["setlinfo"]["hifp_pay"])) == Decimal("5.00")
