"""Catalogue downloads and mapped settlements, in one process: the gateway's envelope processor in front of
the settlement app over ASGI (no network, no broker), both on SQLite files in a temporary directory or on
a throwaway PostgreSQL server (``--backends``).

    .venv/bin/python bench/catalogue_downloads.py                 # 100,000 items, 100 mapped lines, SQLite
    .venv/bin/python bench/catalogue_downloads.py --items 20000 --lines 50 --backends sqlite,postgres

1. 1312 full download of ``--items`` catalogue items (bulk-inserted, one catalogue version each): as one
   file (the answer names a ``file_qury_no``; every row read by cursor in batches of 5,000, written, zipped
   and stored) and its 9102 download; then inline, page by page (``page_size`` 1,000).
2. A settlement with ``--lines`` lines that carry only the institution's own code: the 3301 uploads (one
   envelope per code), the fee upload (the mappings resolved), the preview; the same with national codes
   for comparison.
3. A pharmacy purchase (2102, binding) of ``--lines`` lines that carry only the pharmacy's own code (its
   3301 uploads first), and the same purchase by national codes for another person: both through the
   gateway; the two must pay alike.

Figures are wall-clock seconds on whatever else the machine is running; results go to
``bench/results/catalogue_downloads-<UTC timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from benchinfo import write_result
from gateway.downstream import Downstream
from gateway.protocol.envelope import parse_body
from gateway.security.models import Institution
from gateway.security.schemes import TifSha256
from gateway.security.service import HisSecurity
from gateway.transactions import EnvelopeProcessor
from settlement.catalogue.models import CatalogueItem, catalogue_list_version
from settlement.config import SettlementSettings
from settlement.main import SUBSCRIPTIONS, create_app
from settlement.policy.document import jinzhai_yutian_demo
from sqlalchemy import update

from platformctl import examples
from platformctl.demo import demo_credentials
from platformctl.pgtemp import PostgresServer
from shared.auth import ADMINISTRATOR, DEV_AUTH_SECRET, SERVICE, issue_token
from shared.config import sqlite_url
from shared.db import Database, utcnow
from shared.events import CoverageActivated, PersonIdentity
from shared.idcard import make_id_number
from shared.migrations import upgrade

REGION = "341524"
HOSPITAL = "H34152400001"
PHARMACY = "P34152400001"
BACKENDS = ("sqlite", "postgres")
_seq = itertools.count(1)


class His:
    """Signs each envelope as the institution (the hospital unless told), signed in once."""

    def __init__(self, processor: EnvelopeProcessor, fixmedins_code: str = HOSPITAL) -> None:
        self.processor = processor
        self.fixmedins_code = fixmedins_code
        self.paasid, self.secret = demo_credentials(fixmedins_code)
        self.sign_no = ""

    async def send(self, infno: str, node: dict[str, Any]) -> dict[str, Any]:
        body = examples.envelope(
            infno,
            f"{self.fixmedins_code}20261206140000{next(_seq):04d}",
            node,
            fixmedins_code=self.fixmedins_code,
            insuplc_admdvs=REGION,
        )
        body["sign_no"] = self.sign_no
        raw = json.dumps(body, ensure_ascii=False).encode()
        headers = TifSha256().sign(self.paasid, self.secret)
        answer: dict[str, Any] = parse_body((await self.processor.process(raw, headers)).encode())
        return answer

    async def sign_in(self) -> None:
        answer = await self.send("9001", {"signIn": {"opter_no": "001", "mac": "", "ip": "127.0.0.1"}})
        assert answer["infcode"] == 0, answer
        self.sign_no = answer["output"]["signinoutb"]["sign_no"]


async def seed_items(db: Database, count: int) -> None:
    """``count`` items, each its own catalogue version (as if added one by one), in batches."""
    table = CatalogueItem.__table__  # type: ignore[attr-defined]
    now = utcnow()
    kinds = (("09", "1"), ("11", "2"), ("01", "1"), ("08", "2"), ("10", "3"))
    batch: list[dict[str, Any]] = []
    async with db.transaction() as session:
        for n in range(1, count + 1):
            kind, level = kinds[n % len(kinds)]
            batch.append(
                {
                    "med_list_codg": f"BENCH{n:08d}",
                    "effective_from": date(2000, 1, 1),
                    "effective_to": None,
                    "name": f"基准目录项目{n}",
                    "med_chrgitm_type": kind,
                    "chrgitm_lv": level,
                    "selfpay_prop": Decimal("0.1") if level == "2" else Decimal(0),
                    "pric_uplmt": Decimal("2.5") if n % 3 == 0 else None,
                    "pric_uplmt_by_level": {},
                    "restricted": False,
                    "created_at": now,
                    "list_ver": n,
                    "updated_at": now,
                }
            )
            if len(batch) == 5000:
                await session.execute(table.insert(), batch)
                batch = []
        if batch:
            await session.execute(table.insert(), batch)
        await session.execute(
            update(catalogue_list_version).where(catalogue_list_version.c.id == 1).values(ver=count)
        )


async def reference(
    client: httpx.AsyncClient, settlement_db: Database, persons: list[tuple[str, str]]
) -> None:
    for code, name, kind, level in ((HOSPITAL, "县医院", "1", "2"), (PHARMACY, "药房", "2", "9")):
        institution = {
            "fixmedins_code": code,
            "fixmedins_name": name,
            "fixmedins_type": kind,
            "hosp_lv": level,
            "admdvs": REGION,
            "agreement_begin": "2025-01-01",
        }
        assert (await client.post("/api/v1/institutions", json=institution)).status_code == 201
    policy = {
        "admdvs": REGION,
        "insutype": "390",
        "name": "门诊统筹",
        "effective_from": "2026-01-01",
        "document": jinzhai_yutian_demo().model_dump(mode="json"),
    }
    assert (await client.post("/api/v1/policies", json=policy)).status_code == 201
    for enrollment_id, (psn_no, certno) in enumerate(persons, start=1):
        identity = PersonIdentity(
            psn_no=psn_no, certno=certno, psn_name="基准人员", gend="1", brdy=date(1985, 3, 12)
        )
        event = CoverageActivated(
            enrollment_id=enrollment_id,
            psn_no=psn_no,
            insutype="390",
            psn_type="1501",
            insuplc_admdvs=REGION,
            year=2026,
            coverage_begin=date(2026, 1, 1),
            coverage_end=date(2026, 12, 31),
            identities=[],
            continuous_years=1,
            psn_insu_date=None,
        )
        async with settlement_db.transaction() as session:
            for fact in (identity, event):  # who the person is (restricted topic), then the cover
                await SUBSCRIPTIONS[fact.event_type].handler(session, fact.envelope("bench"))


def timed(figures: dict[str, float], name: str) -> Any:
    class _Timer:
        def __enter__(self) -> None:
            self.started = time.perf_counter()

        def __exit__(self, *_: Any) -> None:
            figures[name] = round(time.perf_counter() - self.started, 3)
            print(f"  {name:<46} {figures[name]:>9.3f} s", flush=True)

    return _Timer()


async def visit(client: httpx.AsyncClient, psn_no: str, certno: str) -> str:
    body = {
        "msgid": f"OPEN{next(_seq):06d}",
        "setting": "outpatient",
        "fixmedins_code": HOSPITAL,
        "mdtrtarea_admvs": REGION,
        "insuplc_admdvs": REGION,
        "psn_no": psn_no,
        "insutype": "390",
        "ipt_otp_no": f"MZ{next(_seq):06d}",
        "med_type": "11",
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": certno,
        "begntime": "2026-11-10T09:00:00+08:00",
    }
    response = await client.post("/api/v1/encounters", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["mdtrt_id"])


async def pharmacy_purchases(
    processor: EnvelopeProcessor, persons: list[tuple[str, str]], lines: int, figures: dict[str, float]
) -> dict[str, Any]:
    """3301 of ``lines`` pharmacy codes, then a 2102 of ``lines`` lines by those codes only (the mappings
    resolved at settlement) and one by national codes, each for a person of its own (the same deductible
    left): what the fund pays must be the same."""
    pharmacy = His(processor, PHARMACY)
    await pharmacy.sign_in()
    print(f"pharmacy purchase (2102) of {lines} mapped lines", flush=True)
    with timed(figures, f"3301 x {lines} at the pharmacy"):
        for n in range(1, lines + 1):
            mapping = {
                "fixmedins_hilist_id": f"YP{n:05d}",
                "fixmedins_hilist_name": f"药房商品{n}",
                "list_type": "101",
                "med_list_codg": f"BENCH{n:08d}",
                "begndate": "2026-01-01",
            }
            mapped = await pharmacy.send("3301", {"data": mapping})
            assert mapped["infcode"] == 0, mapped["err_msg"]

    def drug(n: int, national: str, own: str) -> dict[str, Any]:
        return {
            "feedetl_sn": str(n),
            "med_list_codg": national,
            "medins_list_codg": own,
            "det_item_fee_sumamt": "3.00",  # 2 × 1.50
            "cnt": "2",
            "pric": "1.5",
            "fee_ocur_time": "2026-11-10 10:00:00",
        }

    counts: dict[str, Any] = {}
    for (psn_no, certno), label, make in (
        (persons[1], "mapped", lambda n: drug(n, "", f"YP{n:05d}")),
        (persons[2], "national", lambda n: drug(n, f"BENCH{n:08d}", f"X{n}")),
    ):
        druginfo = {
            "psn_no": psn_no,
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": certno,
            "begntime": "2026-11-10 10:00:00",
            "medfee_sumamt": f"{3 * lines}.00",
            "insutype": "390",
            "med_type": "41",
        }
        body = {"druginfo": druginfo, "drugdetail": [make(n) for n in range(1, lines + 1)]}
        with timed(figures, f"2102, {lines} {label} lines"):
            settled = await pharmacy.send("2102", body)
        assert settled["infcode"] == 0, settled["err_msg"]
        counts[f"pharmacy_{label}_hifp_pay"] = str(settled["output"]["setlinfo"]["hifp_pay"])
    assert counts["pharmacy_mapped_hifp_pay"] == counts["pharmacy_national_hifp_pay"]
    return counts


def database_urls(backend: str, tmp: str, server: PostgresServer | None) -> tuple[str, str]:
    """The settlement and gateway databases, migrated."""
    if server is not None:
        urls = server.url(server.create_database("settlement")), server.url(server.create_database("gateway"))
    else:
        urls = sqlite_url(Path(tmp) / "settlement.db"), sqlite_url(Path(tmp) / "gateway.db")
    upgrade("settlement", urls[0])
    upgrade("gateway", urls[1])
    return urls


async def run(items: int, lines: int, backend: str = "sqlite") -> dict[str, Any]:
    figures: dict[str, float] = {}
    counts: dict[str, Any] = {}
    server = PostgresServer.start() if backend == "postgres" else None
    try:
        return await _run(items, lines, backend, server, figures, counts)
    finally:
        if server is not None:
            server.stop()


async def _run(
    items: int,
    lines: int,
    backend: str,
    server: PostgresServer | None,
    figures: dict[str, float],
    counts: dict[str, Any],
) -> dict[str, Any]:
    print(f"backend {backend}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-catalogue-") as tmp:
        settlement_url, gateway_url = database_urls(backend, tmp, server)
        settings = SettlementSettings(
            database_url=settlement_url, run_background_workers=False, freeze_heap_at_start=False
        )
        app = create_app(settings)
        settlement_db = Database(settlement_url)
        gateway_db = Database(gateway_url)
        paasid, secret = demo_credentials(HOSPITAL)
        async with gateway_db.transaction() as session:
            session.add(
                Institution(fixmedins_code=HOSPITAL, fixmedins_name="县医院", paasid=paasid, secret=secret)
            )
            pharmacy_id, pharmacy_secret = demo_credentials(PHARMACY)
            session.add(
                Institution(
                    fixmedins_code=PHARMACY, fixmedins_name="药房", paasid=pharmacy_id, secret=pharmacy_secret
                )
            )
        token = issue_token(DEV_AUTH_SECRET, "bench", [ADMINISTRATOR, SERVICE])
        async with app.router.lifespan_context(app):
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://settlement",
                headers={"Authorization": f"Bearer {token}"},
                timeout=600,
            )
            downstream = Downstream("http://enrollment", "http://settlement", 600.0)
            await downstream.client.aclose()
            downstream.client = client
            processor = EnvelopeProcessor(
                gateway_db, downstream, REGION, 8_388_608, security=HisSecurity(gateway_db, TifSha256())
            )
            his = His(processor)
            await his.sign_in()
            persons = [
                (f"{REGION}{n:016d}", make_id_number(REGION, date(1985, 3, 12), 10 + n)) for n in (1, 2, 3)
            ]
            psn_no, certno = persons[0]
            await reference(client, settlement_db, persons)

            print(f"1312 full download of {items:,} items", flush=True)
            with timed(figures, "seed items (bulk insert)"):
                await seed_items(settlement_db, items)
            with timed(figures, "1312 as a file (rows read, zipped, stored)"):
                info = await his.send("1312", {"data": {"ver": "0"}})
            assert info["infcode"] == 0, info["err_msg"]
            counts.update(
                file_rows=info["output"]["recordCounts"], file_zip_bytes=info["output"]["file_size"]
            )
            with timed(figures, "9102 download of that file"):
                got = await his.send(
                    "9102",
                    {
                        "fsDownloadIn": {
                            "file_qury_no": info["output"]["file_qury_no"],
                            "filename": "plc",
                            "fixmedins_code": HOSPITAL,
                        }
                    },
                )
            assert got["infcode"] == 0, got["err_msg"]
            assert len(base64.b64decode(got["output"]["file_byte"])) == info["output"]["file_size"]
            with timed(figures, "1312 inline, every page of 1,000"):
                page, rows = 1, 0
                while True:
                    answer = await his.send(
                        "1312", {"data": {"ver": "0", "page_num": page, "page_size": 1000}}
                    )
                    assert answer["infcode"] == 0, answer["err_msg"]
                    rows += len(answer["output"]["data"])
                    if answer["output"]["lastPage"]:
                        break
                    page += 1
            counts.update(inline_rows=rows, inline_pages=page)
            with timed(figures, "1312 incremental (after the newest but 10)"):
                recent = await his.send("1312", {"data": {"ver": str(items - 10), "page_num": 1}})
            counts["incremental_rows"] = len(recent["output"]["data"])

            print(f"settlement with {lines} mapped lines", flush=True)
            with timed(figures, f"3301 x {lines} (one envelope each)"):
                for n in range(1, lines + 1):
                    mapped = await his.send(
                        "3301",
                        {
                            "data": {
                                "fixmedins_hilist_id": f"HIS{n:05d}",
                                "fixmedins_hilist_name": f"院内项目{n}",
                                "list_type": "101",
                                "med_list_codg": f"BENCH{n:08d}",
                                "begndate": "2026-01-01",
                            }
                        },
                    )
                    assert mapped["infcode"] == 0, mapped["err_msg"]

            def fee(n: int, national: str, own: str) -> dict[str, Any]:
                return {
                    "feedetl_sn": str(n),
                    "chrg_bchno": "B1",
                    "med_list_codg": national,
                    "medins_list_codg": own,
                    "cnt": "2",
                    "pric": "1.5",
                    "amount_fen": 300,
                    "fee_ocur_time": "2026-11-10T10:00:00+08:00",
                }

            for label, make in (
                ("mapped", lambda n: fee(n, "", f"HIS{n:05d}")),
                ("national", lambda n: fee(n, f"BENCH{n:08d}", f"X{n}")),
            ):
                mdtrt_id = await visit(client, psn_no, certno)
                body = {"fixmedins_code": HOSPITAL, "lines": [make(n) for n in range(1, lines + 1)]}
                with timed(figures, f"fee upload, {lines} {label} lines"):
                    uploaded = await client.post(f"/api/v1/encounters/{mdtrt_id}/fees", json=body)
                assert uploaded.status_code == 200, uploaded.text
                preview = {
                    "msgid": f"PRE{next(_seq):06d}",
                    "fixmedins_code": HOSPITAL,
                    "psn_no": psn_no,
                    "mdtrt_cert_type": "02",
                    "mdtrt_cert_no": certno,
                    "medfee_sumamt_fen": 300 * lines,
                    "chrg_bchno": "B1",
                }
                with timed(figures, f"preview, {lines} {label} lines"):
                    out = await client.post(f"/api/v1/encounters/{mdtrt_id}/settlement/preview", json=preview)
                assert out.status_code == 200, out.text
                counts[f"{label}_fund_fen"] = out.json()["pooled_fund_paid_fen"]
            counts.update(await pharmacy_purchases(processor, persons, lines, figures))
            await client.aclose()
        await settlement_db.dispose()
        await gateway_db.dispose()
    assert counts["mapped_fund_fen"] == counts["national_fund_fen"]
    return {"seconds": figures, "counts": counts}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=100)
    parser.add_argument("--backends", default="sqlite", help="comma-separated: sqlite, postgres")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(unknown)}")
    started = datetime.now(UTC)
    results = {backend: asyncio.run(run(args.items, args.lines, backend)) for backend in backends}
    for backend, result in results.items():
        print(backend, json.dumps(result["counts"], ensure_ascii=False))
    path = write_result("catalogue_downloads", started, items=args.items, lines=args.lines, backends=results)
    print(f"results: {path}")


if __name__ == "__main__":
    main()
