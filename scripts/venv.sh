# Sourced by demo.sh and test.sh: a virtualenv with the project installed (with the embedded
# services and the test tools: a production install needs neither), and a .env
# holding this checkout's generated secrets (never committed).
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)}"
"$PYTHON" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' \
  || { echo "Python 3.11, 3.12 or 3.13 is required (found $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.1x" >&2; exit 1; }
VENV="${VENV:-.venv}"
# Every distribution, transitive ones included, pinned with its hashes (scripts/lock.sh makes it).
LOCK="requirements/lock-embedded-dev.txt"
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.installed-$(cat pyproject.toml "$LOCK" | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing dependencies (locked in $LOCK)"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet --require-hashes -r "$LOCK"
  # The project itself, editable; its dependencies all came from the lock above.
  "$VENV/bin/python" -m pip install --quiet --no-deps -e .
  rm -f "$VENV"/.installed-*
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
