"""``shared.contracts.v1``: the bodies between the gateway and settlement, and the events, have one
definition that both sides use. The settlement endpoints declare the contract classes themselves, the
gateway tests' hand-built answers are bodies of those classes (so the stubs cannot drift from the service),
and the events' old import path names the same classes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute
from settlement.encounters import endpoints as encounters
from settlement.reconciliation import endpoints as reconciliation
from settlement.settlements import endpoints as settlements

from shared import events
from shared.contracts.v1 import events as contract_events
from shared.contracts.v1 import settlement as contract
from tests.gateway import factories


def _routes() -> dict[tuple[str, str], APIRoute]:
    routers = (encounters.router, reconciliation.router, settlements.router)
    return {
        (method, route.path): route
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }


def test_settlement_endpoints_declare_the_contract_bodies() -> None:
    routes = _routes()
    declared = {
        ("POST", "/api/v1/pharmacy-settlements"): contract.SettlementOut,
        ("POST", "/api/v1/settlements/{setl_id}/reversal"): contract.SettlementOut,
        ("POST", "/api/v1/voids"): contract.VoidOut,
        ("POST", "/api/v1/encounters"): contract.EncounterOut,
        ("POST", "/api/v1/encounters/{mdtrt_id}/fees"): contract.FeesOut,
        ("POST", "/api/v1/encounters/{mdtrt_id}/fees/cancellation"): contract.FeesCancelled,
        ("POST", "/api/v1/encounters/{mdtrt_id}/discharge"): contract.EncounterOut,
        ("POST", "/api/v1/encounters/{mdtrt_id}/settlement"): contract.SettlementOut,
        ("GET", "/api/v1/reconciliation/totals"): contract.TotalsOut,
    }
    assert {key: routes[key].response_model for key in declared} == declared


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (contract.SettlementOut, factories.readme_purchase()),
        (contract.SettlementOut, factories.readme_reversal()),
        (contract.SettlementOut, factories.stay_settlement()),
        (contract.EncounterOut, {**factories.visit(), "insutype": "390"}),
        (contract.FeesOut, factories.classified()),
    ],
)
def test_the_gateway_stubs_answer_contract_bodies(model: type[Any], body: dict[str, Any]) -> None:
    model.model_validate(body)


def test_events_have_one_definition() -> None:
    assert events.SettlementCompleted is contract_events.SettlementCompleted
    assert events.EVENT_TYPES is contract_events.EVENT_TYPES
