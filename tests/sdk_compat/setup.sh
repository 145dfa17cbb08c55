#!/usr/bin/env bash
# Installs what the real-SDK tests (tests/integration/test_sensors_sdk.py) need:
# node + npm, this folder's npm packages (sa-sdk-javascript, sa-sdk-miniprogram,
# playwright-core; versions pinned in package.json / package-lock.json) and Debian's
# chromium at /usr/bin/chromium. Idempotent: does nothing when everything is there.
set -euo pipefail
cd "$(dirname "$0")"

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "sdk_compat: need root to apt-get install $*" >&2
    exit 1
  fi
  if [ -z "${SIYU_APT_UPDATED:-}" ]; then
    apt-get update -qq
    export SIYU_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v npm >/dev/null || apt_install nodejs npm
if [ ! -d node_modules/sa-sdk-javascript ] || [ ! -d node_modules/sa-sdk-miniprogram ] \
   || [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
[ -x /usr/bin/chromium ] || apt_install chromium
