"""Out-of-area care within one platform (省内异地就医; docs/domain.md, "Out-of-area care"): a person
insured in region A (341524, the demo policy) stays at a level-2 hospital of region B (341502, 六安市金安区,
which has a policy of its own), through the gateway in front of the real settlement service on both backends.

就医地目录、参保地政策、就医地管理: the lines are classified by the platform's catalogue with the price cap of
the treating hospital's level; the money follows A's policy (deductible, ratio, filed or unfiled cut), never
B's; B's agreement with its hospital decides whether it may settle at all. The answer says so:
``insuplc_admdvs`` A, ``mdtrtarea_admvs`` B, ``pay_loc`` 3 (省内异地), ``clr_optins`` B (B's agency clears
with its hospital).

Every stay below is the same bill (item B is 乙 with 10 % paid first; K is 甲, capped at 12.00, at 10.00 in
level-2 hospitals):
    100 × B at 50.00 = 5,000.00: 500.00 paid first, 4,500.00 in range
     10 × K at 12.00 =   120.00: over the level-2 cap (12.00 − 10.00) × 10 = 20.00, 100.00 in range
    bill 5,120.00; policy range 4,500.00 + 100.00 = 4,600.00.
A's policy at level 2 (the demo's): deductible 300.00 at the first admission, ratio 60 %; out of area
without a filing 10 points less, with one the local ratio (0 points)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gateway.security.models import Institution as GatewayInstitution
from prometheus_client import REGISTRY
from settlement.policy.document import FilingRules, Inpatient, jinzhai_yutian_demo

from platformctl.demo import demo_credentials
from tests.gateway.office import WHEN, Office, refused
from tests.gateway.test_filed_care import referral
from tests.settlement.conftest import HOSPITAL, REGION

AWAY_REGION = "341502"
AWAY_HOSPITAL = "H34150200001"
SUSPENDED_AWAY = "H34150200009"


async def region_b(office: Office) -> None:
    """Region B: its level-2 hospital (and a suspended one) at settlement and at the gateway, its own
    policy (deductible 400.00 and 70 % at level 2, 20 points off unfiled and 5 off filed out-of-area care:
    none of which a person of A gets), and item K with its level-2 cap."""
    for code, status in ((AWAY_HOSPITAL, "active"), (SUSPENDED_AWAY, "suspended")):
        body = {
            "fixmedins_code": code, "fixmedins_name": "金安区医院", "fixmedins_type": "1", "hosp_lv": "2",
            "admdvs": AWAY_REGION, "agreement_begin": "2025-01-01", "status": status,
        }  # fmt: skip
        assert (await office.api.post("/api/v1/institutions", body)).status_code == 201
    assert office.gateway_db is not None
    async with office.gateway_db.transaction() as session:
        for code in (AWAY_HOSPITAL, SUSPENDED_AWAY):
            # A worker's PostgreSQL gateway database outlives the test: registered once.
            if await session.get(GatewayInstitution, code) is None:
                paasid, secret = demo_credentials(code)
                row = GatewayInstitution(
                    fixmedins_code=code, fixmedins_name="金安区医院", paasid=paasid, secret=secret
                )
                session.add(row)
    demo = jinzhai_yutian_demo()
    inpatient = Inpatient(
        deductible_by_level={"1": 300_00, "2": 400_00, "3": 600_00},
        admission_deductible_factors=[Decimal(1)],
        ratio_by_level={"1": Decimal("0.8"), "2": Decimal("0.7"), "3": Decimal("0.6")},
    )
    own = demo.model_copy(
        update={
            "inpatient": inpatient,
            "unfiled_out_of_area_reduction": Decimal("0.2"),
            "filings": FilingRules(filed_out_of_area_reduction=Decimal("0.05")),
        }
    )
    policy = {"admdvs": AWAY_REGION, "insutype": "390", "name": "金安区", "effective_from": "2026-01-01",
              "document": own.model_dump(mode="json")}  # fmt: skip
    assert (await office.api.post("/api/v1/policies", policy)).status_code == 201
    item = {"med_list_codg": "K", "name": "限价甲类", "med_chrgitm_type": "09", "chrgitm_lv": "1",
            "pric_uplmt": "12", "pric_uplmt_by_level": {"2": "10"}}  # fmt: skip
    assert (await office.api.post("/api/v1/catalogue/items", item)).status_code == 201


def line(
    sn: str, mdtrt_id: str, psn_no: str, code: str, cnt: str, pric: str, amount: str, *, when: str = WHEN
) -> dict[str, Any]:
    return {
        "feedetl_sn": sn, "mdtrt_id": mdtrt_id, "psn_no": psn_no, "fee_ocur_time": when,
        "med_list_codg": code, "medins_list_codg": f"H{code}", "det_item_fee_sumamt": amount, "cnt": cnt,
        "pric": pric, "hosp_appr_flag": "",
    }  # fmt: skip


#: The bill of every stay unless a test names another: (code, cnt, pric, amount).
BILL = (("B", "100", "50", "5000.00"), ("K", "10", "12", "120.00"))


class Counter:
    """The cashier of one hospital of one region, speaking for persons insured in region A."""

    def __init__(self, office: Office, fixmedins_code: str, region: str, *, sign_as: str | None) -> None:
        self.office, self.code, self.region, self.sign_as = office, fixmedins_code, region, sign_as

    async def send(self, infno: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.office.send(
            infno, body, fixmedins_code=self.code, mdtrtarea_admvs=self.region, sign_as=self.sign_as
        )

    async def stay(
        self,
        psn_no: str,
        bill: tuple[tuple[str, str, str, str], ...] = BILL,
        total: str = "5120.00",
        *,
        insutype: str = "390",
        when: str = WHEN,
    ) -> tuple[str, dict[str, Any]]:
        """Admitted (21) under ``insutype`` at ``when``, the bill above uploaded, discharged then, settled
        (2401, 2301, 2402, 2304): the stay's mdtrt_id and the 2304 answer."""
        who = {"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": self.office.certnos[psn_no]}
        ipt_no = f"ZY{self.office.sequence}"
        info = {**who, "insutype": insutype, "begntime": when, "med_type": "21", "ipt_no": ipt_no}
        admitted = await self.send("2401", {"mdtrtinfo": info})
        assert admitted["infcode"] == 0, admitted["err_msg"]
        mdtrt_id = admitted["output"]["result"]["mdtrt_id"]
        lines = [line(str(i), mdtrt_id, psn_no, *item, when=when) for i, item in enumerate(bill, 1)]
        uploaded = await self.send("2301", {"feedetail": lines})
        assert uploaded["infcode"] == 0, uploaded["err_msg"]
        discharge = {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "insutype": insutype, "endtime": when,
                     "dscg_way": "1"}  # fmt: skip
        assert (await self.send("2402", {"dscginfo": discharge}))["infcode"] == 0
        settle = {**who, "mdtrt_id": mdtrt_id, "medfee_sumamt": total, "insutype": insutype,
                  "mid_setl_flag": "0"}  # fmt: skip
        return mdtrt_id, await self.send("2304", {"data": settle})

    async def reverse(self, psn_no: str, mdtrt_id: str, setl_id: str) -> dict[str, Any]:
        return await self.send("2305", {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no}})


