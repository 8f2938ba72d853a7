#!/bin/sh
# The system packages the tests need, installed where we may, named where we may not:
# Debian's chromium (the browser tests) and libzbar0 (decoding the tickets' QR codes).
# `make test` runs this before the suite; it prints nothing when all is there.
set -u
missing=""
chromium="${FESTIVAL_CHROMIUM:-/usr/bin/chromium}"
[ -x "$chromium" ] || missing="$missing chromium"
python3 -c "import ctypes.util, sys; sys.exit(ctypes.util.find_library('zbar') is None)" \
    2>/dev/null || missing="$missing libzbar0"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "make test: installing$missing with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    log=$(mktemp)
    if { apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing; } >"$log" 2>&1; then
        rm -f "$log"
        exit 0
    fi
    tail -n 5 "$log" >&2
    rm -f "$log"
    echo "make test: apt-get could not install$missing; install them, then run make test again" >&2
    exit 1
fi
echo "make test: missing system packages:$missing; install them with: sudo apt-get install$missing" >&2
exit 1
