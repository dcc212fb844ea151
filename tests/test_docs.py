"""The project's own documents: the interface page lists exactly the transaction codes the gateway answers,
every document a docstring or page cites exists (with the section named), and nothing cites the team's
notes outside the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from gateway import transactions

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: Text files of the repository (tracked or not, the worktree's own).
TEXT_SUFFIXES = {".py", ".md", ".yml", ".yaml", ".toml", ".sh", ".txt", ".cfg", ".ini", ".mako", ".json", ""}
SKIPPED_DIRS = {".git", ".venv", "data", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


def repository_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        paths = [ROOT / name for name in listed]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for p in ROOT.rglob("*") if not SKIPPED_DIRS.intersection(p.relative_to(ROOT).parts)]
    return [p for p in paths if p.is_file() and p.suffix in TEXT_SUFFIXES]


def interface_codes() -> list[str]:
    """The first column of the table under "## Transaction codes" in docs/interface.md."""
    text = (DOCS / "interface.md").read_text(encoding="utf-8")
    section = text.split("## Transaction codes", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE)


def test_the_interface_page_lists_every_code_the_gateway_answers() -> None:
    codes = interface_codes()
    assert len(codes) == len(set(codes)), "a code is listed twice"
    assert set(codes) == set(transactions.KNOWN_INFNO_LABELS)


def interface_rows() -> dict[str, list[str]]:
    """infno -> the row's cells (infno, name, what it does, service, state)."""
    text = (DOCS / "interface.md").read_text(encoding="utf-8")
    section = text.split("## Transaction codes", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if re.match(r"^\| `\w+` \|", line):
            cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
            rows[cells[0].strip("`")] = cells
    return rows


def test_the_interface_table_agrees_with_the_gateway_registry() -> None:
    """Where the gateway declares each code once (``gateway.registry``), the page's name, "state" and
    "service" columns are the declaration's label, ``changes_state`` and ``downstream``."""
    registry = pytest.importorskip("gateway.registry")
    wrong = {}
    for infno, cells in interface_rows().items():
        declared = registry.TRANSACTIONS[infno]
        expected = (declared.label, "yes" if declared.changes_state else "no", declared.downstream)
        found = (cells[1], cells[4], cells[3] != "gateway")
        if found != expected:
            wrong[infno] = (found, expected)
    assert not wrong, f"docs/interface.md (name, state, downstream) vs the registry: {wrong}"


#: The institution classes the README's table of codes is by (药店 pharmacy, 诊所 clinic, 医院 hospital).
README_CLASSES = ["药店", "诊所", "医院"]
_CODE_OR_RANGE = re.compile(r"(\d{4}[A-Z]?)(?:\s*-\s*(\d{4}))?")


def readme_code_rows() -> tuple[list[str], list[tuple[list[str], list[str]]]]:
    """The table under "## Transactions the gateway answers" in the README: its header cells, and each row's
    codes (``1301-1308`` and ``3503 - 3506`` are ranges; ``2203 (2203A)`` names two) with its class cells."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Transactions the gateway answers", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip().strip("|").split("|")]
    rows = []
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        codes: list[str] = []
        for first, last in _CODE_OR_RANGE.findall(cells[0]):
            if last:
                codes.extend(str(n) for n in range(int(first), int(last) + 1))
            else:
                codes.append(first)
        rows.append((codes, cells[2:]))
    return header, rows


def test_the_readme_table_of_codes_by_institution_class_is_the_registry() -> None:
    """Every code in the README's table is one the gateway answers, every code it answers is in the table
    once, and every row says which classes of institution call it."""
    registry = pytest.importorskip("gateway.registry")
    header, rows = readme_code_rows()
    assert header == ["infno", "what it does", *README_CLASSES]
    listed = [code for codes, _ in rows for code in codes]
    twice = sorted({code for code in listed if listed.count(code) > 1})
    assert twice == [], "listed twice"
    assert sorted(set(listed) - set(registry.TRANSACTIONS)) == [], "in the README, not answered"
    assert sorted(set(registry.TRANSACTIONS) - set(listed)) == [], "answered, not in the README"
    for codes, classes in rows:
        assert len(classes) == len(README_CLASSES) and set(classes) <= {"yes", ""}, (codes, classes)
        assert "yes" in classes, f"{codes}: no institution class calls it"


#: The team's notes and source collection live outside the repository; a clone cannot follow a path to them.
OUTSIDE_REFERENCES = [
    re.compile(r"\.\./shared"),
    re.compile(r"shared/(docs|seeds)/"),
    re.compile(r"nhsa-interface-\w+"),
    re.compile(r"research\s+doc", re.IGNORECASE),
    re.compile(r"(?<![\w/.-])(domain|architecture|style)\.md"),  # a bare name, not docs/domain.md
]


def test_nothing_cites_the_team_notes_outside_the_repository() -> None:
    found = []
    for path in repository_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if any(pattern.search(line) for pattern in OUTSIDE_REFERENCES):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not found, "cite the repository's own docs/ instead:\n" + "\n".join(found)


CITATION = re.compile(r"docs/([\w-]+\.md)(?:,? \"([^\"]+)\")?")


def test_every_cited_document_and_section_exists() -> None:
    """``docs/domain.md, "Money out"``: the file exists and has a heading containing the section's name."""
    missing = []
    for path in repository_files():
        for name, section in CITATION.findall(path.read_text(encoding="utf-8", errors="replace")):
            doc = DOCS / name
            if not doc.exists():
                missing.append(f"{path.relative_to(ROOT)}: docs/{name}")
                continue
            if section and not any(
                line.startswith("#") and section in line
                for line in doc.read_text(encoding="utf-8").splitlines()
            ):
                missing.append(f'{path.relative_to(ROOT)}: docs/{name}, "{section}"')
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("stem", ["architecture", "domain", "interface", "performance"])
def test_the_readme_names_each_document(stem: str) -> None:
    name = f"{stem}.md"
    assert f"`docs/{name}`" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert (DOCS / name).exists()


def test_the_performance_run_log_is_under_bench() -> None:
    log = ROOT / "bench" / "results" / "performance-log.md"
    assert "<!-- settlement_load results: generated by bench/settlement_load.py -->" in log.read_text(
        encoding="utf-8"
    )
    assert len((DOCS / "performance.md").read_text(encoding="utf-8").splitlines()) < 150
