"""The HIS side in tests: demo institutions registered at the gateway, requests signed with their
credentials, and a 9001 sign-in done once per institution and operator whose ``sign_no`` is filled into
envelopes that leave it empty."""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from gateway.security.models import Institution
from gateway.security.schemes import TifSha256

from platformctl import examples
from platformctl.demo import INSTITUTIONS, demo_credentials
from shared.db import Database
from tests.support.answers import check_text

NAMES = {str(i["fixmedins_code"]): str(i["fixmedins_name"]) for i in INSTITUTIONS}
PHARMACY = "P34152400001"
_sequence = itertools.count(1)


async def register_demo_institutions(db: Database, *, rate_limit_per_minute: int | None = None) -> None:
    async with db.transaction() as session:
        for code, name in NAMES.items():
            paasid, secret = demo_credentials(code)
            session.add(
                Institution(
                    fixmedins_code=code,
                    fixmedins_name=name,
                    paasid=paasid,
                    secret=secret,
                    rate_limit_per_minute=rate_limit_per_minute,
                )
            )


def signed_headers(fixmedins_code: str = PHARMACY, *, now: float | None = None) -> dict[str, str]:
    paasid, secret = demo_credentials(fixmedins_code)
    return TifSha256().sign(paasid, secret, now=now)


def sign_in_envelope(fixmedins_code: str = PHARMACY, opter: str = "001") -> dict[str, Any]:
    msgid = f"{fixmedins_code}20000101000000{next(_sequence) % 10000:04d}"
    body = examples.envelope(
        "9001",
        msgid,
        {"signIn": {"opter_no": opter, "mac": "", "ip": "127.0.0.1"}},
        fixmedins_code=fixmedins_code,
        fixmedins_name=NAMES.get(fixmedins_code, fixmedins_code),
    )
    body["opter"] = opter
    return body


#: Sends one raw body with headers, returns the answer text.
Transport = Callable[[bytes, Mapping[str, str]], Awaitable[str]]


class SignedHis:
    """Signs every request as the institution its envelope names (the pharmacy for anything else) and
    fills in a sign_no from a sign-in done on first use; checks every answer's output fields
    (:func:`tests.support.answers.check_fields`)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.sign_nos: dict[tuple[str, str], str] = {}

    async def sign_no(self, fixmedins_code: str, opter: str) -> str:
        key = (fixmedins_code, opter)
        if key not in self.sign_nos:
            wire = sign_in_envelope(fixmedins_code, opter)
            answer = json.loads(
                await self.transport(json.dumps(wire).encode(), signed_headers(fixmedins_code))
            )
            assert answer["infcode"] == 0, answer["err_msg"]
            self.sign_nos[key] = answer["output"]["signinoutb"]["sign_no"]
        return self.sign_nos[key]

    async def send_raw(self, raw: bytes, *, sign_as: str = PHARMACY) -> str:
        answer = await self.transport(raw, signed_headers(sign_as))
        try:
            infno = json.loads(raw).get("infno")
        except (ValueError, AttributeError, RecursionError):
            infno = None
        check_text(infno, answer)
        return answer

    async def send(self, body: dict[str, Any], *, sign_as: str | None = None) -> str:
        code = body.get("fixmedins_code")
        signer = sign_as or (code if isinstance(code, str) and code in NAMES else PHARMACY)
        if body.get("infno") != "9001" and not body.get("sign_no") and isinstance(body.get("opter"), str):
            body = {**body, "sign_no": await self.sign_no(signer, body["opter"])}
        answer = await self.transport(json.dumps(body, ensure_ascii=False).encode(), signed_headers(signer))
        check_text(body.get("infno"), answer)
        return answer


class SignedHttp:
    """An httpx client of the gateway app that posts like a signed-in HIS (see :class:`SignedHis`); bodies
    that are not JSON objects are sent as they are, signed as the pharmacy."""

    def __init__(
        self,
        client: Any,
        path: str = "/fsi/api/rsfComIfsService/callService",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """``headers``: sent with every request besides the signature (an ``accept``, say)."""
        self.client = client
        self.path = path
        self.headers = dict(headers or {})
        self.responses: list[Any] = []
        self.his = SignedHis(self._transport)

    async def _transport(self, raw: bytes, headers: Mapping[str, str]) -> str:
        response = await self.client.post(
            self.path, content=raw, headers={"content-type": "application/json", **self.headers, **headers}
        )
        self.responses.append(response)
        return str(response.text)

    async def post(self, body: dict[str, Any] | bytes) -> Any:
        """The HTTP response to one signed request."""
        parsed: Any = body
        if isinstance(body, bytes):
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        if isinstance(parsed, dict):
            await self.his.send(parsed)
        else:
            assert isinstance(body, bytes)
            await self.his.send_raw(body)
        return self.responses[-1]


def signed_in_sync(client: Any, fixmedins_code: str = PHARMACY, opter: str = "001") -> str:
    """Sign in through a synchronous TestClient; returns the sign_no."""
    response = client.post(
        "/fsi/api/rsfComIfsService/callService",
        content=json.dumps(sign_in_envelope(fixmedins_code, opter)).encode(),
        headers={"content-type": "application/json", **signed_headers(fixmedins_code)},
    )
    answer = response.json()
    assert answer["infcode"] == 0, answer["err_msg"]
    return str(answer["output"]["signinoutb"]["sign_no"])
