"""Who may call the gateway: the x-tif signature (secret, timestamp window, nonce once), the envelope's
institution and msgid form, 9001/9002 sign-in, the rate limit, and the registry behind it."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from gateway.config import GatewaySettings
from gateway.main import create_app
from gateway.protocol.envelope import parse_body
from gateway.security.schemes import TifSha256
from gateway.security.service import HisSecurity
from gateway.transactions import EnvelopeProcessor
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import create_async_engine

from platformctl import examples
from platformctl.demo import demo_credentials
from shared.auth import AUDITOR, ENROLLMENT_CLERK
from tests.conftest import DatabaseFactory
from tests.gateway.factories import PHARMACY, Gateway, readme_purchase
from tests.support.apps import bearer, build, running
from tests.support.his import sign_in_envelope, signed_headers

CERTNO = "34152419850312013X"
SETTLE = ("POST", "/api/v1/pharmacy-settlements")


def purchase(sequence: int = 2, **changes: Any) -> dict[str, Any]:
    body = examples.example_2102("3415240000000001", CERTNO, sequence)
    body.update(changes)
    return body


async def answer(gateway: Gateway, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    text = await gateway.processor.process(json.dumps(body, ensure_ascii=False).encode(), headers)
    result: dict[str, Any] = parse_body(text.encode())
    return result


async def sign_in(gateway: Gateway, code: str = PHARMACY, opter: str = "001") -> str:
    signed = await answer(gateway, sign_in_envelope(code, opter), signed_headers(code))
    assert signed["infcode"] == 0, signed["err_msg"]
    return str(signed["output"]["signinoutb"]["sign_no"])


def code_of(result: dict[str, Any]) -> str:
    assert result["infcode"] == -1
    return str(result["err_msg"]).split("]", 1)[0].lstrip("[")


async def test_signature_timestamp_and_nonce_are_checked_before_anything_happens(gateway: Gateway) -> None:
    gateway.fake.on(*SETTLE, (200, readme_purchase()))
    sign_no = await sign_in(gateway)
    body = purchase(sign_no=sign_no)
    paasid, secret = demo_credentials(PHARMACY)

    assert code_of(await answer(gateway, body, {})) == "E_SIGNATURE"
    wrong_secret = TifSha256().sign(paasid, "not-the-secret-of-this-pharmacy")
    assert code_of(await answer(gateway, body, wrong_secret)) == "E_SIGNATURE"
    unknown = TifSha256().sign("paas-nobody", secret)
    assert code_of(await answer(gateway, body, unknown)) == "E_SIGNATURE"
    tampered = {**signed_headers(), "x-tif-timestamp": str(int(time.time()) + 1)}
    assert code_of(await answer(gateway, body, tampered)) == "E_SIGNATURE"  # the stamp is signed
    stale = signed_headers(now=time.time() - 301)
    assert code_of(await answer(gateway, body, stale)) == "E_TIMESTAMP"
    # The stamp is whole seconds (truncated): 301 s ahead may arrive as 300.x s ahead, so 302.
    early = signed_headers(now=time.time() + 302)
    assert code_of(await answer(gateway, body, early)) == "E_TIMESTAMP"
    assert gateway.fake.calls == []  # none of them reached settlement
    assert await gateway.stored(body["msgid"]) is None  # nor took the msgid

    headers = signed_headers()
    first = await answer(gateway, body, headers)
    assert first["infcode"] == 0 and str(first["output"]["setlinfo"]["hifp_pay"]) == "32.00"
    replayed = await answer(gateway, body, headers)  # the same nonce again, even for the same message
    assert code_of(replayed) == "E_NONCE_REUSED"
    assert await answer(gateway, body, signed_headers()) == first  # a fresh signature: the stored answer
    assert gateway.fake.paths() == [SETTLE]


async def test_envelope_must_speak_for_the_signing_institution_with_a_national_msgid(
    gateway: Gateway,
) -> None:
    sign_no = await sign_in(gateway)
    hospital_msgid = examples.msgid(3, "H34152400001")
    as_hospital = purchase(fixmedins_code="H34152400001", msgid=hospital_msgid, sign_no=sign_no)
    assert code_of(await answer(gateway, as_hospital, signed_headers(PHARMACY))) == "E_INSTITUTION"
    for bad in (
        "H34152400001202611201000000001",  # another institution's code
        "P3415240000120261120100000001",  # sequence of three digits
        "P34152400001202613201000000001",  # month 13
        "P34152400001202602301000000001",  # 30 February
        "P34152400001２０２６11201000000001",  # full-width digits
        "P34152400001X02611201000000001",
    ):
        refused = await answer(gateway, purchase(msgid=bad, sign_no=sign_no), signed_headers())
        assert code_of(refused) == "E_MSGID_FORM", bad
    assert gateway.fake.calls == []


async def test_settlement_needs_a_sign_in_of_the_institution_and_operator(gateway: Gateway) -> None:
    gateway.fake.on(*SETTLE, (200, readme_purchase()))
    # One body throughout (its msgid carries the second it was built in): refused, then settled once signed
    # in, then answered again after sign-out.
    unsigned = purchase(sequence=11)
    missing = await answer(gateway, unsigned, signed_headers())
    assert code_of(missing) == "E_SIGN_IN" and "9001" in missing["err_msg"]
    assert (
        code_of(await answer(gateway, purchase(sequence=12, sign_no="X" * 30), signed_headers()))
        == "E_SIGN_IN"
    )
    hospital_sign_no = await sign_in(gateway, "H34152400001")
    foreign = await answer(gateway, purchase(sequence=13, sign_no=hospital_sign_no), signed_headers())
    assert code_of(foreign) == "E_SIGN_IN"
    sign_no = await sign_in(gateway, PHARMACY, "001")
    other_operator = purchase(sequence=14, sign_no=sign_no, opter="002")
    assert code_of(await answer(gateway, other_operator, signed_headers())) == "E_SIGN_IN"
    assert gateway.fake.calls == []
    assert await gateway.stored(unsigned["msgid"]) is None  # may be sent again once signed in

    first = {**unsigned, "sign_no": sign_no}
    settled = await answer(gateway, first, signed_headers())
    assert settled["infcode"] == 0

    sign_out = examples.envelope(
        "9002",
        examples.msgid(20),
        {"signOut": {"sign_no": sign_no, "opter_no": "001"}},
        insuplc_admdvs="341524",
    )
    sign_out["sign_no"] = sign_no
    signed_out = await answer(gateway, sign_out, signed_headers())
    assert signed_out["infcode"] == 0 and signed_out["output"]["signoutoutb"]["sign_time"]
    after = await answer(gateway, purchase(sequence=15, sign_no=sign_no), signed_headers())
    assert code_of(after) == "E_SIGN_IN" and "已签退" in after["err_msg"]
    # The answer already given stays available after sign-out (it settles a cashier's doubt).
    assert await answer(gateway, first, signed_headers()) == settled
    assert gateway.fake.paths() == [SETTLE]


async def test_sign_in_is_bound_to_the_operator_named_in_the_envelope(gateway: Gateway) -> None:
    wire = sign_in_envelope(PHARMACY, "001")
    wire["input"]["signIn"]["opter_no"] = "999"
    refused = await answer(gateway, wire, signed_headers())
    assert code_of(refused) == "E_INPUT" and "opter_no" in refused["err_msg"]
    no_ip = sign_in_envelope(PHARMACY, "001")
    del no_ip["input"]["signIn"]["ip"]
    assert "input.signIn.ip: 必填" in (await answer(gateway, no_ip, signed_headers()))["err_msg"]


async def test_rate_limit_per_institution(databases: DatabaseFactory, gateway: Gateway) -> None:
    security = HisSecurity(gateway.db, TifSha256(), rate_limit_per_minute=3)
    limited = EnvelopeProcessor(
        gateway.db, gateway.processor.downstream, "341524", 1_048_576, security=security
    )
    limited_gateway = Gateway(gateway.db, gateway.fake, limited)
    answers = [
        await answer(limited_gateway, sign_in_envelope(PHARMACY), signed_headers(PHARMACY)) for _ in range(4)
    ]
    assert [a["infcode"] for a in answers[:3]] == [0, 0, 0]
    assert code_of(answers[3]) == "E_RATE_LIMITED" and "频繁" in answers[3]["err_msg"]
    # Another institution has its own allowance.
    other = await answer(limited_gateway, sign_in_envelope("H34152400001"), signed_headers("H34152400001"))
    assert other["infcode"] == 0


async def test_registry_is_for_administrators_and_never_shows_a_secret(databases: DatabaseFactory) -> None:
    app = build(create_app, GatewaySettings, database_url=databases.migrated("gateway"))
    entry = {"fixmedins_name": "惠民大药房", "paasid": "paas-p1", "secret": "s" * 32}
    async with running(app) as admin:
        created = await admin.put("/api/v1/institutions/P34152400001", json=entry)
        assert created.status_code == 200 and "secret" not in created.json()
        short = await admin.put("/api/v1/institutions/P34152400002", json={**entry, "secret": "short"})
        assert short.status_code == 422
        taken = await admin.put("/api/v1/institutions/P34152400002", json=entry)
        assert taken.status_code == 409 and taken.json()["error"]["code"] == "PAASID_TAKEN"
        listed = await admin.get("/api/v1/institutions", headers=bearer(AUDITOR))
        assert [i["paasid"] for i in listed.json()] == ["paas-p1"] and "secret" not in listed.text
        denied = await admin.put("/api/v1/institutions/P1", json=entry, headers=bearer(AUDITOR))
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "FORBIDDEN"
        clerk = await admin.get("/api/v1/institutions", headers=bearer(ENROLLMENT_CLERK))
        assert clerk.status_code == 403
    async with running(app, token=None) as anonymous:
        nobody = await anonymous.get("/api/v1/institutions")
        assert nobody.status_code == 401 and nobody.json()["error"]["code"] == "UNAUTHENTICATED"
        # The HIS entry point answers an unsigned request with an envelope, never with the registry's 401.
        his = await anonymous.post(
            "/fsi/api/rsfComIfsService/callService", json=examples.example_1101(CERTNO)
        )
        assert his.status_code == 200 and his.json()["err_msg"].startswith("[E_SIGNATURE]")
        assert isinstance(his, httpx.Response)


async def test_a_disabled_institution_or_a_rotated_secret_counts_at_the_next_request(
    databases: DatabaseFactory,
) -> None:
    """Through the registry's API; the same by hand and on another replica below."""
    app = build(create_app, GatewaySettings, database_url=databases.migrated("gateway"))
    entry = {"fixmedins_name": "惠民大药房", "paasid": "paas-p1", "secret": "s" * 32}

    async def his_call(secret: str) -> dict[str, Any]:
        headers = TifSha256().sign("paas-p1", secret)
        wire = json.dumps(sign_in_envelope(PHARMACY), ensure_ascii=False).encode()
        reply = await client.post("/fsi/api/rsfComIfsService/callService", content=wire, headers=headers)
        result: dict[str, Any] = parse_body(reply.content)
        return result

    async with running(app) as client:
        assert (await client.put(f"/api/v1/institutions/{PHARMACY}", json=entry)).status_code == 200
        assert (await his_call("s" * 32))["infcode"] == 0
        rotated = {**entry, "secret": "t" * 32}
        assert (await client.put(f"/api/v1/institutions/{PHARMACY}", json=rotated)).status_code == 200
        assert code_of(await his_call("s" * 32)) == "E_SIGNATURE"
        assert (await his_call("t" * 32))["infcode"] == 0
        disabled = {**rotated, "active": False}
        assert (await client.put(f"/api/v1/institutions/{PHARMACY}", json=disabled)).status_code == 200
        refused = await his_call("t" * 32)
        assert code_of(refused) == "E_SIGNATURE" and "停用" in refused["err_msg"]


