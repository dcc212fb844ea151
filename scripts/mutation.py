"""Mutation testing of the money code: does the suite notice when a money line is wrong?

Each target is a module that computes or books money and the fast tests that guard it. The script makes
one small change at a time to the module (a mutant: ``+`` for ``-``, ``<`` for ``<=``, a constant off by
one, ``min`` for ``max``, another rounding mode, ``and`` for ``or``, a ``not`` dropped...), runs the
target's tests against it on SQLite, and counts the mutant *killed* when a test fails (or the run errors or
hangs) and *survived* when every test still passes. A surviving mutant on a money line is a missing test.

    .venv/bin/python scripts/mutation.py                      # every target
    .venv/bin/python scripts/mutation.py money journal        # some targets
    .venv/bin/python scripts/mutation.py engine --list        # the mutants, without running them
    .venv/bin/python scripts/mutation.py lines bands chronic  # engine layers (one target per module)
    .venv/bin/python scripts/mutation.py money --jobs 2       # two mutants at a time

The mutants run in a copy of the repository (the files ``git ls-files`` names, in a temporary folder) put
first on ``PYTHONPATH``, so the working tree is never changed and other runs can go on beside it. A line
ending in ``# pragma: no mutate`` is left alone (say why on the line before). A mutant shown equivalent
(no test can tell it from the original) is listed in ``EQUIVALENT`` with the reason: it is not run, and
the results count it apart. Exit status 1 if a mutant survived, 0 if all were killed. Results:
``bench/results/mutation-<UTC timestamp>.json`` (per mutant: target, line, change, status, seconds, and
the reason of an equivalent one).
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_ROOTS = [
    "",
    "services/gateway",
    "services/enrollment",
    "services/settlement",
    "services/fund-ledger",
]

#: name -> (module file, the fast tests that guard it).
TARGETS: dict[str, tuple[str, list[str]]] = {
    "money": ("shared/money.py", ["tests/shared/test_money.py"]),
    "journal": (
        "services/fund-ledger/fund_ledger/books/journal.py",
        ["tests/ledger"],
    ),
    # The monthly clearing between platforms: the statements' items and their comparison (settlement), and
    # the books of a reconciled month (ledger).
    "interplatform_clearing": (
        "services/settlement/settlement/interplatform/clearing.py",
        ["tests/settlement/test_interplatform_clearing.py", "tests/ledger/test_interplatform_clearing.py"],
    ),
    "interplatform_books": (
        "services/fund-ledger/fund_ledger/interplatform/service.py",
        ["tests/ledger/test_interplatform_clearing.py"],
    ),
    # The insured side's holds of a person's year for another platform: reserve, confirm, release, void.
    "interplatform_reservations": (
        "services/settlement/settlement/interplatform/reservations.py",
        ["tests/settlement/test_interplatform.py"],
    ),
}
#: The benefit engine, one target per layer module (``adjudicate`` in engine.py runs them in order), all
#: guarded by the engine's case tests and each layer's table tests.
_ENGINE_TESTS = [
    "tests/settlement/test_engine_layers.py",
    "tests/settlement/test_engine.py",
    "tests/settlement/test_filings_layer.py",
]
for _layer in (
    "engine",
    "model",
    "lines",
    "filings",
    "out_of_area",
    "deductible_ratio",
    "bands",
    "chronic",
    "maternity",
    "catastrophic",
    "assistance",
):
    TARGETS[_layer] = (f"services/settlement/settlement/adjudication/{_layer}.py", _ENGINE_TESTS)

_COUNTED_UNUSED = (
    "the counted line's unit price, count and self-pay share are never read: adjudicate_counted takes each"
    " line's parts as the treating platform classified them (reservations._counted)"
)

#: Mutants shown equivalent: no test can tell them from the original, so they are listed, not run, each
#: with the reason (results: status "equivalent"). Keyed by target, the mutated line's text (stripped, as
#: written in the module) and the change ("kind before -> after"); a line that changes drops out of here and
#: its mutants run again.
EQUIVALENT: dict[tuple[str, str, str], str] = {
    (
        "interplatform_clearing",
        "| (col(PeerSettlement.expires_at) < start)",
        "compare0 Lt -> LtE",
    ): "a row whose hold ends at the month's first instant is the month's own item, read by the first branch"
    " of the OR whatever this one says; its status is decided by _treated_status, not by the branch",
    (
        "interplatform_clearing",
        "| (col(Reservation.expires_at) < start)",
        "compare0 Lt -> LtE",
    ): "as for the treating side: such a row is read by the first branch anyway, _insured_status decides",
    (
        "interplatform_clearing",
        "reconciled=False,",
        "constant False -> True",
    ): "the report's initial value, always overwritten (``report.reconciled = not (...)``) before it is"
    " returned",
    (
        "interplatform_books",
        "comes_in = receiving == (line.amount_fen > 0)",
        "compare0 Gt -> GtE",
    ): "differs only for a line of 0, which is never booked: the reconciliation's books leave out lines that"
    " net to zero (settlement.interplatform.clearing.compare, ``if amount``)",
    (
        "journal",
        "_IN_LIST_LIMIT = 500",
        "constant 500 -> 501",
    ): "the chunk size of the batch's repeat check: any size finds the same rows, it only bounds the IN list",
    (
        "journal",
        'event.listen(session.sync_session, "after_commit", self._after_commit, once=True)',
        "constant True -> False",
    ): "a journal finishes once (_finished): a commit listener left on a reused session returns at once",
    (
        "journal",
        'event.listen(session.sync_session, "after_rollback", self._after_rollback, once=True)',
        "constant True -> False",
    ): "a journal finishes once (_finished): a rollback listener left on a reused session returns at once",
    (
        "journal",
        "insert(entries).returning(entries.c.id, sort_by_parameter_order=True), [e.row for e in pending]",
        "constant True -> False",
    ): "both backends return a multi-row INSERT's RETURNING rows in parameter order in practice for the"
    " batches the ledger writes; the flag makes SQLAlchemy guarantee it (insertmanyvalues sorts by a"
    " sentinel), which no test on SQLite or PostgreSQL 15 can observe",
    (
        "journal",
        "for entry, entry_id in zip(pending, ids, strict=True):",
        "constant True -> False",
    ): "the INSERT ... RETURNING yields exactly one id per row inserted, so the lengths are always equal;"
    " strict only turns an impossible mismatch into an error",
    (
        "model",
        "return YearToDate(*(a + b for a, b in zip(_values(self), _values(other), strict=True)))",
        "constant True -> False",
    ): "both sides are YearToDate values of the same fields: the lengths are always equal",
    (
        "model",
        "return YearToDate(*(a - b for a, b in zip(_values(self), _values(other), strict=True)))",
        "constant True -> False",
    ): "both sides are YearToDate values of the same fields: the lengths are always equal",
    (
        "bands",
        "if top > floor:",
        "compare0 Gt -> GtE",
    ): "when top == floor the band adds (top - floor) × ratio = 0: the same total",
    (
        "bands",
        "if band.upto_fen is None or amount_fen <= band.upto_fen:",
        "compare0 LtE -> Lt",
    ): "an amount exactly at a band's limit goes on to the next band, whose part is min(amount, limit) -"
    " limit = 0: the same total",
    **{
        ("interplatform_reservations", line, change): _COUNTED_UNUSED
        for line, change in (
            (
                'FeeLine(x.feedetl_sn, "", Decimal(1), Decimal(x.amount_fen) / 100, x.amount_fen),',
                "binop Div -> Mult",
            ),
            (
                'FeeLine(x.feedetl_sn, "", Decimal(1), Decimal(x.amount_fen) / 100, x.amount_fen),',
                "constant 1 -> 2",
            ),
            (
                'FeeLine(x.feedetl_sn, "", Decimal(1), Decimal(x.amount_fen) / 100, x.amount_fen),',
                "constant 100 -> 101",
            ),
            ("Decimal(0),", "constant 0 -> 1"),
        )
    },
    (
        "interplatform_reservations",
        "elif effective != body.insutype or locked is None:",
        "compare0 NotEq -> Eq",
    ): "differs only when the person's scheme of the day is not the one asked and the asked one's accumulator"
    " of that year exists: the switch-over is on a year boundary (scheme-switchovers), so a year is booked"
    " under one scheme only (before it the legacy one, from it 390) and no such row exists; where the schemes"
    " agree the mutant locks the same row again",
    (
        "interplatform_reservations",
        "session, body.psn_no, day.year, effective, absent=effective == body.insutype",
        "compare0 Eq -> NotEq",
    ): "``absent`` only saves the read of a row known to be missing: told wrongly, lock_accumulator reads"
    " first (finds none, inserts) or inserts first (finds it there, locks it): the same row either way",
    (
        "interplatform_reservations",
        'raise DomainError(str(exc), code="NOT_ELIGIBLE", status_code=422) from exc',
        "constant 422 -> 423",
    ): "unreachable through the API: only the chronic and maternity layers raise NotEligible, and a"
    " reservation's med_type (11, 41, 21-29) reaches neither; kept so that a future layer's refusal is a 422",
    (
        "interplatform_reservations",
        "calculated = await _calculate(session, body, hold=False)",
        "constant False -> True",
    ): "a preview's session is never committed: holding changes no answer and nothing stored, only that the"
    " preview takes the person's accumulator lock; told apart on PostgreSQL only"
    " (test_a_preview_does_not_wait_for_the_persons_settlement_in_flight), and the mutants run on SQLite",
    (
        "interplatform_reservations",
        "year=0,",
        "constant 0 -> 1",
    ): "a void's row holds nothing: its year is never read (reserve answers it with RESERVATION_VOIDED, the"
    " statements and the expiry leave it out by its status)",
}

_SWAP_BINOP: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
}
_SWAP_CMP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_SWAP_NAME = {
    "ROUND_HALF_UP": "ROUND_HALF_EVEN",
    "ROUND_HALF_EVEN": "ROUND_HALF_UP",
    "ROUND_DOWN": "ROUND_HALF_UP",
    "ROUND_UP": "ROUND_DOWN",
    "ROUND_FLOOR": "ROUND_CEILING",
    "ROUND_CEILING": "ROUND_FLOOR",
    "max": "min",
    "min": "max",
    "True": "False",
    "False": "True",
}


@dataclass(frozen=True)
class Mutant:
    target: str
    index: int
    line: int
    kind: str
    before: str
    after: str


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed | survived | timeout | error | equivalent (not run)
    seconds: float
    reason: str = ""


def _skipped_lines(source: str) -> set[int]:
    return {
        n for n, text in enumerate(source.splitlines(), 1) if text.rstrip().endswith("# pragma: no mutate")
    }


def _exempt_nodes(tree: ast.AST) -> set[int]:
    """Nodes never mutated: docstrings, annotations, decorators, f-strings and the arguments of logging
    and exceptions' messages are not money."""
    exempt: set[int] = set()

    def mark(node: ast.AST | None) -> None:
        if node is not None:
            exempt.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign | ast.arg):
            mark(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            mark(node.returns)
            for decorator in node.decorator_list:
                mark(decorator)
        elif isinstance(node, ast.ClassDef):
            for decorator in node.decorator_list:
                mark(decorator)
        elif isinstance(node, ast.JoinedStr):
            mark(node)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            mark(node)  # docstrings and bare strings
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id
            in (
                "Annotated",
                "Literal",
            )
        ):
            mark(node)
    return exempt


