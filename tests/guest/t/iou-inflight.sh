#!/bin/bash
# Requests in flight on a registered buffer while the process drops,
# migrates or forks its pages, or is OOM-killed:
# tests/guest/src/iou-inflight.c against memory-backed null_blk devices
# whose commands take 300 ms and 10 s.
. "$(dirname "$0")/../lib.sh"
prog=$UMIRROR_BUILD/guest-bin/iou-inflight
[ -x "$prog" ] || { echo "Bail out! no $prog: run tests/build"; exit 1; }
args=("$(nullb_slow umirror_slow 300)")
if cg=$(oom_cgroup umirror-inflight-oom); then
	args+=("$(nullb_slow umirror_slower 10000)" "$cg")
else
	echo "# no memory cgroup: the OOM case is skipped"
fi
exec "$prog" "${args[@]}"
