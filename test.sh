#!/usr/bin/env bash
# Sets up and runs the whole test suite: lint (ruff), types (mypy), import contracts (import-linter, see
# [tool.importlinter] in pyproject.toml), then pytest on SQLite and on a real PostgreSQL 15 (started from
# the machine's binaries in a temporary folder) with the real broker.
# Extra arguments go to pytest, e.g. `./test.sh tests/settlement -k concurrent`.
# TEST_BACKENDS=sqlite (or postgres) limits the database backends. The tests run in TEST_WORKERS (2)
# pytest-xdist processes, each with its own PostgreSQL server and broker; TEST_WORKERS=0 runs them in this
# one process.
set -euo pipefail
cd "$(dirname "$0")"
BOOTSTRAP_EXTRAS=test source scripts/bootstrap.sh
echo "== ruff" && .venv/bin/ruff check .
echo "== mypy" && .venv/bin/mypy && .venv/bin/mypy bench
echo "== import contracts" && .venv/bin/lint-imports
echo "== pytest (backends: ${TEST_BACKENDS:-sqlite,postgres}; workers: ${TEST_WORKERS:-2})"
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" "$@"
