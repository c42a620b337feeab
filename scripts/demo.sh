#!/usr/bin/env bash
# The README's first command: everything a fresh Debian bookworm machine needs, then boots the
# default guest once and shows its lifecycle (created → starting → running → paused → running → stopping → stopped).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
npm ci
npm run build
node bin/vmactor.js setup
node bin/vmactor.js run --pause --for "${VMACTOR_DEMO_SECONDS:-5}" "$@"
