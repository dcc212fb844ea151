"""The demo's sample catalogue (``platformctl/demo_catalogue.csv``, docs/catalogue-sample.md): the script
still writes exactly the committed file, every line is an entry the settlement import accepts, the codes
are unique and have the length and parts of their national scheme, every kind of item is there, the five
items the README's 2102 names keep their numbers, and the whole file imports in one request (a second
import changes nothing)."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from settlement.catalogue.service import CSV_COLUMNS, parse_csv

from platformctl.demo import demo_catalogue_file
from tests.settlement.conftest import SettlementApi

ROOT = Path(__file__).resolve().parents[2]

#: Each kind's code as docs/catalogue-sample.md, "What has the national shape", describes it: the first
#: character(s), the length, and the med_chrgitm_type values its items take.
SHAPES = {
    "西药": (re.compile(r"X[A-Z]\d{2}[A-Z]{2}[A-Z0-9]{4}[A-Z0-9]{4}\d{9}"), {"09"}),
    "中成药": (re.compile(r"Z[A-Z]\d{2}[A-Z]{2}[A-Z0-9]{4}[A-Z0-9]{4}\d{9}"), {"11"}),
    "中药饮片": (re.compile(r"T\d{9}"), {"10"}),
    "医疗服务项目": (
        re.compile(r"00\d{9}0000"),
        {"01", "02", "03", "04", "05", "06", "07", "12", "13", "14"},
    ),
    "医用耗材": (re.compile(r"C\d{19}"), {"08"}),
}
#: Where the manufacturer (or origin) part sits: the code without it names one product.
MAKER_PART = {"西药": 5, "中成药": 5, "医用耗材": 5, "中药饮片": 3}


def rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(demo_catalogue_file())))


def kind_of(code: str) -> str:
    matches = [kind for kind, (pattern, _) in SHAPES.items() if pattern.fullmatch(code)]
    assert len(matches) == 1, f"{code}: matches {matches}"
    return matches[0]


def test_the_script_writes_exactly_the_committed_file() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_demo_catalogue.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_line_is_an_entry_the_import_accepts() -> None:
    text = demo_catalogue_file()
    assert text.splitlines()[0].split(",") == list(CSV_COLUMNS)
    entries, errors = parse_csv(text)
    assert errors == []
    data_lines = len(text.splitlines()) - 1
    # One entry per line after the header, numbered from line 2 as the import reports bad lines.
    assert [number for number, _ in entries] == list(range(2, data_lines + 2))


def test_codes_are_unique_and_shaped_as_their_scheme() -> None:
    items = rows()
    codes = Counter(row["med_list_codg"] for row in items)
    assert [code for code, n in codes.items() if n > 1] == []
    for row in items:
        kind = kind_of(row["med_list_codg"])
        assert row["med_chrgitm_type"] in SHAPES[kind][1], row


def test_every_kind_and_class_is_there() -> None:
    items = rows()
    assert len(items) >= 2000
    kinds = Counter(kind_of(row["med_list_codg"]) for row in items)
    assert set(kinds) == set(SHAPES)
    assert all(n >= 100 for n in kinds.values()), kinds
    classes = Counter((kind_of(row["med_list_codg"]), row["chrgitm_lv"]) for row in items)
    for kind in SHAPES:
        assert classes[kind, "1"] and classes[kind, "2"], (kind, classes)
    assert sum(n for (_, lv), n in classes.items() if lv == "3") > 0


def test_only_yi_class_items_pay_a_share_first() -> None:
    """甲 and 丙 items have no self-pay-first share; the 乙 items of the sample pay 5 % or 10 % first."""
    for row in rows():
        share = Decimal(row["selfpay_prop"])
        if row["chrgitm_lv"] == "2":
            assert share in (Decimal("0.05"), Decimal("0.10")), row
        else:
            assert share == 0, row


def test_codes_differing_only_in_the_maker_name_one_product() -> None:
    """The manufacturer part is a sequence number (docs/catalogue-sample.md): the same product from another
    maker has the same name, and every product has more than one maker."""
    names: dict[str, set[str]] = defaultdict(set)
    makers: Counter[str] = Counter()
    for row in rows():
        code = row["med_list_codg"]
        kind = kind_of(code)
        if kind in MAKER_PART:
            product = code[: -MAKER_PART[kind]]
            names[product].add(row["name"])
            makers[product] += 1
    assert [p for p, n in names.items() if len(n) > 1] == []
    # The five legacy items are one maker each (their codes less the last five characters); every generated
    # product has two or more.
    singles = sorted(p for p, n in makers.items() if n == 1)
    assert singles == sorted(
        [
            "XJ01CAA040A0010101",
            "XC09AAK001A0010101",
            "ZA12FAF02000101011",
            "XJ01DCC041A0010101",
            "XA11GAX999A0010101",
        ]
    )


def test_the_five_demo_items_keep_their_numbers() -> None:
    """The items the README's 2102 and the e2e tests settle, with the numbers the demo has always had."""
    by_code = {row["med_list_codg"]: row for row in rows()}
    wanted = {
        # code: (name, type, class, self-pay-first share, cap, traced)
        "XJ01CAA040A001010100001": ("阿莫西林胶囊 0.25g", "09", "1", "0", "0.50", "0"),
        "XC09AAK001A001010100002": ("卡托普利片 25mg", "09", "1", "0", "", "0"),
        "ZA12FAF0200010101100003": ("复方丹参片", "11", "2", "0.1000", "", "0"),
        "XJ01DCC041A001010100004": ("头孢克洛胶囊 0.25g", "09", "2", "0.0500", "2.50", "1"),
        "XA11GAX999A001010100005": ("维生素C咀嚼片(保健)", "09", "3", "0", "", "0"),
    }
    for code, expected in wanted.items():
        row = by_code[code]
        got = (
            row["name"],
            row["med_chrgitm_type"],
            row["chrgitm_lv"],
            row["selfpay_prop"],
            row["pric_uplmt"],
            row["trace_required"],
        )
        assert got == expected, code
    # README's 2102: 3 danshen at 20.00 = 60.00, 乙 10 % first: 60.00 × 0.10 = 6.00 (600 fen).
    danshen = Decimal(by_code["ZA12FAF0200010101100003"]["selfpay_prop"])
    assert int(Decimal(6000) * danshen) == 600


