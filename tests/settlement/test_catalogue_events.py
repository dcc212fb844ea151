"""Catalogue and mapping changes are published through settlement's outbox on ``catalogue.events`` in the
transaction that made them (both backends): one ``catalogue.changed`` per catalogue version (an import file
is one), one ``catalogue.mapping_changed`` per upload or revocation."""

from __future__ import annotations

import json
from typing import Any

from settlement.db import infra
from sqlalchemy import select

from tests.settlement.conftest import HOSPITAL, SettlementApi, seed_diagnoses


async def catalogue_events(api: SettlementApi) -> list[dict[str, Any]]:
    outbox = infra.outbox
    async with api.db.session() as session:
        rows = await session.execute(
            select(outbox.c.event_type, outbox.c.event_key, outbox.c.payload)
            .where(outbox.c.topic == "catalogue.events")
            .order_by(outbox.c.id)
        )
        return [{"type": r.event_type, "key": r.event_key, **json.loads(r.payload)["data"]} for r in rows]


async def test_catalogue_versions_and_mappings_are_published(settlement_api: SettlementApi) -> None:
    # The seeded catalogue: items A, B, C, D made one at a time, versions 1 to 4; then the benefit policy,
    # version 5 (its chronic disease list, 1309: the demo's five diseases).
    seeded = await catalogue_events(settlement_api)
    assert [(e["type"], e["key"], e["ver"], e["list_kind"], e["codes"]) for e in seeded] == [
        ("catalogue.changed", "catalogue", 1, "items", ["A"]),
        ("catalogue.changed", "catalogue", 2, "items", ["B"]),
        ("catalogue.changed", "catalogue", 3, "items", ["C"]),
        ("catalogue.changed", "catalogue", 4, "items", ["D"]),
        ("catalogue.changed", "catalogue", 5, "opsp", ["I10", "E11", "J44", "I25", "N18"]),
    ]
    await seed_diagnoses(settlement_api)  # four diagnoses in one file: version 6, one event
    mapping = {
        "msgid": "M0001",
        "fixmedins_code": HOSPITAL,
        "medins_list_codg": "HIS-A",
        "name": "甲类药",
        "list_type": "101",
        "med_list_codg": "A",
        "begndate": "2026-01-01",
    }
    assert (await settlement_api.post("/api/v1/catalogue/mappings", mapping)).status_code == 200
    revocation = {k: mapping[k] for k in ("fixmedins_code", "medins_list_codg", "list_type", "med_list_codg")}
    revoked = await settlement_api.post(
        "/api/v1/catalogue/mappings/revocation", {**revocation, "msgid": "M0002"}
    )
    assert revoked.status_code == 200, revoked.text

    later = (await catalogue_events(settlement_api))[5:]
    assert [(e["type"], e.get("ver"), e.get("count")) for e in later[:1]] == [("catalogue.changed", 6, 4)]
    assert later[0]["codes"] == ["J18.900", "J06.900", "I10.x00", "O82.000"]
    # Each mapping change takes the next catalogue version (1317 lists it there): 7, then 8.
    assert [
        (e["type"], e["key"], e["action"], e["msgid"], e["revoked_on"] is None, e["ver"]) for e in later[1:]
    ] == [
        ("catalogue.mapping_changed", HOSPITAL, "uploaded", "M0001", True, 7),
        ("catalogue.mapping_changed", HOSPITAL, "revoked", "M0002", False, 8),
    ]
