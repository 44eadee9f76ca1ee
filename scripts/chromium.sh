#!/usr/bin/env bash
# Debian's Chromium, which the full suite drives (through Playwright) to load the HTTP
# API's interactive docs as a user would (tests/test_api_docs.py); `make test` runs this
# first. Says nothing when it is installed; installs it when run as root, otherwise says
# how to.
set -euo pipefail
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
command -v chromium >/dev/null 2>&1 && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq chromium >/dev/null 2>&1 || {
        apt-get update -qq
        apt-get install -y -qq chromium
    }
else
    echo "the full suite needs the Debian package chromium first:" >&2
    echo "  sudo apt-get install chromium" >&2
    exit 1
fi
