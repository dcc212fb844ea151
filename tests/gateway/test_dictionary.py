"""1901 字典表查询 through the gateway (both backends), and the proof that it answers exactly what the gateway
accepts: every input field of every registered transaction (and the envelope) named like a checked code
table takes each code the 1901 answer lists and refuses every other code tried."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, get_args, get_origin

import pytest
from gateway import registry
from gateway.protocol.code_tables import TABLES
from gateway.protocol.envelope import RequestEnvelope
from pydantic import BaseModel, TypeAdapter, ValidationError

from platformctl import examples
from tests.gateway.factories import HOSPITAL, Gateway


def message(sequence: int, data: dict[str, Any] | None) -> dict[str, Any]:
    node = {} if data is None else {"data": data}
    return examples.envelope("1901", f"{HOSPITAL}20261206110000{sequence:04d}", node, fixmedins_code=HOSPITAL)


async def dictionary(gateway: Gateway, sequence: int, data: dict[str, Any] | None) -> list[dict[str, Any]]:
    answer = await gateway.send(message(sequence, data))
    assert answer["infcode"] == 0, answer["err_msg"]
    rows: list[dict[str, Any]] = answer["output"]["list"]
    return rows


async def test_1901_answers_one_table_or_all(gateway: Gateway) -> None:
    cert = await dictionary(gateway, 1, {"type": "mdtrt_cert_type", "admdvs": "341524"})
    assert [(r["value"], r["label"], r["sort"]) for r in cert] == [
        ("01", "医保电子凭证", 1),
        ("02", "居民身份证", 2),
        ("03", "社会保障卡", 3),
    ]
    assert {(r["type"], r["parent_value"], r["vali_flag"]) for r in cert} == {("mdtrt_cert_type", "", "1")}
    insutype = await dictionary(gateway, 2, {"type": "insutype"})
    assert [r["value"] for r in insutype] == ["390", "391", "380"]  # the residents' schemes only

    everything = await dictionary(gateway, 3, None)
    assert {r["type"] for r in everything} == {
        "insutype", "mdtrt_cert_type", "med_type", "matn_type", "opter_type", "hosp_appr_flag",
        "psn_setlway", "clr_type", "psn_type", "fund_pay_type", "chrgitm_lv",
    }  # fmt: skip
    assert ("390100", "城乡居民基本医疗保险基金") in {(r["value"], r["label"]) for r in everything}

    unknown = await gateway.send(message(4, {"type": "gend"}))
    assert unknown["infcode"] == -1 and unknown["err_msg"].startswith(
        "[E_INPUT] input.data.type: 字典类型 gend"
    )


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> Iterator[type[BaseModel]]:
    if model in seen:
        return
    seen.add(model)
    yield model
    for info in model.model_fields.values():
        for kind in _nested(info.annotation):
            yield from _models(kind, seen)


def _nested(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    elif get_origin(annotation) is not None:
        for arg in get_args(annotation):
            yield from _nested(arg)


def coded_fields() -> list[tuple[str, str, Any]]:
    """(where, table, annotation) of every input field named like a checked table."""
    seen: set[type[BaseModel]] = set()
    found = []
    roots: list[type[BaseModel]] = [RequestEnvelope, *(t.input for t in registry.TRANSACTIONS.values())]
    for root in roots:
        for model in _models(root, seen):
            for name, info in model.model_fields.items():
                table = TABLES.get(name)
                if table is not None and table.checked:
                    # The field's type with its validators (pydantic keeps them apart in ``metadata``).
                    annotation = (
                        Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
                    )
                    found.append((f"{model.__module__}.{model.__qualname__}.{name}", name, annotation))
    return found


FIELDS = coded_fields()
#: Codes a HIS might send that are not in any table here (other schemes, unknown sub-codes, typos).
STRANGERS = ("310", "00", "09", "4", "99", "140199", "1402", "410", "ZZ", "111")


def test_every_coded_field_is_checked_against_its_table() -> None:
    # The fields this proof covers, so that a new one is noticed.
    assert {name for _, name, _ in FIELDS} == {t.type for t in TABLES.values() if t.checked}
    assert len(FIELDS) >= 20


@pytest.mark.parametrize(
    ("where", "table", "annotation"), FIELDS, ids=[f[0].split("gateway.nhsa.")[-1] for f in FIELDS]
)
def test_a_field_accepts_exactly_the_codes_1901_lists(where: str, table: str, annotation: Any) -> None:
    field = TypeAdapter(annotation)
    listed = list(TABLES[table].values)
    for code in listed:
        field.validate_python(code)  # raises if the gateway refused a code it lists
    for code in STRANGERS:
        if code in listed:
            continue
        with pytest.raises(ValidationError):
            field.validate_python(code)
