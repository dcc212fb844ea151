"""A filing of the insured platform honoured on the other (docs/domain.md, "Filings" and "Out-of-area care"):
the treating platform reads the person's out-of-area filings with their kinds (异地就医备案类别) in the
eligibility answer, and a reservation's ratio follows the insured region's policy for the kind filed. Over
REST with a service token, on both backends.

The insured region's policy here (``by_kind_policy``, illustrative numbers): the demo's (level-2 deductible
300.00 at the year's first admission, 60 %) for the scheme 391, with 20 points off unfiled out-of-area care
and, filed, 0 points for a resident elsewhere (01-03), 5 for a referral (04), 10 for temporary care
(05-06); 2 points for a filing stored without a kind (none is, since kinds exist).

The stay at a level-2 hospital of another platform's region 440300, classified there: 8,000.00 of which
800.00 paid first and 7,200.00 in the policy range, and 2,000.00 fully self-paid; 10,000.00 in all."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from settlement.policy.document import FilingRules, PolicyDocument, jinzhai_yutian_demo

from tests.settlement.conftest import REGION, SettlementApi, new_person
from tests.settlement.test_interplatform import RESERVATIONS, SHENZHEN, ask, paid, query, stay

SCHEME = "391"
SHENZHEN_REGION = "440300"


def by_kind_policy() -> PolicyDocument:
    """The insured region's policy with a filed ratio per kind of out-of-area filing (illustrative)."""
    demo = jinzhai_yutian_demo()
    rules = FilingRules(
        filed_out_of_area_reduction=Decimal("0.02"),
        resident_out_of_area_reduction=Decimal("0"),
        referred_out_of_area_reduction=Decimal("0.05"),
        temporary_out_of_area_reduction=Decimal("0.10"),
    )
    return demo.model_copy(update={"unfiled_out_of_area_reduction": Decimal("0.2"), "filings": rules})


async def post_by_kind_policy(api: SettlementApi) -> None:
    body = {"admdvs": REGION, "insutype": SCHEME, "name": "备案类别", "effective_from": "2026-01-01",
            "document": by_kind_policy().model_dump(mode="json")}  # fmt: skip
    created = await api.post("/api/v1/policies", body)
    assert created.status_code == 201, created.text


def filing(psn_no: str, region: str, dcla_type: str | None, **changes: Any) -> dict[str, Any]:
    """A clerk's out-of-area filing over REST (the operator API), as 2501 files it."""
    body = {
        "psn_no": psn_no, "insuplc_admdvs": REGION, "fixmedins_code": "OFFICE", "mdtrtarea_admdvs": region,
        "begndate": "2026-11-01", "enddate": "2026-12-31", **changes,
    }  # fmt: skip
    if dcla_type is not None:
        body["dcla_type"] = dcla_type
    return body


@pytest.mark.parametrize(
    ("dcla_type", "ratio", "pooled", "cash"),
    [
        # (7,200.00 − 300.00) × (0.60 − 0.20) = 2,760.00 pooled; cash 10,000.00 − 2,760.00 = 7,240.00.
        (None, "0.4", 276000, 724000),
        # 异地长期居住 (02): the local ratio, 6,900.00 × 0.60 = 4,140.00; cash 5,860.00.
        ("02", "0.6", 414000, 586000),
        # 异地转诊 (04): 6,900.00 × 0.55 = 3,795.00; cash 6,205.00.
        ("04", "0.55", 379500, 620500),
        # 其他临时外出就医 (06): 6,900.00 × 0.50 = 3,450.00; cash 6,550.00.
        ("06", "0.5", 345000, 655000),
    ],
)
async def test_a_reservation_follows_the_kind_the_insured_side_filed(
    settlement_api: SettlementApi, dcla_type: str | None, ratio: str, pooled: int, cash: int
) -> None:
    """The burden (7,200.00 − pooled) stays under the demo's catastrophic threshold (10,000.00): no other
    fund pays."""
    await post_by_kind_policy(settlement_api)
    psn_no, certno = new_person(21)
    await settlement_api.cover(psn_no, certno, insutype=SCHEME)
    if dcla_type is not None:
        filed = await settlement_api.post(
            "/api/v1/filings/referral", filing(psn_no, SHENZHEN_REGION, dcla_type)
        )
        assert filed.status_code == 201, filed.text
        assert filed.json()["dcla_type"] == dcla_type

    answer = await ask(settlement_api, query(psn_no, insutype=SCHEME))
    expected = {SHENZHEN_REGION: [dcla_type]} if dcla_type is not None else {}
    assert answer["referral_kinds"] == expected
    assert answer["referral_regions"] == ([SHENZHEN_REGION] if dcla_type is not None else [])

    made = await settlement_api.post(RESERVATIONS, stay(psn_no, insutype=SCHEME), headers=SHENZHEN)
    assert made.status_code == 201, made.text
    reservation = made.json()
    assert Decimal(reservation["pool_ratio"]) == Decimal(ratio)
    assert paid(reservation) == (pooled, 0, cash, 30000)


async def test_the_best_of_two_filings_for_the_place_applies(settlement_api: SettlementApi) -> None:
    """A temporary filing for the region and a resident one for the hospital: the care there is filed as
    both, and the kind with the smallest cut applies (resident, 0 points): 6,900.00 × 0.60 = 4,140.00."""
    await post_by_kind_policy(settlement_api)
    psn_no, certno = new_person(22)
    await settlement_api.cover(psn_no, certno, insutype=SCHEME)
    for body in (
        filing(psn_no, SHENZHEN_REGION, "06"),
        filing(psn_no, "440304", "01", reflin_medins_no="H44030000001"),
    ):
        filed = await settlement_api.post("/api/v1/filings/referral", body)
        assert filed.status_code == 201, filed.text
    answer = await ask(settlement_api, query(psn_no, insutype=SCHEME))
    assert answer["referral_kinds"] == {"440304": ["01"], "H44030000001": ["01"], SHENZHEN_REGION: ["06"]}
    made = await settlement_api.post(RESERVATIONS, stay(psn_no, insutype=SCHEME), headers=SHENZHEN)
    assert made.status_code == 201, made.text
    assert paid(made.json()) == (414000, 0, 586000, 30000)


async def test_an_unknown_kind_is_refused_and_nothing_is_filed(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person(23)
    await settlement_api.cover(psn_no, certno, insutype=SCHEME)
    for kind in ("07", "1", "resident"):
        refused = await settlement_api.post("/api/v1/filings/referral", filing(psn_no, SHENZHEN_REGION, kind))
        assert refused.status_code == 422, refused.text
        assert "sql" not in refused.text.lower()
    listed = await settlement_api.client.get(f"/api/v1/filings/persons/{psn_no}")
    assert listed.status_code == 200 and listed.json()["filings"] == []