def replica(gateway: Gateway) -> EnvelopeProcessor:
    """Another gateway process on the same database: its own registry rows, rate buckets and nonce purge."""
    return EnvelopeProcessor(
        gateway.db,
        gateway.processor.downstream,
        "341524",
        1_048_576,
        security=HisSecurity(gateway.db, TifSha256()),
    )


async def test_a_registry_change_by_hand_counts_at_once_on_every_replica(gateway: Gateway) -> None:
    """Each gateway process checks a signature against the registry row it last read, and reads the row
    again in the statement that uses up the nonce: an institution disabled or a secret changed by SQL, with
    no API and on no particular replica, is refused from the next request on, by every replica."""
    gateway.fake.on(*SETTLE, (200, readme_purchase()))
    other = replica(gateway)
    paasid, secret = demo_credentials(PHARMACY)
    new_secret = "n" * 32
    wire = json.dumps(sign_in_envelope(PHARMACY), ensure_ascii=False).encode()

    async def on(processor: EnvelopeProcessor, body: bytes, secret: str) -> dict[str, Any]:
        result: dict[str, Any] = parse_body(
            (await processor.process(body, TifSha256().sign(paasid, secret))).encode()
        )
        return result

    async def by_hand(sql: str) -> None:
        async with gateway.db.engine.begin() as conn:
            await conn.execute(text(sql))

    for processor in (gateway.processor, other):  # both have read the row
        assert (await on(processor, wire, secret))["infcode"] == 0
    await by_hand(f"UPDATE his_institution SET secret = '{new_secret}' WHERE fixmedins_code = '{PHARMACY}'")
    for processor in (gateway.processor, other):
        assert code_of(await on(processor, wire, secret)) == "E_SIGNATURE"
        assert (await on(processor, wire, new_secret))["infcode"] == 0
    await by_hand(f"UPDATE his_institution SET active = false WHERE fixmedins_code = '{PHARMACY}'")
    for processor in (gateway.processor, other):
        refused = await on(processor, wire, new_secret)
        assert code_of(refused) == "E_SIGNATURE" and "停用" in refused["err_msg"]
        # An envelope refused for itself is refused for the signer first.
        assert code_of(await on(processor, b"{not json", new_secret)) == "E_SIGNATURE"
    await by_hand(f"UPDATE his_institution SET active = true WHERE fixmedins_code = '{PHARMACY}'")
    await by_hand(f"DELETE FROM his_institution WHERE fixmedins_code = '{PHARMACY}'")
    for processor in (gateway.processor, other):
        assert code_of(await on(processor, wire, new_secret)) == "E_SIGNATURE"
    assert gateway.fake.calls == []


