"""Who is calling and may they: the institution's signature, fresh timestamp and unused nonce (used up in
``gateway.admission``), its rate, and its sign-in (9001/9002)."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy
from sqlalchemy import bindparam, delete
from sqlmodel import col, select

from gateway.protocol.envelope import RequestEnvelope
from gateway.protocol.errors import Refusal
from gateway.security.models import Institution, SeenNonce, SignIn
from gateway.security.schemes import SignatureScheme, SignedRequest
from shared.clock import now_china
from shared.db import Database, Statements, utcnow

#: Transactions that need no sign-in: 9001 is the sign-in itself.
NO_SIGN_IN = frozenset({"9001"})


@dataclass
class RateLimiter:
    """A token bucket per institution: ``per_minute`` requests, refilled evenly. Per gateway process; with
    N replicas behind a balancer an institution gets up to N times the rate."""

    default_per_minute: int
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def allow(self, key: str, per_minute: int | None, now: float | None = None) -> bool:
        rate = per_minute or self.default_per_minute
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(key, (float(rate), now))
        tokens = min(float(rate), tokens + (now - last) * rate / 60.0)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1.0, now)
        return True


class HisSecurity:
    def __init__(
        self,
        db: Database,
        scheme: SignatureScheme,
        *,
        window_s: int = 300,
        rate_limit_per_minute: int = 600,
        sign_in_hours: int = 24,
    ) -> None:
        self.db = db
        self.scheme = scheme
        self.window_s = window_s
        self.limiter = RateLimiter(rate_limit_per_minute)
        self.sign_in_ttl = timedelta(hours=sign_in_hours)
        self._last_purge = 0.0
        #: paasid -> its registry row as this process last read it. A signature is checked against it,
        #: and the statement that uses up the nonce reads the row again (``gateway.admission``), so a
        #: change, on any replica or by hand, counts from the next request (``confirm``).
        self._seen: dict[str, Registered] = {}

    async def authenticate(
        self, conn: Statements, headers: Mapping[str, str], now: float | None = None
    ) -> Signer:
        """The institution that signed this request; refused when the signature or the timestamp is not
        right, or the institution is over its rate. ``conn`` comes from ``Database.statements()``. The
        registry row is the one this process last read for the paasid (read now the first time): the
        statement that then uses up the nonce reads it again, and ``confirm`` checks the request against
        the row as it is then, so a disabled institution or a rotated secret counts at once, on every
        replica. The nonce is NOT used up here: the caller does that next, whatever it answers
        (``gateway.admission``), so that it is used only once the signature is verified."""
        signed = self.scheme.read(headers)
        now = time.time() if now is None else now
        registered = self._seen.get(signed.paasid)
        if registered is None:
            registered = self._remember(signed.paasid, await self.read_registered(conn, signed.paasid))
        self._verify(headers, signed, registered)
        assert registered is not None  # _verify refuses an unregistered paasid
        if abs(now - signed.timestamp) > self.window_s:
            raise Refusal(
                "E_TIMESTAMP",
                f"请求时间戳超出允许范围（±{self.window_s}秒），请校准系统时间后重新签名",
            )
        if not self.limiter.allow(registered.fixmedins_code, registered.rate_limit_per_minute):
            raise Refusal("E_RATE_LIMITED", "请求过于频繁，已超过本机构的调用频率限制，请稍后重试")
        await self._purge_nonces(conn, now)
        return Signer(registered.fixmedins_code, signed.paasid, signed.nonce, registered)

    def confirm(
        self, signer: Signer, now_registered: Registered | None, headers: Mapping[str, str]
    ) -> Signer:
        """The request checked again against the registry row as read with its nonce (``now_registered``):
        ``signer`` itself when the row is the one its signature was checked against; otherwise the row is
        remembered and the signature checked against it (refused when the institution is gone, disabled or
        its secret changed), and a Signer of that row returned. A new rate applies from the next request."""
        if now_registered == signer.registered:
            return signer
        self._remember(signer.paasid, now_registered)
        self._verify(headers, self.scheme.read(headers), now_registered)
        assert now_registered is not None
        return Signer(now_registered.fixmedins_code, signer.paasid, signer.nonce, now_registered)

    async def read_registered(self, conn: Statements, paasid: str) -> Registered | None:
        """The registry row of ``paasid`` as it is now (None: not registered)."""
        row = (await conn.run(_INSTITUTION_BY_PAASID, {"paasid": paasid})).first()
        return None if row is None else Registered.of(row)

    def _verify(
        self, headers: Mapping[str, str], signed: SignedRequest, registered: Registered | None
    ) -> None:
        if registered is None or not registered.active:
            raise Refusal("E_SIGNATURE", "签名校验失败：未登记或已停用的接入方")
        if not self.scheme.verify(headers, signed, registered.secret):
            raise Refusal("E_SIGNATURE", "签名校验失败：x-tif-signature 不正确")

    def _remember(self, paasid: str, registered: Registered | None) -> Registered | None:
        """Keep a registered paasid's row (an unknown paasid is not kept: a client may make up any)."""
        if registered is None:
            self._seen.pop(paasid, None)
        else:
            if paasid not in self._seen and len(self._seen) >= MAX_REMEMBERED:
                self._seen.clear()
            self._seen[paasid] = registered
        return registered

    async def _purge_nonces(self, conn: Statements, now: float) -> None:
        if now - self._last_purge > 60:
            # Older than twice the window: their timestamps are refused anyway.
            self._last_purge = now
            cutoff = utcnow() - timedelta(seconds=2 * self.window_s)
            await conn.execute(delete(SeenNonce).where(col(SeenNonce.seen_at) < cutoff))

    # --- 9001 / 9002 ----------------------------------------------------------------------------------

    async def sign_in(self, envelope: RequestEnvelope, opter_no: str, mac: str | None, ip: str) -> SignIn:
        """9001: a new ``sign_no`` for this institution and operator."""
        if opter_no != envelope.opter:
            raise Refusal("E_INPUT", "input.signIn.opter_no: 必须与报文经办人 opter 一致")
        now = now_china()
        entry = SignIn(
            sign_no=f"{now:%Y%m%d%H%M%S}{secrets.token_hex(8)}",
            fixmedins_code=envelope.fixmedins_code,
            opter=opter_no,
            mac=mac,
            ip=ip,
            signed_in_at=utcnow(),
        )
        async with self.db.transaction() as session:
            session.add(entry)
        return entry

    async def sign_out(self, envelope: RequestEnvelope, sign_no: str, opter_no: str) -> SignIn:
        """9002: the session ends; signing out an ended session answers with its sign-out time again."""
        async with self.db.transaction() as session:
            entry = await session.scalar(select(SignIn).where(col(SignIn.sign_no) == sign_no))
            if entry is None or entry.fixmedins_code != envelope.fixmedins_code:
                raise Refusal("E_SIGN_NO", f"签到流水号 {sign_no} 不存在或不属于本机构")
            if entry.opter != opter_no:
                raise Refusal("E_SIGN_NO", f"签到流水号 {sign_no} 不属于经办人 {opter_no}")
            if entry.signed_out_at is None:
                entry.signed_out_at = utcnow()
                session.add(entry)
            return entry

    def check_sign_in(self, envelope: RequestEnvelope, entry: SignInState | None) -> None:
        """Every transaction but 9001 needs a valid ``sign_no`` of this institution and operator; ``entry``
        is the sign-in ``envelope.sign_no`` names as read with the message log (``messages.lookup``)."""
        if envelope.infno in NO_SIGN_IN:
            return
        if not envelope.sign_no:
            raise Refusal("E_SIGN_IN", "未签到：请先调用【9001】签到，并在报文 sign_no 中填写签到流水号")
        if entry is None or entry.fixmedins_code != envelope.fixmedins_code:
            raise Refusal("E_SIGN_IN", f"签到流水号 {envelope.sign_no} 无效，请重新签到【9001】")
        if entry.opter != envelope.opter:
            raise Refusal("E_SIGN_IN", f"签到流水号 {envelope.sign_no} 不属于经办人 {envelope.opter}")
        if entry.signed_out_at is not None:
            raise Refusal("E_SIGN_IN", f"签到流水号 {envelope.sign_no} 已签退，请重新签到【9001】")
        if utcnow() - entry.signed_in_at > self.sign_in_ttl:
            raise Refusal("E_SIGN_IN", f"签到流水号 {envelope.sign_no} 已过期，请重新签到【9001】")


