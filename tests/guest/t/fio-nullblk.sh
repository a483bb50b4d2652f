#!/bin/bash
# fio (io_uring engine) on null_blk with plain and registered (fixed)
# buffers: the I/O completes without error, and on a memory-backed device
# what was written reads back intact (fio's crc32c verify).
. "$(dirname "$0")/../lib.sh"

# fio_ok JSON: the job ran without error and moved data.
fio_ok() {
	python3 -c '
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
moved = job["read"]["io_bytes"] + job["write"]["io_bytes"]
sys.exit(0 if job["error"] == 0 and moved > 0 else 1)' "$1"
}

run_fio() {
	local json=/tmp/fio.json
	fio --output-format=json --output="$json" --name=t --ioengine=io_uring \
		--direct=1 --iodepth=16 "$@" >/dev/null 2>/tmp/fio.err &&
		fio_ok "$json" || { cat /tmp/fio.err; return 1; }
}

echo "1..8"
mem=$(nullb_memory_backed)
for bs in 4k 128k; do
	for mode in plain fixed; do
		fixed=0
		[ "$mode" = fixed ] && fixed=1
		check "randread $bs $mode buffers on /dev/nullb0" \
			run_fio --filename=/dev/nullb0 --rw=randread --bs=$bs \
			--fixedbufs=$fixed --size=1G --io_size=64M
		check "randwrite+verify $bs $mode buffers on memory-backed $mem" \
			run_fio --filename="$mem" --rw=randwrite --bs=$bs \
			--fixedbufs=$fixed --size=64M --verify=crc32c \
			--do_verify=1 --verify_fatal=1
	done
done
