#!/bin/bash
# iou-unpinned.sh again with a pin per request
# (kernel.io_uring_unpinned_request_pins=1), the path requests took before
# they could borrow pages, kept selectable to compare against.
. "$(dirname "$0")/../lib.sh"
sysctl=/proc/sys/kernel/io_uring_unpinned_request_pins
echo 1 >"$sysctl"
trap 'echo 0 >"$sysctl"' EXIT
bash "$(dirname "$0")/iou-unpinned.sh"