def _sites(tree: ast.AST, source: str) -> Iterator[tuple[ast.AST, str, str, str]]:
    """(node, kind, before, after) for every mutation the module allows, in a stable order."""
    skipped = _skipped_lines(source)
    exempt = _exempt_nodes(tree)
    for node in ast.walk(tree):
        if id(node) in exempt or getattr(node, "lineno", None) in skipped:
            continue
        if isinstance(node, ast.BinOp) and type(node.op) in _SWAP_BINOP:
            new = _SWAP_BINOP[type(node.op)]
            yield node, "binop", type(node.op).__name__, new.__name__
        elif isinstance(node, ast.AugAssign) and type(node.op) in _SWAP_BINOP:
            new = _SWAP_BINOP[type(node.op)]
            yield node, "augassign", type(node.op).__name__, new.__name__
        elif isinstance(node, ast.Compare):
            for position, op in enumerate(node.ops):
                if type(op) in _SWAP_CMP:
                    yield node, f"compare{position}", type(op).__name__, _SWAP_CMP[type(op)].__name__
        elif isinstance(node, ast.BoolOp):
            yield node, "boolop", type(node.op).__name__, "Or" if isinstance(node.op, ast.And) else "And"
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.USub):
            yield node, "unary", type(node.op).__name__, "dropped"
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            yield node, "constant", repr(node.value), repr(node.value + 1)
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            yield node, "constant", repr(node.value), repr(not node.value)
        elif isinstance(node, ast.Name) and node.id in _SWAP_NAME and isinstance(node.ctx, ast.Load):
            yield node, "name", node.id, _SWAP_NAME[node.id]
        elif isinstance(node, ast.Attribute) and node.attr in _SWAP_NAME and node.attr.startswith("ROUND_"):
            yield node, "name", node.attr, _SWAP_NAME[node.attr]


