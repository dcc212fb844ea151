"""The demo data set: one county pooling region (Jinzhai, 341524) with its enrollment rules and
contribution standards, institutions of three kinds, a small catalogue, an outpatient-pooling policy, and a
few households of covered persons with valid ID numbers and social-security cards.

Numbers: contribution 30 yuan personal + 20 yuan government subsidy split central:provincial:city:county =
10:3:2:5 (Jinzhai, docs/domain.md). Pharmacy outpatient pooling is set here to a 20 yuan yearly deductible,
50 % and a 300 yuan yearly cap (illustrative). So that the demo works on any day, the demo region accepts late
payment for the current year until 31 December with no waiting period. Loading goes through the services'
APIs, exactly as an operator would, and is safe to repeat."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from settlement.policy.document import jinzhai_yutian_demo

from shared.auth import ADMINISTRATOR, DEV_AUTH_SECRET, issue_token
from shared.clock import now_china
from shared.idcard import make_id_number

REGION = "341524"
REGION_NAME = "金寨县"


@dataclass(frozen=True)
class DemoPerson:
    name: str
    birth: date
    sequence: int
    household_no: str
    relation: str
    identity: str | None = None

    @property
    def certno(self) -> str:
        return make_id_number(REGION, self.birth, self.sequence)

    @property
    def card_no(self) -> str:
        return f"J{REGION}{self.sequence:05d}"

    @property
    def card_sn(self) -> str:
        return f"SN{self.sequence:08d}"


PERSONS = (
    DemoPerson("张三", date(1985, 3, 12), 13, "341524-0001", "head"),
    DemoPerson("李秀英", date(1958, 7, 1), 24, "341524-0002", "head"),
    DemoPerson("王小明", date(2015, 9, 30), 35, "341524-0001", "child"),
    DemoPerson("赵敏", date(1979, 11, 8), 46, "341524-0003", "head", identity="2102"),
)

REGION_RULES = {
    "admdvs": REGION,
    "name": REGION_NAME,
    "late_until_month": 12,
    "late_until_day": 31,
    "late_waiting_days": 0,
    "newborn_grace_days": 90,
    "subsidy_central": 10,
    "subsidy_provincial": 3,
    "subsidy_city": 2,
    "subsidy_county": 5,
}


def standards(year: int) -> list[dict[str, Any]]:
    return [
        {"year": year, "category": "minor", "tier": "1", "personal_fen": 30_00, "subsidy_fen": 20_00},
        {"year": year, "category": "adult", "tier": "1", "personal_fen": 30_00, "subsidy_fen": 20_00},
        {"year": year, "category": "adult", "tier": "2", "personal_fen": 60_00, "subsidy_fen": 20_00},
    ]


INSTITUTIONS = (
    {
        "fixmedins_code": "H34152400001",
        "fixmedins_name": "金寨县人民医院",
        "fixmedins_type": "1",
        "hosp_lv": "2",
    },
    {
        "fixmedins_code": "H34152400002",
        "fixmedins_name": "金寨县梅山镇中心卫生院",
        "fixmedins_type": "1",
        "hosp_lv": "1",
    },
    {
        "fixmedins_code": "P34152400001",
        "fixmedins_name": "金寨县惠民大药房",
        "fixmedins_type": "2",
        "hosp_lv": "9",
    },
)
PHARMACY = INSTITUTIONS[2]

#: The five items the demo has always had (README's ready-to-paste 2102 and the e2e tests name them); they are
#: the first rows of the sample catalogue ``demo_catalogue.csv``, with the same codes and numbers.
CATALOGUE = (
    {
        "med_list_codg": "XJ01CAA040A001010100001",
        "name": "阿莫西林胶囊 0.25g",
        "med_chrgitm_type": "09",
        "chrgitm_lv": "1",
        "selfpay_prop": "0",
        "pric_uplmt": "0.500000",
    },
    {
        "med_list_codg": "XC09AAK001A001010100002",
        "name": "卡托普利片 25mg",
        "med_chrgitm_type": "09",
        "chrgitm_lv": "1",
        "selfpay_prop": "0",
        "pric_uplmt": None,
    },
    {
        "med_list_codg": "ZA12FAF0200010101100003",
        "name": "复方丹参片",
        "med_chrgitm_type": "11",
        "chrgitm_lv": "2",
        "selfpay_prop": "0.1000",
        "pric_uplmt": None,
    },
    {
        "med_list_codg": "XJ01DCC041A001010100004",
        "name": "头孢克洛胶囊 0.25g",
        "med_chrgitm_type": "09",
        "chrgitm_lv": "2",
        "selfpay_prop": "0.0500",
        "pric_uplmt": "2.500000",
        # Dispensed only with its traceability codes (docs/domain.md, "Inventory").
        "trace_required": True,
    },
    {
        "med_list_codg": "XA11GAX999A001010100005",
        "name": "维生素C咀嚼片(保健)",
        "med_chrgitm_type": "09",
        "chrgitm_lv": "3",
        "selfpay_prop": "0",
        "pric_uplmt": None,
    },
)


def policy_body(year: int) -> dict[str, Any]:
    return {
        "admdvs": REGION,
        "insutype": "390",
        "name": f"{REGION_NAME}城乡居民医保待遇政策(演示)",
        "effective_from": f"{year}-01-01",
        "effective_to": None,
        "document": jinzhai_yutian_demo().model_dump(mode="json"),
    }


def demo_credentials(fixmedins_code: str) -> tuple[str, str]:
    """(paasid, secret) of a demo institution at the gateway: development values, printed by ``run.sh``
    and used by ``platformctl his-call``; production registers real ones (PUT /api/v1/institutions)."""
    return f"paas-{fixmedins_code.lower()}", f"demo-secret-{fixmedins_code.lower()}-change-me"


def admin_token(secret: str = DEV_AUTH_SECRET) -> str:
    """A short-lived administrator token for loading the demo through the operator APIs."""
    return issue_token(secret, "demo-loader", [ADMINISTRATOR], ttl_s=3600)


def demo_catalogue_file() -> str:
    """The sample catalogue (``platformctl/demo_catalogue.csv``, written by
    ``scripts/make_demo_catalogue.py``): some 2,200 drugs, 中药饮片, medical service items and
    consumables with real names, coded in the shape of the national schemes (docs/catalogue-sample.md), in
    the columns of the settlement service's catalogue import. The office loads the full national files
    through the same import."""
    return (Path(__file__).parent / "demo_catalogue.csv").read_text(encoding="utf-8")


def demo_list_kinds_file() -> str:
    """A small sample of the items kept in national lists of their own, hospital preparations (1303),
    ethnic drugs (1304), formula granules (1320) and items of the new service list (1321), in the columns
    of the same import with ``list_kind`` (``platformctl/demo_list_kinds.csv``;
    docs/catalogue-sample.md, "The lists kept apart"). The codes are the sample's own (``DEMO-…``)."""
    return (Path(__file__).parent / "demo_list_kinds.csv").read_text(encoding="utf-8")


