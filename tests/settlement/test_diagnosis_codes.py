"""Diagnoses as a catalogue (1307): the ``dise_codg`` of an admission (2401), a diagnosis change
(2203/2403) and a discharge (2402) must be on the diagnosis list in force on the day care began; a chronic
visit names the policy's chronic disease instead. The list is versioned: the version in force on the
day care began applies. The demo's own code files load and are all well formed."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from gateway.downstream import Downstream
from gateway.protocol.envelope import parse_body
from gateway.security.schemes import TifSha256
from gateway.security.service import HisSecurity
from gateway.transactions import EnvelopeProcessor

from platformctl import examples
from platformctl.demo import demo_code_files
from shared.db import Database
from tests.conftest import DatabaseFactory
from tests.settlement.conftest import HOSPITAL, REGION, SettlementApi, new_person, seed_diagnoses
from tests.support.his import SignedHis, register_demo_institutions

_seq = itertools.count(1)
DISEASES = "code,name\nJ18.900,肺炎\nK35.800,急性阑尾炎\nI10.x00,原发性高血压\n"


async def load_codes(api: SettlementApi, kind: str, text: str) -> None:
    assert kind == "dise"
    await seed_diagnoses(api, text)


def admission(psn_no: str, certno: str, med_type: str = "21", **extra: Any) -> dict[str, Any]:
    return {
        "msgid": f"OPEN{next(_seq):06d}",
        "setting": "inpatient" if med_type.startswith("2") else "outpatient",
        "fixmedins_code": HOSPITAL,
        "mdtrtarea_admvs": REGION,
        "insuplc_admdvs": REGION,
        "psn_no": psn_no,
        "insutype": "390",
        "ipt_otp_no": f"ZY{next(_seq):06d}",
        "med_type": med_type,
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": certno,
        "begntime": "2026-11-10T09:00:00+08:00",
        **extra,
    }


def refused_with(response: Any, code: str) -> bool:
    return bool(response.status_code == 422 and response.json()["error"]["code"] == code)


async def test_an_admission_names_a_diagnosis_of_the_list_in_force(settlement_api: SettlementApi) -> None:
    await load_codes(settlement_api, "dise", DISEASES)
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)

    unknown = await settlement_api.post("/api/v1/encounters", admission(psn_no, certno, dise_codg="J18.999"))
    assert refused_with(unknown, "DISE_CODE_UNKNOWN")
    assert "J18.999" in unknown.json()["error"]["message"]

    opened = await settlement_api.post("/api/v1/encounters", admission(psn_no, certno, dise_codg="J18.900"))
    assert opened.status_code == 200, opened.text
    stay = opened.json()["mdtrt_id"]

    change = {"fixmedins_code": HOSPITAL, "dise_codg": "X99.999", "dise_name": "不存在"}
    assert refused_with(
        await settlement_api.post(f"/api/v1/encounters/{stay}/diagnosis", change), "DISE_CODE_UNKNOWN"
    )
    change = {"fixmedins_code": HOSPITAL, "dise_codg": "K35.800", "dise_name": "急性阑尾炎"}
    assert (await settlement_api.post(f"/api/v1/encounters/{stay}/diagnosis", change)).status_code == 200

    discharge = {"fixmedins_code": HOSPITAL, "endtime": "2026-11-15T10:00:00+08:00", "dise_codg": "K35.999"}
    refused = await settlement_api.post(f"/api/v1/encounters/{stay}/discharge", discharge)
    assert refused_with(refused, "DISE_CODE_UNKNOWN")
    discharged = await settlement_api.post(
        f"/api/v1/encounters/{stay}/discharge", {**discharge, "dise_codg": "K35.800"}
    )
    assert discharged.status_code == 200, discharged.text
    assert discharged.json()["dise_codg"] == "K35.800"


async def test_the_version_in_force_on_the_day_care_began_applies(settlement_api: SettlementApi) -> None:
    await load_codes(
        settlement_api, "dise", "code,name,effective_from\nJ18.900,肺炎,2000-01-01\nZ99.900,新码,2026-12-01\n"
    )
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    # Care began 2026-11-10: Z99.900 is not in force yet.
    early = await settlement_api.post("/api/v1/encounters", admission(psn_no, certno, dise_codg="Z99.900"))
    assert refused_with(early, "DISE_CODE_UNKNOWN")
    # J18.900 renamed from 2026-11-12: its first version now ends 2026-11-11, still in force on 11-10.
    await load_codes(
        settlement_api, "dise", "code,name,effective_from\nJ18.900,肺炎（医保版2.0）,2026-11-12\n"
    )
    opened = await settlement_api.post("/api/v1/encounters", admission(psn_no, certno, dise_codg="J18.900"))
    assert opened.status_code == 200, opened.text


async def test_a_chronic_visit_names_the_policys_disease(settlement_api: SettlementApi) -> None:
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)
    # "I10" is the demo policy's 门慢 code, not a 1307 code: the chronic rules check it, not this list.
    visit = admission(psn_no, certno, "140104", dise_codg="I10")
    assert (await settlement_api.post("/api/v1/encounters", visit)).status_code == 200


@pytest.fixture
async def his(databases: DatabaseFactory, settlement_api: SettlementApi) -> AsyncIterator[SignedHis]:
    db = Database(databases.migrated("gateway"))
    downstream = Downstream("http://enrollment", "http://settlement", 5.0)
    await downstream.client.aclose()
    downstream.client = settlement_api.client  # the settlement app itself, over ASGI
    await register_demo_institutions(db)
    try:
        processor = EnvelopeProcessor(
            db, downstream, REGION, 1_048_576, security=HisSecurity(db, TifSha256())
        )
        yield SignedHis(processor.process)
    finally:
        await db.dispose()


async def test_2401_through_the_gateway_refuses_an_unknown_diagnosis(
    his: SignedHis, settlement_api: SettlementApi
) -> None:
    await load_codes(settlement_api, "dise", DISEASES)
    psn_no, certno = new_person()
    await settlement_api.cover(psn_no, certno)

    def envelope(sequence: int, dise_codg: str) -> dict[str, Any]:
        info = {
            "psn_no": psn_no,
            "insutype": "390",
            "begntime": "2026-11-10 09:00:00",
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": certno,
            "med_type": "21",
            "ipt_no": f"ZY2026111000{sequence}",
            "dise_codg": dise_codg,
            "dise_name": "肺炎",
        }
        body = examples.envelope(
            "2401",
            f"{HOSPITAL}20261110090000{sequence:04d}",
            {"mdtrtinfo": info, "diseinfo": []},
            insuplc_admdvs=REGION,
            fixmedins_code=HOSPITAL,
        )
        return body

    unknown = parse_body((await his.send(envelope(1, "J18.999"))).encode())
    assert unknown["infcode"] == -1 and unknown["err_msg"].startswith("[DISE_CODE_UNKNOWN] 诊断编码 J18.999")
    admitted = parse_body((await his.send(envelope(2, "J18.900"))).encode())
    assert admitted["infcode"] == 0, admitted["err_msg"]


async def test_the_demo_code_files_load(settlement_api: SettlementApi) -> None:
    counts = {}
    for kind, text in demo_code_files():
        response = await settlement_api.client.post(
            f"/api/v1/catalogue/codes/{kind}/import", content=text.encode()
        )
        assert response.status_code == 200, response.text
        counts[kind] = response.json()["imported"]
    # One code a line after the header: the first 150 diagnoses and 50 procedures, then 727 diagnoses and
    # 259 procedures appended (issue 24): 150 + 727 = 877 and 50 + 259 = 309.
    assert counts == {"dise": 877, "oprn": 309}


#: The 医保版 forms (docs/catalogue-sample.md): ICD-10 医保版 ``J18.900`` / ``I10.x00`` (three characters, a
#: dot, three more, ``x`` where the category has no subdivision); ICD-9-CM-3 医保版 ``47.0900`` / ``28.2x00``
#: (two digits, a dot, four more, ``x`` where the subcategory has no subdivision).
CODE_FORMS = {"dise": re.compile(r"[A-Z]\d{2}\.[0-9x]\d{2}"), "oprn": re.compile(r"\d{2}\.\d[0-9x]\d{2}")}


def test_the_demo_code_files_are_in_the_national_form() -> None:
    for kind, text in demo_code_files():
        rows = list(csv.DictReader(io.StringIO(text)))
        assert list(rows[0]) == ["code", "name"], kind
        codes = [row["code"] for row in rows]
        assert sorted({code for code in codes if codes.count(code) > 1}) == [], kind
        assert [code for code in codes if not CODE_FORMS[kind].fullmatch(code)] == [], kind
        assert [row for row in rows if not row["name"].strip()] == [], kind
    # The demo policy's five chronic diseases (docs/domain.md: I10, E11, J44, I25, N18) each have codes a
    # HIS can send, and the appended rows (issue 24) keep the national names (K64.900 痔, not the old I84).
    diagnoses = {row["code"]: row["name"] for row in csv.DictReader(io.StringIO(demo_code_files()[0][1]))}
    for category in ("I10", "E11", "J44", "I25", "N18"):
        assert any(code.startswith(f"{category}.") for code in diagnoses), category
    assert diagnoses["K64.900"] == "痔"
