#!/usr/bin/env bash
# Run the test suite against real services (started by the tests themselves).
# Extra arguments go to pytest, e.g. scripts/test.sh -k capture
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
# Chromium for tests/browser (Debian's package; skipped when SKIP_BROWSER_INSTALL=1).
[ "${SKIP_BROWSER_INSTALL:-}" = 1 ] || bash scripts/install-browser.sh
# Test files run on TEST_WORKERS processes (pytest-xdist; 2, one per core here), each file whole on
# one of them, each process with its own broker, MongoDB and emulator; TEST_WORKERS=0 runs in this one.
exec "$VENV/bin/python" -m pytest -n "${TEST_WORKERS:-2}" --dist loadfile "$@"
