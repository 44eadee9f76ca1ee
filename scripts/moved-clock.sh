#!/usr/bin/env bash
# Runs a command with the clock moved by an offset, to show that nothing depends on the
# date it runs (`make test-moved-clock`):
#     scripts/moved-clock.sh +3d .venv/bin/python -m pytest
# The offset is libfaketime's: a sign, a number, and m, h, d or y (none: seconds).
# libfaketime (Debian's libfaketime package, installed when missing and run as root)
# moves every dynamically linked program the command starts: pytest, `chargebus run`
# and its services, the simulator, Debian's clickhouse-server. It does not reach
# nats-server (a static Go binary) nor chdb (loaded into the sink, but ClickHouse reads
# the clock past the C library): they keep the real time, which chargebus never compares
# with its own (NATS's own times serve only its retention and duplicate windows).
set -euo pipefail

usage="usage: scripts/moved-clock.sh OFFSET COMMAND... (OFFSET like +3d, -12h, +400d)"
[ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }
offset=$1
shift
[[ $offset =~ ^[+-][0-9]+(\.[0-9]+)?[mhdy]?$ ]] || {
    echo "scripts/moved-clock.sh: '$offset' is no offset: $usage" >&2; exit 2; }

find_library() {
    compgen -G "/usr/lib/*/faketime/libfaketimeMT.so.1" | head -n 1 || true
}
library=$(find_library)
if [ -z "$library" ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing libfaketime with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libfaketime
        library=$(find_library)
    fi
    if [ -z "$library" ]; then
        echo "scripts/moved-clock.sh needs Debian's libfaketime: sudo apt-get install libfaketime" >&2
        exit 1
    fi
fi

# The multithreaded library, as the Python processes run threads. The monotonic clock
# stays true: moved, Python's timed lock waits (sem_clockwait, which libfaketime does
# not translate) hang. FAKETIME_DONT_RESET and FAKETIME_NO_CACHE are not needed: they
# matter for a start date ("@...") and for a spec read from a file, not for an offset.
moved=(env "LD_PRELOAD=$library${LD_PRELOAD:+:$LD_PRELOAD}" "FAKETIME=$offset"
       FAKETIME_DONT_FAKE_MONOTONIC=1)

# Check that the clock really moves, by as much as asked.
real=$(date +%s)
faked=$("${moved[@]}" date +%s)
expected=$(awk -v offset="$offset" 'BEGIN {
    unit = substr(offset, length(offset)); number = offset
    scale = 1
    if (unit == "m") scale = 60; else if (unit == "h") scale = 3600
    else if (unit == "d") scale = 86400; else if (unit == "y") scale = 365 * 86400
    if (scale != 1) number = substr(offset, 1, length(offset) - 1)
    printf "%d", number * scale }')
if [ $(( faked - real - expected )) -gt 60 ] || [ $(( faked - real - expected )) -lt -60 ]; then
    echo "scripts/moved-clock.sh: the clock did not move by $offset (real $real, moved $faked)" >&2
    exit 1
fi
echo "clock moved by $offset: $("${moved[@]}" date -u '+%Y-%m-%dT%H:%M:%SZ') (real $(date -u '+%Y-%m-%dT%H:%M:%SZ'))"
exec "${moved[@]}" "$@"