def amounts(answer: dict[str, Any]) -> tuple[Decimal, ...]:
    """(bill, over the cap, paid first, policy range, deductible, ratio, pooled fund, cash)."""
    assert answer["infcode"] == 0, answer["err_msg"]
    info = answer["output"]["setlinfo"]
    names = ("medfee_sumamt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc",
             "pool_prop_selfpay", "hifp_pay", "psn_cash_pay")  # fmt: skip
    return tuple(Decimal(str(info[name])) for name in names)


def regions(answer: dict[str, Any]) -> tuple[str, str, str, str]:
    info = answer["output"]["setlinfo"]
    return info["insuplc_admdvs"], info["mdtrtarea_admvs"], info["pay_loc"], info["clr_optins"]


def away(office: Office) -> Counter:
    return Counter(office, AWAY_HOSPITAL, AWAY_REGION, sign_as=AWAY_HOSPITAL)


def counted(operation: str) -> tuple[float, float]:
    """The out-of-area counters of A → B (settlements, fund fen) for ``operation``."""
    labels = {"insuplc_admdvs": REGION, "mdtrtarea_admvs": AWAY_REGION, "operation": operation}
    count = REGISTRY.get_sample_value("settlement_out_of_area_total", {**labels, "pay_loc": "3"}) or 0.0
    fen = REGISTRY.get_sample_value("settlement_out_of_area_fund_fen_total", labels) or 0.0
    return count, fen


