"""2101/2103/2601/5203 routed to the settlement service through a ``Downstream`` whose HTTP transport is a
fake settlement service (which endpoint, which body, which failure becomes what), and the message log around
2601 on a real database: after a 冲正 the original msgid is never answered with its stored success again."""

from __future__ import annotations

from typing import Any

import pytest
from gateway.messages.models import VoidedMessage
from gateway.protocol.envelope import Answer, RequestEnvelope
from gateway.protocol.errors import OutcomeUnknown, Refusal
from sqlmodel import select

from platformctl import examples
from tests.gateway.factories import (
    MDTRT_ID,
    PHARMACY,
    PSN_NO,
    REVERSAL_SETL_ID,
    SETL_ID,
    FakeSettlement,
    Gateway,
    downstream_for,
    readme_purchase,
    readme_reversal,
    refusal,
    run_handler,
    timeout,
)

CERTNO = "34152419850312013X"
SETTLE = ("POST", "/api/v1/pharmacy-settlements")
PREVIEW = ("POST", "/api/v1/pharmacy-settlements/preview")
GET = ("GET", f"/api/v1/settlements/{SETL_ID}")
REVERSE = ("POST", f"/api/v1/settlements/{SETL_ID}/reversal")
VOIDS = ("POST", "/api/v1/voids")


def msgid(sequence: int, fixmedins_code: str = PHARMACY) -> str:
    return f"{fixmedins_code}20261120100000{sequence:04d}"


#: Fixed times, so that building the same message twice gives the same message (a repeat, not a msgid reuse).
WHEN = "2026-11-20 10:00:00"


def purchase(infno: str = "2102", sequence: int = 1, **druginfo: Any) -> dict[str, Any]:
    body = examples.example_2102(PSN_NO, CERTNO)
    body["input"]["druginfo"].update(begntime=WHEN, **druginfo)
    for line in body["input"]["drugdetail"]:
        line["fee_ocur_time"] = WHEN
    return {**body, "infno": infno, "msgid": msgid(sequence), "inf_time": WHEN}


def message(
    infno: str, sequence: int, data: dict[str, Any], fixmedins_code: str = PHARMACY
) -> dict[str, Any]:
    body = examples.envelope(
        infno,
        msgid(sequence, fixmedins_code),
        {"data": data},
        insuplc_admdvs="341524",
        fixmedins_code=fixmedins_code,
    )
    return {**body, "inf_time": WHEN}


