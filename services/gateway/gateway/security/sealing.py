"""An institution's envelopes under the national cryptography its registry entry names (docs/interface.md,
"National cryptography"): the request opened (``input`` decrypted, ``cainfo`` verified) before anything
else reads it, and the answer sealed (``output`` encrypted, signed) after everything else is done.

The message log keeps the plain answer; a repeated msgid's answer is sealed again for the request that
repeats it, with a fresh signature. The digest that tells a repeat from a reuse of the msgid is taken over
the plain envelope without ``cainfo`` (a re-signed repeat is the same request)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import simplejson
from sqlalchemy import bindparam, or_, select

from gateway.protocol.envelope import BadJson, parse_body
from gateway.protocol.errors import Refusal
from gateway.security import national
from gateway.security.models import InstitutionKey
from shared.db import Statements, utcnow

NONE, SM2, SM4, SM2_SM4 = "none", "sm2", "sm4", "sm2-sm4"
SCHEMES = (NONE, SM2, SM4, SM2_SM4)
SM2_PUBLIC, SM4_KEY = "sm2_public", "sm4"


def signs(scheme: str) -> bool:
    return scheme in (SM2, SM2_SM4)


def encrypts(scheme: str) -> bool:
    return scheme in (SM4, SM2_SM4)


@dataclass(frozen=True)
class Keys:
    """An institution's keys valid now, newest first."""

    sm2_public: tuple[str, ...] = ()
    sm4: tuple[bytes, ...] = ()


_key = InstitutionKey.__table__  # type: ignore[attr-defined]
_VALID_KEYS = (
    select(_key.c.kind, _key.c.key)
    .where(
        _key.c.fixmedins_code == bindparam("code"),
        _key.c.valid_from <= bindparam("now"),
        or_(_key.c.valid_until.is_(None), _key.c.valid_until > bindparam("now")),
    )
    .order_by(_key.c.valid_from.desc(), _key.c.id.desc())
)


async def valid_keys(conn: Statements, fixmedins_code: str, now: datetime | None = None) -> Keys:
    rows = (await conn.run(_VALID_KEYS, {"code": fixmedins_code, "now": now or utcnow()})).all()
    return Keys(
        sm2_public=tuple(r.key for r in rows if r.kind == SM2_PUBLIC),
        sm4=tuple(bytes.fromhex(r.key) for r in rows if r.kind == SM4_KEY),
    )


def compact(value: Any) -> str:
    """The text that is signed and encrypted: compact JSON in the order the fields came, non-ASCII as is,
    numbers as held (the form public clients serialize with, e.g. fastjson's ``toJSONString``)."""
    text: str = simplejson.dumps(value, use_decimal=True, ensure_ascii=False, separators=(",", ":"))
    return text


@dataclass(frozen=True)
class Sealing:
    """How to seal the answer to one opened request: the scheme and the SM4 key its input was encrypted
    with (the answer is encrypted with the same key, so a client still on the old key during a rotation
    reads it)."""

    scheme: str
    sm4_key: bytes | None = None


def _flag(body: dict[str, Any], *names: str) -> str:
    for name in names:
        value = body.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip().upper()
    return ""


