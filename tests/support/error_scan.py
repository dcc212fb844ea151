"""Every error code the services and the gateway raise, found by reading their source (``ast``), not by
running them: what ``shared.error_codes`` is checked against.

A code is raised where the source names it as a literal in one of these places:

- ``DomainError(..., code="X", status_code=N)`` or a subclass of it (``NotFound``, ``Conflict``, a
  service's own ``class X(DomainError): code = "X"``); a subclass called without ``code=`` raises its class
  code with its class status;
- ``Refusal("X", ...)`` / ``OutcomeUnknown("X", ...)`` at the gateway (answered HTTP 200, ``infcode -1``);
- ``error_body("X", ...)`` in an exception handler, a ``{"code": "X"}`` error body written by hand, and a
  local ``code = ...`` later passed on;
- ``ErrorCode.X`` (once raise sites use the enumeration).

Every upper-case string literal in the expression counts (``"A" if ... else "B"``, ``{404: "NOT_FOUND"}.get``,
``error.get("code", "E_REFUSED")``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("services", "shared")
CODE_LITERAL = re.compile(r"^[A-Z][A-Z0-9_]{2,}$")
#: The gateway's refusals: an envelope always comes back HTTP 200, the refusal is ``infcode -1``.
GATEWAY_REFUSALS = frozenset({"Refusal", "OutcomeUnknown"})
GATEWAY_STATUS = 200


@dataclass(frozen=True)
class Raise:
    code: str
    status: int | None  # None: not a literal at the site (an exception handler's, or a variable)
    owner: str  # gateway, enrollment, settlement, fund-ledger or shared
    where: str  # path:line


def owner_of(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).parts
    return parts[1] if parts[0] == "services" else parts[0]


def source_files(root: Path = ROOT) -> Iterator[Path]:
    for top in SCANNED:
        for path in sorted((root / top).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _literals(node: ast.AST) -> list[str]:
    found = []
    for inner in ast.walk(node):
        if isinstance(inner, ast.Constant) and isinstance(inner.value, str):
            if CODE_LITERAL.match(inner.value):
                found.append(inner.value)
        elif isinstance(inner, ast.Attribute) and _name(inner.value) == "ErrorCode":
            found.append(inner.attr)
    return found


def _class_attr(cls: ast.ClassDef, name: str) -> object:
    for statement in cls.body:
        target = statement.targets[0] if isinstance(statement, ast.Assign) else None
        if isinstance(statement, ast.AnnAssign):
            target = statement.target
        value = getattr(statement, "value", None)
        if isinstance(target, ast.Name) and target.id == name and isinstance(value, ast.Constant):
            return value.value
    return None


def domain_error_classes(trees: dict[Path, ast.Module]) -> dict[str, tuple[str, int]]:
    """``DomainError`` and its subclasses by name: the code and status each raises when called without
    ``code=`` / ``status_code=``."""
    classes: dict[str, tuple[str, int]] = {"DomainError": ("BAD_REQUEST", 400)}
    defined = [node for tree in trees.values() for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    changed = True
    while changed:
        changed = False
        for cls in defined:
            if cls.name in classes:
                continue
            base = next((_name(b) for b in cls.bases if _name(b) in classes), None)
            if base is None:
                continue
            code, status = classes[base]
            own_code, own_status = _class_attr(cls, "code"), _class_attr(cls, "status_code")
            classes[cls.name] = (
                own_code if isinstance(own_code, str) else code,
                own_status if isinstance(own_status, int) else status,
            )
            changed = True
    return classes


def _raises_in(
    path: Path, tree: ast.Module, classes: dict[str, tuple[str, int]], root: Path
) -> Iterator[Raise]:
    owner = owner_of(path, root)
    rel = path.relative_to(root)

    def at(node: ast.AST, codes: Iterable[str], status: int | None) -> Iterator[Raise]:
        for code in codes:
            yield Raise(code, status, owner, f"{rel}:{getattr(node, 'lineno', 0)}")

    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name in classes:
            # A subclass's own code is raised wherever the class is; the class body names it once.
            own = _class_attr(node, "code")
            if isinstance(own, str) and node.name != "DomainError":
                yield from at(node, [own], classes[node.name][1])
        elif isinstance(node, ast.Call):
            called = _name(node.func)
            keywords = {k.arg: k.value for k in node.keywords if k.arg}
            if called in classes:
                default_code, default_status = classes[called]
                given_status = keywords.get("status_code")
                status = default_status
                if isinstance(given_status, ast.Constant) and isinstance(given_status.value, int):
                    status = given_status.value
                if "code" in keywords:
                    yield from at(node, _literals(keywords["code"]), status)
                else:
                    yield from at(node, [default_code], status)
            elif called in GATEWAY_REFUSALS and node.args:
                yield from at(node, _literals(node.args[0]), GATEWAY_STATUS)
            elif called == "error_body" and node.args:
                yield from at(node, _literals(node.args[0]), None)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "code":
                    yield from at(node, _literals(value), None)
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "code" for t in node.targets
        ):
            yield from at(node, _literals(node.value), None)


def scan(root: Path = ROOT) -> list[Raise]:
    trees = {path: ast.parse(path.read_text(encoding="utf-8"), str(path)) for path in source_files(root)}
    classes = domain_error_classes(trees)
    return [found for path, tree in trees.items() for found in _raises_in(path, tree, classes, root)]
