#!/usr/bin/env bash
# Runs a command with the clock moved by an offset, to show that nothing depends on the
# date it runs (`make test-moved-clock`):
#     scripts/moved-clock.sh +3d .venv/bin/python -m pytest
# The offset is libfaketime's: a sign, a number, and m, h, d or y (none: seconds).
# libfaketime (Debian's libfaketime package, installed when missing and run as root)
# moves every dynamically linked program the command starts: pytest, `chargebus run`
# and its services, the simulator. It does not reach nats-server (a static Go binary)
# nor chdb (loaded into the sink, but ClickHouse reads the clock past the C library);
# the tests start Debian's clickhouse-server without it (tests/clickhouse_server.py).
# These keep the true time, which chargebus never compares with its own: NATS's times
# serve only its retention and duplicate windows, and the analytics ask ClickHouse about
# the asker's moments, not its now().
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

# The monotonic clock stays true: moved, Python's timed lock waits hang (sem_clockwait,
# which libfaketime 0.9.10 does not translate, waits for the moved deadline in true time).
# But then 0.9.10 shifts the deadline of clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME),
# Python 3.11's time.sleep(), by the offset all the same: the kernel is given a negative
# time and every time.sleep() fails with EINVAL (libfaketime's issue 426, fixed after
# 0.9.10). Preloaded before libfaketime, this shim hands such sleeps to the kernel as they
# are, the rest on to libfaketime.
shim_dir="$(cd "$(dirname "$0")/.." && pwd)/build/moved-clock"
shim="$shim_dir/true-monotonic-sleep.so"
if [ ! -f "$shim" ] || [ "$shim" -ot "$0" ]; then
    mkdir -p "$shim_dir"
    cc -shared -fPIC -O2 -o "$shim" -x c - -ldl <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *request,
                    struct timespec *remaining)
{
    static int (*next)(clockid_t, int, const struct timespec *, struct timespec *);
    if (clock == CLOCK_MONOTONIC)  /* returns the error number, as clock_nanosleep does */
        return syscall(SYS_clock_nanosleep, clock, flags, request, remaining) == 0 ? 0 : errno;
    if (next == NULL)
        next = dlsym(RTLD_NEXT, "clock_nanosleep");
    return next(clock, flags, request, remaining);
}
C
fi

# The multithreaded library, as the Python processes run threads. FAKETIME_DONT_RESET
# and FAKETIME_NO_CACHE are not needed: they matter for a start date ("@...") and for a
# spec read from a file, not for an offset given in the environment.
moved=(env "LD_PRELOAD=$shim:$library${LD_PRELOAD:+:$LD_PRELOAD}" "FAKETIME=$offset"
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
