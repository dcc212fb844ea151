"""scripts/mutation.py makes the mutants it says, one at a time, and leaves alone what is not money."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "mutation_tool", Path(__file__).resolve().parent.parent / "scripts" / "mutation.py"
)
assert _spec is not None and _spec.loader is not None
mutation = importlib.util.module_from_spec(_spec)
sys.modules["mutation_tool"] = mutation
_spec.loader.exec_module(mutation)

SOURCE = '''
"""A docstring with 100 in it."""
from decimal import ROUND_HALF_UP


def pay(base: int, cap: int = 5) -> int:
    """Not mutated: 7."""
    if base > cap and not base < 0:
        return min(base - cap, 10)
    return base * 2  # pragma: no mutate
'''


def test_the_mutants_of_a_small_module() -> None:
    found = {(m.line, m.kind, m.before, m.after) for m in mutation.mutants("t", SOURCE)}
    # Line 1 of SOURCE is empty. Not the docstrings, the annotations or the pragma line; a default is code.
    assert found == {
        (6, "constant", "5", "6"),
        (8, "compare0", "Gt", "GtE"),
        (8, "boolop", "And", "Or"),
        (8, "unary", "Not", "dropped"),
        (8, "compare0", "Lt", "LtE"),
        (8, "constant", "0", "1"),
        (9, "name", "min", "max"),
        (9, "binop", "Sub", "Add"),
        (9, "constant", "10", "11"),
    }


def test_each_mutant_changes_one_thing() -> None:
    for m in mutation.mutants("t", SOURCE):
        mutated = mutation.mutate(SOURCE, m.index)
        namespace: dict[str, object] = {}
        exec(compile(mutated, "<mutant>", "exec"), namespace)
        assert mutated != mutation.mutate(SOURCE, (m.index + 1) % len(mutation.mutants("t", SOURCE)))
    sub_to_add = next(m for m in mutation.mutants("t", SOURCE) if m.kind == "binop")
    assert "base + cap" in mutation.mutate(SOURCE, sub_to_add.index)
    assert "base * 2" in mutation.mutate(SOURCE, sub_to_add.index)  # the exempt line is untouched


def test_equivalent_mutants_are_found_by_their_line_and_change(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        mutation, "EQUIVALENT", {("t", "return min(base - cap, 10)", "name min -> max"): "a reason"}
    )
    reasons = {(m.line, m.kind): mutation.equivalence(m, SOURCE) for m in mutation.mutants("t", SOURCE)}
    # Only the listed change on the listed line; another change on the same line still runs.
    assert reasons[(9, "name")] == "a reason"
    assert reasons[(9, "binop")] is None
    assert [r for r in reasons.values() if r] == ["a reason"]


def test_every_listed_equivalent_mutant_exists() -> None:
    """An entry whose line or change no longer occurs in its module is stale: the list must say why each
    surviving mutant of the current code is equivalent, not of code since rewritten."""
    root = Path(__file__).resolve().parent.parent
    found = set()
    for target, (path, _tests) in mutation.TARGETS.items():
        source = (root / path).read_text()
        for m in mutation.mutants(target, source):
            if mutation.equivalence(m, source):
                found.add(
                    (target, source.splitlines()[m.line - 1].strip(), f"{m.kind} {m.before} -> {m.after}")
                )
    assert found == set(mutation.EQUIVALENT)
