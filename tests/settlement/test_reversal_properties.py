"""Property: whatever mix of purchases and reversals a person goes through, their yearly totals are the sum
of what the surviving settlements added, and reversing everything brings them back to zero."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from settlement.config import SettlementSettings
from settlement.eligibility.models import YearAccumulator
from settlement.main import create_app
from settlement.settlements.models import Settlement
from sqlmodel import select

from shared.config import sqlite_url
from shared.db import Database
from shared.migrations import upgrade
from tests.settlement.conftest import SettlementApi, new_person, purchase, seed_reference_data
from tests.support.apps import build, running

TOTALS = (
    "outpatient_deductible_fen",
    "outpatient_paid_fen",
    "pooled_paid_fen",
    "chronic_cost_fen",
    "chronic_paid_fen",
    "catastrophic_burden_fen",
    "catastrophic_paid_fen",
    "assistance_base_fen",
    "assistance_paid_fen",
    "admissions",
)
_counter = itertools.count()

# A purchase: (item, units); a reversal: the index (mod the settlements so far) of a settlement to undo.
operations = st.lists(
    st.one_of(
        st.tuples(st.just("buy"), st.sampled_from(["A", "B", "D"]), st.integers(1, 40)),
        st.tuples(st.just("undo"), st.integers(0, 50)),
    ),
    min_size=1,
    max_size=12,
)
PRICES = {"A": "0.5", "B": "20", "D": "3"}


async def _scenario(tmp: Path, ops: list[tuple[object, ...]]) -> None:
    url = sqlite_url(tmp / f"p{next(_counter)}.db")
    upgrade("settlement", url)
    app = build(create_app, SettlementSettings, database_url=url, run_background_workers=False)
    db = Database(url)
    async with running(app) as client:
        api = SettlementApi(client, db)
        await seed_reference_data(api)
        psn_no, certno = new_person()
        await api.cover(psn_no, certno)
        settled: list[str] = []
        reversed_ids: set[str] = set()
        for op in ops:
            if op[0] == "buy":
                _, code, units = op
                price = PRICES[str(code)]
                amount = int(Decimal(price) * int(str(units)) * 100)
                response = await api.post(
                    "/api/v1/pharmacy-settlements",
                    purchase(psn_no, certno, [(str(code), str(units), price, amount)]),
                )
                assert response.status_code == 200, response.text
                settled.append(response.json()["setl_id"])
            elif settled:
                target = settled[int(str(op[1])) % len(settled)]
                response = await api.post(
                    f"/api/v1/settlements/{target}/reversal",
                    {"msgid": f"R{next(_counter)}", "fixmedins_code": "P34152400001"},
                )
                # A settlement reverses once; reversing it again is refused (409) and changes nothing.
                if target in reversed_ids:
                    assert response.status_code == 409, response.text
                else:
                    assert response.status_code == 200, response.text
                    reversed_ids.add(target)
        async with db.session() as session:
            row = await session.scalar(select(YearAccumulator).where(YearAccumulator.psn_no == psn_no))
            alive = list(
                await session.scalars(
                    select(Settlement).where(Settlement.psn_no == psn_no, Settlement.status == "settled")
                )
            )
        # The standing settlements are those settled and not reversed (the test's own bookkeeping).
        assert {s.setl_id for s in alive} == set(settled) - reversed_ids
        if row is None:  # nothing ever settled
            assert not alive
            return
        for name in TOTALS:
            assert getattr(row, name) == sum(s.ytd_delta.get(name, 0) for s in alive), name
        assert row.outpatient_paid_fen <= 30000  # the yearly cap of outpatient pooling
        assert row.settlement_count == len(alive)
        for s in alive:
            response = await api.post(
                f"/api/v1/settlements/{s.setl_id}/reversal",
                {"msgid": f"R{next(_counter)}", "fixmedins_code": "P34152400001"},
            )
            assert response.status_code == 200, response.text
        async with db.session() as session:
            row = await session.scalar(select(YearAccumulator).where(YearAccumulator.psn_no == psn_no))
        assert row is not None
        assert [getattr(row, name) for name in TOTALS] == [0] * len(TOTALS)
        assert row.settlement_count == 0
    await db.dispose()


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=operations)
def test_totals_are_what_surviving_settlements_added(
    ops: list[tuple[object, ...]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    asyncio.run(_scenario(tmp_path_factory.mktemp("prop"), ops))
