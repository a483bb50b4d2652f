#!/bin/bash
# guest-timeout: 600
# GUP's rules as umirror keeps them, through lib/test_umirror.c: the program
# tests/guest/src/umirror-gup.c, given 2 MiB hugetlb pages, swap on zram
# (for the pageout cases), two 32 MiB memcgs without swap (one for the OOM
# case, one for the OOM reaper case) and ext4 on the scratch disk, where
# the guest has them.
. "$(dirname "$0")/../lib.sh"
prog=$UMIRROR_BUILD/guest-bin/umirror-gup
[ -x "$prog" ] || { echo "Bail out! no $prog: run tests/build"; exit 1; }
args=()
echo 4 >/proc/sys/vm/nr_hugepages

if swap_on; then
	args+=(--swap)
else
	echo "# no swap on zram: the pageout cases are skipped"
fi
if cg=$(oom_cgroup umirror-oom); then
	args+=(--cgroup "$cg")
else
	echo "# no memory cgroup: the OOM case is skipped"
fi
if cg=$(oom_cgroup umirror-reap); then
	args+=(--reap-cgroup "$cg")
else
	echo "# no memory cgroup: the OOM reaper case is skipped"
fi
ext4=$(scratch_ext4)
[ -z "$ext4" ] || args+=(--ext4 "$ext4")
exec "$prog" "${args[@]}"
