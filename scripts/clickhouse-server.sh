#!/usr/bin/env bash
# Debian's clickhouse-server package, which the full suite starts its ClickHouse servers
# from (tests/clickhouse_server.py); `make test` runs this first. Says nothing when it is
# installed; installs it when run as root, otherwise says how to.
set -euo pipefail
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
command -v clickhouse-server >/dev/null 2>&1 && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing clickhouse-server with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    # The package lists may be current already: update only when the install needs it.
    apt-get install -y -qq clickhouse-server >/dev/null 2>&1 || {
        apt-get update -qq
        apt-get install -y -qq clickhouse-server
    }
else
    echo "the full suite needs the Debian package clickhouse-server first:" >&2
    echo "  sudo apt-get install clickhouse-server" >&2
    exit 1
fi
