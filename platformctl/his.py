"""A HIS or pharmacy system's side of the gateway: sign each request with the region's scheme, sign in
(9001) once and carry the ``sign_no``. Used by ``python -m platformctl his-call``, the demo and the tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from gateway.security.schemes import TifSha256

from platformctl import examples

GATEWAY_PATH = "/fsi/api/rsfComIfsService/callService"


@dataclass
class HisClient:
    gateway_url: str
    fixmedins_code: str
    fixmedins_name: str
    paasid: str
    secret: str
    opter: str = "001"
    sign_no: str = ""
    _sequence: int = field(default=0)

    def headers(self) -> dict[str, str]:
        return TifSha256().sign(self.paasid, self.secret)

    def next_msgid(self) -> str:
        self._sequence += 1
        return examples.msgid(self._sequence, self.fixmedins_code)

    def envelope(
        self, infno: str, body: dict[str, Any], *, msgid: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        wire = examples.envelope(
            infno,
            msgid or self.next_msgid(),
            body,
            fixmedins_code=self.fixmedins_code,
            fixmedins_name=self.fixmedins_name,
            **extra,
        )
        wire["opter"] = self.opter
        wire["sign_no"] = self.sign_no
        return wire

    async def post(self, client: httpx.AsyncClient, wire: dict[str, Any]) -> dict[str, Any]:
        response = await client.post(
            f"{self.gateway_url}{GATEWAY_PATH}",
            content=json.dumps(wire, ensure_ascii=False).encode(),
            # Envelopes only: a 9102 comes back as JSON with the zip in output.file_byte, not as the zip.
            headers={"content-type": "application/json", "accept": "application/json", **self.headers()},
            timeout=30,
        )
        response.raise_for_status()
        answer: dict[str, Any] = json.loads(response.text, parse_float=Decimal)
        return answer

    async def sign_in(self, client: httpx.AsyncClient) -> str:
        answer = await self.post(
            client, self.envelope("9001", {"signIn": {"opter_no": self.opter, "mac": "", "ip": "127.0.0.1"}})
        )
        if answer["infcode"] != 0:
            raise RuntimeError(f"9001 sign-in refused: {answer['err_msg']}")
        self.sign_no = str(answer["output"]["signinoutb"]["sign_no"])
        return self.sign_no

    async def call(
        self, client: httpx.AsyncClient, infno: str, body: dict[str, Any], **extra: Any
    ) -> dict[str, Any]:
        """Signs in first if not signed in yet."""
        if not self.sign_no and infno != "9001":
            await self.sign_in(client)
        return await self.post(client, self.envelope(infno, body, **extra))
