"""E-voucher tokens (医保电子凭证, ``mdtrt_cert_type`` 01; docs/interface.md, "E-voucher").

The enrollment service issues a token to an insured person (what the national app shows as a QR code); the
gateway and the settlement service read it back without asking anyone: it carries the person's ``psn_no``,
its expiry and a random id, authenticated with a key every service derives from the shared
``AUTH_SECRET``. At most 50 characters, as ``mdtrt_cert_no`` allows: ``EV`` + Base32 of 30 bytes (the
psn_no's digit count, the psn_no as a number in 10 bytes, the expiry in Unix minutes, 4 random bytes and
an 11-byte HMAC-SHA256 tag). Revocation is the issuer's record: the gateway asks enrollment at each
use, and the settlement service keeps the revocations it learns from ``enrollment.voucher_revoked`` (by
``digest``: the token itself is not put on the bus); a token settles once (settlement records its use
with the settlement)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.auth import DEV_AUTH_SECRET

PREFIX = "EV"
_TAG = 11
_BODY = struct.Struct(">B10sI4s")  # digits, psn_no, expiry (Unix minutes), random id
_key = hmac.new(DEV_AUTH_SECRET.encode(), b"e-voucher v1", hashlib.sha256).digest()


class VoucherError(ValueError):
    """A token not of this platform (``E_VOUCHER``) or past its expiry (``E_VOUCHER_EXPIRED``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Voucher:
    token: str
    psn_no: str
    expires_at: datetime


def configure(auth_secret: str) -> None:
    """Derive the voucher key from the services' shared secret (``ServiceRuntime`` does at start)."""
    global _key
    _key = hmac.new(auth_secret.encode(), b"e-voucher v1", hashlib.sha256).digest()


def _tag(body: bytes) -> bytes:
    return hmac.new(_key, body, hashlib.sha256).digest()[:_TAG]


def issue(psn_no: str, expires_at: datetime) -> Voucher:
    if not psn_no.isdigit() or len(psn_no) > 24:
        raise ValueError("psn_no must be at most 24 digits")
    minutes = int(expires_at.timestamp() // 60)
    body = _BODY.pack(len(psn_no), int(psn_no).to_bytes(10, "big"), minutes, secrets.token_bytes(4))
    token = PREFIX + base64.b32encode(body + _tag(body)).decode("ascii")
    return Voucher(token, psn_no, datetime.fromtimestamp(minutes * 60, UTC))


def decode(token: str, now: datetime) -> Voucher:
    """The voucher a token is, checked: refused ``E_VOUCHER`` when it is not one of ours (or altered),
    ``E_VOUCHER_EXPIRED`` after its expiry."""
    text = token.strip().upper()
    try:
        raw = base64.b32decode(text[len(PREFIX) :]) if text.startswith(PREFIX) else b""
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != _BODY.size + _TAG or not hmac.compare_digest(raw[-_TAG:], _tag(raw[:-_TAG])):
        raise VoucherError("E_VOUCHER", "医保电子凭证无效：不是本平台签发的凭证或已被篡改")
    digits, number, minutes, _ = _BODY.unpack(raw[:-_TAG])
    expires_at = datetime.fromtimestamp(minutes * 60, UTC)
    if now >= expires_at:
        raise VoucherError("E_VOUCHER_EXPIRED", "医保电子凭证已过期，请患者刷新电子凭证二维码后重新出示")
    return Voucher(text, f"{int.from_bytes(number, 'big'):0{digits}d}", expires_at)


def lifetime(seconds: int, now: datetime) -> datetime:
    return now + timedelta(seconds=seconds)


def digest(token: str) -> str:
    """How a token is named where the token itself must not travel (the bus, the settlement service's
    revocations): SHA-256 of its canonical text, hex."""
    return hashlib.sha256(token.strip().upper().encode("ascii", "replace")).hexdigest()
