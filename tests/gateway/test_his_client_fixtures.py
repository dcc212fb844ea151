"""Request shapes of real HIS clients (tests/fixtures/his_clients/, each file naming the public code it is
rebuilt from) replayed through the gateway's envelope processor in front of the real enrollment and
settlement services, on both backends. Every step must be answered infcode 0, or refused with the code the
fixture expects, a code the README's error table documents.

A fixture: ``source`` and ``client`` (where the shape comes from and what is peculiar about it),
``envelope`` (the public fields as that client fills them), optionally ``institution`` (default the county
hospital), and ``steps``: ``infno``, ``input``, ``expect`` (``ok`` or an error code), ``save`` (values of
the answer kept for later steps), ``check`` (values of the answer, amounts worked by hand in ``why``),
``as_sent`` (send ``sign_no`` as the client does, else the harness signs in first as a client with 9001
would). Placeholders: ``{psn_no}``, ``{certno}``, ``{psn_name}``, ``{voucher}``, ``{now}``, ``{today}`` and
whatever a step saved."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway.downstream import Downstream
from gateway.protocol.envelope import parse_body
from gateway.security.schemes import TifSha256
from gateway.security.service import HisSecurity
from gateway.transactions import EnvelopeProcessor
from settlement.config import SettlementSettings
from settlement.main import create_app

from shared.clock import now_china
from shared.contracts.v1.events import CoverageActivated, PersonIdentity
from shared.db import Database
from shared.idcard import make_id_number
from tests.conftest import DatabaseFactory
from tests.enrollment.conftest import Office, OfficeFactory, office_on  # noqa: F401 (fixture)
from tests.settlement.conftest import HOSPITAL, REGION, SettlementApi, seed_reference_data
from tests.support.apps import ADMIN_TOKEN, build, running
from tests.support.his import SignedHis, register_demo_institutions, signed_headers

FIXTURES = Path(__file__).parent.parent / "fixtures" / "his_clients"
README = Path(__file__).parent.parent.parent / "README.md"
CERTNO = make_id_number(REGION, date(1985, 3, 12), 13)
NAME = "张三"
_sequence = itertools.count(1)


def documented_codes() -> set[str]:
    """The codes of the README's error table (generated from shared/error_codes.py)."""
    return set(re.findall(r"^\| `([A-Z_]+)` \|", README.read_text(encoding="utf-8"), re.MULTILINE))


class Route(httpx.AsyncBaseTransport):
    """The gateway's downstream calls to the in-process services, by host (enrollment, settlement)."""

    def __init__(self, clients: dict[str, httpx.AsyncClient]) -> None:
        self.clients = clients

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        response = await self.clients[request.url.host].send(request)
        return httpx.Response(response.status_code, headers=response.headers, content=response.content)


@dataclass
class Platform:
    processor: EnvelopeProcessor
    his: SignedHis
    values: dict[str, str] = field(default_factory=dict)
    #: The enrollment office's API (issues and revokes e-vouchers).
    enrollment: httpx.AsyncClient | None = None
    #: The enrollment office (its outbox) and the settlement service behind the gateway.
    office: Office | None = None
    settlement: SettlementApi | None = None

    def fill(self, value: Any) -> Any:
        if isinstance(value, str):
            return re.sub(r"\{(\w+)\}", lambda m: self.values.get(m.group(1), m.group(0)), value)
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        return value