def open_request(body: dict[str, Any], scheme: str, keys: Keys) -> tuple[dict[str, Any], Sealing | None]:
    """The envelope with ``input`` in the clear, ready to be read as any other, and how to seal its answer
    (None: the institution uses no national cryptography). Refused ``[E_CRYPTO]`` when the envelope is not
    encrypted or signed as registered or cannot be decrypted, ``[E_CAINFO]`` when the signature is not
    one of the institution's keys'."""
    enc_type = _flag(body, "enc_type", "enctype")
    if scheme == NONE:
        # enc_type alone is not read: a public Java client sends "SM4" with a clear input when its
        # encryption is switched off. Cipher text is what cannot be read here.
        if isinstance(body.get("input"), str) and enc_type not in ("", "NONE"):
            raise Refusal("E_CRYPTO", "本机构未登记报文加密：input 应为明文 JSON 对象，enc_type 传空")
        return body, None
    signed_text: bytes | None = None
    key_used: bytes | None = None
    if encrypts(scheme):
        cipher_text = body.get("input")
        if enc_type != "SM4" or not isinstance(cipher_text, str):
            raise Refusal("E_CRYPTO", "本机构登记为 SM4 加密：enc_type 应为 SM4，input 应为 Base64 密文")
        try:
            cipher = national.b64decode(cipher_text)
        except national.CryptoError as exc:
            raise Refusal("E_CRYPTO", "input: 不是合法的 Base64 密文") from exc
        for key in keys.sm4:
            try:
                signed_text = national.sm4_decrypt(cipher, key)
                plain = parse_body(signed_text)
            except (national.CryptoError, BadJson, UnicodeDecodeError, ValueError):
                continue
            if isinstance(plain, dict):
                key_used = key
                break
        else:
            raise Refusal("E_CRYPTO", "input: 无法用本机构当前有效的 SM4 密钥解密，请核对密钥")
        body = {**body, "input": plain}
    elif not isinstance(body.get("input"), dict):
        raise Refusal("E_CRYPTO", "本机构未登记报文加密：input 应为明文 JSON 对象")
    if signs(scheme):
        if _flag(body, "signtype") != "SM2" or not isinstance(body.get("cainfo"), str):
            raise Refusal("E_CAINFO", "本机构登记为 SM2 签名：signtype 应为 SM2，cainfo 应为签名")
        if signed_text is None:
            signed_text = compact(body["input"]).encode()
        try:
            signature = national.b64decode(body["cainfo"])
        except national.CryptoError as exc:
            raise Refusal("E_CAINFO", "cainfo: 不是合法的 Base64 签名") from exc
        if not any(national.sm2_verify(signed_text, signature, key) for key in keys.sm2_public):
            raise Refusal("E_CAINFO", "cainfo: 签名校验失败，不是本机构当前有效的 SM2 密钥所签")
        body = {**body, "cainfo": None}
    return body, Sealing(scheme, key_used)


def seal_answer(answer: str, sealing: Sealing, gateway_private_key: str | None) -> str:
    """The answer as the institution's scheme wants it: ``output`` encrypted (``enctype`` SM4) and/or
    ``cainfo`` the gateway's SM2 signature of the plain ``output`` text (``signtype`` SM2; not signed when
    the gateway has no key configured, which its start-up log says)."""
    envelope = parse_body(answer.encode())
    plain = compact(envelope.get("output")).encode()
    if encrypts(sealing.scheme) and sealing.sm4_key is not None:
        envelope["output"] = national.b64encode(national.sm4_encrypt(plain, sealing.sm4_key))
        envelope["enctype"] = "SM4"
    if signs(sealing.scheme) and gateway_private_key:
        envelope["cainfo"] = national.b64encode(national.sm2_sign(plain, gateway_private_key))
        envelope["signtype"] = "SM2"
    return compact(envelope)


def validate_key(kind: str, key: str) -> str:
    """A key as stored (lower-case hex), or ``ValueError`` saying what is wrong with it."""
    text = key.strip().lower()
    if kind == SM4_KEY:
        if len(text) != 32:
            raise ValueError("SM4 密钥应为 32 位十六进制 (16 字节)")
        bytes.fromhex(text)
        return text
    if kind == SM2_PUBLIC:
        if len(text) == 130 and text.startswith("04"):
            text = text[2:]
        if len(text) != 128:
            raise ValueError("SM2 公钥应为 128 位十六进制 (x||y)，可带 04 前缀")
        bytes.fromhex(text)
        return text
    raise ValueError(f"未知的密钥类型 {kind}")


def fingerprint(key: str) -> str:
    """What the registry shows of a key: the first 16 hex digits of its SM3 digest (never the key)."""
    return national.sm3_hex(key.encode())[:16]
