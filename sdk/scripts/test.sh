#!/usr/bin/env bash
# SDK checks: install npm dependencies (npm ci) and Chromium when missing, build every format and
# the .d.ts (prints the gzipped sizes, fails over budget), typecheck, run the node unit tests.
#   scripts/test.sh           everything
#   scripts/test.sh prepare   install + build only (used by the end-to-end pytest fixture)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "node and npm are needed (apt-get install -y nodejs npm)" >&2
  exit 1
fi
# npm ci only when the lock file changed since the last install.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
if [[ ! -x /usr/bin/chromium ]]; then
  echo "installing Debian chromium for the end-to-end tests"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
node build.mjs
[[ "${1:-}" == "prepare" ]] && exit 0
npx --no-install tsc --noEmit -p tsconfig.json
node --test test/*.test.mjs
