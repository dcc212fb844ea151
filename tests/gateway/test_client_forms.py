"""Date and time fields as deployed HIS clients serialize them (docs/interface.md, "Dates and times"),
through the envelope processor with its message log on a real database, in front of a fake settlement
that records what it is sent: each accepted form reaches settlement as the exact instant meant; the .NET
unset value is absent where the field is optional and missing where it is required; a time zone or a
fraction of a second is refused with the field named; a 2201 without ipt_otp_no is opened under its msgid."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.factories import STAY_ID, Gateway, stay, visit
from tests.gateway.test_encounter_routing import OPEN, admission, message, msgid, registration


def _registration(sequence: int, **changes: Any) -> dict[str, Any]:
    body = message("2201", sequence, registration(**changes))
    return body


@pytest.mark.parametrize(
    ("sent", "instant"),
    [
        ("2026-11-20 10:00:00", "2026-11-20T10:00:00+08:00"),  # the interface's own form
        ("2026-11-20T10:00:00", "2026-11-20T10:00:00+08:00"),  # .NET / Java
        ("2026-11-20T10:00:00.0000000", "2026-11-20T10:00:00+08:00"),  # .NET with its zero fraction
        ("2026-11-20", "2026-11-20T00:00:00+08:00"),  # a date: midnight, Beijing time
    ],
)
async def test_each_client_form_of_begntime_reaches_settlement_as_the_instant(
    gateway: Gateway, sent: str, instant: str
) -> None:
    gateway.fake.on(*OPEN, (200, visit()))
    answer = await gateway.send(_registration(1, begntime=sent))
    assert answer["infcode"] == 0, answer["err_msg"]
    [(_, _, body)] = gateway.fake.calls
    assert body["begntime"] == instant


async def test_inf_time_in_the_dotnet_form_is_read(gateway: Gateway) -> None:
    gateway.fake.on(*OPEN, (200, visit()))
    answer = await gateway.send({**_registration(2), "inf_time": "2026-11-20T10:00:00"})
    assert answer["infcode"] == 0, answer["err_msg"]


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("0001-01-01T00:00:00", "[E_INPUT] input.data.begntime: 必填（0001-01-01T00:00:00 表示未填）"),
        ("2026-11-20T10:00:00+08:00", "[E_INPUT] input.data.begntime: 格式应为 yyyy-MM-dd HH:mm:ss"),
        ("2026-11-20T10:00:00Z", "[E_INPUT] input.data.begntime: 格式应为 yyyy-MM-dd HH:mm:ss"),
        ("2026-11-20T10:00:00.5", "[E_INPUT] input.data.begntime: 格式应为 yyyy-MM-dd HH:mm:ss"),
        ("2026-02-30", "[E_INPUT] input.data.begntime: 格式应为 yyyy-MM-dd HH:mm:ss"),
    ],
)
async def test_a_required_time_that_is_unset_or_ambiguous_is_refused(
    gateway: Gateway, sent: str, expected: str
) -> None:
    answer = await gateway.send(_registration(3, begntime=sent))
    assert (answer["infcode"], answer["err_msg"]) == (-1, expected)
    assert gateway.fake.calls == []


async def test_an_unset_optional_time_is_absent(gateway: Gateway) -> None:
    # 2401's diseinfo diag_time is optional: the .NET unset value is read as not sent.
    gateway.fake.on(*OPEN, (200, stay(mdtrt_id=STAY_ID)))
    body = message("2401", 4, admission())
    body["input"]["diseinfo"][0]["diag_time"] = "0001-01-01T00:00:00"
    answer = await gateway.send(body)
    assert answer["infcode"] == 0, answer["err_msg"]
    assert gateway.fake.paths() == [OPEN]  # accepted and opened (before: refused as a bad time format)


async def test_a_2201_without_ipt_otp_no_is_opened_under_its_msgid(gateway: Gateway) -> None:
    gateway.fake.on(*OPEN, lambda request: (200, visit(ipt_otp_no=msgid(5))))
    body = _registration(5)
    del body["input"]["data"]["ipt_otp_no"]
    answer = await gateway.send(body)
    assert answer["infcode"] == 0, answer["err_msg"]
    [(_, _, sent)] = gateway.fake.calls
    assert sent["ipt_otp_no"] == msgid(5)
    assert answer["output"]["data"]["ipt_otp_no"] == msgid(5)