def demo_code_files() -> list[tuple[str, str]]:
    """The demo's diagnosis (dise) and procedure (oprn) code lists: common outpatient and inpatient
    diagnoses as the national ICD-10 医保版 codes and names them, and common operations as ICD-9-CM-3 医保版
    does (chosen by hand from those classifications; ``platformctl/demo_diagnoses.csv``,
    ``demo_procedures.csv``). The office loads the full national files the same way."""
    here = Path(__file__).parent
    return [
        ("dise", (here / "demo_diagnoses.csv").read_text(encoding="utf-8")),
        ("oprn", (here / "demo_procedures.csv").read_text(encoding="utf-8")),
    ]


def demo_national_code_files() -> list[tuple[str, str]]:
    """The demo's other national code lists: tumour morphology (tumr, 1313) as ICD-O-3 codes it
    (``M8140/3`` 腺癌: histology, ``/``, behaviour), TCM diseases (tcmdise, 1314) and TCM syndromes (tcmsymp,
    1315) in the form of GB/T 15657-2021 中医病证分类与代码 (``A…`` diseases, ``B…`` syndromes, dotted), with
    common names (``platformctl/demo_tumour_morphology.csv``, ``demo_tcm_diseases.csv``,
    ``demo_tcm_syndromes.csv``; docs/domain.md says how far the TCM codes are checked)."""
    here = Path(__file__).parent
    return [
        ("tumr", (here / "demo_tumour_morphology.csv").read_text(encoding="utf-8")),
        ("tcmdise", (here / "demo_tcm_diseases.csv").read_text(encoding="utf-8")),
        ("tcmsymp", (here / "demo_tcm_syndromes.csv").read_text(encoding="utf-8")),
    ]