async def test_the_whole_sample_imports_in_one_request(settlement_api: SettlementApi) -> None:
    text = demo_catalogue_file()
    data_lines = len(text.splitlines()) - 1
    first = await settlement_api.client.post(
        "/api/v1/catalogue/items/import", content=text.encode("utf-8"), headers={"content-type": "text/csv"}
    )
    assert first.status_code == 200, first.text[:2000]
    # The seeded list holds none of the sample's codes: every line is new.
    assert first.json() == {"imported": data_lines, "unchanged": 0, "errors": []}
    again = await settlement_api.client.post(
        "/api/v1/catalogue/items/import", content=text.encode("utf-8"), headers={"content-type": "text/csv"}
    )
    assert again.status_code == 200, again.text[:2000]
    assert again.json() == {"imported": 0, "unchanged": data_lines, "errors": []}
    # An item reads back as the file has it: cefaclor 乙 5 % first, capped at 2.50, traced.
    item = (await settlement_api.client.get("/api/v1/catalogue/items/XJ01DCC041A001010100004")).json()
    assert (item["chrgitm_lv"], Decimal(item["selfpay_prop"]), Decimal(item["pric_uplmt"])) == (
        "2",
        Decimal("0.05"),
        Decimal("2.50"),
    )
    assert item["trace_required"] is True
    # A service capped by hospital level: 普通门诊诊查费 10.00 at level 3, 90 % = 9.00 at 2, 80 % = 8.00 at 1.
    service = (await settlement_api.client.get("/api/v1/catalogue/items/001102000010000")).json()
    assert {lv: Decimal(cap) for lv, cap in service["pric_uplmt_by_level"].items()} == {
        "1": Decimal("8.00"),
        "2": Decimal("9.00"),
        "3": Decimal("10.00"),
    }


@pytest.mark.parametrize("kind", list(SHAPES))
def test_the_document_names_each_kind(kind: str) -> None:
    text = (ROOT / "docs" / "catalogue-sample.md").read_text(encoding="utf-8")
    assert f"| {kind} |" in text
