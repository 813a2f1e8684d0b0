#!/usr/bin/env bash
# Static checks, as CI runs them: ruff (lint) and mypy (types, with the Django plugin).
# Both are configured in pyproject.toml and pinned in its dev extra; any finding fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
"$VENV/bin/ruff" check .
"$VENV/bin/mypy"  # the packages listed in [tool.mypy] files
