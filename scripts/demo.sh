#!/usr/bin/env bash
# Set up everything on a fresh machine (Python 3.11 and the package registries are
# all it needs) and run the product on its embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
exec "$VENV/bin/python" scripts/demo.py "$@"
