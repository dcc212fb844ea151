"""Request signature schemes of provincial gateways, pluggable per region (docs/interface.md).

The scheme seen in public HIS code: ``x-tif-paasid`` (who), ``x-tif-timestamp`` (unix seconds),
``x-tif-nonce`` and ``x-tif-signature`` = sha256 hex of timestamp + secret + nonce + timestamp. Another
region registers its own scheme under a name and sets ``GATEWAY_SIGNATURE_SCHEME``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from gateway.protocol.errors import Refusal


@dataclass(frozen=True)
class SignedRequest:
    """What a scheme reads from the headers before the institution's secret is known."""

    paasid: str
    timestamp: int
    nonce: str


class SignatureScheme(Protocol):
    name: str

    def read(self, headers: Mapping[str, str]) -> SignedRequest: ...

    def verify(self, headers: Mapping[str, str], request: SignedRequest, secret: str) -> bool: ...

    def sign(self, paasid: str, secret: str, *, now: float | None = None) -> dict[str, str]: ...


class TifSha256:
    name = "tif-sha256"

    def read(self, headers: Mapping[str, str]) -> SignedRequest:
        missing = [
            h
            for h in ("x-tif-paasid", "x-tif-timestamp", "x-tif-nonce", "x-tif-signature")
            if not headers.get(h)
        ]
        if missing:
            raise Refusal("E_SIGNATURE", f"缺少签名请求头: {', '.join(missing)}")
        stamp = headers["x-tif-timestamp"]
        if not stamp.isdigit() or len(stamp) > 12:
            raise Refusal("E_SIGNATURE", "x-tif-timestamp 必须是秒级 Unix 时间戳")
        nonce = headers["x-tif-nonce"]
        if len(nonce) > 64 or len(headers["x-tif-paasid"]) > 64:
            raise Refusal("E_SIGNATURE", "x-tif-nonce 或 x-tif-paasid 过长")
        return SignedRequest(headers["x-tif-paasid"], int(stamp), nonce)

    @staticmethod
    def signature(timestamp: str, secret: str, nonce: str) -> str:
        return hashlib.sha256(f"{timestamp}{secret}{nonce}{timestamp}".encode()).hexdigest()

    def verify(self, headers: Mapping[str, str], request: SignedRequest, secret: str) -> bool:
        expected = self.signature(headers["x-tif-timestamp"], secret, request.nonce)
        return hmac.compare_digest(expected, headers["x-tif-signature"].lower())

    def sign(self, paasid: str, secret: str, *, now: float | None = None) -> dict[str, str]:
        timestamp = str(int(time.time() if now is None else now))
        nonce = secrets.token_hex(16)
        return {
            "x-tif-paasid": paasid,
            "x-tif-timestamp": timestamp,
            "x-tif-nonce": nonce,
            "x-tif-signature": self.signature(timestamp, secret, nonce),
        }


SCHEMES: dict[str, SignatureScheme] = {TifSha256.name: TifSha256()}


def scheme(name: str) -> SignatureScheme:
    try:
        return SCHEMES[name]
    except KeyError:
        raise ValueError(f"unknown signature scheme {name!r}; known: {', '.join(SCHEMES)}") from None
