"""The HIS side of the load benchmark: institutions that sign every request (x-tif-* headers), sign in once
per operator (9001), number their msgids the national way and send settlements through the gateway.

A *flow* is what one patient at one counter costs:

* ``pharmacy``: 2102 with 1-10 drug lines;
* ``outpatient``: 2201 registration, 2204 fee upload (1-10 lines), 2207 settlement;
* ``inpatient``: 2401 admission, 2301 fee upload (20-200 lines, or ``lines``), 2402 discharge, 2304
  settlement (the platform settles a stay after discharge, or mid-stay with mid_setl_flag 1);
* ``mapped``: 2102 at a pharmacy that mapped part of its catalogue with 3301 (``prepare_day``), its lines
  carrying only the pharmacy's own codes (``med_list_codg`` empty), as such a POS sends them;
* ``chronic``: 2102 of a registered 门慢门特 patient (med_type 140104 with the filed disease);
* ``filing``: 2503, a patient registered for a chronic disease at a hospital (then a ``chronic`` patient).

Every answer is checked: infcode 0, and for the settling transactions a setl_id. Latency is measured per
transaction code from sending the request to having read the whole answer. Requests go over ``rawhttp``
(kept-alive connections, one request each at a time): the load generator shares the platform's two cores,
and httpx cost about 2.5 ms of its CPU per request, rawhttp about 0.2 ms.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import rawhttp
from gateway.security.schemes import TifSha256
from seed import REGION, person  # bench/ is on sys.path when a script here runs

GATEWAY_PATH = "/fsi/api/rsfComIfsService/callService"
SETTLING = frozenset({"2102", "2207", "2304"})
#: Two diseases of the demo policy's 门慢门特 list (``jinzhai_yutian_demo``), with their names.
CHRONIC_DISEASES = (("E11", "2型糖尿病"), ("I10", "特发性（原发性）高血压"))
_SCHEME = TifSha256()


@dataclass
class Institution:
    code: str
    name: str
    kind: str  # "pharmacy" or "hospital"
    level: str
    paasid: str
    secret: str
    sign_no: str = ""
    _sequence: int = 0
    _second: str = ""

    def msgid(self) -> str:
        now = datetime.now().strftime("%Y%m%d%H%M%S")  # the HIS clock: China time on this machine
        if now != self._second:
            self._second, self._sequence = now, 0
        self._sequence += 1
        if self._sequence > 9999:
            raise RuntimeError(f"more than 9999 msgids in one second for {self.code}")
        return f"{self.code}{now}{self._sequence:04d}"


@dataclass(frozen=True)
class Item:
    code: str
    kind: str  # "drug", "service", "material"
    price: Decimal


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: dict[str, str] = field(default_factory=dict)
    settlements: int = 0
    #: setl_id -> fund_pay_sumamt in fen, of every settlement answered with infcode 0.
    settled: dict[str, int] = field(default_factory=dict)
    flows: Counter[str] = field(default_factory=Counter)
    #: Outcome-unknown answers resolved by sending the same msgid again (still counted as errors).
    doubts_settled: int = 0

    def error(self, key: str, sample: str) -> None:
        self.errors[key] += 1
        self.error_samples.setdefault(key, sample[:300])


def summary(values: list[float]) -> dict[str, Any]:
    """Nearest-rank percentiles, in milliseconds."""
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return round(ordered[max(0, min(len(ordered) - 1, int(-(-p * len(ordered) // 1)) - 1))] * 1000, 1)

    return {
        "count": len(ordered),
        "p50_ms": rank(0.50),
        "p95_ms": rank(0.95),
        "p99_ms": rank(0.99),
        "max_ms": round(ordered[-1] * 1000, 1),
        "mean_ms": round(sum(ordered) / len(ordered) * 1000, 1),
    }


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


class His:
    def __init__(
        self,
        gateway_url: str,
        institutions: list[Institution],
        items: list[Item],
        persons: int,
        *,
        seed: int,
        connections: int,
    ) -> None:
        self.pharmacies = [i for i in institutions if i.kind == "pharmacy"]
        self.hospitals = [i for i in institutions if i.kind == "hospital"]
        self.drugs = [i for i in items if i.kind == "drug"]
        self.hospital_items = items
        self.persons = persons
        self.rng = random.Random(seed)
        self.client = rawhttp.Client(gateway_url, connections=connections, timeout_s=30.0)
        self._visit = 0
        #: A mapped pharmacy's code -> its own codes and the national items they map to (``prepare_day``).
        self.mapped: dict[str, list[tuple[str, Item]]] = {}
        #: Registered chronic patients: (person index, disease); registrations go from person 0 upwards.
        self.filed: list[tuple[int, str]] = []
        self._unfiled = iter(range(persons))

    async def close(self) -> None:
        await self.client.close()

    def envelope(self, inst: Institution, infno: str, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "infno": infno,
            "msgid": inst.msgid(),
            "mdtrtarea_admvs": REGION,
            "insuplc_admdvs": REGION,
            "recer_sys_code": "YBXT",
            "dev_no": "",
            "dev_safe_info": "",
            "cainfo": "",
            "signtype": "",
            "infver": "V1.0",
            "opter_type": "1",
            "opter": "001",
            "opter_name": "收款员",
            "inf_time": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
            "fixmedins_code": inst.code,
            "fixmedins_name": inst.name,
            "sign_no": inst.sign_no,
            "input": body,
        }

    async def send(self, inst: Institution, infno: str, body: dict[str, Any], stats: Stats) -> dict[str, Any]:
        """One signed request; returns ``output`` of an infcode-0 answer, raises ``Failed`` otherwise."""
        raw = json.dumps(self.envelope(inst, infno, body), ensure_ascii=False).encode()
        headers = {"content-type": "application/json", **_SCHEME.sign(inst.paasid, inst.secret)}
        started = time.perf_counter()
        try:
            response = await self.client.post(GATEWAY_PATH, raw, headers)
            text = response.text
        except rawhttp.HttpError as exc:
            stats.error(f"{infno} {type(exc).__name__}", repr(exc))
            raise Failed from exc
        elapsed = time.perf_counter() - started
        stats.latencies[infno].append(elapsed)
        if response.status != 200:
            stats.error(f"{infno} HTTP {response.status}", text)
            raise Failed
        answer = json.loads(text)
        if answer.get("infcode") != 0:
            stats.error(f"{infno} infcode {answer.get('infcode')}: {str(answer.get('err_msg'))[:60]}", text)
            if "E_OUTCOME_UNKNOWN" in str(answer.get("err_msg")) and infno in SETTLING:
                # As a cashier is told to: send the same msgid again to learn what happened. The error stays
                # counted; the settlement it may have made is then known (and checked in the ledger).
                answer = await self._settle_doubt(raw, inst, stats)
            if answer.get("infcode") != 0:
                raise Failed
        output: dict[str, Any] = answer["output"]
        if infno in SETTLING:
            setlinfo = output["setlinfo"]
            setl_id = str(setlinfo["setl_id"])
            if not setl_id:
                stats.error(f"{infno} no setl_id", text)
                raise Failed
            stats.settlements += 1
            stats.settled[setl_id] = int(Decimal(str(setlinfo["fund_pay_sumamt"])) * 100)
        return output

    async def _settle_doubt(self, raw: bytes, inst: Institution, stats: Stats) -> dict[str, Any]:
        answer: dict[str, Any] = {}
        for _ in range(10):
            await asyncio.sleep(1.0)
            headers = {"content-type": "application/json", **_SCHEME.sign(inst.paasid, inst.secret)}
            try:
                response = await self.client.post(GATEWAY_PATH, raw, headers)
            except rawhttp.HttpError:
                continue
            answer = json.loads(response.text)
            if "E_OUTCOME_UNKNOWN" not in str(answer.get("err_msg")):
                stats.doubts_settled += 1
                return answer
        return answer

    async def sign_in(self, inst: Institution, stats: Stats) -> None:
        output = await self.send(
            inst, "9001", {"signIn": {"opter_no": "001", "mac": "", "ip": "127.0.0.1"}}, stats
        )
        inst.sign_no = str(output["signinoutb"]["sign_no"])

    # --- what the HIS sends ------------------------------------------------------------------------------

    def _patient(self) -> tuple[str, str, str]:
        """(psn_no, mdtrt_cert_type, mdtrt_cert_no): half show the ID number, half swipe the card."""
        p = person(self.rng.randrange(self.persons))
        if self.rng.random() < 0.5:
            return p.psn_no, "02", p.certno
        return p.psn_no, "03", p.card_no

    def _priced(self, item: Item) -> tuple[int, Decimal, int]:
        """(cnt, pric, amount in fen) of one line of ``item``, with amount = cnt x pric exactly."""
        cnt = self.rng.randint(1, 10)
        price = (item.price * Decimal(self.rng.choice([80, 95, 100, 100, 110])) / 100).quantize(
            Decimal("0.01")
        )
        return cnt, price, int(price * 100) * cnt

    def _lines(self, count: int, items: list[Item]) -> list[tuple[Item, int, Decimal, int]]:
        """(item, cnt, pric, amount in fen) with amount = cnt x pric exactly."""
        return [(item, *self._priced(item)) for item in self.rng.sample(items, min(count, len(items)))]

    async def pharmacy(self, stats: Stats, lines: int | None = None) -> None:
        chosen = self._lines(lines or self.rng.randint(1, 10), self.drugs)
        rows = [
            (item.code, f"YP{n:04d}", cnt, price, amount)
            for n, (item, cnt, price, amount) in enumerate(chosen, start=1)
        ]
        await self._purchase(self.rng.choice(self.pharmacies), self._patient(), rows, stats)

    async def _purchase(
        self,
        inst: Institution,
        patient: tuple[str, str, str],
        rows: list[tuple[str, str, int, Decimal, int]],
        stats: Stats,
        *,
        disease: str = "",
    ) -> None:
        """2102 of ``rows`` (national code, own code, cnt, pric, amount in fen); ``disease``: a 门慢门特
        purchase (med_type 140104) for that filed disease."""
        psn_no, cert_type, cert_no = patient
        when = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        info = {
            "psn_no": psn_no,
            "mdtrt_cert_type": cert_type,
            "mdtrt_cert_no": cert_no,
            "begntime": when,
            "medfee_sumamt": _yuan(sum(row[4] for row in rows)),
            "invono": "",
            "insutype": "390",
            "acct_used_flag": "0",
            "med_type": "140104" if disease else "41",
        }
        if disease:
            info["dise_codg"] = disease
        body = {
            "druginfo": info,
            "drugdetail": [
                {
                    "feedetl_sn": str(n),
                    "rxno": "",
                    "rx_circ_flag": "0",
                    "fee_ocur_time": when,
                    "med_list_codg": national,
                    "medins_list_codg": own,
                    "det_item_fee_sumamt": _yuan(amount),
                    "cnt": str(cnt),
                    "pric": str(price),
                    "prd_days": "7",
                }
                for n, (national, own, cnt, price, amount) in enumerate(rows, start=1)
            ],
        }
        await self.send(inst, "2102", body, stats)

    # --- a mixed day: mapped catalogues and chronic-disease filings --------------------------------------

    async def prepare_day(self, stats: Stats, *, pharmacies: int, drugs: int, filed: int) -> None:
        """Before the clock, what a working day finds in place: ``pharmacies`` of the pharmacies have mapped
        ``drugs`` drugs each to codes of their own (3301, one message per mapping, as a POS going live
        sends them), and ``filed`` patients are registered for a chronic disease (2503)."""
        year = datetime.now().year
        for inst in self.pharmacies[:pharmacies]:
            chosen = self.rng.sample(self.drugs, min(drugs, len(self.drugs)))
            self.mapped[inst.code] = [(f"{inst.code[-5:]}-{item.code}", item) for item in chosen]

        async def map_one(inst: Institution, own: str, item: Item) -> None:
            data = {
                "fixmedins_hilist_id": own,
                "fixmedins_hilist_name": f"本店{item.code}",
                "list_type": "102" if item.code.startswith("B11") else "101",
                "med_list_codg": item.code,
                "begndate": f"{year}-01-01",
                "aprvno": "",
            }
            await self.send(inst, "3301", {"data": data}, stats)

        work = [
            map_one(inst, own, item)
            for inst in self.pharmacies[:pharmacies]
            for own, item in self.mapped[inst.code]
        ]
        work += [self.file_chronic(stats) for _ in range(filed)]
        for start in range(0, len(work), 16):
            await asyncio.gather(*work[start : start + 16])

    async def file_chronic(self, stats: Stats) -> None:
        """2503 at a hospital: the next unregistered person registers a disease of the policy's chronic
        list (I10 or E11); from then on a ``chronic`` patient."""
        index = next(self._unfiled)
        code, name = self.rng.choice(CHRONIC_DISEASES)
        year = datetime.now().year
        data = {
            "psn_no": person(index).psn_no,
            "insutype": "390",
            "opsp_dise_code": code,
            "opsp_dise_name": name,
            "begndate": f"{year}-01-01",
            "enddate": f"{year}-12-31",
            "tel": "13800000000",
            "addr": "",
            "insu_optins": REGION,
        }
        inst = self.rng.choice(self.hospitals)
        await self.send(inst, "2503", {"data": {**data, "ide_fixmedins_no": inst.code}}, stats)
        self.filed.append((index, code))

    async def mapped_purchase(self, stats: Stats) -> None:
        """2102 at a pharmacy that mapped its drugs: lines with its own codes only."""
        code = self.rng.choice(list(self.mapped))
        inst = next(i for i in self.pharmacies if i.code == code)
        own_items = self.mapped[code]
        chosen = self.rng.sample(own_items, min(self.rng.randint(1, 10), len(own_items)))
        rows = [("", own, *self._priced(item)) for own, item in chosen]
        await self._purchase(inst, self._patient(), rows, stats)

    async def chronic(self, stats: Stats) -> None:
        """2102 of a registered chronic patient (门慢门特, med_type 140104, the filed disease)."""
        if not self.filed:
            await self.file_chronic(stats)
        index, code = self.rng.choice(self.filed)
        p = person(index)
        patient = (p.psn_no, "03", p.card_no) if self.rng.random() < 0.5 else (p.psn_no, "02", p.certno)
        chosen = self._lines(self.rng.randint(1, 5), self.drugs)
        rows = [
            (item.code, f"MB{n:04d}", cnt, price, amount)
            for n, (item, cnt, price, amount) in enumerate(chosen, start=1)
        ]
        await self._purchase(self.rng.choice(self.pharmacies), patient, rows, stats, disease=code)

    def _fee_lines(
        self, mdtrt_id: str, psn_no: str, chosen: list[tuple[Item, int, Decimal, int]], when: str
    ) -> list[dict[str, Any]]:
        return [
            {
                "feedetl_sn": str(n),
                "mdtrt_id": mdtrt_id,
                "psn_no": psn_no,
                "chrg_bchno": "B001",
                "fee_ocur_time": when,
                "med_list_codg": item.code,
                "medins_list_codg": f"YY{n:05d}",
                "det_item_fee_sumamt": _yuan(amount),
                "cnt": str(cnt),
                "pric": str(price),
                "hosp_appr_flag": "1",
            }
            for n, (item, cnt, price, amount) in enumerate(chosen, start=1)
        ]

    def _settle_data(
        self, psn_no: str, cert_type: str, cert_no: str, mdtrt_id: str, total_fen: int
    ) -> dict[str, Any]:
        return {
            "psn_no": psn_no,
            "mdtrt_cert_type": cert_type,
            "mdtrt_cert_no": cert_no,
            "medfee_sumamt": _yuan(total_fen),
            "psn_setlway": "01",
            "mdtrt_id": mdtrt_id,
            "insutype": "390",
            "acct_used_flag": "0",
            "invono": "",
        }

    async def outpatient(self, stats: Stats) -> None:
        inst = self.rng.choice(self.hospitals)
        psn_no, cert_type, cert_no = self._patient()
        when = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        self._visit += 1
        opened = await self.send(
            inst,
            "2201",
            {
                "data": {
                    "psn_no": psn_no,
                    "insutype": "390",
                    "begntime": when,
                    "mdtrt_cert_type": cert_type,
                    "mdtrt_cert_no": cert_no,
                    "ipt_otp_no": f"MZ{time.time_ns()}{self._visit % 1000:03d}"[:30],
                    "atddr_no": "D001",
                    "dr_name": "李医生",
                    "dept_code": "NK",
                    "dept_name": "内科",
                    "caty": "A03",
                }
            },
            stats,
        )
        mdtrt_id = str(opened["data"]["mdtrt_id"])
        chosen = self._lines(self.rng.randint(1, 10), self.hospital_items)
        await self.send(inst, "2204", {"feedetail": self._fee_lines(mdtrt_id, psn_no, chosen, when)}, stats)
        data = self._settle_data(psn_no, cert_type, cert_no, mdtrt_id, sum(x[3] for x in chosen))
        await self.send(inst, "2207", {"data": {**data, "med_type": "11", "chrg_bchno": "B001"}}, stats)

    async def admit(self, stats: Stats, lines: int | None = None) -> dict[str, Any]:
        """2401, 2301 and 2402: a stay ready to settle; returns the 2304 ``data`` and its institution."""
        inst = self.rng.choice(self.hospitals)
        psn_no, cert_type, cert_no = self._patient()
        when = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        self._visit += 1
        opened = await self.send(
            inst,
            "2401",
            {
                "mdtrtinfo": {
                    "psn_no": psn_no,
                    "insutype": "390",
                    "begntime": when,
                    "mdtrt_cert_type": cert_type,
                    "mdtrt_cert_no": cert_no,
                    "med_type": "21",
                    "ipt_no": f"ZY{time.time_ns()}{self._visit % 1000:03d}"[:30],
                    "adm_diag_dscr": "肺炎",
                    "adm_dept_codg": "HXK",
                    "adm_dept_name": "呼吸科",
                    "adm_bed": "12",
                },
                "diseinfo": [
                    {
                        "diag_type": "1",
                        "diag_srt_no": "1",
                        "diag_code": "J18.900",
                        "diag_name": "肺炎",
                        "maindiag_flag": "1",
                        "diag_time": when,
                    }
                ],
            },
            stats,
        )
        mdtrt_id = str(opened["result"]["mdtrt_id"])
        chosen = self._lines(lines or self.rng.randint(20, 200), self.hospital_items)
        await self.send(inst, "2301", {"feedetail": self._fee_lines(mdtrt_id, psn_no, chosen, when)}, stats)
        await self.send(
            inst,
            "2402",
            {
                "dscginfo": {
                    "mdtrt_id": mdtrt_id,
                    "psn_no": psn_no,
                    "insutype": "390",
                    "endtime": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
                    "dscg_way": "1",
                },
                "diseinfo": [],
            },
            stats,
        )
        data = self._settle_data(psn_no, cert_type, cert_no, mdtrt_id, sum(x[3] for x in chosen))
        return {"institution": inst, "data": {**data, "mid_setl_flag": "0"}}

    async def settle_stay(self, stay: dict[str, Any], stats: Stats) -> None:
        await self.send(stay["institution"], "2304", {"data": stay["data"]}, stats)

    async def inpatient(self, stats: Stats, lines: int | None = None) -> None:
        await self.settle_stay(await self.admit(stats, lines), stats)


class Failed(Exception):
    """An answer that was not infcode 0 (already counted in ``Stats.errors``)."""