#: Registry rows a gateway process keeps (many more than a region's institutions).
MAX_REMEMBERED = 100_000


@dataclass(frozen=True)
class Registered:
    """What the gateway checks of an institution's registry row (``his_institution``)."""

    fixmedins_code: str
    secret: str
    active: bool
    rate_limit_per_minute: int | None
    #: The national cryptography of its envelopes (``gateway.security.sealing``).
    envelope_crypto: str = "none"

    @classmethod
    def of(cls, row: Any) -> Registered:
        return cls(row.fixmedins_code, row.secret, row.active, row.rate_limit_per_minute, row.envelope_crypto)


@dataclass(frozen=True)
class Signer:
    """The registered institution whose credentials signed a request, the request's nonce, and the
    registry row its signature was checked against."""

    fixmedins_code: str
    paasid: str
    nonce: str
    registered: Registered | None = field(default=None, repr=False)


class SignInState(Protocol):
    """What ``check_sign_in`` reads of a sign-in (a ``SignIn`` or a row of its columns)."""

    @property
    def fixmedins_code(self) -> str: ...
    @property
    def opter(self) -> str: ...
    @property
    def signed_in_at(self) -> datetime: ...
    @property
    def signed_out_at(self) -> datetime | None: ...


_institution = Institution.__table__  # type: ignore[attr-defined]
_INSTITUTION_BY_PAASID = sqlalchemy.select(
    _institution.c.fixmedins_code,
    _institution.c.secret,
    _institution.c.active,
    _institution.c.rate_limit_per_minute,
    _institution.c.envelope_crypto,
).where(_institution.c.paasid == bindparam("paasid"))


