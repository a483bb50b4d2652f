#!/bin/bash
# io_uring registered buffers with and without long-term pins: the program
# tests/guest/src/iou-unpinned.c, given a memory-backed null_blk device,
# ext4 on the scratch disk and the NVMe disk where the guest has them.
. "$(dirname "$0")/../lib.sh"
prog=$UMIRROR_BUILD/guest-bin/iou-unpinned
[ -x "$prog" ] || { echo "Bail out! no $prog: run tests/build"; exit 1; }
args=(--blockdev "$(nullb_memory_backed)")
ext4=$(scratch_ext4)
[ -z "$ext4" ] || args+=(--ext4 "$ext4")
[ ! -c /dev/ng0n1 ] || args+=(--nvme /dev/ng0n1)
echo 4 >/proc/sys/vm/nr_hugepages
exec "$prog" "${args[@]}"
