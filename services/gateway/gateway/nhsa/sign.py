"""9001 签到 / 9002 签退 (docs/interface.md): the sign-in gives the ``sign_no`` every later envelope of the
operator carries; the sign-out ends it. Answered by the gateway itself, from its sign-in sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.declaration import Call, Transaction
from shared.clock import format_wire_time


class SignInData(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    opter_no: str = Field(min_length=1, max_length=20)
    mac: str | None = Field(default=None, max_length=20)
    ip: str = Field(min_length=1, max_length=20)


class Input9001(BaseModel):
    model_config = ConfigDict(extra="ignore")

    signIn: SignInData


class SignOutData(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    sign_no: str = Field(min_length=1, max_length=30)
    opter_no: str = Field(min_length=1, max_length=20)


class Input9002(BaseModel):
    model_config = ConfigDict(extra="ignore")

    signOut: SignOutData


def sign_in_output(sign_no: str, signed_in_at: datetime) -> dict[str, Any]:
    return {"signinoutb": {"sign_time": format_wire_time(signed_in_at), "sign_no": sign_no}}


def sign_out_output(signed_out_at: datetime) -> dict[str, Any]:
    return {"signoutoutb": {"sign_time": format_wire_time(signed_out_at)}}


async def _handle_9001(call: Call, data: Input9001) -> dict[str, Any]:
    sign_in = data.signIn
    entry = await call.security.sign_in(call.envelope, sign_in.opter_no, sign_in.mac, sign_in.ip)
    return sign_in_output(entry.sign_no, entry.signed_in_at)


async def _handle_9002(call: Call, data: Input9002) -> dict[str, Any]:
    sign_out = data.signOut
    entry = await call.security.sign_out(call.envelope, sign_out.sign_no, sign_out.opter_no)
    assert entry.signed_out_at is not None
    return sign_out_output(entry.signed_out_at)


TRANSACTIONS = (
    Transaction(
        "9001", "sign", "签到", Input9001, _handle_9001, changes_state=True, replayed=True, downstream=False
    ),
    Transaction(
        "9002", "sign", "签退", Input9002, _handle_9002, changes_state=True, replayed=True, downstream=False
    ),
)
