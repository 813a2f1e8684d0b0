#!/usr/bin/env bash
# The fault matrix (docs/reliability.md): each scenario on fresh embedded services, edits both
# ways, a fault, then every record compared on both sides. Scenario names select some
# (bash scripts/chaos.sh broker-kill lock-storm); --help lists them and the size options.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
exec "$VENV/bin/python" bench/chaos.py "$@"
