"""The insured side of the inter-platform protocol (docs/interface.md, "Between platforms") against its
ledger: a reservation a treating platform confirmed is a settlement record of this platform
(``settlement.interplatform.records``), under the setl_id its event was booked with, so the ledger's
reconciliation finds every entry in settlement and settlement's every record in the ledger; its release is
the reversal. The real settlement and ledger apps in-process, on both backends.

The stay (tests/settlement/test_interplatform.py): a level-2 hospital of 440300 classified 8,000.00 (800.00
paid first, 7,200.00 in range) and 2,000.00 self-paid; the demo policy, unfiled out of area:
(7,200.00 − 300.00) × 50 % = 3,450.00 from the pooled fund; cash 10,000.00 − 3,450.00 = 6,550.00."""

from __future__ import annotations

from typing import Any

from tests.reconciliation.conftest import Platform, period, setl_id_of
from tests.settlement.conftest import new_person
from tests.settlement.test_interplatform import RESERVATIONS, SHENZHEN, stay


async def reconcile(platform: Platform) -> dict[str, Any]:
    response = await platform.ledger.get("/api/v1/reconciliation", params=period())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def deliver_new(platform: Platform, done: set[str]) -> None:
    """Post to the ledger the settlement events not delivered yet (the consumer's work)."""
    for _, envelope, _ in await platform.outbox():
        if setl_id_of(envelope) not in done:
            await platform.deliver(envelope)
            done.add(setl_id_of(envelope))


async def reserved(platform: Platform, sequence: int, msgid: str) -> str:
    psn_no, certno = new_person(sequence)
    await platform.settlement.cover(psn_no, certno, enrollment_id=sequence)
    made = await platform.settlement.post(RESERVATIONS, stay(psn_no, msgid), headers=SHENZHEN)
    assert made.status_code == 201, made.text
    reservation_id: str = made.json()["reservation_id"]
    return reservation_id


async def test_a_confirmed_reservation_and_its_release_reconcile_with_the_ledger(platform: Platform) -> None:
    confirmed = await reserved(platform, 41, "SZ-R-41")
    url = f"{RESERVATIONS}/{confirmed}"
    confirm = {"msgid": "SZ-C-41", "platform": "gd-shenzhen", "treating_setl_id": "S440300041"}
    answer = await platform.settlement.post(f"{url}/confirmation", confirm, headers=SHENZHEN)
    assert answer.status_code == 200, answer.text
    # Reserved and released by its hold's owner before any confirmation: never a settlement, no record.
    unconfirmed = await reserved(platform, 42, "SZ-R-42")
    release = {"msgid": "SZ-X-42", "platform": "gd-shenzhen", "reason": "refused"}
    let_go = await platform.settlement.post(
        f"{RESERVATIONS}/{unconfirmed}/release", release, headers=SHENZHEN
    )
    assert let_go.status_code == 200, let_go.text

    delivered: set[str] = set()
    await deliver_new(platform, delivered)
    assert delivered == {confirmed}
    result = await reconcile(platform)
    # One record, one entry, both 3,450.00 from the fund.
    assert (result["balanced"], result["differences"]) == (True, [])
    assert (result["settlement_total_fen"], result["ledger_total_fen"]) == (345000, 345000)
    assert (result["settlements_compared"], result["entries_compared"]) == (1, 1)

    # The treating side reversed: the release is the reversal record (−3,450.00), booked once.
    release = {"msgid": "SZ-X-41", "platform": "gd-shenzhen", "reason": "reversal"}
    released = await platform.settlement.post(f"{url}/release", release, headers=SHENZHEN)
    assert released.status_code == 200, released.text
    await deliver_new(platform, delivered)
    assert delivered == {confirmed, f"{confirmed}X"}
    result = await reconcile(platform)
    assert (result["balanced"], result["differences"]) == (True, [])
    # 3,450.00 − 3,450.00 = 0.00 on both sides, two records against two entries.
    assert (result["settlement_total_fen"], result["ledger_total_fen"]) == (0, 0)
    assert (result["settlements_compared"], result["entries_compared"]) == (2, 2)