async def test_a_known_signer_costs_the_gateway_two_statements_per_settlement(gateway: Gateway) -> None:
    """A 2102 from an institution the process has read: the nonce with the message log, the sign-in and
    the registry row in one statement (PostgreSQL), then the answer stored. A process's first request of a
    paasid reads the row before that (and its first request at all clears old nonces); SQLite takes one
    statement more, the nonce apart."""
    gateway.fake.on(*SETTLE, (200, readme_purchase()))
    postgres = gateway.db.engine.dialect.name == "postgresql"
    sign_no = await sign_in(gateway)  # this process has read the pharmacy's row
    fresh = replica(gateway)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            statements.append(" ".join(statement.split()))

    async def settle(processor: EnvelopeProcessor, sequence: int) -> list[str]:
        statements.clear()
        body = json.dumps(purchase(sequence=sequence, sign_no=sign_no), ensure_ascii=False).encode()
        settled = parse_body((await processor.process(body, signed_headers())).encode())
        assert settled["infcode"] == 0, settled["err_msg"]
        return list(statements)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        warm = await settle(gateway.processor, 71)
        cold = await settle(fresh, 72)
    finally:
        event.remove(Engine, "before_cursor_execute", seen)

    def registry_read(statement: str) -> bool:
        return statement.startswith("SELECT") and "FROM his_institution" in statement

    assert len(warm) == (2 if postgres else 3), warm
    assert not any(registry_read(x) for x in warm)
    assert len(cold) == len(warm) + 2, cold  # the registry row read, the old nonces cleared
    assert registry_read(cold[0]) and cold[1].startswith("DELETE FROM his_nonce")
    assert gateway.fake.paths() == [SETTLE, SETTLE]


