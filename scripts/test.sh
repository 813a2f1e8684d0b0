#!/usr/bin/env bash
# Run the test suite against real services (started by the tests themselves).
# Extra arguments go to pytest, e.g. scripts/test.sh -k capture
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
exec "$VENV/bin/python" -m pytest "$@"
