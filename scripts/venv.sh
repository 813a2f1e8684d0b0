# Sourced by demo.sh and test.sh: a virtualenv with the project installed, and a .env
# holding this checkout's generated secrets (never committed).
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || { echo "Python 3.11 is required (found $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2; exit 1; }
VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.installed-$(sha1sum pyproject.toml | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing dependencies (pinned in pyproject.toml)"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e '.[dev]'
  touch "$stamp"
fi
if [ ! -f .env ]; then
  echo "setup: generating .env with a fresh SECRET_KEY and FIELD_ENCRYPTION_KEY"
  "$VENV/bin/python" - <<'PY' > .env
import secrets
from cryptography.fernet import Fernet
print(f"SECRET_KEY={secrets.token_urlsafe(50)}")
print(f"FIELD_ENCRYPTION_KEY={Fernet.generate_key().decode()}")
PY
  chmod 600 .env
fi
