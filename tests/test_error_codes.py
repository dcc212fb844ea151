"""The error-code catalogue (``shared.error_codes``) against the code: every code a raise site names is
listed, with the status and the service it is raised with, nothing is listed that nobody raises, and the
README's table is the catalogue's."""

from __future__ import annotations

import textwrap
from collections import defaultdict
from pathlib import Path

import pytest

from shared.error_codes import TABLE_BEGIN, TABLE_END, ErrorCode, markdown_table, replace_table, table_in
from tests.support.error_scan import Raise, scan

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def raised() -> dict[str, list[Raise]]:
    by_code: dict[str, list[Raise]] = defaultdict(list)
    for found in scan():
        by_code[found.code].append(found)
    return by_code


def test_every_code_raised_is_in_the_catalogue(raised: dict[str, list[Raise]]) -> None:
    missing = {
        code: [r.where for r in sites] for code, sites in raised.items() if code not in ErrorCode.__members__
    }
    assert not missing, f"raised but not in shared/error_codes.py: {missing}"


def test_every_code_in_the_catalogue_is_raised(raised: dict[str, list[Raise]]) -> None:
    unused = [code.value for code in ErrorCode if code.value not in raised]
    assert not unused, f"listed in shared/error_codes.py, raised nowhere: {unused}"


def test_statuses_are_those_of_the_raise_sites(raised: dict[str, list[Raise]]) -> None:
    """A status written at a raise site is listed; a status listed is written at some site (unless a site
    leaves it to a handler or a variable)."""
    wrong = {}
    for code in ErrorCode:
        sites = raised.get(code.value, [])
        known = {r.status for r in sites if r.status is not None}
        some_unknown = any(r.status is None for r in sites)
        if not known <= set(code.statuses) or (not some_unknown and set(code.statuses) != known):
            wrong[code.value] = (code.statuses, sorted(known), [r.where for r in sites])
    assert not wrong, f"statuses differ from the raise sites: {wrong}"


def test_raised_by_names_the_services_that_raise_it(raised: dict[str, list[Raise]]) -> None:
    wrong = {
        code.value: (code.raised_by, sorted({r.owner for r in raised.get(code.value, [])}))
        for code in ErrorCode
        if set(code.raised_by) != {r.owner for r in raised.get(code.value, [])}
    }
    assert not wrong, f"raised_by differs from where the code is raised: {wrong}"


def test_members_are_named_for_their_code_and_carry_a_chinese_text() -> None:
    for code in ErrorCode:
        assert code.name == code.value
        assert any("\u4e00" <= ch <= "\u9fff" for ch in code.err_msg), code
        assert all(100 <= s < 600 for s in code.statuses), code


def test_gateway_refusals_are_envelopes_with_status_200(raised: dict[str, list[Raise]]) -> None:
    """The scan reads what the gateway is known to raise: a signature refusal, a downstream refusal passed
    on, and the text a cashier reads for a busy gateway."""
    signature = {(r.owner, r.status) for r in raised["E_SIGNATURE"]}
    assert signature == {("gateway", 200)}
    assert ErrorCode.E_SIGNATURE.statuses == (200,)
    # settlement refuses with 403, the gateway passes the code through in err_msg
    assert ErrorCode.FULL_SELF_ADVANCE.statuses == (403,)
    assert ErrorCode.E_BUSY.err_msg == "医保服务繁忙，交易未执行，请稍后用原报文重试"


def test_the_readme_table_is_the_catalogue() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert table_in(readme) == markdown_table(), "run: python -m platformctl error-codes --readme README.md"
    assert markdown_table().count("\n") == len(ErrorCode) + 2


def test_replace_table_keeps_the_text_around_it() -> None:
    text = replace_table(f"before\n{TABLE_BEGIN}\nold table\n{TABLE_END}\nafter\n")
    assert text == f"before\n{TABLE_BEGIN}\n{markdown_table()}{TABLE_END}\nafter\n"
    assert table_in(text) == markdown_table()
    with pytest.raises(ValueError):
        replace_table("no markers here")


def test_the_scan_reads_every_form_a_code_is_raised_in(tmp_path: Path) -> None:
    """A made-up service tree with one raise site of each form the scan knows."""
    service = tmp_path / "services" / "demo" / "demo"
    service.mkdir(parents=True)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "errors.py").write_text(
        textwrap.dedent(
            """
            class DomainError(Exception):
                status_code: int = 400
                code: str = "BAD_REQUEST"

            class NotFound(DomainError):
                status_code = 404
                code = "NOT_FOUND"

            def handler():
                return error_body("VALIDATION_ERROR", "x", None)
            """
        ),
        encoding="utf-8",
    )
    (service / "service.py").write_text(
        textwrap.dedent(
            """
            class Gone(NotFound):
                code = "GONE_FOREVER"

            def f(paid, due, error):
                raise NotFound("nothing")
                raise DomainError("x", code="SOME_CODE", status_code=409)
                code = "UNDERPAID" if paid < due else "OVERPAID"
                raise Refusal(str(error.get("code", "E_DEFAULT")), "y")
                raise OutcomeUnknown("E_LATE", "z")
                raise DomainError("x", code=ErrorCode.FROM_ENUM)
                return {"code": "IN_A_BODY"}
            """
        ),
        encoding="utf-8",
    )
    found = {(r.code, r.status, r.owner) for r in scan(tmp_path)}
    assert found >= {
        ("NOT_FOUND", 404, "shared"),
        ("VALIDATION_ERROR", None, "shared"),
        ("GONE_FOREVER", 404, "demo"),
        ("NOT_FOUND", 404, "demo"),
        ("SOME_CODE", 409, "demo"),
        ("UNDERPAID", None, "demo"),
        ("OVERPAID", None, "demo"),
        ("E_DEFAULT", 200, "demo"),
        ("E_LATE", 200, "demo"),
        ("FROM_ENUM", 400, "demo"),
        ("IN_A_BODY", None, "demo"),
    }
    assert "BAD_REQUEST" not in {code for code, _, _ in found}  # DomainError is never called bare there
