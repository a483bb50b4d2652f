#!/bin/bash
# When io_uring holds the pages of an unpinned registered buffer: the
# program tests/guest/src/iou-lifetime.c, given a memory-backed null_blk
# device and ext4 on the scratch disk where the guest has them.
. "$(dirname "$0")/../lib.sh"
prog=$UMIRROR_BUILD/guest-bin/iou-lifetime
[ -x "$prog" ] || { echo "Bail out! no $prog: run tests/build"; exit 1; }
args=(--blockdev "$(nullb_memory_backed)")
ext4=$(scratch_ext4)
[ -z "$ext4" ] || args+=(--ext4 "$ext4")
exec "$prog" "${args[@]}"