async def test_a_person_of_a_unfiled_at_a_level_2_hospital_of_b_and_its_reversal(office: Office) -> None:
    await region_b(office)
    psn_no = await office.person()
    counter = away(office)
    settled_before, reversed_before = counted("settle"), counted("reverse")
    mdtrt_id, settled = await counter.stay(psn_no)
    # A's policy, unfiled: ratio 0.60 − 0.10 = 0.50; (4,600.00 − 300.00) × 0.50 = 2,150.00 pooled;
    # cash 5,120.00 − 2,150.00 = 2,970.00. (B's own policy would have paid (4,600.00 − 400.00) × 0.50 =
    # 2,100.00: not what a person of A gets.)
    assert amounts(settled) == (
        Decimal("5120.00"), Decimal("20.00"), Decimal("500.00"), Decimal("4600.00"), Decimal("300.00"),
        Decimal("0.5"), Decimal("2150.00"), Decimal("2970.00"),
    )  # fmt: skip
    assert regions(settled) == (REGION, AWAY_REGION, "3", AWAY_REGION)
    [pooled] = [row for row in settled["output"]["setldetail"] if row["fund_pay_type"] == "390100"]
    assert "(4600.00 - 300.00) 比例 0.5 = 2150.00" in pooled["setl_proc_info"]

    setl_id = settled["output"]["setlinfo"]["setl_id"]
    undone = await counter.reverse(psn_no, mdtrt_id, setl_id)
    # Every amount negated: −2,150.00 pooled, −2,970.00 cash; still A's person at B's hospital.
    assert amounts(undone) == (
        Decimal("-5120.00"), Decimal("-20.00"), Decimal("-500.00"), Decimal("-4600.00"), Decimal("-300.00"),
        Decimal("0.5"), Decimal("-2150.00"), Decimal("-2970.00"),
    )  # fmt: skip
    assert regions(undone) == (REGION, AWAY_REGION, "3", AWAY_REGION)
    # Counted once each, with the fund's 2,150.00 (215,000 fen).
    assert counted("settle") == (settled_before[0] + 1, settled_before[1] + 215_000)
    assert counted("reverse") == (reversed_before[0] + 1, reversed_before[1] + 215_000)
    # The reversal gave back the admission: the next stay is again the year's first (deductible 300.00 × 1,
    # not × 0.5), so the same bill pays the same 2,150.00.
    _, again = await counter.stay(psn_no)
    assert amounts(again)[4:] == (Decimal("300.00"), Decimal("0.5"), Decimal("2150.00"), Decimal("2970.00"))


async def test_a_person_of_a_filed_for_b_gets_a_s_filed_ratio_and_its_reversal(office: Office) -> None:
    await region_b(office)
    psn_no = await office.person()
    filed = await office.send("2501", referral(psn_no))  # filed for 341502 from 2026-11-01
    assert filed["infcode"] == 0, filed["err_msg"]
    counter = away(office)
    mdtrt_id, settled = await counter.stay(psn_no)
    # A's filed ratio: the local 0.60 (0 points off; B's policy would take 5 off); (4,600.00 − 300.00) × 0.60
    # = 2,580.00 pooled; cash 5,120.00 − 2,580.00 = 2,540.00.
    assert amounts(settled) == (
        Decimal("5120.00"), Decimal("20.00"), Decimal("500.00"), Decimal("4600.00"), Decimal("300.00"),
        Decimal("0.6"), Decimal("2580.00"), Decimal("2540.00"),
    )  # fmt: skip
    assert regions(settled) == (REGION, AWAY_REGION, "3", AWAY_REGION)
    setl_id = settled["output"]["setlinfo"]["setl_id"]
    undone = await counter.reverse(psn_no, mdtrt_id, setl_id)
    assert amounts(undone)[6:] == (Decimal("-2580.00"), Decimal("-2540.00"))
    assert regions(undone) == (REGION, AWAY_REGION, "3", AWAY_REGION)
    # Reversed twice: the first reversal stands.
    refused(await counter.reverse(psn_no, mdtrt_id, setl_id), "ALREADY_REVERSED")