def reversal_of(setl_id: str = SETL_ID, mdtrt_id: str = MDTRT_ID, sequence: int = 3) -> dict[str, Any]:
    return message("2103", sequence, {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": PSN_NO})


def void_of(omsgid: str, sequence: int = 4, oinfno: str = "2102", **kwargs: Any) -> dict[str, Any]:
    return message("2601", sequence, {"psn_no": PSN_NO, "omsgid": omsgid, "oinfno": oinfno}, **kwargs)


async def handle(fake: FakeSettlement, body: dict[str, Any]) -> dict[str, Any]:
    result = await answered(fake, body)
    assert result.warn_msg is None, result.warn_msg
    return result.output


async def answered(fake: FakeSettlement, body: dict[str, Any]) -> Answer:
    """The handler's output and warn_msg (a handler with nothing to warn about returns its output alone)."""
    downstream = await downstream_for(fake)
    try:
        envelope = RequestEnvelope.model_validate(body)
        result = await run_handler(envelope, downstream)
    finally:
        await downstream.close()
    return result if isinstance(result, Answer) else Answer(result)


async def refused_by(fake: FakeSettlement, body: dict[str, Any]) -> Refusal:
    with pytest.raises(Refusal) as caught:
        await handle(fake, body)
    return caught.value


# --- through the Downstream ------------------------------------------------------------------------------


async def test_presettlement_calls_the_preview_with_the_settlement_body() -> None:
    fake = FakeSettlement().on(*PREVIEW, (200, readme_purchase(setl_id="", mdtrt_id="", status="preview")))
    output = await handle(fake, purchase("2101", med_type="140104", dise_codg="M03900"))
    [(method, path, body)] = fake.calls
    assert (method, path) == PREVIEW
    assert (body["msgid"], body["fixmedins_code"], body["med_type"], body["dise_codg"]) == (
        msgid(1),
        PHARMACY,
        "140104",
        "M03900",
    )
    assert body["medfee_sumamt_fen"] == 9000 and [line["amount_fen"] for line in body["lines"]] == [
        3000,
        6000,
    ]
    assert (output["setlinfo"]["setl_id"], str(output["setlinfo"]["hifp_pay"])) == ("", "32.00")


async def test_presettlement_timeout_is_only_a_retry() -> None:
    # Nothing is written by a preview: a timeout is "try again", not "outcome unknown".
    refusal_ = await refused_by(FakeSettlement().on(*PREVIEW, timeout), purchase("2101"))
    assert refusal_.code == "E_TIMEOUT" and not isinstance(refusal_, OutcomeUnknown)


async def test_reversal_checks_the_original_then_reverses_it() -> None:
    fake = FakeSettlement().on(*GET, (200, readme_purchase())).on(*REVERSE, (200, readme_reversal()))
    output = await handle(fake, reversal_of())
    assert fake.calls == [
        (*GET, None),
        (*REVERSE, {"msgid": msgid(3), "fixmedins_code": PHARMACY, "psn_no": PSN_NO}),
    ]
    info = output["setlinfo"]
    assert (info["setl_id"], str(info["medfee_sumamt"]), str(info["psn_pay"]), str(info["cash_payamt"])) == (
        REVERSAL_SETL_ID,
        "-90.00",
        "-58.00",
        "-58.00",
    )


async def test_reversal_of_another_encounter_or_institution_never_reaches_the_reversal() -> None:
    fake = FakeSettlement().on(*GET, (200, readme_purchase())).on(*REVERSE, (200, readme_reversal()))
    assert (await refused_by(fake, reversal_of(mdtrt_id="M0001"))).code == "MDTRT_MISMATCH"
    foreign = readme_purchase(fixmedins_code="P34152400009")
    fake.on(*GET, (200, foreign))
    assert (await refused_by(fake, reversal_of())).err_msg == "[NOT_YOUR_SETTLEMENT] 只能撤销本机构的结算"
    assert fake.paths() == [GET, GET]


async def test_reversal_refusals_keep_their_code_and_message() -> None:
    fake = FakeSettlement().on(*GET, (200, readme_purchase()))
    for status, code, text in [
        (409, "ALREADY_REVERSED", "该结算已于 S1 撤销，不能重复撤销"),
        (422, "PSN_MISMATCH", "人员编号与原结算不符"),
        (403, "NOT_YOUR_SETTLEMENT", "只能撤销本机构的结算"),
    ]:
        fake.on(*REVERSE, refusal(status, code, text))
        refusal_ = await refused_by(fake, reversal_of())
        assert refusal_.err_msg == f"[{code}] {text}" and not isinstance(refusal_, OutcomeUnknown)
    missing = FakeSettlement().on(*GET, refusal(404, "SETTLEMENT_NOT_FOUND", f"结算记录不存在: {SETL_ID}"))
    assert (await refused_by(missing, reversal_of())).code == "SETTLEMENT_NOT_FOUND"
    assert missing.paths() == [GET]


async def test_reversal_timeout_is_outcome_unknown_but_the_lookup_before_it_is_not() -> None:
    fake = FakeSettlement().on(*GET, (200, readme_purchase())).on(*REVERSE, timeout)
    unknown = await refused_by(fake, reversal_of())
    assert isinstance(unknown, OutcomeUnknown) and "2601" in unknown.message
    slow_lookup = await refused_by(FakeSettlement().on(*GET, timeout), reversal_of())
    assert slow_lookup.code == "E_TIMEOUT" and not isinstance(slow_lookup, OutcomeUnknown)


async def test_void_calls_the_voids_endpoint() -> None:
    fake = FakeSettlement().on(*VOIDS, (200, {"outcome": "reversed", "reversal": readme_reversal()}))
    output = await handle(fake, void_of(msgid(1)))
    assert fake.calls == [
        (
            *VOIDS,
            {
                "msgid": msgid(4),
                "omsgid": msgid(1),
                "oinfno": "2102",
                "fixmedins_code": PHARMACY,
                "psn_no": PSN_NO,
                # The envelope's insured region: a peer hosting it is told of a void that settled nothing.
                "insuplc_admdvs": "341524",
            },
        )
    ]
    assert output["data"] == {
        "omsgid": msgid(1),
        "oinfno": "2102",
        "outcome": "reversed",
        "setl_id": REVERSAL_SETL_ID,
    }
    assert str(output["setlinfo"]["fund_pay_sumamt"]) == "-32.00"
    assert isinstance(
        await refused_by(FakeSettlement().on(*VOIDS, timeout), void_of(msgid(1))), OutcomeUnknown
    )


async def test_void_of_a_transaction_not_offered_never_reaches_settlement() -> None:
    fake = FakeSettlement()
    for oinfno in ("2103", "2208", "2305", "2201", "1101"):
        refusal_ = await refused_by(fake, void_of(msgid(1), oinfno=oinfno))
        assert refusal_.code == "E_OINFNO" and "2102, 2207, 2304" in refusal_.message
    assert fake.calls == []


async def test_settlement_query() -> None:
    fake = FakeSettlement().on(*GET, (200, readme_purchase()))
    output = await handle(
        fake, message("5203", 5, {"setl_id": SETL_ID, "mdtrt_id": MDTRT_ID, "psn_no": PSN_NO})
    )
    assert (output["setlinfo"]["setl_id"], str(output["setlinfo"]["hifp_pay"])) == (SETL_ID, "32.00")
    assert fake.paths() == [GET]
    other = message("5203", 6, {"setl_id": SETL_ID}, fixmedins_code="P34152400009")
    assert (await refused_by(fake, other)).err_msg == "[NOT_YOUR_SETTLEMENT] 只能查询本机构的结算"
    missing = FakeSettlement().on(*GET, refusal(404, "SETTLEMENT_NOT_FOUND", f"结算记录不存在: {SETL_ID}"))
    assert (
        await refused_by(missing, message("5203", 7, {"setl_id": SETL_ID}))
    ).code == "SETTLEMENT_NOT_FOUND"


async def test_setl_id_is_one_path_segment() -> None:
    fake = FakeSettlement()
    downstream = await downstream_for(fake)
    try:
        with pytest.raises(Refusal):
            await downstream.settlement("a/b?c#d", PHARMACY)
    finally:
        await downstream.close()
    assert fake.paths() == [("GET", "/api/v1/settlements/a%2Fb%3Fc%23d")]
    assert fake.scopes == [PHARMACY]  # settlement checks the institution too


# --- the message log around 2601 (real database) ---------------------------------------------------------


def voided(answer: dict[str, Any]) -> bool:
    return answer["infcode"] == -1 and answer["err_msg"] == "[E_VOIDED] 原交易已冲正"


async def test_after_a_reversing_void_the_stored_success_is_not_replayed(gateway: Gateway) -> None:
    gateway.fake.on(*SETTLE, (200, readme_purchase(msgid=msgid(1))))
    original = await gateway.send(purchase())
    assert original["infcode"] == 0 and (await gateway.send(purchase())) == original  # the usual replay

    gateway.fake.on(*VOIDS, (200, {"outcome": "reversed", "reversal": readme_reversal(msgid=msgid(4))}))
    void = await gateway.send(void_of(msgid(1)))
    assert void["infcode"] == 0, void
    assert void["output"]["data"]["setl_id"] == REVERSAL_SETL_ID
    assert str(void["output"]["setlinfo"]["hifp_pay"]) == "-32.00"  # as written on the wire

    calls = len(gateway.fake.calls)
    assert voided(await gateway.send(purchase()))
    assert len(gateway.fake.calls) == calls  # answered by the gateway: nothing reached settlement
    # The original's stored answer is still on file; the 2601 itself is replayed as usual.
    stored = await gateway.stored(msgid(1))
    assert stored is not None and stored.infcode == 0
    assert await gateway.send(void_of(msgid(1))) == void
    async with gateway.db.session() as session:
        mark = await session.scalar(select(VoidedMessage).where(VoidedMessage.msgid == msgid(1)))
    assert mark is not None
    assert (mark.infno, mark.fixmedins_code, mark.outcome, mark.reversal_setl_id, mark.void_msgid) == (
        "2102",
        PHARMACY,
        "reversed",
        REVERSAL_SETL_ID,
        msgid(4),
    )


async def test_after_a_void_of_an_unanswered_message_its_late_repeat_is_refused(gateway: Gateway) -> None:
    gateway.fake.on(*SETTLE, timeout)
    lost = await gateway.send(purchase())
    assert lost["err_msg"].startswith("[E_OUTCOME_UNKNOWN]") and await gateway.stored(msgid(1)) is None

    gateway.fake.on(*VOIDS, (200, {"outcome": "voided", "reversal": None}))
    void = await gateway.send(void_of(msgid(1)))
    assert void["infcode"] == 0
    assert void["output"] == {
        "data": {"omsgid": msgid(1), "oinfno": "2102", "outcome": "voided", "setl_id": ""}
    }

    gateway.fake.on(*SETTLE, (200, readme_purchase(msgid=msgid(1))))
    calls = len(gateway.fake.calls)
    assert voided(await gateway.send(purchase()))
    assert voided(await gateway.send(purchase(medfee_sumamt="91.00")))  # whatever it carries
    assert len(gateway.fake.calls) == calls


async def test_a_refused_void_leaves_the_original_answer_in_force(gateway: Gateway) -> None:
    gateway.fake.on(*SETTLE, (200, readme_purchase(msgid=msgid(1))))
    original = await gateway.send(purchase())
    gateway.fake.on(*VOIDS, refusal(409, "ALREADY_REVERSED", "该结算已于 S2 撤销，不能重复撤销"))
    void = await gateway.send(void_of(msgid(1)))
    assert void["err_msg"] == "[ALREADY_REVERSED] 该结算已于 S2 撤销，不能重复撤销"
    assert await gateway.send(purchase()) == original


async def test_an_unknown_void_outcome_marks_nothing(gateway: Gateway) -> None:
    gateway.fake.on(*SETTLE, (200, readme_purchase(msgid=msgid(1))))
    original = await gateway.send(purchase())
    gateway.fake.on(*VOIDS, timeout)
    assert (await gateway.send(void_of(msgid(1))))["err_msg"].startswith("[E_OUTCOME_UNKNOWN]")
    assert await gateway.stored(msgid(4)) is None  # the 2601 may be repeated under its msgid
    assert await gateway.send(purchase()) == original


async def test_void_of_a_logged_message_of_another_institution_or_transaction(gateway: Gateway) -> None:
    gateway.fake.on(*SETTLE, (200, readme_purchase(msgid=msgid(1))))
    await gateway.send(purchase())
    gateway.fake.on(*VOIDS, (200, {"outcome": "voided", "reversal": None}))
    calls = len(gateway.fake.calls)
    foreign = await gateway.send(void_of(msgid(1), fixmedins_code="H34152400002"))
    assert foreign["err_msg"] == f"[E_NOT_YOUR_MESSAGE] 原报文 {msgid(1)} 不是本机构发送的"
    gateway.fake.on(*GET, (200, readme_purchase()))
    query = await gateway.send(message("5203", 5, {"setl_id": SETL_ID}))
    assert query["infcode"] == 0
    wrong = await gateway.send(void_of(msgid(5), sequence=6))
    assert wrong["err_msg"].startswith("[E_OINFNO]") and "5203" in wrong["err_msg"]
    assert gateway.fake.paths()[calls:] == [GET]  # neither 2601 reached settlement
    assert (await gateway.send(purchase()))["infcode"] == 0  # the original is untouched


async def test_presettlement_and_reversal_answers_are_remembered_by_msgid(gateway: Gateway) -> None:
    gateway.fake.on(*PREVIEW, (200, readme_purchase(setl_id="", mdtrt_id="", status="preview")))
    preview = await gateway.send(purchase("2101", sequence=7))
    assert preview["infcode"] == 0 and preview["output"]["setlinfo"]["setl_id"] == ""
    assert await gateway.send(purchase("2101", sequence=7)) == preview
    assert gateway.fake.paths() == [PREVIEW]

    gateway.fake.on(*GET, (200, readme_purchase())).on(*REVERSE, timeout)
    assert (await gateway.send(reversal_of()))["err_msg"].startswith("[E_OUTCOME_UNKNOWN]")
    assert await gateway.stored(msgid(3)) is None
    gateway.fake.on(*REVERSE, (200, readme_reversal(msgid=msgid(3), replayed=True)))
    reversal = await gateway.send(reversal_of())  # the repeat reaches settlement, which replays
    assert reversal["infcode"] == 0 and str(reversal["output"]["setlinfo"]["psn_pay"]) == "-58.00"
    assert await gateway.send(reversal_of()) == reversal
    assert gateway.fake.paths()[1:] == [GET, REVERSE, GET, REVERSE]
