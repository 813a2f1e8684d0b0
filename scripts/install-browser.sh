#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests/browser/), installed once. Idempotent: does
# nothing when /usr/bin/chromium exists. Playwright drives this binary; its own browser
# download (`playwright install`) is never used, so no other download site is needed.
set -uo pipefail

CHROMIUM=/usr/bin/chromium
[ -x "$CHROMIUM" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "install-browser: $CHROMIUM is missing and installing it needs root (or passwordless sudo):" \
       "run 'apt-get install chromium' as root; the browser tests skip until then" >&2
  exit 0
fi

echo "install-browser: installing Debian's chromium (for tests/browser)"
if ! { "${SUDO[@]}" apt-get update -qq \
       && DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium; } \
     >/tmp/install-browser.log 2>&1; then
  echo "install-browser: apt-get could not install chromium (log: /tmp/install-browser.log:" \
       "$(tail -n 1 /tmp/install-browser.log)); the browser tests skip until it is installed" >&2
  exit 0
fi
[ -x "$CHROMIUM" ] || echo "install-browser: chromium installed but $CHROMIUM is missing" >&2
exit 0