async def test_at_home_the_same_stay_is_local_and_b_decides_who_may_settle(office: Office) -> None:
    await region_b(office)
    psn_no = await office.person()
    home = Counter(office, HOSPITAL, REGION, sign_as=None)
    _, settled = await home.stay(psn_no)
    # At A's own level-2 hospital: (4,600.00 − 300.00) × 0.60 = 2,580.00; pay_loc 2 (医疗机构), A clears.
    assert amounts(settled)[4:] == (Decimal("300.00"), Decimal("0.6"), Decimal("2580.00"), Decimal("2540.00"))
    assert regions(settled) == (REGION, REGION, "2", REGION)
    # 就医地管理: B's agreement with its hospital is suspended, so a person of A cannot settle there either.
    suspended = Counter(office, SUSPENDED_AWAY, AWAY_REGION, sign_as=SUSPENDED_AWAY)
    person = await office.person(14)
    info = {"psn_no": person, "mdtrt_cert_type": "02", "mdtrt_cert_no": office.certnos[person],
            "insutype": "390", "begntime": WHEN, "med_type": "21", "ipt_no": "ZY-SUSPENDED"}  # fmt: skip
    refused(await suspended.send("2401", {"mdtrtinfo": info}), "INSTITUTION_NOT_ACTIVE")
    # The region named must be the hospital's: B's hospital is not A's.
    wrong = Counter(office, AWAY_HOSPITAL, REGION, sign_as=AWAY_HOSPITAL)
    refused(await wrong.send("2401", {"mdtrtinfo": {**info, "ipt_no": "ZY-WRONG"}}), "ADMVS_MISMATCH")
    # The insured region named must be the person's.
    other = await office.send(
        "2401", {"mdtrtinfo": {**info, "ipt_no": "ZY-OTHER"}}, fixmedins_code=AWAY_HOSPITAL,
        mdtrtarea_admvs=AWAY_REGION, insuplc_admdvs=AWAY_REGION, sign_as=AWAY_HOSPITAL,
    )  # fmt: skip
    refused(other, "ADMDVS_MISMATCH")


async def test_the_treating_regions_own_price_cap_applies_there(office: Office) -> None:
    """就医地限价: item R is 甲, capped at 12.00, and region B caps it at 9.00 at its institutions. 100 × R at
    12.00 = 1,200.00 (A's level-2 deductible 300.00 at each person's first admission):
    - at B's hospital: (12.00 − 9.00) × 100 = 300.00 over the cap, 900.00 in range; unfiled
      (900.00 − 300.00) × 50 % = 300.00 pooled, cash 1,200.00 − 300.00 = 900.00;
    - at A's own hospital: no cap passed, 1,200.00 in range; (1,200.00 − 300.00) × 60 % = 540.00."""
    await region_b(office)
    item = {"med_list_codg": "R", "name": "就医地限价甲类", "med_chrgitm_type": "09", "chrgitm_lv": "1",
            "pric_uplmt": "12", "pric_uplmt_by_admdvs": {AWAY_REGION: "9"}}  # fmt: skip
    created = await office.api.post("/api/v1/catalogue/items", item)
    assert created.status_code == 201, created.text
    assert {k: Decimal(v) for k, v in created.json()["pric_uplmt_by_admdvs"].items()} == {AWAY_REGION: 9}
    bill = (("R", "100", "12", "1200.00"),)
    _, there = await away(office).stay(await office.person(), bill, "1200.00")
    assert amounts(there)[1:] == (
        Decimal("300.00"), Decimal("0.00"), Decimal("900.00"), Decimal("300.00"), Decimal("0.5"),
        Decimal("300.00"), Decimal("900.00"),
    )  # fmt: skip
    home_counter = Counter(office, HOSPITAL, REGION, sign_as=None)
    _, home = await home_counter.stay(await office.person(14), bill, "1200.00")
    assert amounts(home)[1:] == (
        Decimal("0.00"), Decimal("0.00"), Decimal("1200.00"), Decimal("300.00"), Decimal("0.6"),
        Decimal("540.00"), Decimal("660.00"),
    )  # fmt: skip
    bad = {**item, "med_list_codg": "R2", "pric_uplmt_by_admdvs": {"3415": "9"}}
    assert (await office.api.post("/api/v1/catalogue/items", bad)).status_code == 422
    negative = {**item, "med_list_codg": "R3", "pric_uplmt_by_admdvs": {AWAY_REGION: "-1"}}
    assert (await office.api.post("/api/v1/catalogue/items", negative)).status_code == 422


