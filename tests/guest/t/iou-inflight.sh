#!/bin/bash
# Requests in flight on a registered buffer while the process drops,
# migrates or forks its pages: tests/guest/src/iou-inflight.c against a
# memory-backed null_blk whose commands take 300 ms.
. "$(dirname "$0")/../lib.sh"
prog=$UMIRROR_BUILD/guest-bin/iou-inflight
[ -x "$prog" ] || { echo "Bail out! no $prog: run tests/build"; exit 1; }
exec "$prog" "$(nullb_slow)"