def mutants(target: str, source: str) -> list[Mutant]:
    tree = ast.parse(source)
    found = []
    for index, (node, kind, before, after) in enumerate(_sites(tree, source)):
        found.append(Mutant(target, index, getattr(node, "lineno", 0), kind, before, after))
    return found


def equivalence(mutant: Mutant, source: str) -> str | None:
    """Why ``mutant`` is equivalent (``EQUIVALENT``), or None."""
    text = source.splitlines()[mutant.line - 1].strip() if mutant.line else ""
    return EQUIVALENT.get((mutant.target, text, f"{mutant.kind} {mutant.before} -> {mutant.after}"))


def mutate(source: str, index: int) -> str:
    """The module's source with mutation ``index`` applied (comments are lost; line numbers may move)."""
    tree = ast.parse(source)
    for position, (node, kind, _before, after) in enumerate(_sites(tree, source)):
        if position != index:
            continue
        if kind in ("binop", "augassign"):
            node.op = _SWAP_BINOP[type(node.op)]()  # type: ignore[attr-defined]
        elif kind.startswith("compare"):
            assert isinstance(node, ast.Compare)
            at = int(kind.removeprefix("compare"))
            node.ops[at] = _SWAP_CMP[type(node.ops[at])]()
        elif kind == "boolop":
            assert isinstance(node, ast.BoolOp)
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        elif kind == "unary":
            _replace(tree, node, copy.deepcopy(node.operand))  # type: ignore[attr-defined]
        elif kind == "constant":
            assert isinstance(node, ast.Constant)
            value = node.value
            if isinstance(value, bool):
                node.value = not value
            elif isinstance(value, int):
                node.value = value + 1
        elif kind == "name":
            if isinstance(node, ast.Name):
                node.id = after
            else:
                assert isinstance(node, ast.Attribute)
                node.attr = after
        return ast.unparse(ast.fix_missing_locations(tree))
    raise IndexError(index)


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list):
                for position, item in enumerate(value):
                    if item is old:
                        value[position] = new
                        return
    raise LookupError("node not found")