async def test_requests_go_through_after_the_database_dropped_every_connection(
    gateway: Gateway, backend: str
) -> None:
    """A restarted PostgreSQL leaves the pools holding dead connections; the pre-ping on checkout replaces
    them, so the first request afterwards is answered, not failed (SQLite has no server to restart)."""
    if backend != "postgres":
        pytest.skip("PostgreSQL only")
    gateway.fake.on(*SETTLE, (200, readme_purchase()))
    once = purchase(sequence=31)  # built once: its msgid carries the second it was built in
    first = await gateway.send(once)
    assert first["infcode"] == 0
    killer = create_async_engine(gateway.db.url)
    try:
        async with killer.connect() as conn:
            terminated = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await killer.dispose()
    assert terminated and terminated >= 1
    second = await gateway.send(purchase(sequence=32))
    assert second["infcode"] == 0, second["err_msg"]
    assert await gateway.send(once) == first  # the stored answer, read after the restart
    assert gateway.fake.paths() == [SETTLE, SETTLE]


async def test_a_verified_nonce_is_used_up_even_when_the_envelope_is_refused(gateway: Gateway) -> None:
    gateway.fake.on(*SETTLE, (200, readme_purchase()))
    sign_no = await sign_in(gateway)
    body = purchase(sequence=41, sign_no=sign_no)
    for refused_body, code in (
        (b"{not json", "E_JSON"),
        (json.dumps({"infno": "2102"}).encode(), "E_ENVELOPE"),
        (
            json.dumps(purchase(sequence=41, sign_no=sign_no, msgid="P3415240000120261120")).encode(),
            "E_MSGID_FORM",
        ),
    ):
        headers = signed_headers()
        refused = parse_body((await gateway.processor.process(refused_body, headers)).encode())
        assert code_of(refused) == code
        assert code_of(await answer(gateway, body, headers)) == "E_NONCE_REUSED"  # the nonce went with it
        again = parse_body((await gateway.processor.process(refused_body, headers)).encode())
        assert code_of(again) == "E_NONCE_REUSED"  # a used nonce is refused before the envelope is read
    assert gateway.fake.calls == [] and await gateway.stored(body["msgid"]) is None
    assert (await answer(gateway, body, signed_headers()))["infcode"] == 0