def caps_of(answer: dict[str, Any], codes: set[str]) -> dict[str, tuple[Any, ...]]:
    """1318's rows of ``codes``: code → (cap for every level, level-2 cap, insu_admdvs)."""
    assert answer["infcode"] == 0, answer["err_msg"]
    return {
        row["hilist_code"]: (
            None if row.get("hilist_pric_uplmt_amt") is None else Decimal(str(row["hilist_pric_uplmt_amt"])),
            None if row.get("pric_uplmt_lv2") is None else Decimal(str(row["pric_uplmt_lv2"])),
            row["insu_admdvs"],
        )
        for row in answer["output"]["data"]
        if row["hilist_code"] in codes
    }


async def test_regional_caps_come_in_the_import_file_and_1318_answers_the_callers_region(
    office: Office,
) -> None:
    """The catalogue file's ``pric_uplmt_by_admdvs`` column (``区划:限价`` pairs, ``;`` between them) sets a
    treating region's own caps; 1318 answers each institution the caps in force at it: B's hospital gets
    B's cap where B set one (for every level, ``insu_admdvs`` B), the platform's elsewhere; A's hospital
    never sees B's. S is 甲 capped at 12.00 with B's 9.00; T has no cap but B's 7.50; K (region_b) is capped
    12.00, 10.00 at level 2, by no region."""
    await region_b(office)
    header = "med_list_codg,name,med_chrgitm_type,chrgitm_lv,pric_uplmt,pric_uplmt_by_admdvs\n"
    good = header + f"S,就医地限价甲类,09,1,12,{AWAY_REGION}:9\nT,仅就医地限价,09,1,,{AWAY_REGION}:7.50\n"
    imported = await office.api.client.post("/api/v1/catalogue/items/import", content=good.encode())
    assert imported.status_code == 200, imported.text
    assert imported.json()["imported"] == 2
    stored = await office.api.client.get("/api/v1/catalogue/items/T")
    assert {k: Decimal(v) for k, v in stored.json()["pric_uplmt_by_admdvs"].items()} == {
        AWAY_REGION: Decimal("7.5")
    }
    # A pair without its ':' and a region of four digits: the whole file refused, each line named.
    bad = header + f"U,坏,09,1,12,{AWAY_REGION}=9\nV,坏,09,1,12,3415:9\n"
    refused_file = await office.api.client.post("/api/v1/catalogue/items/import", content=bad.encode())
    assert refused_file.status_code == 422
    assert refused_file.json()["error"]["code"] == "IMPORT_REFUSED"
    details = refused_file.json()["error"]["details"]
    assert [(d["line"], d["med_list_codg"]) for d in details] == [(2, "U"), (3, "V")]
    assert details[0]["message"].startswith("pric_uplmt_by_admdvs: 就医地限价须写作 区划:限价")
    assert "就医地限价的区划须为6位数字" in details[1]["message"]

    page = {"data": {"ver": "0", "page_num": 1}}
    codes = {"S", "T", "K"}
    assert caps_of(await away(office).send("1318", page), codes) == {
        "K": (Decimal("12"), Decimal("10"), REGION),
        "S": (Decimal("9"), None, AWAY_REGION),
        "T": (Decimal("7.5"), None, AWAY_REGION),
    }
    home = Counter(office, HOSPITAL, REGION, sign_as=None)
    assert caps_of(await home.send("1318", page), codes) == {
        "K": (Decimal("12"), Decimal("10"), REGION),
        "S": (Decimal("12"), None, REGION),
    }
    # The file form of 1318 for B's hospital holds the same: S's row names B and its 9.00.
    info = await away(office).send("1318", {"data": {"ver": "0"}})
    assert info["infcode"] == 0, info["err_msg"]
    assert info["output"]["recordCounts"] == len(
        (await away(office).send("1318", {"data": {"ver": "0", "page_num": 1}}))["output"]["data"]
    )

    # Settled at B's hospital: 10 × T at 10.00 = 100.00, over B's cap (10.00 − 7.50) × 10 = 25.00, 75.00 in
    # range; A's level-2 deductible 300.00 is not met, so A's fund pays 0.00 and the cash is 100.00.
    _, there = await away(office).stay(await office.person(15), (("T", "10", "10", "100.00"),), "100.00")
    assert amounts(there)[:4] == (Decimal("100.00"), Decimal("25.00"), Decimal("0.00"), Decimal("75.00"))
    assert amounts(there)[6:] == (Decimal("0.00"), Decimal("100.00"))
