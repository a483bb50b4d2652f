#!/bin/bash
# The GUP/COW bug class (CVE-2020-29374 and relatives) through io_uring
# fixed buffers, pinned and unpinned: tests/guest/src/iou-cow.c against a
# memory-backed null_blk device, one whose commands take 300 ms, and one
# throttled to 1 MiB/s, whose queued reads copy their data late.
. "$(dirname "$0")/../lib.sh"
prog=$UMIRROR_BUILD/guest-bin/iou-cow
[ -x "$prog" ] || { echo "Bail out! no $prog: run tests/build"; exit 1; }
exec "$prog" "$(nullb_memory_backed)" "$(nullb_slow umirror_slow 300)" \
	"$(nullb_throttled umirror_throttled 1)"