def demo_payment_disease_files() -> list[tuple[str, str]]:
    """A sample of the diseases paid by disease (bydise, 1310) and treated by day surgery (daysrg, 1311),
    not a region's list: pairs of the demo's own diagnoses and procedures (ICD-10 医保版 and ICD-9-CM-3
    医保版 codes and names as ``demo_diagnoses.csv`` and ``demo_procedures.csv`` hold them) of the kind
    such lists hold (normal and caesarean delivery, appendectomy, cataract, inguinal hernia,
    cholecystectomy...), each keyed by its diagnosis code (``platformctl/demo_bydise.csv``,
    ``demo_day_surgery.csv``). A region loads its own list through the same import."""
    here = Path(__file__).parent
    return [
        ("bydise", (here / "demo_bydise.csv").read_text(encoding="utf-8")),
        ("daysrg", (here / "demo_day_surgery.csv").read_text(encoding="utf-8")),
    ]


async def _post(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> httpx.Response:
    response = await client.post(url, json=body)
    if response.status_code not in (200, 201, 409):
        raise RuntimeError(f"POST {url} -> {response.status_code}: {response.text}")
    return response


async def load_demo(
    enrollment_url: str,
    settlement_url: str,
    *,
    gateway_url: str | None = None,
    token: str | None = None,
    echo: Callable[[str], None] = print,
    wait_s: float = 60.0,
) -> dict[str, str]:
    """Load everything; returns certno -> psn_no once settlement's eligibility has every person.
    ``gateway_url``: also register the demo institutions' credentials at the gateway. ``token``: an
    administrator's bearer token (default: minted from the development auth secret)."""
    year = now_china().year
    today = now_china().date()
    headers = {"Authorization": f"Bearer {token or admin_token()}"}
    async with httpx.AsyncClient(timeout=10, headers=headers) as client:
        if gateway_url is not None:
            for inst in INSTITUTIONS:
                paasid, secret = demo_credentials(inst["fixmedins_code"])
                response = await client.put(
                    f"{gateway_url}/api/v1/institutions/{inst['fixmedins_code']}",
                    json={"fixmedins_name": inst["fixmedins_name"], "paasid": paasid, "secret": secret},
                )
                response.raise_for_status()
        for inst in INSTITUTIONS:
            await _post(
                client,
                f"{settlement_url}/api/v1/institutions",
                {**inst, "admdvs": REGION, "agreement_begin": f"{year - 1}-01-01"},
            )
        # One import of the whole sample (all or nothing; re-running it leaves every item unchanged).
        response = await client.post(
            f"{settlement_url}/api/v1/catalogue/items/import",
            content=demo_catalogue_file().encode("utf-8"),
            headers={"content-type": "text/csv"},
            timeout=300,
        )
        if response.status_code != 200:
            raise RuntimeError(f"catalogue import -> {response.status_code}: {response.text[:2000]}")
        imported = response.json()
        catalogue_items = imported["imported"] + imported["unchanged"]
        response = await client.post(
            f"{settlement_url}/api/v1/catalogue/items/import",
            content=demo_list_kinds_file().encode("utf-8"),
            headers={"content-type": "text/csv"},
        )
        if response.status_code != 200:
            raise RuntimeError(f"list kinds import -> {response.status_code}: {response.text[:2000]}")
        kinds = response.json()
        catalogue_items += kinds["imported"] + kinds["unchanged"]
        for kind, text in demo_code_files() + demo_national_code_files() + demo_payment_disease_files():
            # Imports like the catalogue's: the 877 diagnoses take some 10 s on a busy two-core machine.
            response = await client.post(
                f"{settlement_url}/api/v1/catalogue/codes/{kind}/import",
                content=text.encode("utf-8"),
                timeout=300,
            )
            if response.status_code != 200:
                raise RuntimeError(f"code list {kind} -> {response.status_code}: {response.text}")
        policies = (await client.get(f"{settlement_url}/api/v1/policies")).json()
        if not any(p["admdvs"] == REGION and p["insutype"] == "390" for p in policies):
            await _post(client, f"{settlement_url}/api/v1/policies", policy_body(year))

        (await client.put(f"{enrollment_url}/api/v1/regions/{REGION}", json=REGION_RULES)).raise_for_status()
        for standard in standards(year):
            await _post(client, f"{enrollment_url}/api/v1/regions/{REGION}/standards", standard)
        households: dict[str, list[DemoPerson]] = {}
        for person in PERSONS:
            households.setdefault(person.household_no, []).append(person)
        for household_no, members in households.items():
            await _post(
                client,
                f"{enrollment_url}/api/v1/households",
                {
                    "household_no": household_no,
                    "admdvs": REGION,
                    "address": f"{REGION_NAME}演示村",
                    "members": [
                        {"certno": m.certno, "psn_name": m.name, "relation": m.relation} for m in members
                    ],
                },
            )

        psn_nos: dict[str, str] = {}
        for person in PERSONS:
            found = await client.get(
                f"{enrollment_url}/api/v1/persons/lookup", params={"certno": person.certno}
            )
            found.raise_for_status()
            psn_no = found.json()["person"]["psn_no"]
            psn_nos[person.certno] = psn_no
            if person.identity and not found.json()["identities"]:
                await _post(
                    client,
                    f"{enrollment_url}/api/v1/persons/{psn_no}/identities",
                    {"psn_idet_type": person.identity, "begin_date": f"{year}-01-01"},
                )
            enrollment: dict[str, Any] = {"psn_no": psn_no, "year": year}
            if not person.identity:  # a subsidised person's contribution is paid by medical assistance
                enrollment["payment"] = {
                    "payer": "individual",
                    "amount_fen": 30_00,
                    "receipt_no": f"DEMO{year}{person.sequence:04d}",
                    "paid_on": str(today),
                }
            await _post(client, f"{enrollment_url}/api/v1/enrollments", enrollment)
            await _post(
                client,
                f"{enrollment_url}/api/v1/persons/{psn_no}/cards",
                {"card_no": person.card_no, "card_sn": person.card_sn, "issued_on": str(today)},
            )

        # Coverage reaches settlement through enrollment.events; wait until it has arrived.
        deadline = asyncio.get_running_loop().time() + wait_s
        for certno, psn_no in psn_nos.items():
            while True:
                response = await client.get(f"{settlement_url}/api/v1/eligibility/{psn_no}")
                if response.status_code == 200:
                    break
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"eligibility of {certno} did not reach settlement within {wait_s}s")
                await asyncio.sleep(0.2)
    echo(
        f"demo data loaded: {len(INSTITUTIONS)} institutions, {catalogue_items} catalogue items, "
        f"{len(PERSONS)} covered persons in {len(households)} households of {REGION} ({REGION_NAME}) "
        f"for {year}"
    )
    return psn_nos
