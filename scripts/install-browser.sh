#!/usr/bin/env bash
# Installs what the review page's browser tests need: Debian's chromium (apt) and
# playwright-core (npm, pinned by examples/tests/e2e/package-lock.json). Idempotent.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Debian's chromium" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
e2e="$root/examples/tests/e2e"
if [ ! -d "$e2e/node_modules/playwright-core" ]; then
  echo "installing playwright-core into $e2e/node_modules" >&2
  (cd "$e2e" && npm ci --no-audit --no-fund --loglevel=error)
fi
command -v chromium
