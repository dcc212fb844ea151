"""Who may call the operator and internal endpoints: bearer tokens with roles, the same in every service.

A token is ``mi1.<payload>.<signature>``: the payload (base64url JSON: ``sub``, ``roles``, optional ``exp``
in unix seconds) signed with HMAC-SHA256 under the platform's auth secret (``<PREFIX>AUTH_SECRET``).
Operators get one from ``python -m platformctl token``; a service calling another mints a short-lived one
for itself with the role ``service`` (its service credential). Nothing is open by default: every router a
service serves is wrapped by :func:`guarded` with the roles allowed to read (GET/HEAD) and to change, and
``create_service_app`` refuses a router that is not (the HIS entry point and the health endpoints are the
only exceptions, named as such).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.errors import DomainError

ENROLLMENT_CLERK = "enrollment_clerk"
FUND_ACCOUNTANT = "fund_accountant"
AUDITOR = "auditor"
ADMINISTRATOR = "administrator"
SERVICE = "service"
ROLES = frozenset({ENROLLMENT_CLERK, FUND_ACCOUNTANT, AUDITOR, ADMINISTRATOR, SERVICE})

#: The development secret ``./run.sh``, the demo and the tests use. Production sets ``<PREFIX>AUTH_SECRET``.
DEV_AUTH_SECRET = "dev-only-auth-secret-change-me-in-production"
_PREFIX = "mi1"
SERVICE_TOKEN_TTL_S = 300
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Unauthenticated(DomainError):
    status_code = 401
    code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    status_code = 403
    code = "FORBIDDEN"


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]

    @property
    def who(self) -> str:
        return f"{self.subject} ({self.roles_text})"

    @property
    def roles_text(self) -> str:
        """The roles as stored beside a subject on a record: sorted, comma-separated."""
        return ",".join(sorted(self.roles))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), f"{_PREFIX}.{payload}".encode(), hashlib.sha256).digest())


def issue_token(secret: str, subject: str, roles: Iterable[str], *, ttl_s: int | None = None) -> str:
    roles = sorted(set(roles))
    unknown = set(roles) - ROLES
    if unknown or not roles:
        raise ValueError(f"roles must be among {sorted(ROLES)}, got {roles}")
    claims: dict[str, Any] = {"sub": subject, "roles": roles}
    if ttl_s is not None:
        claims["exp"] = int(time.time()) + ttl_s
    payload = _b64(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
    return f"{_PREFIX}.{payload}.{_sign(secret, payload)}"


def verify_token(secret: str, token: str, *, now: float | None = None) -> Principal:
    """The principal a token names, or :class:`Unauthenticated` (bad form, bad signature, expired)."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _PREFIX:
        raise Unauthenticated("令牌格式不正确 (malformed bearer token)")
    payload, signature = parts[1], parts[2]
    if not hmac.compare_digest(_sign(secret, payload), signature):
        raise Unauthenticated("令牌签名无效 (bad token signature)")
    try:
        claims = json.loads(_unb64(payload))
        subject = str(claims["sub"])
        roles = frozenset(str(r) for r in claims["roles"]) & ROLES
        expires = claims.get("exp")
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise Unauthenticated("令牌内容无效 (bad token claims)") from exc
    if expires is not None and float(expires) < (time.time() if now is None else now):
        raise Unauthenticated("令牌已过期 (token expired)")
    return Principal(subject, roles)


class Authenticator:
    """Verifies incoming bearer tokens and mints this service's own credential for calls it makes."""

    def __init__(self, secret: str, service_name: str) -> None:
        self.secret = secret
        self.service_name = service_name
        self._service_token = ""
        self._service_token_until = 0.0

    def service_token(self) -> str:
        now = time.time()
        if now > self._service_token_until:
            self._service_token = issue_token(
                self.secret, self.service_name, [SERVICE], ttl_s=SERVICE_TOKEN_TTL_S
            )
            self._service_token_until = now + SERVICE_TOKEN_TTL_S - 60
        return self._service_token

    def service_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.service_token()}"}


_bearer = HTTPBearer(auto_error=False, description="mi1.* bearer token (python -m platformctl token)")


def authenticator(request: Request) -> Authenticator:
    auth: Authenticator = request.app.state.auth
    return auth


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthenticated("缺少访问令牌 (missing bearer token)")
    principal = verify_token(authenticator(request).secret, credentials.credentials)
    request.state.principal = principal
    return principal


@dataclass(frozen=True)
class Access:
    """Roles allowed to read (GET/HEAD) and to change (any other method). Administrators may do both."""

    read: frozenset[str]
    write: frozenset[str]

    def check(self, method: str, principal: Principal) -> None:
        allowed = (self.read if method in READ_METHODS else self.write) | {ADMINISTRATOR}
        if not principal.roles & allowed:
            raise Forbidden(
                f"无权执行此操作 (role {','.join(sorted(principal.roles)) or '-'} may not "
                f"{method} here; needs one of {', '.join(sorted(allowed))})"
            )


def access(*, read: Iterable[str], write: Iterable[str]) -> Access:
    return Access(frozenset(read), frozenset(write))


GUARD_MARK = "_medins_guarded"


def guarded(router: APIRouter, rule: Access) -> APIRouter:
    """The router with every route requiring a bearer token whose roles ``rule`` allows."""

    async def require(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> None:
        rule.check(request.method, principal)

    wrapper = APIRouter()
    setattr(wrapper, GUARD_MARK, True)
    wrapper.include_router(router, dependencies=[Depends(require)])
    return wrapper


def is_guarded(router: APIRouter) -> bool:
    return bool(getattr(router, GUARD_MARK, False))


PrincipalDep = Annotated[Principal, Depends(current_principal)]

#: The longest token subject a record of who acted holds (the ``*_by`` columns, like ``audit_log.subject``).
MAX_ACTOR_SUBJECT = 100


class OperatorMismatch(DomainError):
    status_code = 403
    code = "OPERATOR_MISMATCH"


def acting(principal: Principal, declared: str | None) -> Principal:
    """Who performs an act that is recorded by name: the authenticated caller, never a name in the body.

    A request body may still carry the ``operator`` it used to (older clients): it must then be the token's
    subject, else the act is refused (403 ``OPERATOR_MISMATCH``) rather than recorded under a name the
    caller only typed. A blank subject, or one too long for the records, is refused too (403
    ``BAD_TOKEN_SUBJECT``) instead of being cut, which could make two people one for the four-eyes rule."""
    if len(principal.subject) > MAX_ACTOR_SUBJECT or not principal.subject.strip():
        raise Forbidden(
            f"令牌主体不能用于记录经办人 (token subject must be 1-{MAX_ACTOR_SUBJECT} characters)",
            code="BAD_TOKEN_SUBJECT",
        )
    if declared is not None and declared != principal.subject:
        raise OperatorMismatch(
            f"经办人 {declared!r} 与登录身份 {principal.subject!r} 不符；经办人取自访问令牌 "
            "(operator must be the bearer token's subject, or be left out)"
        )
    return principal