@pytest.fixture(name="platform")
async def platform_fixture(
    databases: DatabaseFactory,
    office_on: OfficeFactory,  # noqa: F811 (fixture)
) -> AsyncIterator[Platform]:
    """A person enrolled for 2026 at the enrollment office (the autumn before), their coverage applied to
    settlement as its consumer would, the gateway in front of both."""
    url = databases.migrated("settlement")
    settlement_app = build(create_app, SettlementSettings, database_url=url, run_background_workers=False)
    settlement_db = Database(url)
    gateway_db = Database(databases.migrated("gateway"))
    async with office_on(date(2025, 10, 15)) as office, running(settlement_app) as settlement:
        standard = {"year": 2026, "category": "adult", "tier": "1", "personal_fen": 3000, "subsidy_fen": 2000}
        await office.ok("POST", f"/api/v1/regions/{REGION}/standards", standard, 201)
        psn_no = await office.person(CERTNO, NAME)
        payment = {"payer": "individual", "amount_fen": 3000, "receipt_no": "R1", "paid_on": "2025-10-15"}
        enrollment = {"psn_no": psn_no, "year": 2026, "payment": payment}
        await office.ok("POST", "/api/v1/enrollments", enrollment, 201)
        issued = await office.ok("POST", f"/api/v1/persons/{psn_no}/vouchers", {"ttl_s": 3600}, 201)
        api = SettlementApi(settlement, settlement_db)
        await seed_reference_data(api, codes=True)
        # Enrollment's identity (restricted topic) and cover events, as settlement's consumer takes them.
        for event in await office.events("enrollment.person_identity"):
            await api.apply(PersonIdentity.model_validate(event["data"]))
        for event in await office.events("enrollment.coverage_activated"):
            await api.apply(CoverageActivated.model_validate(event["data"]))

        downstream = Downstream("http://enrollment", "http://settlement", 5.0)
        await downstream.client.aclose()
        downstream.client = httpx.AsyncClient(
            transport=Route({"enrollment": office.client, "settlement": settlement})
        )
        await register_demo_institutions(gateway_db)
        security = HisSecurity(gateway_db, TifSha256())
        processor = EnvelopeProcessor(gateway_db, downstream, REGION, 1_048_576, security=security)
        now = now_china()
        values = {
            "psn_no": psn_no,
            "certno": CERTNO,
            "psn_name": NAME,
            "voucher": issued["token"],
            "now": f"{now:%Y-%m-%d %H:%M:%S}",
            "today": f"{now:%Y-%m-%d}",
        }
        yield Platform(processor, SignedHis(processor.process), values, office.client, office, api)
        await downstream.client.aclose()
    await gateway_db.dispose()
    await settlement_db.dispose()


def _at(output: Any, path: str) -> Any:
    for part in path.split("."):
        output = output[int(part)] if isinstance(output, list) else output[part]
    return output


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
async def test_a_real_clients_requests_are_answered_or_refused_as_documented(
    platform: Platform, name: str
) -> None:
    fixture = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    assert fixture["source"] and fixture["client"]
    institution = fixture.get("institution", HOSPITAL)
    documented = documented_codes()
    for number, step in enumerate(fixture["steps"], start=1):
        envelope = platform.fill(
            {
                **fixture["envelope"],
                "infno": step["infno"],
                "msgid": f"{institution}{now_china():%Y%m%d%H%M%S}{next(_sequence) % 10000:04d}",
                "fixmedins_code": institution,
                "input": step["input"],
            }
        )
        if step.get("as_sent"):
            raw = json.dumps(envelope, ensure_ascii=False).encode()
            text = await platform.processor.process(raw, signed_headers(institution))
        else:
            envelope["sign_no"] = ""  # filled by the harness's sign-in
            text = await platform.his.send(envelope, sign_as=institution)
        answer = parse_body(text.encode())
        where = f"{name} step {number} ({step['infno']})"
        if step["expect"] == "ok":
            assert answer["infcode"] == 0, f"{where}: {answer['err_msg']}"
        else:
            assert step["expect"] in documented, f"{where}: {step['expect']} is not in the README"
            assert answer["infcode"] == -1, where
            assert answer["err_msg"].startswith(f"[{step['expect']}]"), f"{where}: {answer['err_msg']}"
        for key, path in step.get("save", {}).items():
            platform.values[key] = str(_at(answer["output"], path))
        for path, expected in step.get("check", {}).items():
            got = _at(answer["output"], path)
            wanted = platform.fill(expected)
            if isinstance(got, Decimal | int | float) and not isinstance(got, bool):
                assert Decimal(str(got)) == Decimal(wanted), f"{where}: {path}"
            else:
                assert got == wanted, f"{where}: {path}"


def test_every_fixture_says_where_it_comes_from() -> None:
    names = sorted(FIXTURES.glob("*.json"))
    assert len(names) >= 6
    for path in names:
        fixture = json.loads(path.read_text(encoding="utf-8"))
        repo = fixture["source"].split()[0]
        assert repo in {
            "oepnhisC/OpenHIS-Server",
            "binzhe12123/Medical",
            "newtouch-cloud/openhis-itaii",
            "liwerAKM/YbRefund",
        }, path.name
