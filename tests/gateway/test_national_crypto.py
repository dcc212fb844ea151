"""National cryptography per institution (docs/interface.md, "National cryptography").

The primitives against the standards' own example values: GM/T 0004 (SM3) examples 1 and 2, GM/T 0002
(SM4) example 1, GM/T 0003.5 annex C (SM2 on the recommended curve: the public key of the example private
key, the signature of "message digest" with the example k, its verification). Then through the gateway
app over HTTP on both backends: the registry setting chooses the scheme; an institution under SM2 + SM4
sends an encrypted, signed envelope and reads an encrypted answer signed by the gateway; a re-signed
repeat of a msgid gets the first answer; a wrong signature, a clear-text input, a foreign key are refused;
a key rotation keeps both keys working for its window, then only the new one; a 9102 answers the zip in
its encrypted envelope, never as raw bytes; and a pharmacy purchase goes through in front of a fake
settlement, its amounts read from the decrypted answer."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from gateway.config import GatewaySettings
from gateway.main import create_app
from gateway.protocol.envelope import parse_body
from gateway.security import national
from gateway.security.models import Institution, InstitutionKey
from gateway.security.sealing import compact
from sqlmodel import col, select

from platformctl import examples
from platformctl.demo import demo_credentials
from shared.db import Database, utcnow
from tests.conftest import DatabaseFactory
from tests.gateway.factories import PHARMACY, Gateway, readme_purchase
from tests.support.apps import build, running
from tests.support.his import signed_headers

HOSPITAL = "H34152400001"
HIS_PATH = "/fsi/api/rsfComIfsService/callService"
GATEWAY_KEY = national.generate_private_key()


# --- the standards' example values ----------------------------------------------------------------------


def test_sm3_gmt_0004_examples() -> None:
    assert national.sm3_hex(b"abc") == ("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
    assert national.sm3_hex(b"abcd" * 16) == (
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    )


def test_sm4_gmt_0002_example() -> None:
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    assert national.sm4_block(key, key).hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm2_gmt_0003_recommended_curve_example() -> None:
    private = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
    public = national.sm2_public_key(private)
    assert public == (
        "09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020"
        "ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13"
    )
    k = "59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21"
    signature = national.sm2_sign(b"message digest", private, k=k)
    assert signature.hex() == (
        "f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3"
        "b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa"
    )
    assert national.sm2_verify(b"message digest", signature, "04" + public)
    assert not national.sm2_verify(b"message digesT", signature, public)
    assert not national.sm2_verify(b"message digest", signature[:-1] + b"\0", public)


def test_sm4_padding_is_checked_so_a_wrong_key_is_an_error() -> None:
    key, other = bytes(range(16)), bytes(range(1, 17))
    cipher = national.sm4_encrypt("对总账".encode(), key)
    assert national.sm4_decrypt(cipher, key) == "对总账".encode()
    with pytest.raises(national.CryptoError):
        national.sm4_decrypt(cipher, other)


# --- through the gateway ------------------------------------------------------------------------------


@dataclass
class SealedHis:
    """A HIS under SM2 + SM4: seals its envelopes as public HIS code does (cainfo = Base64 SM3withSM2
    signature of the input text; input = Base64 SM4-ECB of it) and opens the answers."""

    client: httpx.AsyncClient
    code: str
    private_key: str
    sm4_key: bytes
    sequence: int = 0
    sign_no: str = ""

    def seal(self, body: dict[str, Any], *, key: bytes | None = None) -> dict[str, Any]:
        text = compact(body["input"]).encode()
        return {
            **body,
            "input": national.b64encode(national.sm4_encrypt(text, key or self.sm4_key)),
            "enc_type": "SM4",
            "signtype": "SM2",
            "cainfo": national.b64encode(national.sm2_sign(text, self.private_key)),
        }

    def envelope(self, infno: str, node: dict[str, Any], msgid: str | None = None) -> dict[str, Any]:
        self.sequence += 1
        body = examples.envelope(
            infno,
            msgid or f"{self.code}20261120100000{self.sequence:04d}",
            node,
            fixmedins_code=self.code,
            fixmedins_name=self.code,
        )
        return {**body, "sign_no": self.sign_no}

    async def post(self, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post(
            HIS_PATH,
            content=json.dumps(body, ensure_ascii=False).encode(),
            headers={"content-type": "application/json", **signed_headers(self.code)},
        )
        assert response.status_code == 200
        answer: dict[str, Any] = parse_body(response.content)
        return answer

    def open(self, answer: dict[str, Any], *, key: bytes | None = None) -> dict[str, Any]:
        """The answer's output decrypted, after checking the gateway's signature over it."""
        plain = national.sm4_decrypt(national.b64decode(answer["output"]), key or self.sm4_key)
        assert (answer["enctype"], answer["signtype"]) == ("SM4", "SM2")
        gateway_public = national.sm2_public_key(GATEWAY_KEY)
        assert national.sm2_verify(plain, national.b64decode(answer["cainfo"]), gateway_public)
        output: dict[str, Any] = parse_body(plain)
        return output

    async def sign_in(self) -> dict[str, Any]:
        body = self.envelope("9001", {"signIn": {"opter_no": "001", "mac": "", "ip": "127.0.0.1"}})
        answer = await self.post(self.seal(body))
        assert answer["infcode"] == 0, answer["err_msg"]
        output = self.open(answer)
        self.sign_no = output["signinoutb"]["sign_no"]
        return output


@dataclass
class Office:
    client: httpx.AsyncClient
    db: Database

    async def register(self, code: str, envelope_crypto: str) -> None:
        paasid, secret = demo_credentials(code)
        body = {
            "fixmedins_name": code,
            "paasid": paasid,
            "secret": secret,
            "envelope_crypto": envelope_crypto,
        }
        response = await self.client.put(f"/api/v1/institutions/{code}", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["envelope_crypto"] == envelope_crypto

    async def add_key(self, code: str, kind: str, key: str, **extra: Any) -> dict[str, Any]:
        response = await self.client.post(
            f"/api/v1/institutions/{code}/keys", json={"kind": kind, "key": key, **extra}
        )
        assert response.status_code == 201, response.text
        out: dict[str, Any] = response.json()
        assert key.lower() not in response.text  # never shown back, only its fingerprint
        return out


@pytest.fixture
async def office(databases: DatabaseFactory) -> AsyncIterator[Office]:
    url = databases.migrated("gateway")
    app = build(create_app, GatewaySettings, database_url=url, sm2_private_key=GATEWAY_KEY)
    db = Database(url)
    async with running(app) as client:
        yield Office(client, db)
    await db.dispose()


async def sealed_hospital(office: Office) -> SealedHis:
    his = SealedHis(office.client, HOSPITAL, national.generate_private_key(), bytes.fromhex("0f" * 16))
    await office.register(HOSPITAL, "sm2-sm4")
    await office.add_key(HOSPITAL, "sm2_public", "04" + national.sm2_public_key(his.private_key))
    await office.add_key(HOSPITAL, "sm4", his.sm4_key.hex())
    return his


async def test_an_sm2_sm4_institution_is_answered_encrypted_and_signed(office: Office) -> None:
    his = await sealed_hospital(office)
    signed_in = await his.sign_in()
    assert signed_in["signinoutb"]["sign_no"]

    # The same msgid again, re-signed (a fresh k: another cainfo) after a lost answer: the first answer.
    body = his.envelope("9001", {"signIn": {"opter_no": "001", "mac": "", "ip": "127.0.0.1"}}, "X")
    body["msgid"] = f"{HOSPITAL}202611201000009999"
    first = his.open(await his.post(his.seal(body)))
    again = his.open(await his.post(his.seal(body)))
    assert again == first

    # 9002 with the sign_no the encrypted 9001 gave: the sign-in is the institution's.
    out = body | {"infno": "9002", "msgid": f"{HOSPITAL}202611201000009998", "sign_no": his.sign_no}
    out["input"] = {"signOut": {"sign_no": his.sign_no, "opter_no": "001"}}
    assert "sign_time" in his.open(await his.post(his.seal(out)))["signoutoutb"]


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (lambda b: {**b, "cainfo": national.b64encode(bytes(64))}, "E_CAINFO"),
        (lambda b: {**b, "signtype": ""}, "E_CAINFO"),
        (lambda b: {**b, "enc_type": ""}, "E_CRYPTO"),
        (lambda b: {**b, "input": "not base64!"}, "E_CRYPTO"),
    ],
)
async def test_an_envelope_not_sealed_as_registered_is_refused(
    office: Office, tamper: Any, code: str
) -> None:
    his = await sealed_hospital(office)
    body = his.envelope("9001", {"signIn": {"opter_no": "001", "mac": "", "ip": "127.0.0.1"}})
    answer = await his.post(tamper(his.seal(body)))
    assert (answer["infcode"], answer["err_msg"].split("]")[0]) == (-1, f"[{code}")
    plain = await his.post(body)  # the clear text the institution is not registered for
    assert plain["err_msg"].startswith("[E_CRYPTO]")


async def test_a_key_of_another_institution_is_refused(office: Office) -> None:
    his = await sealed_hospital(office)
    stranger = national.generate_private_key()
    body = his.envelope("9001", {"signIn": {"opter_no": "001", "mac": "", "ip": "127.0.0.1"}})
    sealed = his.seal(body)
    text = national.sm4_decrypt(national.b64decode(sealed["input"]), his.sm4_key)
    forged = {**sealed, "cainfo": national.b64encode(national.sm2_sign(text, stranger))}
    assert (await his.post(forged))["err_msg"].startswith("[E_CAINFO]")
    foreign = his.seal(body, key=bytes(16))
    assert (await his.post(foreign))["err_msg"].startswith(
        "[E_CRYPTO] input: 无法用本机构当前有效的 SM4 密钥解密"
    )


async def test_a_rotation_keeps_both_keys_working_for_its_window_then_only_the_new(office: Office) -> None:
    his = await sealed_hospital(office)
    await his.sign_in()
    new_key = bytes.fromhex("a5" * 16)
    added = await office.add_key(HOSPITAL, "sm4", new_key.hex(), retire_others_after_s=600)
    keys = (await office.client.get(f"/api/v1/institutions/{HOSPITAL}/keys")).json()
    assert [(k["kind"], k["valid_until"] is None) for k in keys] == [
        ("sm2_public", True),
        ("sm4", False),  # the old key ends in 600 s
        ("sm4", True),
    ]
    assert keys[2]["id"] == added["id"]

    def sign_out_probe() -> dict[str, Any]:
        # 9002 of a sign_no that does not exist: refused by the gateway after the envelope is opened, so
        # it shows which key the envelope was read with and which the refusal is sealed with.
        return his.envelope("9002", {"signOut": {"sign_no": "NONE", "opter_no": "001"}})

    # During the window: the old key and the new key both open, each answer sealed with the key used.
    for key in (his.sm4_key, new_key):
        answer = await his.post(his.seal(sign_out_probe(), key=key))
        assert answer["err_msg"].startswith("[E_SIGN_NO]"), answer["err_msg"]
    ok = await his.post(
        his.seal(his.envelope("9001", {"signIn": {"opter_no": "001", "ip": "1"}}), key=new_key)
    )
    assert his.open(ok, key=new_key)["signinoutb"]["sign_no"]

    # The window over (its end moved to the past, as the clock would): the old key no longer opens.
    async with office.db.transaction() as session:
        old = await session.scalar(select(InstitutionKey).where(col(InstitutionKey.valid_until).is_not(None)))
        assert old is not None
        old.valid_until = utcnow() - timedelta(seconds=1)
        session.add(old)
    refused = await his.post(his.seal(sign_out_probe(), key=his.sm4_key))
    assert refused["err_msg"].startswith("[E_CRYPTO] input: 无法用本机构当前有效的 SM4 密钥解密")
    answer = await his.post(his.seal(sign_out_probe(), key=new_key))
    assert answer["err_msg"].startswith("[E_SIGN_NO]")


async def test_an_institution_without_national_cryptography_sending_sm4_is_told(office: Office) -> None:
    await office.register(HOSPITAL, "none")
    his = SealedHis(office.client, HOSPITAL, national.generate_private_key(), bytes(16))
    body = his.envelope("9001", {"signIn": {"opter_no": "001", "mac": "", "ip": "127.0.0.1"}})
    answer = await his.post(his.seal(body))
    assert answer["err_msg"] == "[E_CRYPTO] 本机构未登记报文加密：input 应为明文 JSON 对象，enc_type 传空"
    clear = await his.post(body)
    assert clear["infcode"] == 0 and clear["cainfo"] is None  # today's scheme, unchanged


async def test_a_sealed_9102_is_an_encrypted_envelope_holding_the_zip(office: Office) -> None:
    """A 9102 of an institution under SM4 is answered as its envelope, the zip in the encrypted output's
    ``file_byte``, whatever it accepts: the raw zip would bypass its encryption and signature."""
    his = await sealed_hospital(office)
    await his.sign_in()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mxdz.txt", "S1\t120.00\n")
    content = buffer.getvalue()
    node = {"in": base64.b64encode(content).decode(), "filename": "mxdz.zip", "fixmedins_code": HOSPITAL}
    uploaded = his.open(await his.post(his.seal(his.envelope("9101", {"fsUploadIn": node}))))
    wanted = {"file_qury_no": uploaded["file_qury_no"], "filename": "mxdz.zip", "fixmedins_code": HOSPITAL}
    response = await office.client.post(
        HIS_PATH,
        content=json.dumps(his.seal(his.envelope("9102", {"fsDownloadIn": wanted}))).encode(),
        headers={"content-type": "application/json", "accept": "*/*", **signed_headers(HOSPITAL)},
    )
    assert response.headers["content-type"].startswith("application/json")
    answer = parse_body(response.content)
    assert answer["infcode"] == 0, answer["err_msg"]
    output = his.open(answer)
    assert base64.b64decode(output["file_byte"]) == content
    assert output["file_sha256"] == hashlib.sha256(content).hexdigest()


async def test_a_sealed_pharmacy_purchase_in_front_of_settlement(gateway: Gateway) -> None:
    """The README purchase (90.00: 58.00 cash, 32.00 fund), sent encrypted and signed by the pharmacy."""
    private_key, sm4_key = national.generate_private_key(), bytes.fromhex("3c" * 16)
    gateway.processor.sm2_private_key = GATEWAY_KEY
    async with gateway.db.transaction() as session:
        pharmacy = await session.get(Institution, PHARMACY)
        assert pharmacy is not None
        pharmacy.envelope_crypto = "sm2-sm4"
        session.add(pharmacy)
        for kind, key in (("sm2_public", national.sm2_public_key(private_key)), ("sm4", sm4_key.hex())):
            session.add(InstitutionKey(fixmedins_code=PHARMACY, kind=kind, key=key, valid_from=utcnow()))
    gateway.fake.on("POST", "/api/v1/pharmacy-settlements", (200, readme_purchase()))

    async def send(body: dict[str, Any]) -> dict[str, Any]:
        raw = json.dumps(his.seal(body), ensure_ascii=False).encode()
        answer: dict[str, Any] = parse_body(
            (await gateway.processor.process(raw, signed_headers(PHARMACY))).encode()
        )
        return answer

    his = SealedHis(httpx.AsyncClient(), PHARMACY, private_key, sm4_key)
    signed_in = his.open(await send(his.envelope("9001", {"signIn": {"opter_no": "001", "ip": "1"}})))
    his.sign_no = signed_in["signinoutb"]["sign_no"]
    purchase = examples.example_2102(readme_purchase()["person"]["psn_no"], "34152419850312013X")
    answer = await send({**purchase, "sign_no": his.sign_no})
    assert answer["infcode"] == 0, answer["err_msg"]
    info = his.open(answer)["setlinfo"]
    # 90.00: 6.00 乙 first, 84.00 in range, 20.00 deductible, (84.00 - 20.00) x 50 % = 32.00 fund, 58.00 cash.
    assert (Decimal(str(info["hifp_pay"])), Decimal(str(info["psn_cash_pay"]))) == (
        Decimal("32.00"),
        Decimal("58.00"),
    )
    [(_, _, sent)] = [c for c in gateway.fake.calls if c[1] == "/api/v1/pharmacy-settlements"]
    assert sent["medfee_sumamt_fen"] == 9000  # settlement got the decrypted purchase
    await his.client.aclose()