def check_caller(envelope: RequestEnvelope, institution: Signer) -> None:
    """The envelope speaks for the institution that signed it, and its msgid has the national form:
    定点医药机构编号 + yyyyMMddHHmmss + 4-digit sequence (docs/interface.md, "Envelope")."""
    if envelope.fixmedins_code != institution.fixmedins_code:
        raise Refusal(
            "E_INSTITUTION",
            f"报文 fixmedins_code {envelope.fixmedins_code} 与签名接入方 {institution.fixmedins_code} 不一致",
        )
    check_msgid_form(envelope.msgid, envelope.fixmedins_code)


#: yyyyMMddHHmmss then a 4-digit sequence number, ASCII digits at fixed widths.
_MSGID_TAIL = re.compile(r"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})\d{4}", re.ASCII)


def check_msgid_form(msgid: str, fixmedins_code: str) -> None:
    match = _MSGID_TAIL.fullmatch(msgid, len(fixmedins_code)) if msgid.startswith(fixmedins_code) else None
    try:
        if match is None:
            raise ValueError(msgid)
        # A real instant: the constructor checks the ranges (strptime, with parse_wire_time's, was 3 % of
        # the gateway's CPU per 2102).
        year, month, day, hour, minute, second = map(int, match.groups())
        datetime(year, month, day, hour, minute, second)
    except ValueError:
        raise Refusal(
            "E_MSGID_FORM", f"msgid: 格式应为 定点医药机构编号({fixmedins_code})+yyyyMMddHHmmss+4位顺序号"
        ) from None