def _copy_repository(destination: Path) -> None:
    files = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True)
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


def _environment(copy_root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(copy_root / part) for part in SOURCE_ROOTS)
    env["TEST_BACKENDS"] = "sqlite"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("HYPOTHESIS_PROFILE", "default")
    return env


def _pytest(copy_root: Path, tests: list[str], timeout_s: float) -> tuple[str, float]:
    started = time.monotonic()
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider", *tests]
    try:
        result = subprocess.run(
            command, cwd=copy_root, env=_environment(copy_root), capture_output=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - started
    seconds = time.monotonic() - started
    if result.returncode == 0:
        return "survived", seconds
    if result.returncode == 1:
        return "killed", seconds
    return "error", seconds  # collection or import failed: the mutant broke the module outright


class Worker:
    """One copy of the repository; runs one mutant at a time in it."""

    def __init__(self, scratch: Path) -> None:
        self.root = scratch
        _copy_repository(scratch)

    def baseline(self, tests: list[str]) -> float:
        status, seconds = _pytest(self.root, tests, timeout_s=1800)
        if status != "survived":
            raise SystemExit(f"the tests fail without any mutant ({' '.join(tests)}): fix them first")
        return seconds

    def run(self, mutant: Mutant, source: str, tests: list[str], timeout_s: float) -> Outcome:
        module = self.root / TARGETS[mutant.target][0]
        module.write_text(mutate(source, mutant.index))
        try:
            status, seconds = _pytest(self.root, tests, timeout_s)
        finally:
            module.write_text(source)
        return Outcome(mutant, status, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", default=list(TARGETS), help=f"of {', '.join(TARGETS)}")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument(
        "--jobs", type=int, default=1, help="mutants run at a time (one repository copy each)"
    )
    parser.add_argument("--only", type=int, action="append", help="run only this mutant index (repeatable)")
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args(argv)
    unknown = [t for t in args.targets if t not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s) {unknown}; known: {list(TARGETS)}")

    plan = []
    for target in args.targets:
        source = (ROOT / TARGETS[target][0]).read_text()
        chosen = [m for m in mutants(target, source) if args.only is None or m.index in args.only]
        plan.append((target, source, chosen))
    if args.list:
        for target, source, chosen in plan:
            for m in chosen:
                why = equivalence(m, source)
                note = f"  (equivalent: {why})" if why else ""
                print(f"{target}#{m.index} line {m.line}: {m.kind} {m.before} -> {m.after}{note}")
        return 0

    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="mutation-") as scratch:
        workers = [Worker(Path(scratch) / f"w{n}") for n in range(max(1, args.jobs))]
        for target, source, listed in plan:
            tests = TARGETS[target][1]
            chosen = []
            for m in listed:
                why = equivalence(m, source)
                if why is None:
                    chosen.append(m)
                else:
                    outcomes.append(Outcome(m, "equivalent", 0.0, why))
            base = workers[0].baseline(tests)
            timeout = max(60.0, base * 5)
            print(
                f"{target}: {len(chosen)} mutants, tests {' '.join(tests)} ({base:.1f} s unmutated)",
                flush=True,
            )
            free = list(workers)
            with concurrent.futures.ThreadPoolExecutor(len(workers)) as pool:
                running: dict[concurrent.futures.Future[Outcome], Worker] = {}
                queue = list(chosen)
                while queue or running:
                    while queue and free:
                        worker = free.pop()
                        running[pool.submit(worker.run, queue.pop(0), source, tests, timeout)] = worker
                    done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
                    for future in done:
                        free.append(running.pop(future))
                        outcome = future.result()
                        outcomes.append(outcome)
                        m = outcome.mutant
                        if outcome.status == "survived":
                            print(
                                f"  SURVIVED {target}#{m.index} line {m.line}:"
                                f" {m.kind} {m.before} -> {m.after}"
                            )
            mine = [o for o in outcomes if o.mutant.target == target]
            killed = sum(o.status in ("killed", "timeout", "error") for o in mine)
            equivalent = len(listed) - len(chosen)
            print(
                f"  {target}: ran {len(chosen)}, killed {killed}, survived {len(chosen) - killed}"
                f" (and {equivalent} equivalent, not run)",
                flush=True,
            )

    ran = [o for o in outcomes if o.status != "equivalent"]
    survived = [o for o in ran if o.status == "survived"]
    print(
        f"total: {len(ran)} mutants run, {len(ran) - len(survived)} killed, {len(survived)} survived;"
        f" {len(outcomes) - len(ran)} equivalent, not run"
    )
    if not args.no_json:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = ROOT / "bench" / "results" / f"mutation-{stamp}.json"
        path.write_text(
            json.dumps(
                {
                    "commit": subprocess.run(
                        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
                    ).stdout.strip(),
                    "targets": {t: TARGETS[t][0] for t in args.targets},
                    "outcomes": [
                        {
                            **asdict(o.mutant),
                            "status": o.status,
                            "seconds": round(o.seconds, 2),
                            **({"reason": o.reason} if o.reason else {}),
                        }
                        for o in outcomes
                    ],
                },
                ensure_ascii=False,
                indent=1,
            )
        )
        print(f"result: {path.relative_to(ROOT)}")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
