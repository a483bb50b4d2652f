#!/bin/bash
# guest-timeout: 900
# A seeded fuzzer of io_uring registered buffers, pinned and unpinned:
# tests/guest/src/iou-fuzz.c, given a memory-backed null_blk device, ext4
# on the scratch disk where the guest has it, and huge pages. The seed is
# fixed so that a run can be replayed; FUZZ_SEED and FUZZ_CALLS override
# the seed and the number of calls (the program's default).
. "$(dirname "$0")/../lib.sh"
prog=$UMIRROR_BUILD/guest-bin/iou-fuzz
[ -x "$prog" ] || { echo "Bail out! no $prog: run tests/build"; exit 1; }
args=(--seed "${FUZZ_SEED:-1}" --blockdev "$(nullb_memory_backed)")
[ -z "${FUZZ_CALLS:-}" ] || args+=(--calls "$FUZZ_CALLS")
ext4=$(scratch_ext4)
[ -z "$ext4" ] || args+=(--ext4 "$ext4")
# Pinned registrations may keep a few 2 MiB pages each.
[ "$(cat /proc/sys/vm/nr_hugepages)" -ge 16 ] || echo 16 >/proc/sys/vm/nr_hugepages
exec "$prog" "${args[@]}"