async def test_one_nonce_sent_twice_at_once_is_accepted_once(gateway: Gateway) -> None:
    gateway.fake.on(*SETTLE, (200, readme_purchase()))
    sign_no = await sign_in(gateway)
    headers = signed_headers()
    first, second = await asyncio.gather(
        answer(gateway, purchase(sequence=51, sign_no=sign_no), headers),
        answer(gateway, purchase(sequence=52, sign_no=sign_no), headers),
    )
    assert sorted([first["infcode"], second["infcode"]]) == [-1, 0]
    assert code_of(first if first["infcode"] else second) == "E_NONCE_REUSED"
    assert gateway.fake.paths() == [SETTLE]


async def test_one_msgid_sent_twice_at_once_settles_once_in_the_log(gateway: Gateway) -> None:
    """Two signings of the same 2102 racing: whichever order they run in, both get the answer stored
    first (the second insert into the message log loses to the primary key and reads the first)."""
    answers = iter([readme_purchase(), readme_purchase(setl_id="S-SECOND-CALL")])
    gateway.fake.on(*SETTLE, lambda request: (200, next(answers)))
    sign_no = await sign_in(gateway)
    body = purchase(sequence=61, sign_no=sign_no)
    first, second = await asyncio.gather(
        answer(gateway, body, signed_headers()), answer(gateway, body, signed_headers())
    )
    assert first == second and first["infcode"] == 0
    stored = await gateway.stored(body["msgid"])
    assert stored is not None and parse_body(stored.response.encode()) == first
